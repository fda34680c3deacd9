"""
Message-path benchmark: what relaying one room message costs the server in
Python, on each front, measured so that a shared machine's noise does not hide
a change of a few percent.

What it measures: the server's own objects in one process (the real
L{ChatService}, L{HistoryWriter} writing to a temporary folder, the front's
protocols and outbox), with C{--clients} members of #general on the front,
C{--senders} of them sending; each round, every sender's connection receives
C{--batch} messages in one read, then the outbox writes to every member, as
the reactor would a moment later. The connections' transports take the bytes
and drop them: no socket, no reactor, no system call. So this is the per-message
Python path (parsing, the core, the history, rendering, the outbox's loop over
the members) that C{fanout.py} measures together with the kernel and the
reactor; it is where our code, rather than Twisted's or the kernel's, spends.

It prints, per front, microseconds of CPU per message (C{time.process_time};
steadier than wall time, still as noisy as the machine's CPU speed) and
deliveries per CPU-second of this path alone. C{--instructions} runs each
measurement twice under C{valgrind --tool=callgrind}, with R and 3R rounds
(R a tenth of C{--rounds}), and prints the instructions per message (the
difference of the two totals, so start-up does not count): nearly the same
figure on every run of the same code, whatever else the machine is doing.
Each run also checks that every member got every message it should have (the
others' messages, and for framed senders their own echo) and that the history
holds them all; the runs under valgrind check the history only, as counting
the members' messages would cost more than relaying them.

Usage: C{python benchmarks/message_path.py [--front all] [--instructions]}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twistedchat import codec
from twistedchat.core.service import ChatService
from twistedchat.fronts.base import FrontProtocol, Limits
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront
from twistedchat.fronts.web import WebFront
from twistedchat.persistence import HistoryWriter

FRONTS = ("line", "framed", "irc", "web")
ROOM = "general"
# No flood control, no per-address limit (every member comes from one
# address), no timers per connection (a test clock sorts its calls on each
# callLater, which the reactor's heap does not: it would count here alone).
LIMITS = Limits(
    flood_rate=0,
    max_per_address=0,
    registration_timeout=0,
    idle_timeout=0,
    ping_timeout=0,
)


FILLER = "x" * 30  # in every message's text, and nowhere else


class Sink(StringTransport):
    """A connection's transport that keeps what it is given, to be counted later."""

    def __init__(self, port: int, keep: bool) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "127.0.0.1", port))  # type: ignore[no-untyped-call]
        # Members who get the same bytes share them: this costs little memory.
        self.writes: list[bytes] = []
        self.keep = keep

    def write(self, data: bytes) -> None:
        if self.keep:
            self.writes.append(data)

    def messages(self) -> int:
        """How many messages it was given (none is split across two writes)."""
        return sum(data.count(FILLER.encode()) for data in self.writes)

    def writeSequence(self, data: Any) -> None:
        for piece in data:
            self.write(piece)


@dataclass
class Plan:
    front: str
    clients: int
    senders: int
    batch: int  # messages per sender per round
    rounds: int
    # Whether the members' transports keep what they get, for the checks; the
    # instruction count leaves it out, as counting costs more than relaying.
    checked: bool = True


# A browser's WebSocket: the upgrade, then masked frames (a client's work,
# made beforehand like the rest of what the members send).
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
MASK = b"\x37\xfa\x21\x3d"


def websocket_message(message: dict[str, Any]) -> bytes:
    """One masked text frame holding C{message}'s JSON, as a browser sends it."""
    payload = json.dumps(message).encode("utf-8")
    size = len(payload)
    if size < 126:
        head = bytes((0x81, 0x80 | size))
    else:
        head = bytes((0x81, 0xFE)) + size.to_bytes(2, "big")
    # XOR with the mask repeated, as one big number: cheap enough not to
    # count in --instructions, whose two runs make R and 3R rounds of these.
    mask = (MASK * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload) ^ int.from_bytes(mask)
    return head + MASK + masked.to_bytes(size)


def greeting(front: str, nick: str) -> bytes:
    if front == "web":
        introduction = {"type": "hello", "version": codec.PROTOCOL_VERSION}
        return UPGRADE + websocket_message(
            {**introduction, "nick": nick, "lang": "en", "rooms": [ROOM]}
        )
    if front == "framed":
        hello = codec.Hello(codec.PROTOCOL_VERSION, nick, "", "en", (ROOM,))
        return codec.frame_bytes(hello)
    if front == "irc":
        return f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #{ROOM}\r\n".encode()
    return f"NICK {nick}\n".encode()


def message(front: str, text: str) -> bytes:
    if front == "web":
        return websocket_message({"type": "say", "room": ROOM, "text": text})
    if front == "framed":
        return codec.frame_bytes(codec.Say(ROOM, text))
    if front == "irc":
        return f"PRIVMSG #{ROOM} :{text}\r\n".encode()
    return f"MSG {text}\n".encode()


