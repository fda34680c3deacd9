"""
The client's side of one identity, several clients (issue 14, point 2): two
consoles of one person (one state folder, so one token) are one user; a
console that holds a token comes with its identity's nick, and a token is
never presented with another nick (no "Welcome back" for a nick never seen).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.client import i18n
from twistedchat.client.console import ChatConsole
from twistedchat.client.main import identity_nick
from twistedchat.client.options import ClientSettings
from twistedchat.client.state import TokenStore

from .test_client_console import ConsoleTestCase
from .test_line_front import Client as LineClient

SERVER = "127.0.0.1:9999"


class OnePersonTwoConsolesTests(ConsoleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.state_dir = self.mktemp()

    def console_of(
        self, nick: str | None, state_dir: str = "", lang: str = "en"
    ) -> tuple[ChatConsole, list[str]]:
        """
        A console in C{state_dir} (the person's own by default), its nick
        chosen as the program does: C{--nick}, else the identity's.
        """
        state_dir = state_dir or self.state_dir
        tokens = TokenStore(state_dir)
        settings = ClientSettings(
            host="127.0.0.1",
            port=9999,
            nick=nick or identity_nick(tokens, SERVER) or None,
            room="general",
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
            tokens=tokens,
            render_image=self.render_image,
        )
        return console, shown

    def test_a_second_console_is_the_same_user(self) -> None:
        netcat = LineClient(self.line_front, 6000)
        laptop, laptop_shown = self.console_of("alice")
        _, _, laptop_pump = self.connect(laptop)
        self.text(laptop_shown)
        netcat.lines()
        self.assertEqual(identity_nick(TokenStore(self.state_dir), SERVER), "alice")
        phone, phone_shown = self.console_of(None)  # no nick question
        _, _, phone_pump = self.connect(phone)
        laptop_pump.flush()
        self.assertIn("Welcome back alice!", self.text(phone_shown))
        self.assertEqual(self.text(laptop_shown), "")  # nobody came nor left
        self.assertEqual(netcat.lines(), [])
        self.assertEqual(self.service.names("general"), ["127.0.0.1:6000", "alice"])

        phone.line_received("hello from the phone")
        phone_pump.flush()
        laptop_pump.flush()
        self.assertIn("You said: hello from the phone", self.text(laptop_shown))
        self.assertIn("You said: hello from the phone", self.text(phone_shown))
        self.assertEqual(netcat.lines(), ["[alice] hello from the phone"])

        phone.line_received("/quit")
        phone_pump.flush()
        laptop_pump.flush()
        self.assertEqual(netcat.lines(), [])
        self.assertEqual(self.text(laptop_shown), "")
        laptop.line_received("still here")
        laptop_pump.flush()
        self.assertEqual(netcat.lines(), ["[alice] still here"])

    def test_a_nick_change_is_kept_with_the_token(self) -> None:
        console, _ = self.console_of("alice")
        _, _, pump = self.connect(console)
        console.line_received("/nick alicia")
        pump.flush()
        self.assertEqual(identity_nick(TokenStore(self.state_dir), SERVER), "alicia")

    def test_another_nick_with_a_token_is_a_nick_change(self) -> None:
        """--nick bob with alice's token: alice is welcomed back, then renamed."""
        first, _ = self.console_of("alice")
        _, _, pump = self.connect(first)
        first.line_received("/quit")
        pump.flush()
        netcat = LineClient(self.line_front, 6000)
        netcat.lines()
        again, shown = self.console_of("bob")
        _, _, pump = self.connect(again)
        text = self.text(shown)
        self.assertIn("Welcome back alice!", text)
        self.assertIn("You are now known as bob", text)
        self.assertNotIn("Welcome back bob", text)
        self.assertEqual(
            netcat.lines(),
            [
                '[server] "alice" is back in #general',
                '[server] client "alice" => "bob"',
            ],
        )
        self.assertEqual(identity_nick(TokenStore(self.state_dir), SERVER), "bob")

    def test_the_identity_nick_taken_meanwhile_makes_a_new_identity(self) -> None:
        first, _ = self.console_of("alice")
        _, _, pump = self.connect(first)
        token = TokenStore(self.state_dir).get(SERVER)
        first.line_received("/quit")
        pump.flush()
        other, _ = self.console_of("alice", state_dir=self.mktemp())
        self.connect(other)  # someone else is alice now
        again, shown = self.console_of(None)
        _, _, pump = self.connect(again)
        self.assertIn("Choose another nick: ", self.text(shown))
        again.line_received("alice2")
        pump.flush()
        text = self.text(shown)
        self.assertIn("Welcome alice2!", text)
        self.assertNotIn("Welcome back", text)
        self.assertNotEqual(TokenStore(self.state_dir).get(SERVER), token)


class IdentityNickTests(SynchronousTestCase):
    def test_the_nick_of_a_held_token_only(self) -> None:
        directory = self.mktemp()
        tokens = TokenStore(directory)
        self.assertEqual(identity_nick(tokens, SERVER), "")
        tokens.put(SERVER, "a1.sig", "alice")
        self.assertEqual(identity_nick(tokens, SERVER), "alice")
        self.assertEqual(identity_nick(tokens, "other:1"), "")
        tokens.put(SERVER, "a1.sig", "not a nick")
        self.assertEqual(identity_nick(tokens, SERVER), "")
