"""
Load benchmark: many clients chatting at a realistic pace in several rooms.

What it measures: N line-front clients spread over R rooms (client K joins
C{#load<K mod R>}) each say something every C{--interval} seconds on average
(with jitter) for C{--seconds}; every member of a room must receive every
message of the other members exactly once and in order per sender. The figures
are messages sent, deliveries expected and received, lost, duplicated and out
of order, deliveries per second of wall time and of server CPU time, delivery
latency (p50, p99, max), the time the N clients take to connect, be named and
join, the server's memory (resident at the end and peak), and how busy the load
generator was, so that a generator-bound run is not mistaken for a server
limit. This is a steady chat load, not a flood: the offered rate is fixed
(about N / interval messages per second), the question is whether the server
carries it without losing anything and how much it costs.

How: as for C{fanout.py}, the server is started and stopped by L{harness} (the
real C{twistd -n twistedchat} of this source tree, flood control and the
per-address limit off, log to a file) and the clients live in one load
generator process, forked and taken through the phases by L{generators},
which samples the server around them; L{figures} makes and prints the
figures. The phases:

 1. connect: the N clients connect at once; each sends C{NICK c<K>} and
    C{JOIN load<K mod R>} and waits for C{you are in #load<..>}. The connect
    time ends when every client is in its room. Each client then asks
    C{NAMES} and must see exactly its room's members; the answer also drains
    the join and nick notices so they do not spill into the measurement.
 2. send: each client sends its first message at a random moment within the
    first interval, then one every C{interval * U(0.5, 1.5)} seconds, as
    C{MSG <K>:<seq>:<t>}, C{t} being the generator's C{perf_counter_ns} at
    sending. Each receiver takes one timestamp per chunk read and records
    latency = arrival - t, duplicates and arrivals behind an already received
    later message of the same sender (out of order). How late the send timers
    fire is recorded too: it shows whether the generator kept to its schedule.
 3. drain: after C{--seconds} nobody sends; the phase ends when every message
    has reached every other member of its room, or after C{--drain} seconds.
    Lost = deliveries expected (each message sent times its room's size minus
    one) minus unique deliveries. Wall time runs from the first send to the
    last delivery; server CPU (from C{/proc}) and the generator's CPU are
    sampled around phases 2 and 3, the server's memory after them.

Exit status: 0 when nothing was lost, duplicated, reordered or dropped; 3 when
something was; 1 when the benchmark could not run, 2 when nothing arrived.
Linux only (C{/proc}). Usage: C{python benchmarks/load.py --help}.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shlex
import sys
import time
from array import array
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import figures
from figures import Figures, Stopped, percentile_ms
from generators import (
    Measurement,
    Phases,
    Reply,
    check_names,
    close_all,
    generator_processes,
    measure,
    register_all,
    send_outcome,
)
from harness import (
    HOST,
    SATURATED,
    SECOND_NS,
    BenchmarkFailed,
    add_server_options,
    guarded,
    raise_file_limit,
    run_directory,
    running_server,
    scan_log,
)
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall, ITCPTransport, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

SERVER_ARGS = ("--flood-rate", "0", "--max-per-address", "0")  # harness passes them
JITTER = (0.5, 1.5)  # a client's next message comes after interval * U(JITTER)
SPARE_FILES = 200  # descriptors beyond one per client: server log, pipes, ...
CONNECT_TIMEOUT = 120.0  # seconds for connecting, joining, NAMES and closing


# The plan and what the receivers saw


@dataclass(frozen=True)
class Plan:
    clients: int
    rooms: int
    seconds: float
    interval: float
    drain: float
    seed: int

    def check(self) -> None:
        if self.rooms < 1:
            raise ValueError("need at least one room")
        if self.clients < 2 * self.rooms:
            raise ValueError("need at least 2 clients per room")
        if self.seconds <= 0 or self.interval <= 0 or self.drain <= 0:
            raise ValueError("seconds, interval and drain must be positive")

    @property
    def capacity(self) -> int:
        """The most messages one client can send (its shortest gaps)."""
        return math.floor(self.seconds / (self.interval * JITTER[0])) + 2

    @property
    def offered_rate(self) -> float:
        """Messages per second the clients are meant to send, all together."""
        return self.clients / self.interval

    def room_of(self, client: int) -> int:
        return client % self.rooms

    def room_size(self, room: int) -> int:
        return len(range(room, self.clients, self.rooms))


class Tally:
    """
    What the senders sent and the receivers saw.

    C{seen[receiver][sender // rooms][seq]} marks an arrival (the members of
    room r are clients r, r + R, r + 2R...); C{highest} holds, per receiver and
    room-mate, the highest seq received so far, to spot arrivals out of order.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        capacity = plan.capacity
        sizes = [plan.room_size(room) for room in range(plan.rooms)]
        self.seen = [
            [bytearray(capacity) for _ in range(sizes[plan.room_of(k)])]
            for k in range(plan.clients)
        ]
        self.highest = [[-1] * sizes[plan.room_of(k)] for k in range(plan.clients)]
        self.others = [sizes[plan.room_of(k)] - 1 for k in range(plan.clients)]
        self.sent_by = [0] * plan.clients
        self.sent = 0
        self.expected = 0
        self.unique = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.unexpected = 0  # garbled, from another room, echoed, or never sent
        self.dropped = 0  # connections lost before the end
        self.server_errors: list[str] = []
        self.latencies = array("q")
        self.timer_lag = array("q")  # how late each send timer fired
        self.first_send_ns = 0
        self.last_delivery_ns = 0
        self.sending = False
        self.finished: Deferred[str] = Deferred()

    def next_seq(self, sender: int) -> int | None:
        """Count a message about to be sent; None when the sender has no room."""
        seq = self.sent_by[sender]
        if not self.sending or seq >= self.plan.capacity:
            return None
        self.sent_by[sender] = seq + 1
        self.sent += 1
        self.expected += self.others[sender]
        return seq

    def record(
        self, receiver: int, sender: int, seq: int, sent_ns: int, now: int
    ) -> None:
        rooms = self.plan.rooms
        if (
            not 0 <= sender < self.plan.clients
            or sender == receiver
            or sender % rooms != receiver % rooms
            or not 0 <= seq < self.sent_by[sender]
        ):
            self.unexpected += 1
            return
        slot = sender // rooms
        row = self.seen[receiver][slot]
        if row[seq]:
            self.duplicates += 1
            return
        row[seq] = 1
        self.unique += 1
        highest = self.highest[receiver]
        if seq < highest[slot]:
            self.out_of_order += 1
        else:
            highest[slot] = seq
        self.latencies.append(now - sent_ns)
        self.last_delivery_ns = now
        if not self.sending and self.unique == self.expected:
            self.finish("completed")

    def stop_sending(self) -> None:
        self.sending = False
        if self.unique == self.expected:
            self.finish("completed")

    def finish(self, outcome: str) -> None:
        if not self.finished.called:
            self.finished.callback(outcome)


class LoadClient(Protocol):
    """
    One line-front client: joins its room, chats on a timer, counts arrivals
    (C{[c<k>] <k>:<seq>:<send time ns>} lines).
    """

    MAX_LENGTH = 1 << 16  # a NAMES answer is one line of the room's nicks
    wire: ITransport
    _buffer = b""
    _now = 0
    _names: Deferred[set[str]] | None = None

    def __init__(self, index: int, tally: Tally) -> None:
        self.index = index
        self.tally = tally
        self.nick = f"c{index}"
        self.room = f"load{tally.plan.room_of(index)}"
        self._in_room = f"you are in #{self.room} (".encode()
        self.ready: Deferred[None] = Deferred()  # in its room
        self.is_ready = False
        self.gone: Deferred[None] = Deferred()
        self.closing = False
        self._timer: IDelayedCall | None = None
        self._due_ns = 0

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.wire = self.transport
        if ITCPTransport.providedBy(self.wire):
            self.wire.setTcpNoDelay(True)
        self.wire.write(f"NICK {self.nick}\nJOIN {self.room}\n".encode())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.closing:
            self.tally.dropped += 1
        lost = BenchmarkFailed(f"{self.nick}: connection lost")
        if not self.ready.called:
            self.ready.errback(lost)
        if self._names is not None and not self._names.called:
            self._names.errback(lost)
        self.stop_sending()
        self.gone.callback(None)

    def ask_names(self) -> Deferred[set[str]]:
        self._names = Deferred()
        self.wire.write(b"NAMES\n")
        return self._names

    # Sending

    def start_sending(self, reactor: Any, rng: random.Random, delay: float) -> None:
        self._reactor = reactor
        self._rng = rng
        self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        self._due_ns = time.perf_counter_ns() + int(delay * SECOND_NS)
        self._timer = self._reactor.callLater(delay, self._send)

    def _send(self) -> None:
        self._timer = None
        now = time.perf_counter_ns()
        seq = self.tally.next_seq(self.index)
        if seq is None:
            return
        self.tally.timer_lag.append(now - self._due_ns)
        self.wire.write(b"MSG %d:%d:%d\n" % (self.index, seq, now))
        plan = self.tally.plan
        self._schedule(plan.interval * self._rng.uniform(*JITTER))

    def stop_sending(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    # Receiving

    def dataReceived(self, data: bytes) -> None:
        # Every line of a chunk arrived at the same time: one clock read each.
        self._now = time.perf_counter_ns()
        lines = (self._buffer + data).split(b"\r\n")
        self._buffer = lines.pop()
        if len(self._buffer) > self.MAX_LENGTH:
            self.tally.unexpected += 1
            self.wire.loseConnection()
            return
        for line in lines:
            self.lineReceived(line)

    def lineReceived(self, line: bytes) -> None:
        if line.startswith(b"[c"):
            head, _, body = line.partition(b"] ")
            fields = body.split(b":")
            if len(fields) != 3 or fields[0] != head[2:]:
                self.tally.unexpected += 1
                return
            try:
                sender, seq, sent_ns = int(fields[0]), int(fields[1]), int(fields[2])
            except ValueError:
                self.tally.unexpected += 1
                return
            self.tally.record(self.index, sender, seq, sent_ns, self._now)
        elif line.startswith(b"[server] "):
            self.server_line(line[9:])

    def server_line(self, text: bytes) -> None:
        if text.startswith(self._in_room):
            self.is_ready = True
            if not self.ready.called:
                self.ready.callback(None)
        elif text.startswith(b"error: "):
            self.tally.server_errors.append(f"{self.nick}: {text.decode()}")
            if not self.ready.called:
                self.ready.errback(BenchmarkFailed(f"{self.nick}: {text.decode()}"))
        elif (
            self._names is not None
            and not self._names.called
            and b'"' not in text
            and not text.startswith(b"you are in")
        ):
            # Once every client is in its room, the only quote-free server line
            # besides "you are in" is the NAMES answer.
            self._names.callback(set(text.decode().split()))


# The generator process's work


class LoadWorkload:
    """
    The clients in the load generator process, phase by phase (see
    L{generators}): each C{command_<name>} runs one phase and returns what to
    report.
    """

    def __init__(self, reactor: Any, plan: Plan, port: int) -> None:
        self.reactor = reactor
        self.plan = plan
        self.tally = Tally(plan)
        self.endpoint = TCP4ClientEndpoint(
            reactor, HOST, port, timeout=int(CONNECT_TIMEOUT)
        )
        self.clients = [LoadClient(index, self.tally) for index in range(plan.clients)]

    async def command_connect(self) -> Reply:
        return await register_all(
            self.reactor,
            self.endpoint,
            self.clients,
            timeout=CONNECT_TIMEOUT,
            what="connecting",
        )

    async def command_names(self) -> Reply:
        asking = [(client, client.room, client.ask_names()) for client in self.clients]
        return await check_names(self.reactor, asking, self.members, CONNECT_TIMEOUT)

    def members(self, client: Any) -> set[str]:
        """The nicks in C{client}'s room."""
        plan = self.plan
        room = plan.room_of(client.index)
        return {f"c{k}" for k in range(room, plan.clients, plan.rooms)}

    async def command_arm(self) -> Reply:
        """Nothing to set up: the receivers count from their first line."""
        return {}

    async def command_send(self) -> Reply:
        """Chat for the planned seconds, then wait for the last deliveries."""
        plan, tally, reactor = self.plan, self.tally, self.reactor
        rng = random.Random(plan.seed)
        cpu = time.process_time()
        tally.sending = True
        tally.first_send_ns = time.perf_counter_ns()
        for client in self.clients:
            client.start_sending(reactor, rng, rng.uniform(0, plan.interval))
        await deferLater(reactor, plan.seconds)
        tally.stop_sending()
        send_seconds = (time.perf_counter_ns() - tally.first_send_ns) / SECOND_NS
        for client in self.clients:
            client.stop_sending()
        deadline = reactor.callLater(plan.drain, tally.finish, "drain timed out")
        reply = await send_outcome(tally.finished, deadline, tally, cpu)
        return {**reply, "send_seconds": send_seconds}

    async def command_settle(self) -> Reply:
        tally = self.tally
        return {
            "expected": tally.expected,
            "unique": tally.unique,
            "duplicated": tally.duplicates,
            "unexpected": tally.unexpected,
            "out_of_order": tally.out_of_order,
            "latencies": tally.latencies.tobytes(),
            "timer_lag": tally.timer_lag.tobytes(),
            "server_errors": tally.server_errors[:10],
        }

    async def command_close(self) -> Reply:
        unclosed = await close_all(self.reactor, self.clients, CONNECT_TIMEOUT)
        return {"dropped": self.tally.dropped, "unclosed": unclosed}


# Results


@dataclass
class LoadResult:
    figures: Figures
    clients: int
    rooms: int
    seconds: float
    interval: float
    messages_sent: int  # figures.sent, under the name this JSON always had
    offered_messages_per_second: float
    sent_messages_per_second: float
    send_seconds: float  # first send to the end of sending
    out_of_order: int
    timer_lag_p99_ms: float | None
    timer_lag_max_ms: float | None
    generator_kept_up: bool
    file_limit: int

    @property
    def faultless(self) -> bool:
        return self.figures.faultless and not self.out_of_order


def generator_kept_up(
    sent_rate: float, offered: float, lag_p99_ms: float | None
) -> bool:
    """Sent nearly the planned rate, with send timers rarely late."""
    return sent_rate >= 0.9 * offered and (lag_p99_ms or 0.0) < 100.0


def bottleneck(server_share: float, generator_share: float, kept_up: bool) -> str:
    if not kept_up or generator_share >= SATURATED:
        return (
            f"GENERATOR-BOUND: the load generator used {generator_share:.0%} of a "
            + ("core and fell behind its schedule" if not kept_up else "core")
            + "; the offered load was not fully applied and latencies include "
            "its queueing"
        )
    if server_share >= SATURATED:
        return f"server-bound: the server used {server_share:.0%} of a core"
    return (
        f"neither saturated a core (server {server_share:.0%}, generator "
        f"{generator_share:.0%}): the server carried the offered load"
    )


def summarise(
    plan: Plan, measured: Measurement, stopped: Stopped, file_limit: int
) -> LoadResult:
    (send,), (settled,) = measured.send, measured.settled
    lags = figures.gathered([settled], "timer_lag")
    lag_p99 = percentile_ms(lags, 0.99)
    send_seconds = send["send_seconds"]
    sent_rate = send["sent"] / send_seconds if send_seconds else 0.0
    kept_up = generator_kept_up(sent_rate, plan.offered_rate, lag_p99)

    def verdict(server_share: float, generator_shares: Sequence[float]) -> str:
        return bottleneck(server_share, sum(generator_shares), kept_up)

    return LoadResult(
        figures=figures.summarise(measured, stopped, verdict),
        clients=plan.clients,
        rooms=plan.rooms,
        seconds=plan.seconds,
        interval=plan.interval,
        messages_sent=send["sent"],
        offered_messages_per_second=plan.offered_rate,
        sent_messages_per_second=sent_rate,
        send_seconds=send_seconds,
        out_of_order=settled["out_of_order"],
        timer_lag_p99_ms=lag_p99,
        timer_lag_max_ms=percentile_ms(lags, 1.0),
        generator_kept_up=kept_up,
        file_limit=file_limit,
    )


# Running


def run(
    clients: int = 1000,
    rooms: int = 10,
    seconds: float = 60.0,
    interval: float = 2.0,
    server_args: tuple[str, ...] | list[str] = (),
    *,
    drain: float = 10.0,
    seed: int = 0,
    keep_logs: bool = False,
) -> LoadResult:
    """Start the server, run the load, stop the server and return the figures."""
    plan = Plan(clients, rooms, seconds, interval, drain, seed)
    plan.check()
    # Before the server starts: it inherits the limit.
    file_limit = raise_file_limit(clients + SPARE_FILES)
    # harness's twistd_command already turns flood control and the
    # per-address limit off; SERVER_ARGS says so again, explicitly.
    arguments = [*SERVER_ARGS, *server_args]
    phases = Phases(timeout=CONNECT_TIMEOUT + 30, send=seconds + drain + 30)
    with run_directory("load-", keep_logs) as directory:
        with running_server(directory, arguments, CONNECT_TIMEOUT) as server:
            port = server.port
            workload = [lambda reactor: LoadWorkload(reactor, plan, port)]
            with generator_processes(workload, "load") as generators:
                measured = measure(
                    generators, server.process.pid, phases, nullcontext([])
                )
        log = scan_log(directory)
        stopped = Stopped(server.process.returncode, log.shut_down, None, log)
    result = summarise(plan, measured, stopped, file_limit)
    figures.check_progress("load", result.figures)
    return result


def report(result: LoadResult) -> str:
    f = result.figures
    rows = figures.rows(f, result.clients, "in their rooms")
    late = (
        f"; send timers late p99 {figures.ms(result.timer_lag_p99_ms)} ms, "
        f"max {figures.ms(result.timer_lag_max_ms)} ms; "
        + ("kept up" if result.generator_kept_up else "DID NOT KEEP UP")
    )
    lines = [
        ("outcome", rows["outcome"]),
        (
            "messages sent",
            f"{f.sent:,} ({result.sent_messages_per_second:,.0f}/s of "
            f"{result.offered_messages_per_second:,.0f}/s planned)",
        ),
        *((label, rows[label]) for label in ("deliveries", "lost", "duplicated")),
        ("out of order", f"{result.out_of_order:,}"),
        ("wall", rows["wall"]),
        ("sending", f"{result.send_seconds:.3f} s (first send to the end of sending)"),
        *(
            (label, rows[label])
            for label in ("deliveries/s", "per server CPU-s", "latency ms")
        ),
        *((label, rows[label]) for label in ("connect", "server RSS")),
        ("generator CPU", rows["generator CPU"] + late),
        *((label, rows[label]) for label in ("bottleneck", "server log")),
    ]
    title = (
        f"load: {result.clients} clients over {result.rooms} rooms, "
        f"{result.seconds:g} s, one message per {result.interval:g} s per client"
    )
    loud = []
    if f.outcome != "completed":
        loud.append(f"drain: not every message arrived ({f.outcome})")
    if result.out_of_order:
        loud.append(f"{result.out_of_order:,} deliveries OUT OF ORDER")
    return figures.report(title, lines, (), [*loud, *figures.problems(f)])


# The command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1] if __doc__ else ""
    )
    parser.add_argument("--clients", type=int, default=1000, help="clients in all")
    parser.add_argument("--rooms", type=int, default=10, help="rooms they spread over")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="how long the clients chat"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help="mean seconds between one client's messages",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="seconds allowed, after the last send, for the last deliveries",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    add_server_options(parser)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    plan = Plan(
        options.clients,
        options.rooms,
        options.seconds,
        options.interval,
        options.drain,
        options.seed,
    )
    try:
        plan.check()
    except ValueError as e:
        parser.error(str(e))
    outcome = guarded(
        "load",
        lambda: run(
            plan.clients,
            plan.rooms,
            plan.seconds,
            plan.interval,
            shlex.split(options.server_args),
            drain=plan.drain,
            seed=plan.seed,
            keep_logs=options.keep_logs,
        ),
    )
    if isinstance(outcome, int):
        return outcome
    print(report(outcome), flush=True)
    if options.json:
        print(json.dumps(figures.as_json(outcome)))
    return 0 if outcome.faultless else 3


if __name__ == "__main__":
    sys.exit(main())
