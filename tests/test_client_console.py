"""The client's console against the real framed front, over an in-memory pump."""

from __future__ import annotations

import os

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.test.iosim import IOPump, connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.client import i18n
from twistedchat.client.connection import ServerConnection, ServerConnectionFactory
from twistedchat.client.console import ChatConsole
from twistedchat.client.images import ImageError, ImageProblem
from twistedchat.client.options import ClientSettings
from twistedchat.client.state import TokenStore
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront, FramedProtocol
from twistedchat.fronts.line import LineFront

from .test_core import RecordingClient
from .test_line_front import Client as LineClient


class ConsoleTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(3600 * 12)
        operators = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        self.service = ChatService(self.clock, "general", operators, delivery=Fanout())
        self.front = FramedFront(self.service)
        self.line_front = LineFront(self.service)
        # The pump turns the clock by 0 between its rounds: let the fronts
        # write their broadcasts then.
        self.front.outbox.delay = self.line_front.outbox.delay = 0
        self.images: dict[str, Deferred[str]] = {}

    def render_image(self, path: str) -> Deferred[str]:
        """Stands in for the thread-pool conversion: same contract, no thread."""
        if path in self.images:
            return self.images[path]
        failed: Deferred[str] = Deferred()
        failed.errback(ImageError(path, ImageProblem.NOT_FOUND))
        return failed

    def console(
        self, nick: str = "alice", room: str | None = "general", lang: str = "fr"
    ) -> tuple[ChatConsole, list[str]]:
        """A person's console; each person keeps their tokens in their own folder."""
        state_dir = self.mktemp()
        settings = ClientSettings(
            host="127.0.0.1",
            port=9999,
            nick=nick,
            room=room,
            lang=lang,
            log_file="unused",
            reconnect=10,
            state_dir=state_dir,
        )
        shown: list[str] = []
        console = ChatConsole(
            settings,
            self.clock,
            shown.append,
            i18n.translations(lang),
            colour=False,
            tokens=TokenStore(state_dir),
            render_image=self.render_image,
        )
        return console, shown

    def connect(
        self, console: ChatConsole
    ) -> tuple[ServerConnection, FramedProtocol, IOPump]:
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        factory = ServerConnectionFactory(console, self.clock)

        def server() -> FramedProtocol:
            protocol = self.front.buildProtocol(address)
            assert isinstance(protocol, FramedProtocol)
            return protocol

        def client() -> ServerConnection:
            protocol = factory.buildProtocol(address)
            assert isinstance(protocol, ServerConnection)
            return protocol

        connection, protocol, pump = connectedServerAndClient(
            server, client, clock=self.clock
        )
        pump.flush()
        return connection, protocol, pump

    @staticmethod
    def text(shown: list[str]) -> str:
        all_of_it = "".join(shown)
        shown.clear()
        return all_of_it


