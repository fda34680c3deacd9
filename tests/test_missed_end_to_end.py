"""
What you missed, not the last 50 again: the real server and the real client
(and netcat users) on loopback, through /part + /join, a reconnection and a
server restart.
"""

from __future__ import annotations

import os
import signal
import socket

from twisted.trial.unittest import SynchronousTestCase

from .processes import ClientProcess, LineClient, ServerProcess


class MissedProcessTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.state = os.path.join(self.folder, "client-state")
        with socket.socket() as probe:  # a port free now, for the whole test
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def start(self) -> ServerProcess:
        # The same framed port each time: the client keeps its resume token
        # per server address.
        server = ServerProcess(
            self.folder, "--history-replay", "3", "--framed-port", str(self.port)
        ).start()
        self.addCleanup(server.stop)
        return server

    def speaker(self, server: ServerProcess) -> LineClient:
        speaker = LineClient(server.ports["line"])
        self.addCleanup(speaker.close)
        speaker.expect("[server] you are in #general")
        return speaker

    def say(self, speaker: LineClient, *words: str) -> None:
        for word in words:
            speaker.send(f"MSG {word}")
        # Lines are read in order: once this is answered, they were said.
        speaker.send("SYNC")
        speaker.expect(
            '[server] error: unknown command "SYNC"; type HELP for the commands'
        )

    def until_live(self, speaker: LineClient, client: ClientProcess, word: str) -> str:
        """What C{client} shows before C{word}, said now, reaches it live."""
        self.say(speaker, word)
        return client.expect(f"said: {word}")

    def client(self, server: ServerProcess, reconnect: int = 0) -> ClientProcess:
        client = ClientProcess(
            "-a",
            "127.0.0.1",
            "-p",
            str(server.ports["framed"]),
            "--nick",
            "alice",
            "--room",
            "general",
            "--lang",
            "en",
            "--reconnect",
            str(reconnect),
            "--state-dir",
            self.state,
            "--log-file",
            os.path.join(self.folder, "client.log"),
            cwd=self.folder,
        )
        self.addCleanup(client.stop)
        return client

    def quit(self, client: ClientProcess) -> None:
        client.send("/quit")
        self.assertEqual(client.wait(), 0)

    def test_rejoin_reconnect_and_restart_show_only_what_was_missed(self) -> None:
        server = self.start()
        speaker = self.speaker(server)
        self.say(speaker, "one", "two")
        alice = self.client(server)
        alice.expect("You are in #general")
        arrival = self.until_live(speaker, alice, "three")
        self.assertIn("(history) 127.0.0.1", arrival)  # a newcomer: the last ones

        # /part + /join: only what was said meanwhile, marked.
        alice.send("/part")
        alice.expect("You left #general")
        self.say(speaker, "four")
        alice.send("/join general")
        alice.expect("You are in #general")
        before = alice._seen  # what the output held up to the join
        rejoined = self.until_live(speaker, alice, "sync1")[before:]
        for seen in ("one", "two", "three"):
            self.assertNotIn(seen, rejoined)
        self.assertIn("four", rejoined)
        self.assertIn("— 1 message since you left —", rejoined)
        self.assertLess(rejoined.find("four"), rejoined.find("— live —"))

        # Older ones on demand, read from the server's files.
        alice.send("/history 2")
        page = alice.expect("— /history for older ones —")
        self.assertIn("— older messages of #general —", page)
        self.assertLess(page.rfind("two"), page.rfind("three"))
        alice.send("/history")
        alice.expect("one\n— start of the history of #general —")

        # A reconnection (same state folder, so same resume token).
        self.quit(alice)
        self.say(speaker, "five", "six")
        alice = self.client(server)
        alice.expect("You are in #general")
        back = self.until_live(speaker, alice, "sync2")
        self.assertIn("Welcome back alice!", back)
        for seen in ("one", "two", "three", "four", "sync1"):
            self.assertNotIn(seen, back)
        self.assertIn("— 2 messages since you left —", back)
        self.assertLess(back.find("five"), back.find("six"))

        # Nothing missed: nothing replayed.
        self.quit(alice)
        alice = self.client(server)
        alice.expect("You are in #general")
        self.until_live(speaker, alice, "sync3")
        self.assertNotIn("(history)", alice.output)
        self.quit(alice)

        # After a restart of the server, the same.
        self.assertEqual(server.stop(), -signal.SIGTERM)  # twistd's own way out
        speaker.close()
        server = self.start()
        speaker = self.speaker(server)
        self.say(speaker, "seven")
        alice = self.client(server)
        alice.expect("You are in #general")
        after = self.until_live(speaker, alice, "sync4")
        self.assertIn("Welcome back alice!", after)
        for seen in ("five", "six", "sync3"):
            self.assertNotIn(seen, after)
        self.assertIn("— 1 message since you left —", after)
        self.assertIn("seven", after)
        self.quit(alice)

    def test_a_netcat_user_pages_back_with_history(self) -> None:
        server = self.start()
        speaker = self.speaker(server)
        self.say(speaker, *[f"m{n}" for n in range(1, 8)])
        reader = self.speaker(server)  # shown m5 to m7
        reader.send("HISTORY 3")
        lines = reader.expect(
            "[server] end of these; HISTORY #general shows older ones"
        )
        lines = lines[
            lines.index("[server] 3 messages before those shown, in #general:") :
        ]
        self.assertEqual(
            lines[0], "[server] 3 messages before those shown, in #general:"
        )
        self.assertEqual(
            [line.rsplit(" ", 1)[1] for line in lines[1:]], ["m2", "m3", "m4"]
        )
        reader.send("HISTORY 10")
        lines = reader.expect("[server] that is the start of #general's history")
        self.assertEqual([line.rsplit(" ", 1)[1] for line in lines[1:]], ["m1"])
        reader.send("HISTORY lots")
        self.assertEqual(
            reader.read_line(), "[server] error: usage: HISTORY [#<room>] [count]"
        )

    def test_a_client_connected_through_a_restart_sees_nothing_again(self) -> None:
        server = self.start()
        speaker = self.speaker(server)
        self.say(speaker, "one")
        alice = self.client(server, reconnect=60)
        alice.expect("You are in #general")
        self.until_live(speaker, alice, "two")  # alice in #general at the stop
        self.assertEqual(server.stop(), -signal.SIGTERM)
        speaker.close()
        alice.expect("Connection lost, reconnecting…")
        server = self.start()
        alice.expect("Welcome back alice!")
        alice.expect("You are in #general")
        before = alice._seen
        speaker = self.speaker(server)
        self.say(speaker, "three")  # after alice's return: live
        back = self.until_live(speaker, alice, "four")[before:]
        self.assertNotIn("(history)", back)
        self.assertNotIn("one", back)
        self.assertIn("said: three", back)
        self.quit(alice)
