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

How: the server is started and stopped by L{harness}, as for C{fanout.py} (the
real C{twistd -n twistedchat} of this source tree, flood control and the
per-address limit off, log to a file). The generator is this one Twisted
process, in three phases:

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
import shutil
import sys
import tempfile
import time
from array import array
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    MIB,
    SATURATED,
    SECOND_NS,
    BenchmarkFailed,
    NoProgress,
    drive,
    percentile_ms,
    raise_file_limit,
    running_server,
    scan_log,
    server_cpu_seconds,
    server_ending_problems,
    server_memory_mib,
    within,
)
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IDelayedCall, ITCPTransport, ITransport
from twisted.internet.protocol import Protocol, connectionDone
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
    _names: Deferred[list[str]] | None = None

    def __init__(self, index: int, tally: Tally) -> None:
        self.index = index
        self.tally = tally
        self.nick = f"c{index}"
        self.room = f"load{tally.plan.room_of(index)}"
        self._in_room = f"you are in #{self.room} (".encode()
        self.joined: Deferred[None] = Deferred()
        self.is_joined = False
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
        if not self.joined.called:
            self.joined.errback(lost)
        if self._names is not None and not self._names.called:
            self._names.errback(lost)
        self.stop_sending()
        self.gone.callback(None)

    def ask_names(self) -> Deferred[list[str]]:
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
            self.is_joined = True
            if not self.joined.called:
                self.joined.callback(None)
        elif text.startswith(b"error: "):
            self.tally.server_errors.append(f"{self.nick}: {text.decode()}")
            if not self.joined.called:
                self.joined.errback(BenchmarkFailed(f"{self.nick}: {text.decode()}"))
        elif (
            self._names is not None
            and not self._names.called
            and b'"' not in text
            and not text.startswith(b"you are in")
        ):
            # Once every client is in its room, the only quote-free server line
            # besides "you are in" is the NAMES answer.
            self._names.callback(text.decode().split())


# Running the load


@dataclass
class Measurement:
    outcome: str
    connect_seconds: float
    send_seconds: float
    wall_seconds: float
    server_cpu_seconds: float
    generator_cpu_seconds: float
    server_idle_rss_mib: float
    server_connected_rss_mib: float
    server_rss_mib: float
    server_peak_rss_mib: float
    unclosed: int