class RegistrationTests(ConsoleTestCase):
    def test_welcome_and_room_from_settings(self) -> None:
        console, shown = self.console()
        self.connect(console)
        self.assertEqual(
            self.text(shown), "Bienvenue alice !\n[12:00] Vous êtes dans #general\n"
        )
        self.assertEqual(console.rooms, ["general"])
        self.assertEqual(self.service.names("general"), ["alice"])

    def test_choose_a_room_from_the_list(self) -> None:
        other, _ = self.console("bob", room="dev")
        self.connect(other)
        console, shown = self.console(room=None)
        _, _, pump = self.connect(console)
        self.assertEqual(
            self.text(shown),
            "Bienvenue alice !\nSalons :\n  1) #dev (1 présent)\n"
            "Choisissez un salon : son numéro, ou un nouveau nom [dev] : ",
        )
        console.line_received("99")  # not in the list: refused, asked again
        pump.flush()
        self.assertEqual(
            self.text(shown),
            "Il n’y a pas de salon numéro 99.\nSalons :\n  1) #dev (1 présent)\n"
            "Choisissez un salon : son numéro, ou un nouveau nom [dev] : ",
        )
        self.assertEqual([r.name for r in self.service.list_rooms()], ["dev"])
        console.line_received("#2")  # a name with # is a name, digits or not
        pump.flush()
        self.assertIn("Vous êtes dans #2", self.text(shown))

    def test_default_choice_is_the_first_room(self) -> None:
        console, shown = self.console(room=None)
        _, _, pump = self.connect(console)
        self.assertIn("Aucun salon pour l’instant.", self.text(shown))
        console.line_received("")
        pump.flush()
        self.assertIn("Vous êtes dans #general", self.text(shown))

    def test_lines_right_after_the_choice_go_to_the_chosen_room(self) -> None:
        bob, bob_shown = self.console("bob", room="lobby", lang="en")
        _, _, bob_pump = self.connect(bob)
        console, _ = self.console(room=None)
        _, _, pump = self.connect(console)
        console.line_received("1")
        console.line_received("right after the choice")
        pump.flush()
        bob_pump.flush()
        self.assertIn("alice said: right after the choice", self.text(bob_shown))
        self.assertEqual(console.rooms, ["lobby"])

    def test_taken_nick_is_asked_again(self) -> None:
        first, _ = self.console("alice")
        self.connect(first)
        console, shown = self.console("ALICE")
        _, _, pump = self.connect(console)
        self.assertEqual(
            self.text(shown),
            "Erreur : le pseudo ALICE est déjà pris\nChoisissez un autre pseudo : ",
        )
        console.line_received("not valid!")
        self.assertIn("pseudo invalide", self.text(shown))
        console.line_received("alice2")
        pump.flush()
        self.assertIn("Bienvenue alice2 !", self.text(shown))
        self.assertEqual(self.service.names("general"), ["alice", "alice2"])

    def test_lines_typed_before_the_welcome_are_sent_after_it(self) -> None:
        bob, bob_shown = self.console("bob")
        _, _, bob_pump = self.connect(bob)
        console, shown = self.console()
        console.line_received("hello early")
        self.connect(console)
        bob_pump.flush()
        self.assertIn("Vous avez dit : hello early", self.text(shown))
        self.assertIn("alice a dit : hello early", self.text(bob_shown))


