"""
The IRC front's questions about the server (TIME, VERSION, INFO, ADMIN) and
the name it gives the server (the C{SERVER_NAME} setting), over StringTransport.
"""

from __future__ import annotations

from twistedchat import __version__
from twistedchat.fronts.irc import COMMANDS, IRCFront
from twistedchat.fronts.irc.capabilities import advertised

from .test_irc_front import ISUPPORT_LINES as ISUPPORT
from .test_irc_front import IRCClient, IRCFrontTestCase


class ServerNameTests(IRCFrontTestCase):
    """A front built with a server name goes by it wherever it names the server."""

    def setUp(self) -> None:
        super().setUp()
        self.front = IRCFront(self.service, server_name="My.Little.Server")

    def test_welcome_names_the_server(self) -> None:
        toto = self.register("toto")
        lines = toto.lines()
        self.assertTrue(all(line.startswith(":My.Little.Server ") for line in lines))
        self.assertIn(
            f":My.Little.Server 002 toto :Your host is My.Little.Server, running "
            f"twistedchat {__version__}",
            lines,
        )
        self.assertIn(
            f":My.Little.Server 004 toto My.Little.Server {__version__} Bio "
            "beiIklmnostv beIklov",
            lines,
        )
        self.assertIn(
            ":My.Little.Server 375 toto :- My.Little.Server Message of the day -",
            lines,
        )

    def test_numerics_ping_and_cap_come_from_the_server(self) -> None:
        toto = self.client()
        toto.send("CAP LS 302", "PRIVMSG x :y")
        self.assertEqual(
            toto.lines(),
            [
                f":My.Little.Server CAP * LS :{' '.join(advertised(302))}",
                ":My.Little.Server 451 * :You have not registered",
            ],
        )
        toto.send("PING token")
        self.assertEqual(
            toto.lines(), [":My.Little.Server PONG My.Little.Server token"]
        )
        self.assertTrue(toto.protocol.send_ping())
        self.assertEqual(toto.lines(), ["PING :My.Little.Server"])

    def test_who_and_whois_give_the_server_name(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("WHO #general", "WHOIS toto")
        lines = toto.lines()
        self.assertIn(
            ":My.Little.Server 352 toto #general toto twistedchat "
            "My.Little.Server toto H@ :0 Real toto",
            lines,
        )
        self.assertIn(
            ":My.Little.Server 312 toto toto My.Little.Server twistedchat", lines
        )
        # Users' masks keep their host, which is not the server's name.
        self.assertIn(
            ":My.Little.Server 311 toto toto toto twistedchat * :Real toto", lines
        )

    def test_the_default_name_is_twistedchat(self) -> None:
        toto = IRCClient(IRCFront(self.service), self.port())
        toto.send("PING x")
        self.assertEqual(toto.lines(), [":twistedchat PONG twistedchat x"])

    def test_a_bad_name_is_refused(self) -> None:
        for bad in ("", "two words", "dot.", "a..b", "x" * 64, "café"):
            error = self.assertRaises(
                ValueError, IRCFront, self.service, server_name=bad
            )
            self.assertIn("not an IRC server name", str(error))
        self.assertEqual(
            IRCFront(self.service, server_name="irc-1.example.org").server_name,
            "irc-1.example.org",
        )


class ServerQueryTests(IRCFrontTestCase):
    """TIME, VERSION, INFO and ADMIN: in the command table, for registered users."""

    def setUp(self) -> None:
        super().setUp()
        self.front = IRCFront(self.service, server_name="irc.example.org")
        self.toto = self.register("toto")
        self.toto.lines()

    def test_in_the_command_table_for_registered_users(self) -> None:
        for name in ("TIME", "VERSION", "INFO", "ADMIN"):
            self.assertIn(name, COMMANDS)
            self.assertFalse(COMMANDS[name].registering)
            newcomer = self.client()
            newcomer.send(name)
            self.assertEqual(
                newcomer.lines(), [":irc.example.org 451 * :You have not registered"]
            )

    def test_time_is_the_clock_of_the_server(self) -> None:
        # NOW is 2023-11-14T22:13:20.250Z, a Tuesday.
        self.toto.send("TIME")
        self.assertEqual(
            self.toto.lines(),
            [
                ":irc.example.org 391 toto irc.example.org "
                ":Tuesday November 14 2023 -- 22:13:20 +00:00"
            ],
        )
        self.clock.advance(42)
        self.toto.send("TIME irc.example.org")
        self.assertEqual(
            self.toto.lines(),
            [
                ":irc.example.org 391 toto irc.example.org "
                ":Tuesday November 14 2023 -- 22:14:02 +00:00"
            ],
        )

    def test_version_then_isupport(self) -> None:
        self.toto.send("VERSION")
        self.assertEqual(
            self.toto.lines(),
            [
                f":irc.example.org 351 toto twistedchat-{__version__} irc.example.org "
                ":a chat service built on Twisted",
                *(f":irc.example.org 005 toto {line}" for line in ISUPPORT),
            ],
        )

    def test_info_lines_then_their_end(self) -> None:
        self.toto.send("INFO")
        lines = self.toto.lines()
        self.assertEqual(lines[-1], ":irc.example.org 374 toto :End of /INFO list.")
        self.assertEqual(
            lines[:-1],
            [
                f":irc.example.org 371 toto :twistedchat-{__version__}: a chat "
                "service built on Twisted.",
                ":irc.example.org 371 toto :IRC, netcat and twistedchat users share "
                "the same rooms.",
                f":irc.example.org 371 toto :This server was started "
                f"{self.front.started}.",
            ],
        )

    def test_admin(self) -> None:
        self.toto.send("ADMIN")
        self.assertEqual(
            self.toto.lines(),
            [
                ":irc.example.org 256 toto irc.example.org :Administrative info",
                ":irc.example.org 257 toto :irc.example.org, a twistedchat server",
                ":irc.example.org 258 toto :No administrator details are configured",
                ":irc.example.org 259 toto :No contact address is configured",
            ],
        )

    def test_this_server_by_name_mask_or_user(self) -> None:
        self.line_user("lina")
        self.toto.lines()
        for target in ("irc.example.org", "IRC.Example.ORG", "*.example.*", "lina"):
            self.toto.send(f"ADMIN {target}")
            self.assertEqual(
                self.toto.lines()[0],
                ":irc.example.org 256 toto irc.example.org :Administrative info",
            )

    def test_other_servers_do_not_exist(self) -> None:
        for command in ("TIME", "VERSION", "INFO", "ADMIN"):
            self.toto.send(f"{command} other.example.org")
            self.assertEqual(
                self.toto.lines(),
                [":irc.example.org 402 toto other.example.org :No such server"],
            )


class LinksTests(IRCFrontTestCase):
    """LINKS: this server alone, with its description (the SERVER_INFO setting)."""

    def test_this_server_alone(self) -> None:
        self.front = IRCFront(
            self.service, server_name="My.Little.Server", server_info="test server"
        )
        (toto,) = self.connect_all("toto")
        toto.send("LINKS", "LINKS *.little.*", "LINKS other.server")
        self.assertEqual(
            toto.lines(),
            [
                ":My.Little.Server 364 toto My.Little.Server My.Little.Server "
                ":0 test server",
                ":My.Little.Server 365 toto * :End of /LINKS list.",
                ":My.Little.Server 364 toto My.Little.Server My.Little.Server "
                ":0 test server",
                ":My.Little.Server 365 toto *.little.* :End of /LINKS list.",
                ":My.Little.Server 365 toto other.server :End of /LINKS list.",
            ],
        )

    def test_description_checked(self) -> None:
        self.assertRaises(ValueError, IRCFront, self.service, server_info="a\nb")
