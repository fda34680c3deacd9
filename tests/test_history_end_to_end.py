"""History with the real server process: SIGTERM, SIGKILL, restart."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict

from twisted.trial.unittest import SynchronousTestCase

from .processes import LineClient, ServerProcess

ACCEPTED = re.compile(r"message from \S+ in general relayed to")
RELAYED = re.compile(r"message from \S+ in (\S+) relayed to \d+ members: (\S+)")
# What a clean shutdown must never log.
TROUBLE = re.compile(
    r"Traceback|Unhandled|Error|could not write|cannot write|history stopped"
)


def keep_sending(sock: socket.socket, count: int, stop: threading.Event) -> None:
    """
    Send C{MSG m0} to C{MSG m<count-1>} in small pieces, as a busy client
    would, until the server is gone (or C{stop} is set).
    """
    try:
        for start in range(0, count, 10):
            if stop.is_set():
                return
            sock.sendall(b"".join(b"MSG m%d\n" % i for i in range(start, start + 10)))
            time.sleep(0.01)
    except OSError:
        pass  # the server stopped while we were sending: expected


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

    def test_sigterm_with_writes_under_way_loses_nothing_accepted(self) -> None:
        """
        Many senders, small batches and tiny flush intervals: batches are
        being written when SIGTERM comes, and messages still arrive while
        the server stops. In every round, every message the server relayed
        is on disk, once, in each sender's order, and the log is clean.
        """
        settings = [
            ("--history-batch", "20", "--history-flush-ms", "5"),
            ("--history-batch", "5", "--history-flush-ms", "2"),
            ("--history-flush-ms", "2", "--history-fsync", "always"),
        ]
        rounds, senders, deadline = 0, 8, time.monotonic() + 35
        per_sender = 100_000
        accepted_in_all = cut_short = stopped_while_sending = 0
        while rounds < 15 and (rounds < 5 or time.monotonic() < deadline):
            folder = os.path.join(self.folder, f"round{rounds}")
            os.makedirs(folder)
            server = ServerProcess(
                folder,
                "--log-messages",
                "yes",
                "--flood-rate",
                "0",
                *settings[rounds % len(settings)],
            ).start()
            self.addCleanup(server.stop)
            threads = []
            stop = threading.Event()
            self.addCleanup(stop.set)
            for n in range(senders):
                # Each sender in a room of its own: nobody has to read its
                # messages, so none is dropped as a slow reader.
                client = LineClient(server.ports["line"])
                self.addCleanup(client.close)
                client.expect("[server] you are in #general")
                client.send(f"JOIN s{n}")
                client.expect(f"[server] you are in #s{n} (1 member)")
                threads.append(
                    threading.Thread(
                        target=keep_sending, args=(client.socket, per_sender, stop)
                    )
                )
            for thread in threads:
                thread.start()
            server.wait_for(RELAYED)
            time.sleep(random.uniform(0.05, 0.3))
            server.process.send_signal(signal.SIGTERM)
            try:
                # Bounded loosely: with the senders' threads on this machine's
                # two cores (and other tests beside), a stop takes seconds.
                server.process.wait(15)
                stopped_while_sending += 1
            except subprocess.TimeoutExpired:
                pass  # not stopping while messages come: see if it does after
            stop.set()
            self.assertEqual(server.process.wait(15), -signal.SIGTERM)
            server.stop()  # (the process is gone: reads the end of its log)
            for thread in threads:
                thread.join(10)
            relayed: dict[str, list[str]] = defaultdict(list)
            for line in server.output:
                if match := RELAYED.search(line):
                    relayed[match.group(1)].append(match.group(2))
            history = os.path.join(folder, "twistedchat-data", "history")
            for n in range(senders):
                room = f"s{n}"
                path = os.path.join(history, f"{room}.jsonl")
                on_disk = []
                if os.path.exists(path):
                    with open(path, encoding="utf-8") as file:
                        on_disk = [json.loads(line)["text"] for line in file]
                self.assertEqual(
                    (room, len(on_disk)), (room, len(relayed[room])), f"round {rounds}"
                )
                self.assertEqual(on_disk, relayed[room])
                self.assertEqual(on_disk, [f"m{i}" for i in range(len(on_disk))])
                accepted_in_all += len(on_disk)
            cut_short += sum(len(relayed[f"s{n}"]) < per_sender for n in range(senders))
            trouble = [line for line in server.output if TROUBLE.search(line)]
            self.assertEqual(trouble[:5], [], f"round {rounds}")
            rounds += 1
        # Messages were still coming when SIGTERM came, in most rounds.
        print(f"{rounds} rounds, {accepted_in_all} messages accepted and on disk")
        self.assertGreater(cut_short, rounds * senders // 2)
        self.assertEqual(stopped_while_sending, rounds)

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


class HistoryTroubleProcessTests(SynchronousTestCase):
    """
    The room's file cannot be written while the server runs (a folder in its
    place: refused to root too), then SIGTERM comes.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.history = os.path.join(self.folder, "twistedchat-data", "history")
        self.blocked = os.path.join(self.history, "general.jsonl")

    def run_session(self, *arguments: str) -> ServerProcess:
        """Seven messages in #general, whose file is blocked; two in #other."""
        server = ServerProcess(self.folder, "--log-messages", "yes", *arguments)
        server.start()
        self.addCleanup(server.stop)
        toto, tutu = LineClient(server.ports["line"]), LineClient(server.ports["line"])
        for client in (toto, tutu):
            self.addCleanup(client.close)
            client.expect("[server] you are in #general")
        os.makedirs(self.blocked)  # (the server has read its history by now)
        tutu.send("JOIN other")
        tutu.expect("[server] you are in #other (1 member)")
        for n in range(7):
            toto.send(f"MSG g{n}")
            server.wait_for(f"in general relayed to 0 members: g{n}")
        for n in range(2):
            tutu.send(f"MSG o{n}")
            server.wait_for(f"in other relayed to 0 members: o{n}")
        server.wait_for("cannot write history")
        return server

    def said(self, server: ServerProcess, text: str) -> list[str]:
        return [line for line in server.output if text in line]

    def on_disk(self, room: str) -> list[str]:
        with open(os.path.join(self.history, f"{room}.jsonl"), encoding="utf-8") as f:
            return [json.loads(line)["text"] for line in f]

    def test_sigterm_tells_exactly_what_could_not_be_written(self) -> None:
        server = self.run_session("--history-stop-retry", "1")
        # Writes are retried about five times a second: said once.
        self.assertEqual(server.stop(), -signal.SIGTERM)
        self.assertEqual(len(self.said(server, "cannot write history")), 1)
        self.assertEqual(len(self.said(server, "retrying for up to 1 s")), 1)
        (total,) = self.said(server, "accepted messages could not be written")
        self.assertIn(
            f"history stopped: 7 accepted messages could not be written to "
            f"{self.history} and are lost",
            total,
        )
        (general,) = self.said(server, "messages of room")
        self.assertIn(
            f"history stopped: 7 messages of room general lost ({self.blocked})",
            general,
        )
        self.assertEqual(self.on_disk("other"), ["o0", "o1"])

    def test_sigterm_waits_for_the_disk_and_loses_nothing(self) -> None:
        server = self.run_session("--history-stop-retry", "20")
        server.process.send_signal(signal.SIGTERM)
        server.wait_for("retrying for up to 20 s")
        os.rmdir(self.blocked)  # the disk is usable again
        self.assertEqual(server.process.wait(15), -signal.SIGTERM)
        server.stop()
        self.assertEqual(self.on_disk("general"), [f"g{n}" for n in range(7)])
        self.assertEqual(self.said(server, "are lost"), [])
        self.assertEqual(self.on_disk("other"), ["o0", "o1"])
