"""What the client shows: languages, colours, timestamps, hostile text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.client import i18n
from twistedchat.client.render import Renderer
from twistedchat.core.events import User
from twistedchat.text import neutralise

ME = User("me1", "alice", 33)
BOB = User("bob1", "bob", 160)
NOON = int(datetime(2026, 11, 22, 12, 5, tzinfo=UTC).timestamp() * 1000)


def renderer(lang: str = "fr", colour: bool = False, tz: timezone = UTC) -> Renderer:
    view = Renderer(i18n.translations(lang), colour, tz)
    view.me = ME.id
    view.current_room = "general"
    return view


class LanguageTests(SynchronousTestCase):
    def test_french(self) -> None:
        view = renderer("fr")
        self.assertEqual(
            view.render(codec.Said(NOON, "general", ME, "salut")),
            ["[12:05] Vous avez dit : salut"],
        )
        self.assertEqual(
            view.render(codec.Said(NOON, "general", BOB, "coucou")),
            ["[12:05] bob a dit : coucou"],
        )
        self.assertEqual(
            view.render(codec.Entered(NOON, "general", BOB)),
            ["[12:05] bob a rejoint #general"],
        )
        self.assertEqual(
            view.render(codec.Left(NOON, "general", BOB)),
            ["[12:05] bob a quitté #general"],
        )
        self.assertEqual(
            view.render(codec.Entered(NOON, "general", BOB, returning=True)),
            ["[12:05] bob est de retour dans #general"],
        )
        self.assertEqual(
            view.render(codec.Welcome(1, ME, "t", resumed=True)),
            ["Bon retour, alice !"],
        )

    def test_english(self) -> None:
        view = renderer("en")
        self.assertEqual(
            view.render(codec.Said(NOON, "general", ME, "hi")), ["[12:05] You said: hi"]
        )
        self.assertEqual(
            view.render(codec.Said(NOON, "general", BOB, "yo")),
            ["[12:05] bob said: yo"],
        )
        self.assertEqual(
            view.render(codec.Gone(NOON, BOB, "ciao")),
            ["[12:05] bob left the chat (ciao)"],
        )
        self.assertEqual(
            view.render(codec.Welcome(1, ME, "t", False)), ["Welcome alice!"]
        )

    def test_errors_in_the_readers_language_or_the_servers_words(self) -> None:
        view = renderer("fr")
        self.assertEqual(
            view.render(codec.Error(codec.ErrorCode.NICK_IN_USE, "nick taken")),
            ["Erreur : ce pseudo est déjà pris"],
        )
        self.assertEqual(
            view.render(
                codec.Error(codec.ErrorCode.NO_SUCH_ROOM, "there is no room #x")
            ),
            ["Erreur : ce salon n’existe pas"],
        )
        self.assertEqual(
            view.render(codec.Error(4242, "from the future")),
            ["Erreur : from the future"],
        )
        self.assertEqual(
            view.render(codec.Error(codec.ErrorCode.TOO_MANY_ROOMS, "too many")),
            [
                "Erreur : vous êtes dans autant de salons qu’on peut l’être : "
                "quittez-en un d’abord"
            ],
        )
        # A room's rules keep one out, or quiet.
        self.assertEqual(
            view.render(
                codec.Error(
                    codec.ErrorCode.BAD_ROOM_KEY,
                    "cannot join #dev: it needs a key",
                    details='{"room":"dev"}',
                )
            ),
            ["Erreur : #dev demande une clé, et pas celle-là : /join #dev <clé>"],
        )
        for code, words in [
            (codec.ErrorCode.ROOM_FULL, "Error: #dev is full"),
            (codec.ErrorCode.BANNED, "Error: you are banned from #dev"),
            (
                codec.ErrorCode.INVITE_ONLY,
                "Error: #dev is invite only: ask one of its operators for an "
                "invitation",
            ),
        ]:
            self.assertEqual(
                renderer("en").render(codec.Error(code, "x", details='{"room":"dev"}')),
                [words],
            )
        self.assertEqual(
            renderer("en").render(
                codec.Error(
                    codec.ErrorCode.CANNOT_SEND,
                    "cannot send",
                    details='{"room":"dev","why":"you are banned from it (+b)"}',
                )
            ),
            ["Error: you are banned from #dev: you may not speak there"],
        )


class TimeAndPlaceTests(SynchronousTestCase):
    def test_local_time(self) -> None:
        paris = timezone(timedelta(hours=1))
        self.assertEqual(
            renderer("en", tz=paris).render(codec.Said(NOON, "general", BOB, "x")),
            ["[13:05] bob said: x"],
        )

    def test_other_rooms_are_named(self) -> None:
        self.assertEqual(
            renderer("en").render(codec.Said(NOON, "dev", BOB, "x")),
            ["[12:05] #dev bob said: x"],
        )

    def test_history_is_marked(self) -> None:
        entries = json.dumps([{"time": NOON, "nick": "bob", "text": "earlier"}])
        self.assertEqual(
            renderer("en").render(codec.History("general", entries)),
            ["[12:05] (history) bob: earlier", "— live —"],
        )
        self.assertEqual(
            renderer("en").render(codec.History("general", "{broken")),
            ["Error: unreadable history", "— live —"],
        )


class ColourTests(SynchronousTestCase):
    def test_nick_in_its_colour(self) -> None:
        (line,) = renderer("en", colour=True).render(
            codec.Said(NOON, "general", BOB, "x")
        )
        self.assertEqual(line, "[12:05] \x1b[38;5;160mbob\x1b[0m said: x")

    def test_no_colour_codes_when_off(self) -> None:
        (line,) = renderer("en").render(codec.Said(NOON, "general", BOB, "x"))
        self.assertNotIn("\x1b", line)


class HostileTextTests(SynchronousTestCase):
    def test_controls_in_nicks_messages_and_art_are_neutralised(self) -> None:
        evil = User("e", "ev\x1b[2Jil", 33)
        view = renderer("en", colour=True)
        lines = [
            *view.render(codec.Said(NOON, "general", evil, "\x1b]0;owned\x07 \x9b2J")),
            *view.render(
                codec.ImageShown(NOON, "general", evil, "ok\n\x1b[31mred\x08")
            ),
            *view.render(codec.Renamed(NOON, "\x1bold", evil)),
        ]
        for line in lines:
            # Only our own colour codes may remain.
            stripped = line.replace("\x1b[38;5;33m", "").replace("\x1b[0m", "")
            self.assertFalse(
                any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in stripped),
                repr(line),
            )
        self.assertEqual(lines[2], "  ok")
        self.assertEqual(neutralise("a\tb\nc\x1b"), "a\tb\ufffdc\ufffd")


class RoomEventTests(SynchronousTestCase):
    def test_topic_modes_invitation(self) -> None:
        view = renderer("fr")
        self.assertEqual(
            view.render(codec.TopicSet(NOON, "general", BOB, "bienvenue")),
            ["[12:05] bob a changé le sujet de #general : bienvenue"],
        )
        self.assertEqual(
            view.render(codec.ModesSet(NOON, "general", BOB, "+o alice")),
            ["[12:05] bob a changé #general : a fait de alice un opérateur"],
        )
        # The new room modes, in words, with their arguments where they take one.
        self.assertEqual(
            renderer("en").render(
                codec.ModesSet(NOON, "dev", BOB, "+k sesame -m +l 5 +b bad!*@* -l -k *")
            ),
            [
                "[12:05] bob changed #dev: set the key to sesame, ended its "
                "moderation, limited it to 5 members, banned bad!*@*, removed its "
                "member limit, removed the key"
            ],
        )
        self.assertEqual(
            view.render(codec.ModesSet(NOON, "dev", BOB, "+v alice +i +s")),
            [
                "[12:05] bob a changé #dev : a donné la parole à alice, l’a mis "
                "sur invitation, l’a rendu secret"
            ],
        )
        self.assertEqual(
            renderer("en").render(codec.Invitation(NOON, BOB, "dev")),
            ["[12:05] bob invites you into #dev (/join dev)"],
        )


class ActionRenderTests(SynchronousTestCase):
    def test_irc_me(self) -> None:
        self.assertEqual(
            renderer("fr").render(
                codec.Said(NOON, "general", BOB, "\x01ACTION salue\x1b\x01")
            ),
            ["[12:05] * bob salue\ufffd"],
        )
