"""
The client's rendering of IRC-isms, topics and away status, room labels and
server errors, in French above all; and its /me, /describe, /topic, /away.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.codec import ErrorCode
from twistedchat.core import errors
from twistedchat.fronts.framed import error_details

from .test_client_console import ConsoleTestCase
from .test_client_render import BOB, ME, NOON, renderer
from .test_line_front import Client as LineClient


class IRCismTests(SynchronousTestCase):
    def test_actions(self) -> None:
        view = renderer("fr")
        self.assertEqual(
            view.render(codec.Acted(NOON, "general", BOB, "waves")),
            ["[12:05] * bob waves"],
        )
        self.assertEqual(
            view.render(codec.Acted(NOON, "dev", BOB, "waves")),
            ["[12:05] #dev * bob waves"],
        )
        self.assertEqual(
            view.render(codec.ActedPrivately(NOON, BOB, "alice", "hugs you")),
            ["[12:05] (en privé) * bob hugs you"],
        )
        self.assertEqual(
            view.render(codec.ActedPrivately(NOON, ME, "bob", "waves")),
            ["[12:05] (en privé, à bob) * alice waves"],
        )
        # As an IRC client sends it, should a Said still carry it
        self.assertEqual(
            view.render(codec.Said(NOON, "general", BOB, "\x01ACTION waves\x01")),
            ["[12:05] * bob waves"],
        )

    def test_other_ctcp_not_shown(self) -> None:
        view = renderer("en")
        for text in ["\x01VERSION\x01", "\x01PING 1\x01", "\x01ACTION\x01"]:
            self.assertEqual(view.render(codec.Said(NOON, "general", BOB, text)), [])
            self.assertEqual(view.render(codec.Whispered(NOON, BOB, "alice", text)), [])

    def test_formatting_stripped(self) -> None:
        view = renderer("en")
        self.assertEqual(
            view.render(
                codec.Said(NOON, "general", BOB, "\x02bold\x02 \x0304,01red\x03 \x1dit")
            ),
            ["[12:05] bob said: bold red it"],
        )
        self.assertEqual(
            view.render(codec.Said(NOON, "general", BOB, "esc\x1b[2J")),
            ["[12:05] bob said: esc\ufffd[2J"],
        )

    def test_history(self) -> None:
        view = renderer("fr")
        entries = [
            {"time": NOON, "nick": "bob", "kind": "action", "text": "waves"},
            {
                "time": NOON,
                "nick": "bob",
                "kind": "message",
                "text": "\x01ACTION nods\x01",
            },
            {"time": NOON, "nick": "bob", "kind": "message", "text": "\x01VERSION\x01"},
            {"time": NOON, "nick": "bob", "kind": "message", "text": "\x02hi\x02"},
        ]
        self.assertEqual(
            view.render(codec.History("general", json.dumps(entries))),
            [
                "[12:05] (historique) * bob waves",
                "[12:05] (historique) * bob nods",
                "[12:05] (historique) bob : hi",
                "— en direct —",
            ],
        )


class TopicAndAwayTests(SynchronousTestCase):
    def test_topic(self) -> None:
        view = renderer("fr")
        self.assertEqual(
            view.render(codec.Topic("general", "\x02Twisted\x02", "bob", NOON)),
            ["[12:05] Sujet de #general : Twisted (défini par bob)"],
        )
        self.assertEqual(
            view.render(codec.TopicSet(NOON, "general", BOB, "")),
            ["[12:05] bob a effacé le sujet de #general"],
        )

    def test_away(self) -> None:
        view = renderer("fr")
        self.assertEqual(
            view.render(codec.Away("bob", "au déjeuner")),
            ["bob est absent : au déjeuner"],
        )
        self.assertEqual(
            view.render(codec.AwaySet("brb")), ["Vous êtes noté absent : brb"]
        )
        self.assertEqual(
            view.render(codec.AwaySet("")),
            ["Vous êtes de retour (plus noté absent)."],
        )


class LabelTests(SynchronousTestCase):
    def test_room_events_name_their_room_once(self) -> None:
        """Never "#room" before a line that names it, never a room left unnamed."""
        view = renderer("en")
        view.current_room = "general"
        for room in ("general", "ircroom"):
            lines = [
                *view.render(codec.Entered(NOON, room, BOB)),
                *view.render(codec.Left(NOON, room, BOB)),
                *view.render(codec.Left(NOON, room, BOB, "bye")),
                *view.render(codec.KickedOut(NOON, room, ME, BOB, "out")),
                *view.render(codec.KickedOut(NOON, room, BOB, ME)),
            ]
            self.assertEqual(
                lines,
                [
                    f"[12:05] bob joined #{room}",
                    f"[12:05] bob left #{room}",
                    f"[12:05] bob left #{room} (bye)",
                    f"[12:05] You were kicked out of #{room} by bob (out)",
                    f"[12:05] bob was kicked out of #{room} by alice",
                ],
            )
        self.assertEqual(
            view.render(codec.Gone(NOON, BOB, "")), ["[12:05] bob left the chat"]
        )

    def test_french_member_counts(self) -> None:
        view = renderer("fr")
        rooms = (codec.RoomInfo("a", 0), codec.RoomInfo("b", 1), codec.RoomInfo("c", 2))
        self.assertEqual(
            view.rooms(rooms),
            [
                "Salons :",
                "  1) #a (0 présent)",
                "  2) #b (1 présent)",
                "  3) #c (2 présents)",
            ],
        )

    def test_french_welcome_back(self) -> None:
        self.assertEqual(
            renderer("fr").render(codec.Welcome(1, ME, "t", resumed=True)),
            ["Bon retour, alice !"],
        )


class ErrorTests(SynchronousTestCase):
    def error(self, error: errors.ChatError, code: ErrorCode) -> codec.Error:
        """The Error frame the framed front sends for C{error}."""
        return codec.Error(code, str(error), details=error_details(error))

    def test_french_by_code_naming_what_the_server_named(self) -> None:
        view = renderer("fr")
        cases = [
            (
                errors.NoSuchRoom("nosuch"),
                ErrorCode.NO_SUCH_ROOM,
                "il n’y a pas de salon #nosuch",
            ),
            (
                errors.NoSuchNick("ghost"),
                ErrorCode.NO_SUCH_NICK,
                "personne ne s’appelle ghost",
            ),
            (
                errors.NotInRoom("dev"),
                ErrorCode.NOT_IN_ROOM,
                "vous n’êtes pas dans #dev",
            ),
            (
                errors.AlreadyInRoom("dev"),
                ErrorCode.ALREADY_IN_ROOM,
                "vous êtes déjà dans #dev",
            ),
            (
                errors.UserNotInRoom("bob", "dev"),
                ErrorCode.USER_NOT_IN_ROOM,
                "bob n’est pas dans #dev",
            ),
            (
                errors.NotRoomOperator("dev"),
                ErrorCode.NOT_ROOM_OPERATOR,
                "vous n’êtes pas opérateur de #dev",
            ),
            (
                errors.NickInUse("bob"),
                ErrorCode.NICK_IN_USE,
                "le pseudo bob est déjà pris",
            ),
            (
                errors.InvalidNick("server"),
                ErrorCode.NICK_RESERVED,
                "le pseudo server est réservé : choisissez-en un autre",
            ),
            (
                errors.InvalidRoomName("a b"),
                ErrorCode.INVALID_ROOM,
                "nom de salon invalide : utilisez de 1 à 50 lettres, chiffres ou _-.",
            ),
            (
                errors.EmptyMessage(),
                ErrorCode.EMPTY_MESSAGE,
                "message vide, rien n’a été envoyé",
            ),
            (
                errors.CannotSendToRoom("dev", "it is moderated (+m)"),
                ErrorCode.CANNOT_SEND,
                "#dev est modéré : seuls ses opérateurs et ceux qui y ont la parole "
                "peuvent parler",
            ),
            (
                errors.CannotSendToRoom("dev", "you are banned from it (+b)"),
                ErrorCode.CANNOT_SEND,
                "vous êtes banni de #dev : vous ne pouvez pas y parler",
            ),
            (
                errors.BadRoomKey("dev"),
                ErrorCode.BAD_ROOM_KEY,
                "#dev demande une clé, et pas celle-là : /join #dev <clé>",
            ),
            (errors.RoomFull("dev", 5), ErrorCode.ROOM_FULL, "#dev est plein"),
            (
                errors.InviteOnlyRoom("dev"),
                ErrorCode.INVITE_ONLY,
                "#dev est sur invitation : demandez-en une à l’un de ses opérateurs",
            ),
            (errors.BannedFromRoom("dev"), ErrorCode.BANNED, "vous êtes banni de #dev"),
            (
                errors.CannotSendToRoom("dev", "only its members may speak (+n)"),
                ErrorCode.CANNOT_SEND,
                "seuls les membres de #dev peuvent y parler",
            ),
        ]
        for error, code, french in cases:
            self.assertEqual(
                view.render(self.error(error, code)), [f"Erreur : {french}"], str(error)
            )

    def test_every_code_has_french_words(self) -> None:
        view = renderer("fr")
        for code in ErrorCode:
            shown = view.error_text(codec.Error(code, "ENGLISH WORDS"))
            self.assertNotIn(
                "ENGLISH WORDS", shown.replace("(ENGLISH WORDS)", ""), code
            )

    def test_hostile_details(self) -> None:
        view = renderer("en")
        for details in ["[1]", "not json", '{"room": "\\u001b[2J"}', '{"room": 5}']:
            (line,) = view.render(
                codec.Error(ErrorCode.NO_SUCH_ROOM, "x", details=details)
            )
            self.assertNotIn("\x1b", line)


class ConsoleCommandTests(ConsoleTestCase):
    def test_me_describe_topic_away(self) -> None:
        alice, shown = self.console(lang="en")
        _, _, pump = self.connect(alice)
        bob = LineClient(self.line_front, 5001)
        bob.send("NICK bob\n")
        pump.flush()
        self.text(shown)
        bob.lines()
        alice.line_received("/me waves")
        alice.line_received("/describe bob winks")
        alice.line_received("/topic")
        alice.line_received("/topic all about \x02Twisted")
        pump.flush()
        self.assertEqual(
            bob.lines(),
            [
                "* alice waves",
                "(private) * alice winks",
                '[server] "alice" set the topic of #general: all about Twisted',
            ],
        )
        self.assertEqual(
            self.text(shown),
            "#general has no topic; /topic <topic> sets one\n"  # at once, from memory
            "[12:00] * alice waves\n"
            "[12:00] (private, to bob) * alice winks\n"
            "[12:00] alice set the topic of #general: all about Twisted\n",
        )
        alice.line_received("/topic")
        self.assertEqual(self.text(shown), "Topic of #general: all about Twisted\n")
        bob.send("AWAY lunch\n")
        alice.line_received("/msg bob hello")
        alice.line_received("/away brb")
        alice.line_received("/me")
        alice.line_received("/describe bob")
        pump.flush()
        self.assertEqual(
            self.text(shown),
            "Usage: /me <action>\n"
            "Usage: /describe <nick> <action>\n"
            "[12:00] You said to bob (private): hello\n"
            "bob is away: lunch\n"
            "You are marked as away: brb\n",
        )
        self.assertEqual(self.service.user("alice").away, "brb")

    def test_reserved_nick_is_asked_again(self) -> None:
        """--nick server: the server says it is reserved, the client asks again."""
        console, shown = self.console("server")
        _, _, pump = self.connect(console)
        self.assertEqual(
            self.text(shown),
            "Erreur : le pseudo server est réservé : choisissez-en un autre\n"
            "Choisissez un autre pseudo : ",
        )
        console.line_received("serveur")
        pump.flush()
        self.assertIn("Bienvenue serveur !", self.text(shown))
