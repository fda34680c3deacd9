"""
Real processes: an IRC user's /me as a netcat user and a twistedchat client
read it, and the goodbye every netcat user gets when the server stops.
"""

from __future__ import annotations

import os

from .processes import ClientProcess, ServerTestCase


class IRCismsEndToEndTests(ServerTestCase):
    def test_irc_me_reaches_netcat_and_the_client(self) -> None:
        netcat = self.connect("line")
        netcat.expect("[server] you are in #general")
        bob = ClientProcess(
            "-a",
            "127.0.0.1",
            "-p",
            str(self.server.ports["framed"]),
            "--state-dir",
            os.path.join(self.folder, "bob"),
            "--nick",
            "bob",
            "--room",
            "general",
            "--lang",
            "fr",
            cwd=self.folder,
        )
        self.addCleanup(bob.stop)
        bob.expect("Vous êtes dans #general")

        irc = self.connect("irc")
        irc.send("NICK toto\r")
        irc.send("USER toto 0 * :Toto\r")
        irc.expect(":twistedchat 376 toto :End of /MOTD command.")
        irc.send("JOIN #general\r")
        irc.send("PRIVMSG #general :\x01ACTION waves \x02hello\x02\x01\r")
        irc.send("PRIVMSG #general :\x01VERSION\x01\r")
        irc.send("PRIVMSG #general :\x0304done\x03\r")

        netcat.expect("* toto waves hello")
        self.assertEqual(netcat.read_line(), "[toto] done")
        bob.expect("* toto waves hello")
        seen = bob.expect("toto a dit : done")
        self.assertNotIn("VERSION", seen)
        self.assertNotIn("\ufffd", seen)

        bob.close_input()
        self.assertEqual(bob.wait(), 0)

    def test_netcat_users_told_when_the_server_stops(self) -> None:
        first, second = self.connect("line"), self.connect("line")
        for netcat in (first, second):
            netcat.expect("[server] you are in #general")
        self.server.stop()
        for netcat in (first, second):
            left = netcat.expect_closed()
            self.assertEqual(left[-1], "[server] the server is stopping; goodbye")
