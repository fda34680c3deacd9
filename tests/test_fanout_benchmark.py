"""
The fan-out benchmark (benchmarks/fanout.py): smoke runs at a tiny size on
every front and against each reference IRC server installed here (skipped
where none is), and its receivers fed arbitrarily chunked streams.

The benchmark runs reactors and starts the real server, so it runs here as a
subprocess; its last line of output is its result as JSON (an object per front
when it runs several). The receivers are checked in process, on
C{StringTransport}s: the server may coalesce many lines or frames into one
read, or split one anywhere.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import SkipTest

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core.events import User
from twistedchat.fronts.web.messages import frame_message

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
BENCHMARK = BENCHMARKS / "fanout.py"
TIMEOUT = 120  # seconds: each run takes a few
sys.path.insert(0, str(BENCHMARKS))

from fanout_clients import (  # noqa: E402
    ChatClient,
    FramedChatClient,
    IrcChatClient,
    LineChatClient,
    SenderWindow,
    Tally,
    WebChatClient,
    WebIdleClient,
)
from reference_irc import REFERENCES  # noqa: E402
from websocket_wire import Upgrade, accept_for, mask  # noqa: E402

FRONTS = ("line", "framed", "irc", "web")


def benchmark(*args: str) -> subprocess.CompletedProcess[str]:
    """A run of the benchmark with C{args}, in a process of its own, to its end."""
    return subprocess.run(
        [sys.executable, str(BENCHMARK), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class BenchmarkTestCase(SynchronousTestCase):
    """Runs of the benchmark, as a subprocess, and what a faultless one reports."""

    def run_benchmark(self, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
        done = benchmark(*args, "--timeout", "30", "--json")
        lines = done.stdout.splitlines()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertTrue(lines, done.stderr)
        return done, json.loads(lines[-1])

    def assertFaultless(
        self, result: Any, deliveries: int, sent: int, *, history: bool = True
    ) -> None:
        """
        Every message reached every other client once, and is on disk (with
        C{history}: our server; a reference server keeps none).
        """
        self.assertEqual(result["outcome"], "completed", result)
        self.assertEqual(result["deliveries"], deliveries, result)
        self.assertEqual(result["expected"], deliveries)
        self.assertEqual(result["lost"], 0)
        self.assertEqual(result["duplicated"], 0)
        self.assertEqual(result["unexpected"], 0)
        self.assertEqual(result["dropped_connections"], 0)
        self.assertEqual(result["sent"], sent)
        if history:
            self.assertEqual(result["history_on_disk"], sent)
            self.assertEqual(result["history_duplicates"], 0)
            self.assertEqual(
                result["server_log_problems"], 0, result["server_log_samples"]
            )
        else:
            self.assertIsNone(result["history_on_disk"])
            self.assertIsNone(result["server_log_problems"])
        self.assertTrue(result["server_shut_down"])
        self.assertIsNotNone(result["latency_p50_ms"])
        self.assertEqual(result["unclosed_connections"], 0)


class FanoutBenchmarkTests(BenchmarkTestCase):
    def test_every_front_delivers_every_message_once(self) -> None:
        """
        Five clients, two senders, twenty messages each, on every front in
        turn: each message reaches the four other clients exactly once and is
        in the history file afterwards; framed and web senders get their own
        messages back, not counted as deliveries. The report and its summary
        say so.
        """
        done, results = self.run_benchmark(
            "--clients", "5", "--senders", "2", "--messages", "20"
        )
        self.assertEqual(sorted(results), sorted(FRONTS))
        for front in FRONTS:
            self.assertFaultless(results[front], 2 * 20 * 4, 2 * 20)
            self.assertEqual(results[front]["front"], front)
        self.assertEqual(results["framed"]["echoes"], 2 * 20)
        self.assertEqual(results["web"]["echoes"], 2 * 20)
        self.assertEqual(results["line"]["echoes"], 0)
        fronts = len(FRONTS)
        self.assertEqual(
            done.stdout.count("deliveries         160 of 160 expected"), fronts
        )
        self.assertEqual(
            done.stdout.count("history            40 of 40 on disk"), fronts
        )
        summary = done.stdout.splitlines()[-fronts - 2 : -1]
        self.assertTrue(summary[0].startswith("front"), summary)
        self.assertEqual([row.split()[0] for row in summary[1:]], list(FRONTS))
        self.assertNotIn("!!!", done.stdout)

    def test_several_generator_processes(self) -> None:
        """Two generator processes share six framed clients and count the same."""
        _, result = self.run_benchmark(
            "--front",
            "framed",
            "--procs",
            "2",
            "--clients",
            "6",
            "--senders",
            "3",
            "--messages",
            "10",
        )
        self.assertFaultless(result, 3 * 10 * 5, 3 * 10)
        self.assertEqual(result["procs"], 2)
        self.assertEqual(len(result["generator_cpu_shares"]), 2)
        self.assertEqual(result["echoes"], 3 * 10)

    def test_idle_connections_are_held_and_measured(self) -> None:
        """
        Twenty idle connections per front register first and stay connected
        through the chat, which is unaffected; the server's memory per idle
        connection is reported.
        """
        done, results = self.run_benchmark(
            "--clients", "4", "--senders", "1", "--messages", "10", "--idle", "20"
        )
        for front in FRONTS:
            result = results[front]
            self.assertFaultless(result, 1 * 10 * 3, 10)
            self.assertEqual(result["idle"], 20)
            self.assertEqual(result["idle_dropped"], 0)
            self.assertIsInstance(result["idle_rss_kib_per_connection"], float)
        self.assertEqual(done.stdout.count("20 connections registered in"), 4)
        self.assertEqual(done.stdout.count("KiB per idle connection"), 4)

    def test_server_that_cannot_start_is_an_error(self) -> None:
        """A bad server option ends the run with a non-zero status and the reason."""
        done = benchmark(
            *("--clients", "2", "--messages", "1", "--senders", "1"),
            *("--timeout", "30", "--server-args=--max-line nonsense"),
        )
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("server exited", done.stderr)
        self.assertIn("not a positive whole number", done.stderr)


class AgainstReferenceTests(BenchmarkTestCase):
    """C{--against NAME}: our IRC front, then a reference IRC server, compared."""

    def against(self, name: str) -> None:
        """
        Five clients (two processes, two senders of twenty messages, five idle
        connections) on our IRC front, then on C{name}: each delivers every
        message once; the reference server's report names it and its version,
        says its history is not checked, and the run ends with the ratio line.
        """
        reference = REFERENCES[name]
        if reference.binary() is None:
            raise SkipTest(f"{name} is not installed")
        done, results = self.run_benchmark(
            "--against",
            name,
            *("--clients", "5", "--senders", "2", "--messages", "20"),
            *("--procs", "2", "--idle", "5"),
        )
        self.assertEqual(sorted(results), sorted(["irc", name]))
        ours, theirs = results["irc"], results[name]
        for result in (ours, theirs):
            self.assertFaultless(result, 2 * 20 * 4, 2 * 20, history=result is ours)
            self.assertEqual(result["front"], "irc")
            self.assertEqual(result["idle_dropped"], 0)
        self.assertIsNone(ours["reference"])
        self.assertEqual(theirs["reference"], name)
        self.assertTrue(theirs["server"].startswith(reference.title + " "))
        self.assertIn(f"fan-out, {theirs['server']} (reference, IRC):", done.stdout)
        self.assertIn("history            n/a", done.stdout)
        self.assertIn("Nagle's algorithm on", done.stdout)
        ratio = done.stdout.splitlines()[-2]
        self.assertTrue(
            ratio.startswith(f"ours / {theirs['server']}: deliveries per server"),
            ratio,
        )
        self.assertNotIn("!!!", done.stdout)

    def test_ngircd(self) -> None:
        self.against("ngircd")

    def test_inspircd(self) -> None:
        self.against("inspircd")

    def test_only_the_irc_front_can_be_compared(self) -> None:
        """C{--against} with another front is refused before anything starts."""
        done = benchmark("--against", "ngircd", "--front", "line")
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("--against compares IRC servers", done.stderr)
        self.assertEqual(done.stdout, "")


# What each front's server sends for a message of sender s, seq q.


def _text(sender: int, seq: int) -> str:
    return f"{sender:04x}:{seq:08x}:{1000 + seq:016x}"


def line_message(sender: int, seq: int) -> bytes:
    return f"[b{sender:04x}] {_text(sender, seq)}\r\n".encode()


def irc_message(sender: int, seq: int) -> bytes:
    source = f"b{sender:04x}!{sender:010x}@twistedchat"
    return f":{source} PRIVMSG #general {_text(sender, seq)}\r\n".encode()


def framed_message(sender: int, seq: int) -> bytes:
    user = User(f"{sender * 77:016x}", f"b{sender:04x}", 31)
    return codec.frame_bytes(
        codec.Said(1_700_000_000_000 + seq, "general", user, _text(sender, seq))
    )


def web_message(sender: int, seq: int) -> bytes:
    # Colours of two and three digits: said events of two sizes, interleaved.
    user = User(f"{sender * 77:016x}", f"b{sender:04x}", 31 if sender % 2 else 130)
    return frame_message(
        codec.Said(1_700_000_000_000 + seq, "general", user, _text(sender, seq))
    )


# Records of other kinds that may come between messages.
OTHERS = {
    "line": [b'[server] client connected "someone"\r\n', b"[server] hello\r\n"],
    "irc": [b"PING :twistedchat\r\n", b":x!y@twistedchat JOIN #general\r\n"],
    "framed": [
        codec.frame_bytes(codec.Ping(7)),
        codec.frame_bytes(codec.Gone(1, User("a" * 16, "someone", 3))),
    ],
    "web": [
        b"\x89\x017",  # a WebSocket ping
        frame_message(codec.Ping(7)),
        frame_message(codec.Gone(1, User("a" * 16, "someone", 3))),
    ],
}
MESSAGES = {
    "line": line_message,
    "irc": irc_message,
    "framed": framed_message,
    "web": web_message,
}
CLIENTS: dict[str, type[ChatClient]] = {
    "line": LineChatClient,
    "irc": IrcChatClient,
    "framed": FramedChatClient,
    "web": WebChatClient,
}


def echoes(front: str) -> bool:
    """Whether a sender gets its own messages back on C{front}."""
    return CLIENTS[front].echoes_own


def switching(upgrade: Upgrade | None) -> bytes:
    """A WebSocket server's yes to the upgrade C{upgrade} asked for."""
    assert upgrade is not None
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nServer: test\r\n"
        b"Upgrade: WebSocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_for(upgrade.key) + b"\r\n\r\n"
    )