class ChatTests(ConsoleTestCase):
    def test_messages_both_ways_in_both_languages(self) -> None:
        alice, alice_shown = self.console()
        _, _, alice_pump = self.connect(alice)
        bob, bob_shown = self.console("bob", lang="en")
        _, _, bob_pump = self.connect(bob)
        alice_pump.flush()
        self.assertIn("bob a rejoint #general", self.text(alice_shown))
        alice.line_received("salut bob")
        alice_pump.flush()
        bob_pump.flush()
        self.assertEqual(self.text(alice_shown), "[12:00] Vous avez dit : salut bob\n")
        self.assertIn("[12:00] alice said: salut bob\n", self.text(bob_shown))

    def test_netcat_user_in_the_same_room(self) -> None:
        alice, shown = self.console()
        _, _, pump = self.connect(alice)
        netcat = LineClient(self.line_front, 6000)
        netcat.lines()
        pump.flush()
        self.text(shown)
        netcat.send("MSG coucou\n")
        pump.flush()
        self.assertEqual(self.text(shown), "[12:00] 127.0.0.1:6000 a dit : coucou\n")
        alice.line_received("re")
        pump.flush()
        self.assertEqual(netcat.lines(), ["[alice] re"])

    def test_commands(self) -> None:
        alice, shown = self.console()
        _, _, pump = self.connect(alice)
        bob, bob_shown = self.console("bob", room="dev", lang="en")
        _, _, bob_pump = self.connect(bob)
        self.text(shown)
        for line in [
            "/names",
            "/list",
            "/msg bob psst",
            "/msg",
            "/nothing",
            "/join dev",
        ]:
            alice.line_received(line)
            pump.flush()
        self.assertEqual(
            self.text(shown),
            "Dans #general : alice\n"
            "Salons :\n  1) #dev (1 présent)\n  2) #general (1 présent)\n"
            "[12:00] Vous avez dit à bob (en privé) : psst\n"
            "Usage : /msg <pseudo> <message>\n"
            "Commande inconnue /nothing ; tapez /help\n"
            "[12:00] Vous êtes dans #dev\n",
        )
        bob_pump.flush()
        self.assertIn("alice said to you (private): psst", self.text(bob_shown))
        alice.line_received("/room general")  # back to a room we are in: no request
        alice.line_received("dans general")
        pump.flush()
        self.assertIn("Vous avez dit : dans general", self.text(shown))
        alice.line_received("/part dev")
        pump.flush()
        bob_pump.flush()
        self.assertIn("alice left #dev", self.text(bob_shown))
        self.assertEqual(alice.rooms, ["general"])

    def test_nick_change(self) -> None:
        alice, shown = self.console()
        _, _, pump = self.connect(alice)
        self.text(shown)
        alice.line_received("/nick Alicia")
        pump.flush()
        self.assertEqual(
            self.text(shown), "[12:00] Vous vous appelez désormais Alicia\n"
        )
        self.assertEqual(alice.nick, "Alicia")

    def test_images(self) -> None:
        alice, shown = self.console()
        _, _, pump = self.connect(alice)
        bob, bob_shown = self.console("bob", lang="en")
        _, _, bob_pump = self.connect(bob)
        converting: Deferred[str] = Deferred()
        self.images["cat.png"] = converting
        alice.line_received("/di cat.png")
        self.assertEqual(alice.busy, 1)
        converting.callback(" /\\\n/__\\\x1b[2J")
        pump.flush()
        bob_pump.flush()
        self.assertIn(
            "alice showed a picture:\n   /\\\n  /__\\\ufffd[2J\n", self.text(bob_shown)
        )
        self.text(shown)
        alice.line_received("/image missing.png")
        self.assertEqual(
            self.text(shown),
            "Impossible d’afficher cette image : missing.png: fichier introuvable\n",
        )

    def test_help_is_local(self) -> None:
        alice, shown = self.console(lang="en")
        self.connect(alice)
        self.text(shown)
        alice.line_received("/help")
        self.assertTrue(self.text(shown).startswith("Commands:\n  /nick <nick>"))


class LeavingTests(ConsoleTestCase):
    def test_end_of_input_says_goodbye(self) -> None:
        alice, _ = self.console()
        _, _, pump = self.connect(alice)
        bob, bob_shown = self.console("bob", lang="en")
        _, _, bob_pump = self.connect(bob)
        alice.line_received("last words")
        alice.input_closed()
        pump.flush()
        bob_pump.flush()
        seen = self.text(bob_shown)
        self.assertIn("alice said: last words", seen)
        self.assertIn("alice left the chat", seen)
        self.assertEqual(self.successResultOf(alice.finished), 0)
        self.assertFalse(self.service.nick_taken("alice"))

    def test_lost_server_reconnects_then_gives_up(self) -> None:
        alice, shown = self.console()
        connection, _, pump = self.connect(alice)
        connection.transport.loseConnection()  # type: ignore[union-attr]
        pump.flush()
        self.assertIn("Connexion perdue, reconnexion…", self.text(shown))
        self.assertEqual(alice.wanted_rooms, ["general"])
        self.clock.advance(9)
        self.assertNoResult(alice.finished)
        self.clock.advance(1)
        self.assertIn("Le serveur n’est pas revenu, abandon.", self.text(shown))
        self.assertEqual(self.successResultOf(alice.finished), 1)

    def test_comes_back_as_itself(self) -> None:
        alice, shown = self.console()
        connection, _, pump = self.connect(alice)
        user = self.service.user("alice").user
        connection.transport.loseConnection()  # type: ignore[union-attr]
        pump.flush()
        self.connect(alice)
        self.assertIn(
            "Bon retour, alice !\n[12:00] Vous êtes dans #general", self.text(shown)
        )
        self.assertEqual(self.service.user("alice").user, user)
        self.assertNoResult(alice.finished)
        self.clock.advance(60)
        self.assertNoResult(alice.finished)