async def measure(
    reactor: Any, port: int, server_pid: int, tally: Tally
) -> Measurement:
    """Connect, join, chat, drain and count; the reactor is passed in."""
    plan = tally.plan
    endpoint = TCP4ClientEndpoint(reactor, HOST, port, timeout=int(CONNECT_TIMEOUT))
    clients = [LoadClient(index, tally) for index in range(plan.clients)]
    idle_rss, _ = server_memory_mib(server_pid)

    start = time.perf_counter_ns()
    for client in clients:
        connectProtocol(endpoint, client).addErrback(_fail_joining, client)
    joined = gatherResults([client.joined for client in clients], consumeErrors=True)
    try:
        await within(reactor, CONNECT_TIMEOUT, "connecting", joined)
    except BenchmarkFailed as e:
        count = sum(1 for client in clients if client.is_joined)
        raise BenchmarkFailed(
            f"{e} ({count} of {plan.clients} clients in their rooms)"
        ) from None
    connect_seconds = (time.perf_counter_ns() - start) / SECOND_NS

    asking = [client.ask_names() for client in clients]
    listings = await within(
        reactor, CONNECT_TIMEOUT, "NAMES", gatherResults(asking, consumeErrors=True)
    )
    for client, listing in zip(clients, listings, strict=True):
        room = plan.room_of(client.index)
        members = {f"c{k}" for k in range(room, plan.clients, plan.rooms)}
        if set(listing) != members:
            raise BenchmarkFailed(
                f"{client.nick} sees {len(listing)} members of #{client.room}, "
                f"expected {len(members)}"
            )
    connected_rss, _ = server_memory_mib(server_pid)

    rng = random.Random(plan.seed)
    server_cpu = server_cpu_seconds(server_pid)
    generator_cpu = time.process_time()
    tally.sending = True
    tally.first_send_ns = time.perf_counter_ns()
    for client in clients:
        client.start_sending(reactor, rng, rng.uniform(0, plan.interval))
    await _sleep(reactor, plan.seconds)
    tally.stop_sending()
    send_seconds = (time.perf_counter_ns() - tally.first_send_ns) / SECOND_NS
    for client in clients:
        client.stop_sending()
    deadline = reactor.callLater(plan.drain, tally.finish, "drain timed out")
    outcome = await tally.finished
    if deadline.active():
        deadline.cancel()
    server_cpu = server_cpu_seconds(server_pid) - server_cpu
    generator_cpu = time.process_time() - generator_cpu
    rss, peak = server_memory_mib(server_pid)
    end = tally.last_delivery_ns or time.perf_counter_ns()

    for client in clients:
        client.closing = True
        client.wire.loseConnection()
    gone = gatherResults([client.gone for client in clients], consumeErrors=True)
    with suppress(BenchmarkFailed):  # reported as unclosed; the server stops anyway
        await within(reactor, CONNECT_TIMEOUT, "closing", gone)
    return Measurement(
        outcome=outcome,
        connect_seconds=connect_seconds,
        send_seconds=send_seconds,
        wall_seconds=(end - tally.first_send_ns) / SECOND_NS,
        server_cpu_seconds=server_cpu,
        generator_cpu_seconds=generator_cpu,
        server_idle_rss_mib=idle_rss,
        server_connected_rss_mib=connected_rss,
        server_rss_mib=rss,
        server_peak_rss_mib=peak,
        unclosed=sum(1 for client in clients if not client.gone.called),
    )


def _sleep(reactor: Any, seconds: float) -> Deferred[None]:
    slept: Deferred[None] = Deferred()
    reactor.callLater(seconds, slept.callback, None)
    return slept


def _fail_joining(failure: Failure, client: LoadClient) -> None:
    if not client.joined.called:
        client.joined.errback(failure)


# Results


