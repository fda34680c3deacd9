"""
A room's rules across fronts, through real processes on loopback: an IRC
user (a raw TCP connection speaking IRC) sets a key and a ban on its channel,
and a netcat user of the line front meets them, as a person would with
C{nc}.
"""

from __future__ import annotations

import os
import re

from twisted.trial.unittest import SynchronousTestCase

from .processes import LineClient, ServerProcess

WELCOME = re.compile(r'^\[server\] welcome, you are "([^"]+)"')


def expect_containing(client: LineClient, wanted: str) -> str:
    """Read up to the first line holding C{wanted} (each read bounded)."""
    seen: list[str] = []
    while True:
        line = client.read_line()
        if line is None:
            raise AssertionError(f"closed before {wanted!r}; saw {seen}")
        if wanted in line:
            return line
        seen.append(line)


class RoomRulesEndToEndTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def test_a_netcat_user_meets_a_key_and_a_ban_set_on_irc(self) -> None:
        server = ServerProcess(self.folder).start()
        self.addCleanup(server.stop)

        irc = LineClient(server.ports["irc"])  # IRC is lines too
        self.addCleanup(irc.close)
        irc.send("NICK keeper")
        irc.send("USER keeper 0 * :The keeper")
        expect_containing(irc, " 376 keeper ")
        irc.send("JOIN #vault")
        expect_containing(irc, " 366 keeper #vault ")
        irc.send("MODE #vault +k sesame")
        expect_containing(irc, "MODE #vault +k sesame")

        netcat = LineClient(server.ports["line"])
        self.addCleanup(netcat.close)
        match = WELCOME.match(netcat.read_line() or "")
        assert match is not None
        address = match.group(1)
        netcat.expect("[server] you are in #general")

        # The key is asked of the netcat user too, in its own words.
        netcat.send("JOIN vault")
        netcat.expect(
            "[server] error: cannot join #vault: it needs a key, and not that one"
        )
        netcat.send("JOIN #vault wrong")
        netcat.expect(
            "[server] error: cannot join #vault: it needs a key, and not that one"
        )
        netcat.send("JOIN vault sesame")
        netcat.expect("[server] you are in #vault (2 members)")
        expect_containing(irc, f":{address}!")

        # A ban by its mask, then a kick: it cannot come back, key or not.
        irc.send(f"MODE #vault +b {address}!*@*")
        netcat.expect(f'[server] "keeper" changed #vault: banned {address}!*@*')
        irc.send(f"KICK #vault {address} :out")
        netcat.expect(f'[server] "{address}" was kicked from #vault by "keeper": out')
        netcat.send("JOIN vault sesame")
        netcat.expect("[server] error: cannot join #vault: you are banned from it")

        # The ban lifted, the key still holds.
        irc.send(f"MODE #vault -b {address}!*@*")
        expect_containing(irc, "MODE #vault -b")
        netcat.send("JOIN vault sesame")
        netcat.expect("[server] you are in #vault (2 members)")

        irc.send("QUIT :bye")
        expect_containing(irc, "ERROR")
        server.wait_for('client disconnected "keeper"')
        netcat.send("QUIT")
        netcat.expect_closed()
        server.wait_for(re.escape(f'client disconnected "{address}"'))