class KilledTests(ConsoleTestCase):
    def test_killed_does_not_come_back(self) -> None:
        alice, shown = self.console()
        _, _, pump = self.connect(alice)
        admin = self.service.connect(RecordingClient(), "admin")
        self.successResultOf(self.service.oper(admin, "admin", "secret"))
        self.service.kill(admin, "alice", "enough")
        pump.flush()
        self.assertIn("alice a été déconnecté par admin : enough", self.text(shown))
        self.assertEqual(self.successResultOf(alice.finished), 1)


class TypedLineTests(ConsoleTestCase):
    """What is typed on pipes: the issue's point 3 (controls) and point 10 bits."""

    def test_control_characters_are_never_sent(self) -> None:
        alice, _ = self.console()
        _, _, pump = self.connect(alice)
        room = LineClient(self.line_front, 6000)
        tutu = LineClient(self.line_front, 6001)
        tutu.send("NICK tutu\n")
        pump.flush()
        room.lines()
        tutu.lines()
        alice.line_received("\x0c/msg tutu psst")
        alice.line_received("left\x1b[D\x1b[Darrow\x07")
        pump.flush()
        self.assertEqual(room.lines(), ["[alice] leftarrow"])
        said = tutu.lines()
        self.assertTrue(said[0].endswith("psst"), said)
        self.assertNotIn("psst", "".join(said[1:]))

    def test_part_says_where_lines_go_now(self) -> None:
        alice, shown = self.console(lang="en")
        _, _, pump = self.connect(alice)
        alice.line_received("/join dev")
        pump.flush()
        self.text(shown)
        alice.line_received("/part")
        pump.flush()
        self.assertEqual(
            self.text(shown).splitlines()[1:], ["What you type now goes to #general."]
        )
        alice.line_received("/part")
        pump.flush()
        self.assertEqual(
            self.text(shown).splitlines()[1:], ["You are in no room now: /join one."]
        )

    def test_part_of_another_room_says_nothing_more(self) -> None:
        alice, shown = self.console(lang="en")
        _, _, pump = self.connect(alice)
        alice.line_received("/join dev")
        pump.flush()
        alice.line_received("/join general")
        pump.flush()
        self.text(shown)
        alice.line_received("/part dev")
        pump.flush()
        self.assertEqual(self.text(shown), "[12:00] You left #dev\n")

    def test_image_paths_as_typed(self) -> None:
        alice, shown = self.console(lang="en")
        _, _, pump = self.connect(alice)
        home = os.path.expanduser("~")
        for typed, path in [
            ("~/pic.png", f"{home}/pic.png"),
            ('"my pic.png"', "my pic.png"),
            ("'~/my pic.png'", f"{home}/my pic.png"),
            ("my pic.png", "my pic.png"),
        ]:
            converting: Deferred[str] = Deferred()
            self.images[path] = converting
            alice.line_received(f"/image {typed}")
            converting.callback(typed)
            pump.flush()
            self.assertIn(f"You showed a picture:\n  {typed}\n", self.text(shown))
        alice.line_received('/image "open quote.png')
        alice.line_received('/image "one.png" "two.png"')
        self.assertEqual(
            self.text(shown), "Usage: /image <path>\nUsage: /image <path>\n"
        )

    def test_image_reasons_in_the_readers_language(self) -> None:
        alice, shown = self.console(lang="fr")
        self.connect(alice)
        self.text(shown)
        for problem, french in [
            (ImageProblem.NOT_AN_IMAGE, "pas une image"),
            (ImageProblem.NOT_READABLE, "illisible (permission refusée)"),
        ]:
            failed: Deferred[str] = Deferred()
            failed.errback(ImageError("x.png", problem))
            self.images["x.png"] = failed
            alice.line_received("/image x.png")
            self.assertIn(f"image : x.png: {french}", self.text(shown))