class Room:
    """One front's members in #general, and the messages its senders will send."""

    def __init__(self, plan: Plan, folder: str) -> None:
        self.plan = plan
        self.clock = Clock()
        self.clock.advance(time.time())
        self.history = HistoryWriter(folder, self.clock, run_in_thread=_at_once)
        self.history.startService()
        self.service = ChatService(
            self.clock, ROOM, history=self.history, delivery=Fanout()
        )
        fronts = {
            "line": LineFront,
            "framed": FramedFront,
            "irc": IRCFront,
            "web": WebFront,
        }
        self.front = fronts[plan.front](self.service, limits=LIMITS)
        self.members: list[tuple[FrontProtocol, Sink]] = []
        for n in range(plan.clients):
            sink = Sink(10_000 + n, plan.checked)
            protocol = self.front.buildProtocol(sink.getPeer())  # type: ignore[no-untyped-call]
            assert isinstance(protocol, FrontProtocol)
            protocol.makeConnection(sink)  # type: ignore[no-untyped-call]
            protocol.dataReceived(greeting(plan.front, f"user{n}"))
            self.members.append((protocol, sink))
        self.front.outbox.flush()
        # What each sender reads each round, made beforehand: a client's work.
        self.reads = [
            [
                b"".join(
                    message(plan.front, f"{sender:04x}:{batch + k:08x} {FILLER}")
                    for k in range(plan.batch)
                )
                for sender in range(plan.senders)
            ]
            for batch in range(0, plan.rounds * plan.batch, plan.batch)
        ]

    def round(self) -> None:
        """Each sender's batch in one read, then the writes a moment later."""
        for (protocol, _), data in zip(self.members, self.reads.pop(0), strict=False):
            protocol.dataReceived(data)
        self.front.outbox.flush()
        self.clock.advance(0.001)

    def stop(self) -> int:
        """Write the history; the number of lines on disk."""
        self.history.stopService()
        return self.history.written


def _at_once(function: Any, *args: Any) -> Deferred[Any]:
    return succeed(function(*args))


def run(plan: Plan) -> dict[str, Any]:
    """Warm up with one round, measure the others; the figures, checked."""
    folder = tempfile.mkdtemp(prefix="message-path-")
    try:
        room = Room(plan, folder)
        room.round()
        start = time.process_time()
        for _ in range(plan.rounds - 1):
            room.round()
        cpu = time.process_time() - start
        received = [sink.messages() for _, sink in room.members]
        on_disk = room.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    messages = (plan.rounds - 1) * plan.senders * plan.batch
    deliveries = messages * (plan.clients - 1)
    problems = []
    sent = plan.rounds * plan.batch  # by each sender, warm-up round included
    for n, count in enumerate(received if plan.checked else ()):
        # Framed and web senders get their own messages back, with the
        # server's time.
        expected = plan.senders * sent
        if n < plan.senders and plan.front not in ("framed", "web"):
            expected -= sent
        if count != expected:
            problems.append(f"user{n} got {count} messages, not {expected}")
    if on_disk != plan.rounds * plan.senders * plan.batch:
        problems.append(f"history: {on_disk} lines on disk")
    return {
        "front": plan.front,
        "messages": messages,
        "cpu_s": cpu,
        "us_per_message": cpu / messages * 1e6,
        "deliveries_per_cpu_s": deliveries / cpu,
        "problems": problems,
    }


def instructions(plan: Plan) -> int:
    """Instructions per message, from two runs under callgrind."""
    totals = []
    for rounds in (plan.rounds, 3 * plan.rounds):
        command = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--front",
            plan.front,
            "--clients",
            str(plan.clients),
            "--senders",
            str(plan.senders),
            "--batch",
            str(plan.batch),
            "--rounds",
            str(rounds),
            "--unchecked",
            "--json",
        ]
        # Python's string hashes vary from run to run unless seeded.
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, env=environment
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"no total from callgrind:\n{done.stderr[-2000:]}")
        totals.append(int(found.group(1)))
    return round(
        (totals[1] - totals[0]) / (2 * plan.rounds * plan.senders * plan.batch)
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--front", choices=[*FRONTS, "all"], default="all")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per message under valgrind (about a minute a front)",
    )
    parser.add_argument(
        "--unchecked",
        action="store_true",
        help="do not check what each member got (--instructions' own runs)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per front")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if not 1 <= options.senders <= options.clients or options.rounds < 2:
        parser.error("need 1 <= senders <= clients and at least 2 rounds")
    if options.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind")
    fronts = FRONTS if options.front == "all" else (options.front,)
    failed = False
    for front in fronts:
        plan = Plan(
            front,
            options.clients,
            options.senders,
            options.batch,
            options.rounds,
            checked=not options.unchecked,
        )
        result = run(plan)
        if options.instructions:
            # A tenth of the rounds is plenty: the count varies by about 1%.
            counted = replace(plan, rounds=max(2, plan.rounds // 10))
            result["instructions_per_message"] = instructions(counted)
        failed = failed or bool(result["problems"])
        if options.json:
            print(json.dumps(result))
            continue
        line = (
            f"{front:7} {result['us_per_message']:6.1f} us CPU per message, "
            f"{result['deliveries_per_cpu_s'] / 1e6:5.2f} M deliveries per CPU-s"
        )
        if "instructions_per_message" in result:
            line += f", {result['instructions_per_message']:,} instructions per message"
        print(line + "".join(f"\n  PROBLEM: {p}" for p in result["problems"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