def client_payloads(data: bytes) -> list[tuple[int, bytes]]:
    """The opcode and unmasked payload of each frame a client wrote."""
    frames, pos = [], 0
    while pos < len(data):
        assert data[pos + 1] & 0x80, "a client frame must be masked"
        size, pos = data[pos + 1] & 0x7F, pos + 2
        if size == 126:
            size, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        key, pos = data[pos : pos + 4], pos + 4
        frames.append((data[pos - 6] & 0x0F, mask(data[pos : pos + size], key)))
        pos += size
    return frames


def written(front: str, transport: StringTransport) -> bytes:
    """What a client wrote, its WebSocket frames unmasked."""
    data: bytes = transport.value()
    if front != "web":
        return data
    return b"".join(payload for _, payload in client_payloads(data))


SENDERS, SEQS, WINDOW = 3, 60, 4


class ReceiverTests(SynchronousTestCase):
    """A receiver counts exactly, however the server's output is cut."""

    def receiver(self, front: str, index: int) -> tuple[ChatClient, ChatClient, Tally]:
        """Client C{index} counting, with sender 0 in the same process."""
        tally = Tally(SENDERS, SEQS, WINDOW)
        client = CLIENTS[front](index, tally)
        client.makeConnection(StringTransport())
        sender = CLIENTS[front](0, tally)
        sender.makeConnection(StringTransport())
        for each in (client, sender):
            if isinstance(each, WebChatClient):
                each.dataReceived(switching(each.upgrade))
        tally.windows = {sender.hex: SenderWindow(sender, 1, SEQS, WINDOW)}
        client.start_counting(tally.windows)
        tally.receivers = 1
        assert isinstance(sender.transport, StringTransport)
        sender.transport.clear()
        tally.windows[sender.hex].fill()
        return client, sender, tally

    def feed(self, client: ChatClient, data: bytes, rng: random.Random) -> None:
        pos = 0
        while pos < len(data):
            size = rng.choice([1, 3, 40, 100, 1000, 5000, rng.randrange(1, 3000)])
            client.dataReceived(data[pos : pos + size])
            pos += size

    def test_every_message_counted_once_however_cut(self) -> None:
        """
        Each front's messages, with other records now and then, cut into
        chunks of random sizes (a byte, a record, many): every message is
        counted once, the receiver is complete, and the sender in its process
        was let through its window to the last message.
        """
        for front in CLIENTS:
            for seed in range(10):
                rng = random.Random(seed)
                me = 1 if seed % 2 else 5  # a sender itself, or not
                client, sender, tally = self.receiver(front, me)
                assert isinstance(sender.transport, StringTransport)
                before = written(front, sender.transport)  # the window, no more
                self.assertIn(f"0000:{WINDOW - 1:08x}:".encode(), before)
                self.assertNotIn(f"0000:{WINDOW:08x}:".encode(), before)
                stream = []
                for seq in range(SEQS):
                    for source in range(SENDERS):
                        if source == me and not echoes(front):
                            continue  # only framed and web senders get an echo
                        stream.append(MESSAGES[front](source, seq))
                        if rng.random() < 0.05:
                            stream.append(rng.choice(OTHERS[front]))
                self.feed(client, b"".join(stream), rng)
                settled = client.settle()
                expected = SENDERS * SEQS - (SEQS if me < SENDERS else 0)
                where = f"{front}, seed {seed}"
                self.assertEqual(settled.unique, expected, where)
                self.assertEqual(settled.duplicated, 0, where)
                self.assertEqual(settled.unexpected, 0, where)
                self.assertEqual(
                    settled.echoes, SEQS if me < SENDERS and echoes(front) else 0
                )
                self.assertEqual(len(settled.latencies), expected, where)
                self.assertTrue(tally.finished.called, where)
                sent = written(front, sender.transport)
                last = f"0000:{SEQS - 1:08x}:".encode()
                self.assertIn(last, sent, where)
                self.assertNotIn(f"0000:{SEQS:08x}:".encode(), sent, where)

    def test_duplicates_losses_and_misattributions_reported(self) -> None:
        """
        A message twice, one missing and one sent under the wrong nick are
        each reported, whatever the chunking.
        """
        for front in CLIENTS:
            for seed in range(5):
                rng = random.Random(seed)
                client, _, _ = self.receiver(front, 5)
                stream = [
                    MESSAGES[front](source, seq)
                    for seq in range(SEQS)
                    for source in range(SENDERS)
                ]
                stream.insert(10, stream[10])
                del stream[100]
                misattributed = MESSAGES[front](1, 3).replace(b"b0001", b"b0002", 1)
                stream.insert(50, misattributed)
                self.feed(client, b"".join(stream), rng)
                settled = client.settle()
                where = f"{front}, seed {seed}"
                self.assertEqual(settled.unique, SENDERS * SEQS - 1, where)
                self.assertEqual(settled.duplicated, 1, where)
                self.assertEqual(settled.unexpected, 1, where)


