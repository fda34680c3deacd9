"""
MONITOR with real processes: an IRC client (raw TCP) watches nicks that a
netcat user takes and gives up on the real server; and a line that is not
UTF-8 is refused (UTF8ONLY), on loopback.
"""

from __future__ import annotations

import re

from .processes import LineClient, ServerTestCase


class MonitorEndToEndTests(ServerTestCase):
    server_arguments = ("--flood-rate", "0")

    def irc_user(self, nick: str) -> LineClient:
        client = self.connect("irc")
        client.send(f"NICK {nick}")
        client.send(f"USER {nick} 0 * :{nick}")
        until(client, rf"^:twistedchat 376 {nick} ")
        return client

    def netcat_user(self) -> LineClient:
        client = self.connect("line")
        client.expect("[server] you are in #general")
        return client

    def test_netcat_user_comes_and_goes(self) -> None:
        watcher = self.irc_user("watcher")
        watcher.send("MONITOR + lina,Zed")
        self.assertEqual(until(watcher, " 731 "), ":twistedchat 731 watcher lina,Zed")
        lina = self.netcat_user()
        lina.send("NICK lina")
        until(watcher, r"^:twistedchat 730 watcher lina![0-9a-f]{10}@twistedchat$")
        lina.send("NICK zed")
        self.assertEqual(until(watcher, " 731 "), ":twistedchat 731 watcher lina")
        until(watcher, r"^:twistedchat 730 watcher zed!")
        lina.send("QUIT")
        lina.expect_closed()
        self.assertEqual(until(watcher, " 731 "), ":twistedchat 731 watcher zed")
        watcher.send("MONITOR L")
        self.assertEqual(until(watcher, " 732 "), ":twistedchat 732 watcher lina,Zed")

    def test_a_line_that_is_not_utf8_is_refused(self) -> None:
        talker, hearer = self.irc_user("talker"), self.irc_user("hearer")
        talker.socket.sendall(b"PRIVMSG hearer :caf\xe9\r\nPRIVMSG hearer :fine\r\n")
        self.assertEqual(
            until(talker, " FAIL "),
            ":twistedchat FAIL PRIVMSG INVALID_UTF8 "
            ":Line refused: it holds bytes that are not UTF-8",
        )
        self.assertRegex(until(hearer, " PRIVMSG "), r" PRIVMSG hearer fine$")


def until(client: LineClient, pattern: str) -> str:
    """The first line C{client} reads that matches C{pattern} (bounded waits)."""
    regex = re.compile(pattern)
    seen = []
    for _ in range(200):
        line = client.read_line()
        if line is None:
            break
        if regex.search(line):
            return line
        seen.append(line)
    raise AssertionError(f"no line matching {pattern!r}; saw {seen}")