@dataclass
class LoadResult:
    clients: int
    rooms: int
    seconds: float
    interval: float
    outcome: str  # completed or drain timed out
    messages_sent: int
    offered_messages_per_second: float
    sent_messages_per_second: float
    expected: int
    deliveries: int  # unique (sender, seq) arrivals at a receiver
    lost: int
    duplicated: int
    out_of_order: int
    unexpected: int
    dropped_connections: int
    server_errors: list[str]
    send_seconds: float
    wall_seconds: float
    deliveries_per_second: float
    server_cpu_seconds: float
    server_cpu_share: float
    deliveries_per_server_cpu_second: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    timer_lag_p99_ms: float | None
    timer_lag_max_ms: float | None
    connect_seconds: float
    server_idle_rss_mib: float
    server_connected_rss_mib: float
    server_rss_mib: float
    server_peak_rss_mib: float
    generator_cpu_seconds: float
    generator_cpu_share: float
    generator_kept_up: bool
    bottleneck: str
    file_limit: int
    server_log_bytes: int
    server_log_problems: int
    server_log_samples: list[str]
    server_exit_code: int | None
    server_shut_down: bool  # the log ends with twistd's "Server Shut Down."
    unclosed_connections: int

    @property
    def faultless(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.out_of_order
            or self.unexpected
            or self.dropped_connections
        )


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
    tally: Tally,
    measured: Measurement,
    file_limit: int,
    directory: Path,
    exit_code: int | None,
) -> LoadResult:
    plan = tally.plan
    log = scan_log(directory)
    wall = measured.wall_seconds
    rate = tally.unique / wall if wall > 0 else 0.0
    server_share = measured.server_cpu_seconds / wall if wall > 0 else 0.0
    generator_share = measured.generator_cpu_seconds / wall if wall > 0 else 0.0
    per_cpu = (
        tally.unique / measured.server_cpu_seconds
        if measured.server_cpu_seconds
        else None
    )
    latencies = sorted(tally.latencies)
    lags = sorted(tally.timer_lag)
    lag_p99 = percentile_ms(lags, 0.99)
    sent_rate = tally.sent / measured.send_seconds if measured.send_seconds else 0.0
    kept_up = generator_kept_up(sent_rate, plan.offered_rate, lag_p99)
    return LoadResult(
        clients=plan.clients,
        rooms=plan.rooms,
        seconds=plan.seconds,
        interval=plan.interval,
        outcome=measured.outcome,
        messages_sent=tally.sent,
        offered_messages_per_second=plan.offered_rate,
        sent_messages_per_second=sent_rate,
        expected=tally.expected,
        deliveries=tally.unique,
        lost=tally.expected - tally.unique,
        duplicated=tally.duplicates,
        out_of_order=tally.out_of_order,
        unexpected=tally.unexpected,
        dropped_connections=tally.dropped,
        server_errors=tally.server_errors[:10],
        send_seconds=measured.send_seconds,
        wall_seconds=wall,
        deliveries_per_second=rate,
        server_cpu_seconds=measured.server_cpu_seconds,
        server_cpu_share=server_share,
        deliveries_per_server_cpu_second=per_cpu,
        latency_p50_ms=percentile_ms(latencies, 0.50),
        latency_p99_ms=percentile_ms(latencies, 0.99),
        latency_max_ms=percentile_ms(latencies, 1.0),
        timer_lag_p99_ms=lag_p99,
        timer_lag_max_ms=percentile_ms(lags, 1.0),
        connect_seconds=measured.connect_seconds,
        server_idle_rss_mib=measured.server_idle_rss_mib,
        server_connected_rss_mib=measured.server_connected_rss_mib,
        server_rss_mib=measured.server_rss_mib,
        server_peak_rss_mib=measured.server_peak_rss_mib,
        generator_cpu_seconds=measured.generator_cpu_seconds,
        generator_cpu_share=generator_share,
        generator_kept_up=kept_up,
        bottleneck=bottleneck(server_share, generator_share, kept_up),
        file_limit=file_limit,
        server_log_bytes=log.bytes,
        server_log_problems=log.problems,
        server_log_samples=log.samples,
        server_exit_code=exit_code,
        server_shut_down=log.shut_down,
        unclosed_connections=measured.unclosed,
    )


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
    """
    Start the server, run the load, stop the server and return the figures.

    Runs the global reactor, so it can be called once per process.
    """
    plan = Plan(clients, rooms, seconds, interval, drain, seed)
    plan.check()
    # Before the server starts: it inherits the limit.
    file_limit = raise_file_limit(clients + SPARE_FILES)
    from twisted.internet import reactor

    directory = Path(tempfile.mkdtemp(prefix="load-"))
    try:
        tally = Tally(plan)
        # harness's twistd_command already turns flood control and the
        # per-address limit off; SERVER_ARGS says so again, explicitly.
        arguments = [*SERVER_ARGS, *server_args]
        with running_server(directory, arguments, CONNECT_TIMEOUT) as server:
            pid = server.process.pid
            measured = drive(reactor, lambda: measure(reactor, server.port, pid, tally))
        result = summarise(
            tally, measured, file_limit, directory, server.process.returncode
        )
    finally:
        if keep_logs:
            print(f"server log kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if tally.unique == 0:
        raise NoProgress(
            f"the load ended ({measured.outcome}) without a single delivery"
            + "".join(f"\n  server log: {line}" for line in result.server_log_samples)
        )
    return result


def report(result: LoadResult) -> str:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    per_cpu = result.deliveries_per_server_cpu_second
    lines = [
        f"load: {result.clients} clients over {result.rooms} rooms, "
        f"{result.seconds:g} s, one message per {result.interval:g} s per client",
        f"  outcome            {result.outcome}",
        f"  messages sent      {result.messages_sent:,} "
        f"({result.sent_messages_per_second:,.0f}/s of "
        f"{result.offered_messages_per_second:,.0f}/s planned)",
        f"  deliveries         {result.deliveries:,} of {result.expected:,} expected",
        f"  lost               {result.lost:,}",
        f"  duplicated         {result.duplicated:,}",
        f"  out of order       {result.out_of_order:,}",
        f"  wall               {result.wall_seconds:.3f} s (first send to last "
        f"delivery; sending {result.send_seconds:.3f} s)",
        f"  deliveries/s       {result.deliveries_per_second:,.0f} (wall)",
        "  per server CPU-s   "
        + ("n/a" if per_cpu is None else f"{per_cpu:,.0f} deliveries")
        + f" (server CPU {result.server_cpu_seconds:.2f} s = "
        f"{result.server_cpu_share:.0%} of one core)",
        f"  latency ms         p50 {ms(result.latency_p50_ms)}  "
        f"p99 {ms(result.latency_p99_ms)}  max {ms(result.latency_max_ms)}",
        f"  connect            {result.connect_seconds:.3f} s "
        f"({result.clients} clients connected, named and in their rooms)",
        f"  server RSS         {result.server_rss_mib:.1f} MiB at the end, "
        f"peak {result.server_peak_rss_mib:.1f} MiB (idle "
        f"{result.server_idle_rss_mib:.1f}, connected "
        f"{result.server_connected_rss_mib:.1f})",
        f"  generator CPU      {result.generator_cpu_seconds:.2f} s = "
        f"{result.generator_cpu_share:.0%} of wall; send timers late p99 "
        f"{ms(result.timer_lag_p99_ms)} ms, max {ms(result.timer_lag_max_ms)} ms; "
        + ("kept up" if result.generator_kept_up else "DID NOT KEEP UP"),
        f"  bottleneck         {result.bottleneck}",
        f"  server log         {result.server_log_bytes / MIB:.1f} MiB, "
        f"{result.server_log_problems} warning/error lines",
    ]
    loud = []
    if result.outcome != "completed":
        loud.append(f"drain: not every message arrived ({result.outcome})")
    if result.lost:
        loud.append(f"LOST {result.lost:,} of {result.expected:,} deliveries")
    if result.duplicated:
        loud.append(f"DUPLICATED {result.duplicated:,} deliveries")
    if result.out_of_order:
        loud.append(f"{result.out_of_order:,} deliveries OUT OF ORDER")
    if result.unexpected:
        loud.append(f"{result.unexpected:,} garbled or misaddressed message lines")
    if result.dropped_connections:
        loud.append(f"{result.dropped_connections} connections dropped during the run")
    if result.unclosed_connections:
        loud.append(
            f"{result.unclosed_connections} connections did not close at the end"
        )
    loud.extend(f"server error reply: {text}" for text in result.server_errors)
    loud.extend(
        server_ending_problems(
            result.server_exit_code,
            result.server_shut_down,
            result.server_log_samples,
        )
    )
    lines.extend(f"!!! {text}" for text in loud)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument(
        "--server-args",
        default="",
        help='extra twistedchat options, one string: --server-args="--max-line 8192"',
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the server's log directory"
    )
    options = parser.parse_args(argv)
    try:
        Plan(
            options.clients,
            options.rooms,
            options.seconds,
            options.interval,
            options.drain,
            options.seed,
        ).check()
    except ValueError as e:
        parser.error(str(e))
    try:
        result = run(
            options.clients,
            options.rooms,
            options.seconds,
            options.interval,
            shlex.split(options.server_args),
            drain=options.drain,
            seed=options.seed,
            keep_logs=options.keep_logs,
        )
    except NoProgress as e:
        print(f"load: {e}", file=sys.stderr)
        return 2
    except BenchmarkFailed as e:
        print(f"load: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("load: interrupted", file=sys.stderr)
        return 130
    print(report(result), flush=True)
    if options.json:
        print(json.dumps(asdict(result)))
    return 0 if result.faultless else 3


if __name__ == "__main__":
    sys.exit(main())