class IrcRegistrationTests(SynchronousTestCase):
    """The IRC clients register the way any IRC server expects, not only ours."""

    def test_joins_once_welcomed(self) -> None:
        """
        NICK and USER first, JOIN only after the welcome (InspIRCd answers an
        earlier JOIN with 451); a missing MOTD (422) is no error, a ping is
        answered; ready at the end of NAMES, whose answer is read across
        several 353 lines with any member prefix.
        """
        tally = Tally(1, 1, 1)
        client = IrcChatClient(1, tally)
        transport = StringTransport()
        client.makeConnection(transport)
        self.assertEqual(
            transport.value(), b"NICK b0001\r\nUSER b0001 0 * :fanout benchmark\r\n"
        )
        transport.clear()
        client.dataReceived(
            b":ref.example 001 b0001 :Welcome\r\n"
            b":ref.example 422 b0001 :MOTD File is missing\r\n"
            b"PING :ref.example\r\n"
        )
        self.assertEqual(transport.value(), b"JOIN #general\r\nPONG :ref.example\r\n")
        self.assertFalse(client.ready.called)
        client.dataReceived(
            b":b0001!~b0001@127.0.0.1 JOIN :#general\r\n"
            b":ref.example 353 b0001 = #general :@b0001\r\n"
            b":ref.example 366 b0001 #general :End of NAMES list\r\n"
        )
        self.assertIsNone(self.successResultOf(client.ready))
        names = client.ask_names()
        client.dataReceived(
            b":ref.example 353 b0001 = #general :@b0000 b0001\r\n"
            b":ref.example 353 b0001 = #general :+b0002\r\n"
            b":ref.example 366 b0001 #general :End of NAMES list\r\n"
        )
        self.assertEqual(self.successResultOf(names), {"b0000", "b0001", "b0002"})
        self.assertEqual(tally.server_errors, [])

    def test_other_error_replies_stop_it(self) -> None:
        """Any other error numeric fails the client's registration, and says so."""
        tally = Tally(1, 1, 1)
        client = IrcChatClient(1, tally)
        client.makeConnection(StringTransport())
        client.dataReceived(b":ref.example 451 b0001 JOIN :You have not registered\r\n")
        failure = self.failureResultOf(client.ready)
        self.assertIn("451", failure.getErrorMessage())
        self.assertEqual(len(tally.server_errors), 1)


