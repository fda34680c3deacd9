"""
Two terminals of one person, for real (issue 14, point 2): two C{twistedchat}
client processes with the same state folder (so the same resume token), the
real server, and a netcat user in the room.

On main, the second client asked "Nick:" although it held a token, then
replaced the first; the first came back with the same token and replaced the
second, every second or two, and the netcat user saw an endless join/leave
loop. Here both stay connected as one user, the netcat user sees one join,
what one terminal says the other shows as the user's own line, and a /quit in
one leaves the other connected with nobody told.
"""

from __future__ import annotations

import os
import re

from twisted.trial.unittest import SynchronousTestCase

from .processes import ClientProcess, LineClient, ServerProcess

QUIET = 10  # seconds during which nobody may be replaced


class TwoTerminalsOfOnePersonTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.state = os.path.join(self.folder, "state")  # one person's

    def client(self, port: int, *arguments: str) -> ClientProcess:
        client = ClientProcess(
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "--state-dir",
            self.state,
            "--room",
            "general",
            "--lang",
            "en",
            *arguments,
            cwd=self.folder,
        )
        self.addCleanup(client.stop)
        return client

    def test_two_terminals_are_one_user(self) -> None:
        server = ServerProcess(self.folder).start()
        self.addCleanup(server.stop)
        framed = server.ports["framed"]
        netcat = LineClient(server.ports["line"], timeout=QUIET + 10)
        self.addCleanup(netcat.close)
        netcat.expect("[server] you are in #general")

        first = self.client(framed, "--nick", "toto")
        first.expect("Welcome toto!")
        first.expect("You are in #general")
        second = self.client(framed)  # same folder, same token: no --nick
        second.expect("Welcome back toto!")
        second.expect("You are in #general")
        self.assertNotIn("Nick:", second.output)

        # Nobody is replaced, nobody reconnects, for a while.
        with self.assertRaises(AssertionError):
            server.wait_for(r"client disconnected|reconnected", timeout=QUIET)

        second.send("hello from the second terminal")
        second.expect("You said: hello from the second terminal")
        first.expect("You said: hello from the second terminal")
        seen = netcat.expect("[toto] hello from the second terminal")

        second.send("/quit see you")
        self.assertEqual(second.wait(), 0)
        server.wait_for(
            re.escape('client disconnected "toto" (see you), 1 other client(s) stay')
        )
        first.send("still here")
        first.expect("You said: still here")
        seen += netcat.expect("[toto] still here")

        about_toto = [line for line in seen if "toto" in line]
        self.assertEqual(about_toto, ['[server] "toto" joined #general'])
        for output in (first.output, second.output):
            self.assertNotIn("Connection lost", output)
            self.assertEqual(output.count("Welcome"), 1)
        self.assertNotIn("left", first.output)

        first.close_input()
        self.assertEqual(first.wait(), 0)
        netcat.expect('[server] client disconnected "toto"')  # the last one: a quit

    def test_the_same_nick_given_to_both_fights_no_more(self) -> None:
        """On main: 'client disconnected "toto" (reconnected)' every second."""
        server = ServerProcess(self.folder).start()
        self.addCleanup(server.stop)
        framed = server.ports["framed"]
        netcat = LineClient(server.ports["line"], timeout=QUIET + 10)
        self.addCleanup(netcat.close)
        netcat.expect("[server] you are in #general")
        first = self.client(framed, "--nick", "toto")
        first.expect("You are in #general")
        second = self.client(framed, "--nick", "toto")
        second.expect("Welcome back toto!")
        with self.assertRaises(AssertionError):
            server.wait_for(r"client disconnected|reconnected", timeout=QUIET)
        netcat.send("MSG are you there?")
        first.expect("are you there?")
        second.expect("are you there?")
        netcat.send("NAMES")
        seen: list[str] = []
        while True:  # each read bounded; the names end with toto, who came last
            line = netcat.read_line()
            assert line is not None, f"closed; saw {seen}"
            if line.endswith(" toto"):
                break
            seen.append(line)
        self.assertEqual(line.split().count("toto"), 1)  # one user, once
        self.assertEqual(
            [line for line in seen if "toto" in line],
            ['[server] "toto" joined #general'],
        )
