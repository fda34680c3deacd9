"""History with the real server process: SIGTERM, SIGKILL, restart."""

from __future__ import annotations

import json
import os
import re
import signal
import time

from twisted.trial.unittest import SynchronousTestCase

from .processes import LineClient, ServerProcess

ACCEPTED = re.compile(r"message from \S+ in general relayed to")


class HistoryProcessTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.history_file = os.path.join(
            self.folder, "twistedchat-data", "history", "general.jsonl"
        )

    def start(self, *arguments: str) -> ServerProcess:
        server = ServerProcess(self.folder, "--log-messages", "yes", *arguments).start()
        self.addCleanup(server.stop)
        return server

    def client(self, server: ServerProcess) -> LineClient:
        client = LineClient(server.ports["line"])
        self.addCleanup(client.close)
        client.expect("[server] you are in #general")
        return client

    def on_disk(self) -> list[str]:
        with open(self.history_file, encoding="utf-8") as file:
            return [json.loads(line)["text"] for line in file]

    def test_sigterm_under_load_loses_nothing_accepted(self) -> None:
        server = self.start(
            "--history-flush-ms",
            "10000",
            "--history-batch",
            "100000",
            "--flood-rate",
            "0",
        )
        sender = self.client(server)
        receiver = self.client(server)
        count = 3000
        sender.socket.sendall(b"".join(b"MSG m%d\n" % n for n in range(count)))
        receiver.expect(f"[127.0.0.1:{sender.socket.getsockname()[1]}] m10")
        # Messages are still arriving: stop now. Nothing has been flushed yet
        # (10 s interval, huge batch), so all of it is written at shutdown.
        self.assertEqual(server.stop(), -signal.SIGTERM)
        accepted = sum(1 for line in server.output if ACCEPTED.search(line))
        written = self.on_disk()
        self.assertGreater(accepted, 10)
        self.assertEqual(len(written), accepted)
        self.assertEqual(written, [f"m{n}" for n in range(accepted)])

    def test_sigkill_loses_at_most_the_last_flush_interval(self) -> None:
        server = self.start("--history-flush-ms", "100", "--flood-rate", "0")
        sender = self.client(server)
        receiver = self.client(server)
        sender.socket.sendall(b"".join(b"MSG k%d\n" % n for n in range(500)))
        receiver.expect(f"[127.0.0.1:{sender.socket.getsockname()[1]}] k499")
        # Everything accepted more than one flush interval (0.1 s) ago, plus
        # the time to write it, must be on disk when the process is killed.
        time.sleep(0.5)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        self.assertEqual(self.on_disk(), [f"k{n}" for n in range(500)])

    def test_history_survives_a_restart(self) -> None:
        first = self.start("--history-replay", "3")
        sender = self.client(first)
        for n in range(5):
            sender.send(f"MSG before restart {n}")
        first.wait_for("before restart 4")
        sender.close()
        first.stop()

        second = self.start("--history-replay", "3")
        newcomer = LineClient(second.ports["line"])
        self.addCleanup(newcomer.close)
        newcomer.expect("[server] you are in #general")
        replayed = [newcomer.read_line() for _ in range(3)]
        self.assertEqual(
            [
                re.sub(r"^\[history \d\d:\d\d\] \[[^]]+\] ", "", line or "")
                for line in replayed
            ],
            ["before restart 2", "before restart 3", "before restart 4"],
        )