class WebClientTests(SynchronousTestCase):
    """The web clients open a WebSocket as a browser's page does, then speak JSON."""

    def connected(self, client: ChatClient | WebIdleClient) -> StringTransport:
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 8080))
        client.makeConnection(transport)
        return transport

    def test_upgrade_then_hello(self) -> None:
        """
        The client asks for /ws with the page's own origin, sends nothing more
        until the server's 101 (read across chunks, frames right behind it),
        then a masked hello with #general; ready at its own entered event.
        """
        client = WebChatClient(1, Tally(1, 1, 1))
        transport = self.connected(client)
        request = transport.value()
        self.assertTrue(request.startswith(b"GET /ws HTTP/1.1\r\n"), request)
        self.assertIn(b"\r\nHost: 127.0.0.1:8080\r\n", request)
        self.assertIn(b"\r\nOrigin: http://127.0.0.1:8080\r\n", request)
        self.assertIn(b"\r\nSec-WebSocket-Version: 13\r\n", request)
        self.assertTrue(request.endswith(b"\r\n\r\n"))
        transport.clear()
        answer = switching(client.upgrade)
        client.dataReceived(answer[:20])
        self.assertEqual(transport.value(), b"")
        me = User("0" * 16, "b0001", 31)
        entered = frame_message(codec.Entered(1, "general", me, arrival=True))
        client.dataReceived(answer[20:] + entered[:9])
        [(opcode, payload)] = client_payloads(transport.value())
        self.assertEqual(opcode, 1)
        self.assertEqual(
            json.loads(payload),
            {
                "type": "hello",
                "version": codec.PROTOCOL_VERSION,
                "nick": "b0001",
                "rooms": ["general"],
            },
        )
        self.assertFalse(client.ready.called)
        client.dataReceived(entered[9:])
        self.assertIsNone(self.successResultOf(client.ready))

    def test_refused_or_wrong_upgrade_stops_it(self) -> None:
        """
        A refusal (403, as for a foreign Origin) or a 101 with the wrong
        accept key fails the client, says why, and hangs up.
        """
        for answer, why in [
            (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "403 Forbidden"),
            (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Sec-WebSocket-Accept: bm90IGl0\r\n\r\n",
                "wrong Sec-WebSocket-Accept",
            ),
        ]:
            tally = Tally(1, 1, 1)
            client = WebChatClient(1, tally)
            transport = self.connected(client)
            client.dataReceived(answer)
            self.assertIn(why, self.failureResultOf(client.ready).getErrorMessage())
            self.assertEqual(len(tally.server_errors), 1)
            self.assertTrue(transport.disconnecting)

    def test_idle_registers_at_welcome_and_answers_pings(self) -> None:
        """
        An idle web user says hello with no rooms and is registered at the
        welcome; a WebSocket ping gets its pong, a JSON ping its JSON pong.
        """
        client = WebIdleClient(3)
        transport = self.connected(client)
        transport.clear()
        client.dataReceived(switching(client.upgrade))
        [(_, hello)] = client_payloads(transport.value())
        self.assertEqual(
            json.loads(hello),
            {"type": "hello", "version": codec.PROTOCOL_VERSION, "nick": "i00003"},
        )
        transport.clear()
        welcome = codec.Welcome(
            codec.PROTOCOL_VERSION, User("0" * 16, "i00003", 31), "token", False
        )
        client.dataReceived(frame_message(welcome) + b"\x89\x02hi")
        self.assertIsNone(self.successResultOf(client.ready))
        client.dataReceived(frame_message(codec.Ping(5)))
        self.assertEqual(
            client_payloads(transport.value()),
            [(0xA, b"hi"), (1, b'{"type":"pong","token":5}')],
        )
