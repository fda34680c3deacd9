"""
Fan-out benchmark: how fast the server relays one room's messages to everyone in it, on each front.

What it measures: N clients of one front (line, framed or IRC; C{--front all},
the default, runs each in turn against a fresh server) sit in #general; S of
them send M messages each, at most W in flight per sender; every message must
reach the N-1 other members. Per front: deliveries per second of wall time and
per second of *server* CPU time, delivery latency (p50, p99, max), lost and
duplicated deliveries, the time the N clients take to connect and be in the
room, the server's memory, whether every message is in the history file
afterwards, and how busy each load-generator process was, so that a
generator-bound run is not mistaken for a server limit. C{--idle K} first
opens K more connections that register and idle, and reports the server's
memory per idle connection, then runs the chat with them still connected.

How: for each front, the real server is started by L{harness} (this source
tree's C{twistd -n twistedchat}, every front on 127.0.0.1 port 0, flood control
and the per-address limit off, normal logging to a file, history on, in a
temporary directory) and stopped with SIGTERM at the end, which writes the
history still queued. The load comes from P generator processes (C{--procs};
forked, each running its own reactor and owning clients K with K mod P = its
number, idle ones likewise); this process only coordinates them, phase by
phase, over pipes, and measures the server:

 1. idle (with C{--idle}): the idle connections, on the front under test,
    register, at most L{IDLE_CONCURRENCY} at a time per process: a line user
    names itself and leaves the default room, a framed user says Hello with
    no rooms, an IRC user sends NICK and USER but joins nothing. So they hold
    a connection and a session but are in no room: none of the chat reaches
    them, and their arrivals cost no room-wide notices (a line user is in
    the default room until its PART, so its arrival and departure reach the
    few that arrive with it). The server's RSS (C{/proc/<pid>/status}) is
    read before and after: (after - before) / K is the memory per idle
    connection.
 2. connect: the N chat clients connect at once and register in #general (a
    line user sends NICK and is in the default room; a framed user says Hello
    with the room; an IRC user sends NICK and USER, JOIN once welcomed (001),
    and waits for the end of NAMES, 366). The connect time runs from the
    first connection to the last client in the room. Then every client asks
    who is in #general and must see the N chat nicks; the answer also drains
    the arrival notices.
 3. send: every process first gets its clients counting (none may still be
    setting up when another process's messages reach it). Then clients
    0..S-1 send C{<sender>:<seq>:<t>} texts (fixed width, hex), C{t} being
    the sender's C{time.perf_counter_ns()}: C{CLOCK_MONOTONIC}, one clock for
    every process of the machine, so a receiver in another process can take
    latency = arrival - t. The window is kept per process:
    a message leaves its sender's window when every other client of the
    sender's own process has received it (receivers in the other processes
    are not waited for; they read the same fan-out at the same time). Each
    receiver takes one timestamp per chunk read; how it counts a chunk without
    parsing each message is in L{fanout_clients}. A process's phase ends when
    all its clients have everything (framed senders' echoes of their own
    messages are not counted), when nothing has arrived for C{--stall}
    seconds, or after C{--timeout} seconds. Wall time runs from the first
    send of any process to the last delivery of any process. The server's
    CPU time (its process CPU clock, every thread, to the nanosecond) is
    sampled around this phase, each generator's own CPU time
    (C{time.process_time}) too, and with C{--profile} the server is recorded
    by C{py-spy} during it.
 4. settle and close: each process checks what it kept (duplicates, garbled
    or misattributed messages, latencies) outside the measured time; lost =
    S*M*(N-1) minus the unique deliveries. The clients close, the server
    stops, and its history file (C{<data dir>/history/general.jsonl}, rotated
    parts included) must hold every message sent.

With C{--against ngircd} or C{--against inspircd}, the IRC front is run as
above, then the same IRC clients and plan against that reference server,
installed on this machine (L{reference_irc}: its own configuration in the
run's temporary directory, 127.0.0.1 on a free port, no DNS or ident lookups,
flood throttling off, limits above the plan's; started in the foreground,
stopped with SIGTERM; ngIRCd, whose listen backlog is 10, gets its clients
at most 10 at a time). Its CPU time and memory are read from C{/proc} as
ours; it keeps no history and its log is not ours to scan, so both are
"n/a"; its report notes how it was tuned and that it ran with Nagle's
algorithm on (neither has a TCP_NODELAY setting; ours sets it), which shows
in its latency. A last line gives our deliveries per server CPU-second over
its, and both p99s: a shared machine's figures drift by up to 2x from hour to
hour, a ratio measured minutes apart much less.

Latency includes the generators' own queueing. A generator process near a
full core, or generators and server together filling the machine's cores,
make the server figures lower bounds; the report says so. Exit status: 0 when
every front delivered everything once and kept it on disk; 3 when something
was lost, duplicated, garbled, dropped or missing on disk; 1 when the
benchmark could not run; 2 when a send phase delivered nothing. Linux only
(C{/proc}). Usage: C{python benchmarks/fanout.py --help}.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from fanout_clients import (
    CHAT_CLIENTS,
    IDLE_CLIENTS,
    ROOM,
    ChatClient,
    IdleClient,
    SenderWindow,
    Tally,
    add_up,
    expected_nicks,
    parse_text,
)
from harness import (
    HOST,
    MIB,
    SATURATED,
    SECOND_NS,
    BenchmarkFailed,
    LogReport,
    NoProgress,
    Server,
    data_directory,
    drive,
    history_texts,
    percentile_ms,
    raise_file_limit,
    running_server,
    scan_log,
    server_cpu_seconds,
    server_ending_problems,
    server_memory_mib,
    within,
)
from reference_irc import REFERENCES, running_reference
from twisted.internet.defer import (
    Deferred,
    DeferredSemaphore,
    fail,
    gatherResults,
    succeed,
)
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

FRONTS = ("line", "framed", "irc")
OURS = "twistedchat"  # the server of a result, when it is not a reference one
# On a 2-core machine one generator process gave the server its best figures
# (deliveries per CPU-second, p99): with two, three busy processes share two
# cores and the server, preempted, hands out smaller batches.
DEFAULT_PROCS = 1
# Idle connections registering at once, per process. More makes no faster a
# start for IRC and framed users, and a slower one for line users (see above).
IDLE_CONCURRENCY = 10
SPARE_FILES = 200  # descriptors beyond one per connection: logs, pipes...
WATCH_SECONDS = 0.25
PROFILE_FORMATS = ("speedscope", "raw", "flamegraph")
# Samples per second: a send phase may last half a second. Each sample stops
# the server for a moment, so the figures of a profiled run are a bit lower.
PROFILE_RATE = 1000


# The plan


@dataclass(frozen=True)
class Plan:
    clients: int = 100
    senders: int = 10
    messages: int = 500
    window: int = 10
    procs: int = DEFAULT_PROCS
    idle: int = 0
    timeout: float = 60.0
    stall: float = 10.0

    def check(self) -> None:
        if self.clients < 2:
            raise ValueError("need at least 2 clients (one to send, one to receive)")
        if not 1 <= self.senders <= self.clients:
            raise ValueError("senders must be between 1 and the number of clients")
        if self.clients > 0xFFFF or self.idle > 0xFFFFF:
            raise ValueError("at most 65,535 clients and 1,048,575 idle connections")
        if self.messages < 1 or self.window < 1:
            raise ValueError("messages and window must be at least 1")
        if self.procs < 1 or self.idle < 0:
            raise ValueError("procs must be at least 1, idle at least 0")
        if self.timeout <= 0 or self.stall <= 0:
            raise ValueError("timeout and stall must be positive")

    @property
    def processes(self) -> int:
        """The generator processes used: each needs two clients for a window."""
        return max(1, min(self.procs, self.clients // 2))

    @property
    def expected(self) -> int:
        return self.senders * self.messages * (self.clients - 1)

    @property
    def idle_timeout(self) -> float:
        return max(self.timeout, self.idle / 100)  # at least 100 a second


@dataclass(frozen=True)
class Share:
    """What one generator process does: its clients, by index."""

    number: int
    front: str
    port: int
    plan: Plan
    chat: tuple[int, ...]
    idle: tuple[int, ...]
    idle_concurrency: int = IDLE_CONCURRENCY  # idle clients registering at once
    connect_concurrency: int | None = None  # chat clients likewise; None: all


def shares(
    plan: Plan,
    front: str,
    port: int,
    *,
    idle_concurrency: int = IDLE_CONCURRENCY,
    backlog: int | None = None,
) -> list[Share]:
    """
    Each process's share of the work. C{backlog}: the most connections the
    server can leave waiting to be accepted (None: enough); the processes
    share it, since an attempt beyond it is dropped and retried only 1, 3,
    7... seconds later.
    """
    count = plan.processes
    gate = None if backlog is None else max(1, backlog // count)
    return [
        Share(
            number,
            front,
            port,
            plan,
            tuple(range(number, plan.clients, count)),
            tuple(range(number, plan.idle, count)),
            idle_concurrency if gate is None else min(idle_concurrency, gate),
            gate,
        )
        for number in range(count)
    ]


# A generator process


@implementer(IReadDescriptor)
class Commands:
    """The coordinator's commands, read from its pipe by the reactor."""

    def __init__(self, reactor: Any, connection: Connection) -> None:
        self.reactor = reactor
        self.connection = connection
        self._queued: list[str] = []
        self._waiting: Deferred[str] | None = None
        self._closed = False
        reactor.addReader(self)

    def next(self) -> Deferred[str]:
        if self._queued:
            return succeed(self._queued.pop(0))
        if self._closed:
            return fail(BenchmarkFailed("the coordinator went away"))
        self._waiting = Deferred()
        return self._waiting

    def doRead(self) -> None:
        try:
            while self.connection.poll():
                self._queued.append(self.connection.recv())
        except (EOFError, OSError):
            self._closed = True
            self.reactor.removeReader(self)
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return
        if self._queued:
            waiting.callback(self._queued.pop(0))
        elif self._closed:
            waiting.errback(BenchmarkFailed("the coordinator went away"))
        else:
            self._waiting = waiting

    def fileno(self) -> int:
        return self.connection.fileno()

    def connectionLost(self, reason: Failure) -> None:
        pass

    def logPrefix(self) -> str:
        return "commands"


def _connect_failed(failure: Failure, client: ChatClient | IdleClient) -> None:
    if not client.ready.called:
        client.ready.errback(failure)


class Generator:
    """
    One load-generator process: its share of the clients, phase by phase.

    Each C{command_<name>} runs one phase when the coordinator says so and
    returns what to report.
    """

    def __init__(self, reactor: Any, share: Share) -> None:
        self.reactor = reactor
        self.share = share
        plan = self.plan = share.plan
        self.tally = Tally(plan.senders, plan.messages, plan.window)
        self.endpoint = TCP4ClientEndpoint(
            reactor, HOST, share.port, timeout=max(1, int(plan.timeout))
        )
        kind = CHAT_CLIENTS[share.front]
        self.clients = [kind(index, self.tally) for index in share.chat]
        self.idle: list[IdleClient] = []

    def _register(self, client: ChatClient | IdleClient) -> Deferred[None]:
        """Connect C{client}; the result fires once it is registered."""
        connectProtocol(self.endpoint, client).addErrback(_connect_failed, client)
        return client.ready

    def _register_all(
        self, clients: Sequence[ChatClient | IdleClient], concurrency: int | None
    ) -> Deferred[list[None]]:
        """Register C{clients}, at most C{concurrency} at once (None: all at once)."""
        if concurrency is None:
            registering = [self._register(client) for client in clients]
        else:
            gate = DeferredSemaphore(concurrency)
            registering = [gate.run(self._register, client) for client in clients]
        return gatherResults(registering, consumeErrors=True)

    async def command_idle(self) -> dict[str, Any]:
        kind = IDLE_CLIENTS[self.share.front]
        self.idle = [kind(index) for index in self.share.idle]
        start = time.perf_counter_ns()
        done = self._register_all(self.idle, self.share.idle_concurrency)
        await within(self.reactor, self.plan.idle_timeout, "idle connections", done)
        return {"start_ns": start, "end_ns": time.perf_counter_ns()}

    async def command_connect(self) -> dict[str, Any]:
        cpu = time.process_time()
        start = time.perf_counter_ns()
        ready = self._register_all(self.clients, self.share.connect_concurrency)
        try:
            await within(self.reactor, self.plan.timeout, "connecting", ready)
        except BenchmarkFailed as e:
            count = sum(1 for client in self.clients if client.is_ready)
            raise BenchmarkFailed(
                f"{e} ({count} of this process's {len(self.clients)} clients "
                f"in #{ROOM})"
            ) from None
        return {
            "start_ns": start,
            "end_ns": time.perf_counter_ns(),
            "cpu_seconds": time.process_time() - cpu,
        }

    async def command_names(self) -> dict[str, Any]:
        wanted = expected_nicks(self.plan.clients)
        asking = gatherResults(
            [client.ask_names() for client in self.clients], consumeErrors=True
        )
        listings = await within(self.reactor, self.plan.timeout, "names", asking)
        for client, listing in zip(self.clients, listings, strict=True):
            if listing != wanted:
                extra = sorted(listing - wanted)[:5]
                raise BenchmarkFailed(
                    f"{client.nick} sees {len(listing)} members of #{ROOM}, "
                    f"expected {len(wanted)}"
                    + (f" (e.g. {', '.join(extra)})" if extra else "")
                )
        return {}

    async def command_arm(self) -> dict[str, Any]:
        """
        Get every client counting. Every process is armed before any sends:
        a receiver still setting up would take the first messages of another
        process's senders for registration replies, and lose them.
        """
        plan, tally = self.plan, self.tally
        tally.windows = {
            client.hex: SenderWindow(
                client, len(self.clients) - 1, plan.messages, plan.window
            )
            for client in self.clients
            if client.index < plan.senders
        }
        for client in self.clients:
            client.start_counting(tally.windows)
            client.complete = client.expected == 0
        tally.receivers = sum(1 for client in self.clients if not client.complete)
        # Many small objects are kept while counting; collecting them would
        # only add pauses to the generator.
        gc.disable()
        return {}

    async def command_send(self) -> dict[str, Any]:
        tally = self.tally
        cpu = time.process_time()
        tally.first_send_ns = time.perf_counter_ns()
        for window in tally.windows.values():
            window.fill()
        if not tally.receivers:
            tally.finish("completed")
        watchdog = self.reactor.callLater(WATCH_SECONDS, self._watch)
        outcome = await tally.finished
        if watchdog.active():
            watchdog.cancel()
        return {
            "outcome": outcome,
            "cpu_seconds": time.process_time() - cpu,
            "first_send_ns": tally.first_send_ns,
            "last_delivery_ns": tally.last_delivery_ns,
            "sent": tally.sent,
            "slow_records": tally.slow_records,
        }

    def _watch(self) -> None:
        """End the send phase when it stalls or overruns; check again soon otherwise."""
        tally, plan = self.tally, self.plan
        now = time.perf_counter_ns()
        if now - tally.first_send_ns >= plan.timeout * SECOND_NS:
            tally.finish("timed out")
        elif (
            now - (tally.last_delivery_ns or tally.first_send_ns)
            >= plan.stall * SECOND_NS
        ):
            tally.finish("stalled")
        else:
            self.reactor.callLater(WATCH_SECONDS, self._watch)

    async def command_settle(self) -> dict[str, Any]:
        settled = add_up([client.settle() for client in self.clients])
        gc.enable()
        tally = self.tally
        return {
            "expected": sum(client.expected for client in self.clients),
            "unique": settled.unique,
            "duplicated": settled.duplicated,
            "unexpected": settled.unexpected + tally.unexpected,
            "echoes": settled.echoes,
            "latencies": settled.latencies.tobytes(),
            "server_errors": tally.server_errors[:10],
        }

    async def command_close(self) -> dict[str, Any]:
        everyone: list[ChatClient | IdleClient] = [*self.clients, *self.idle]
        for client in everyone:
            client.closing = True
            if client.transport is not None:
                client.transport.loseConnection()
        gone = gatherResults([client.gone for client in everyone], consumeErrors=True)
        with suppress(BenchmarkFailed):  # reported as unclosed; the server stops anyway
            await within(self.reactor, min(self.plan.timeout, 30), "closing", gone)
        return {
            "dropped": self.tally.dropped,
            "idle_dropped": sum(1 for client in self.idle if client.dropped),
            "unclosed": sum(1 for client in everyone if not client.gone.called),
        }


def generate(share: Share, connection: Connection) -> None:
    """A generator process's life: run commands until told to close."""
    from twisted.internet import reactor

    async def serve() -> None:
        generator = Generator(reactor, share)
        commands = Commands(reactor, connection)
        while True:
            name = await commands.next()
            handler = getattr(generator, f"command_{name}", None)
            try:
                if handler is None:
                    raise BenchmarkFailed(f"unknown command {name!r}")
                reply = await handler()
            except BenchmarkFailed as e:
                connection.send(("failed", str(e)))
                return
            except Exception:
                connection.send(("failed", traceback.format_exc()))
                return
            connection.send(("ok", reply))
            if name == "close":
                return

    # The coordinator reports the failure (the pipe closed, or Ctrl+C).
    with suppress(KeyboardInterrupt, BenchmarkFailed):
        drive(reactor, serve)


class Generators:
    """The generator processes, as this process drives them: one command at a time."""

    def __init__(self, work: Sequence[Share]) -> None:
        # Forked: this process has no reactor yet, so each child makes its own.
        context = multiprocessing.get_context("fork")
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.connections: list[Connection] = []
        for share in work:
            mine, theirs = context.Pipe()
            process = context.Process(
                target=generate,
                args=(share, theirs),
                name=f"fanout-generator-{share.number}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.processes.append(process)
            self.connections.append(mine)

    def command(self, name: str, timeout: float) -> list[dict[str, Any]]:
        """Tell every process to run C{name}; wait for all their replies."""
        for connection in self.connections:
            connection.send(name)
        replies: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        pending = dict(enumerate(self.connections))
        while pending:
            left = deadline - time.monotonic()
            ready = wait(list(pending.values()), timeout=max(0.0, left))
            if not ready:
                raise BenchmarkFailed(
                    f"{name}: {len(pending)} generator process(es) silent after "
                    f"{timeout:g} s"
                )
            for number, connection in list(pending.items()):
                if connection not in ready:
                    continue
                del pending[number]
                try:
                    status, payload = connection.recv()
                except EOFError:
                    code = self.processes[number].exitcode
                    raise BenchmarkFailed(
                        f"{name}: generator process {number} exited (status {code})"
                    ) from None
                if status != "ok":
                    raise BenchmarkFailed(f"generator process {number}: {payload}")
                replies[number] = payload
        return [replies[number] for number in range(len(self.connections))]

    def stop(self) -> None:
        for connection in self.connections:
            connection.close()
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join()


@contextmanager
def generator_processes(work: Sequence[Share]) -> Iterator[Generators]:
    generators = Generators(work)
    try:
        yield generators
    finally:
        generators.stop()


# Profiling the server


@contextmanager
def profiling(pid: int, path: Path | None, fmt: str) -> Iterator[list[str]]:
    """
    Record the server with py-spy while the block runs, if C{path} is given;
    the list yielded receives a note on what happened.
    """
    notes: list[str] = []
    if path is None:
        yield notes
        return
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        notes.append(f"no py-spy next to {sys.executable}: not profiled")
        yield notes
        return
    recorder = subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--output",
            str(path),
            "--format",
            fmt,
            "--rate",
            str(PROFILE_RATE),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert recorder.stdout is not None
    # It says so once it samples; the send phase must not start before.
    first = recorder.stdout.readline().decode("utf-8", "replace").strip()
    if "Sampling" not in first:
        recorder.wait(10)
        notes.append(f"py-spy did not start: {first}")
        yield notes
        return
    try:
        yield notes
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            output, _ = recorder.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            output, _ = recorder.communicate()
        if path.exists():
            notes.append(
                f"server profile (send phase) in {path}; py-spy sampled it "
                f"{PROFILE_RATE} times a second, so these figures are perturbed"
            )
        else:
            text = output.decode("utf-8", "replace").strip().splitlines()
            notes.append("py-spy wrote nothing: " + " / ".join(text[-3:]))


# Measuring one front


@dataclass
class Measurement:
    server_rss_start_mib: float = 0.0
    server_rss_idle_mib: float = 0.0
    idle_connect_seconds: float = 0.0
    connect_seconds: float = 0.0
    connect_server_cpu_seconds: float = 0.0
    connect_generator_cpu_seconds: list[float] = field(default_factory=list)
    server_rss_connected_mib: float = 0.0
    send: list[dict[str, Any]] = field(default_factory=list)
    server_cpu_seconds: float = 0.0
    server_rss_mib: float = 0.0
    server_peak_rss_mib: float = 0.0
    settled: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def span_seconds(replies: Sequence[dict[str, Any]]) -> float:
    """From the first process's start to the last one's end."""
    start = min(reply["start_ns"] for reply in replies)
    return float(max(reply["end_ns"] for reply in replies) - start) / SECOND_NS


def measure(
    generators: Generators, pid: int, plan: Plan, profile: Path | None, fmt: str
) -> Measurement:
    measured = Measurement()
    measured.server_rss_start_mib = server_memory_mib(pid)[0]
    if plan.idle:
        idle = generators.command("idle", plan.idle_timeout + 30)
        measured.idle_connect_seconds = span_seconds(idle)
        measured.server_rss_idle_mib = server_memory_mib(pid)[0]
    cpu = server_cpu_seconds(pid)
    connected = generators.command("connect", plan.timeout + 30)
    measured.connect_server_cpu_seconds = server_cpu_seconds(pid) - cpu
    measured.connect_seconds = span_seconds(connected)
    measured.connect_generator_cpu_seconds = [
        reply["cpu_seconds"] for reply in connected
    ]
    generators.command("names", plan.timeout + 30)
    measured.server_rss_connected_mib = server_memory_mib(pid)[0]
    generators.command("arm", plan.timeout + 30)
    with profiling(pid, profile, fmt) as notes:
        cpu = server_cpu_seconds(pid)
        measured.send = generators.command("send", plan.timeout + plan.stall + 30)
        measured.server_cpu_seconds = server_cpu_seconds(pid) - cpu
    measured.notes = notes
    measured.server_rss_mib, measured.server_peak_rss_mib = server_memory_mib(pid)
    measured.settled = generators.command("settle", plan.timeout + 30)
    measured.closed = generators.command("close", plan.timeout + 30)
    return measured


# Results


@dataclass
class FanoutResult:
    front: str
    server: str  # OURS, or a reference server's name and version
    reference: str | None  # the reference server's --against name; None: ours
    clients: int
    senders: int
    messages: int
    window: int
    procs: int
    idle: int
    outcome: str  # completed, stalled or timed out (the worst of the processes)
    expected: int
    deliveries: int  # unique (sender, seq) arrivals at a receiver
    sent: int
    unsent: int
    lost: int
    duplicated: int
    unexpected: int
    echoes: int  # framed senders' own messages, not counted as deliveries
    dropped_connections: int
    idle_dropped: int
    server_errors: list[str]
    wall_seconds: float
    deliveries_per_second: float
    server_cpu_seconds: float
    server_cpu_share: float
    deliveries_per_server_cpu_second: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    connect_seconds: float
    connect_server_cpu_seconds: float
    connect_generator_cpu_seconds: list[float]
    idle_connect_seconds: float
    server_rss_start_mib: float
    server_rss_idle_mib: float
    idle_rss_kib_per_connection: float | None
    server_rss_connected_mib: float
    server_rss_mib: float
    server_peak_rss_mib: float
    generator_cpu_seconds: list[float]
    generator_cpu_shares: list[float]
    generator_slow_records: int  # message records counted one by one
    bottleneck: str
    # Messages of this run found in the history file, and found twice; None:
    # not checked (a reference server keeps no history).
    history_on_disk: int | None
    history_duplicates: int | None
    # Our server's log; None: not scanned (a reference server's output).
    server_log_bytes: int | None
    server_log_problems: int | None
    server_log_samples: list[str]
    server_exit_code: int | None
    # Ours: the log ends with twistd's "Server Shut Down."; a reference
    # server: its exit status is the one it gives on SIGTERM.
    server_shut_down: bool
    unclosed_connections: int
    run_seconds: float  # the whole run of this front, server start to stop
    notes: list[str]

    @property
    def label(self) -> str:
        """Its name in tables and JSON: our front's, or the reference server's."""
        return self.reference or self.front

    @property
    def title(self) -> str:
        """What was measured, for a report's first line."""
        if self.reference is None:
            return f"{self.front} front"
        return f"{self.server} (reference, IRC)"

    @property
    def faultless(self) -> bool:
        return (
            self.outcome == "completed"
            and not (
                self.lost
                or self.duplicated
                or self.unexpected
                or self.dropped_connections
                or self.idle_dropped
            )
            and self.history_on_disk in (None, self.sent)
            and not self.history_duplicates
        )


@dataclass(frozen=True)
class Stopped:
    """What is known of a server once it has stopped: how, and what it left."""

    exit_code: int | None
    shut_down: bool  # cleanly (see FanoutResult.server_shut_down)
    history: tuple[int, int] | None = None  # see history_count; None: not kept
    log: LogReport | None = None  # None: not scanned


def bottleneck(server_share: float, generator_shares: Sequence[float]) -> str:
    """
    Which process limited the send phase, from each one's CPU / wall: a short
    verdict, a colon, why.
    """
    cores = os.cpu_count() or 1
    busiest = max(generator_shares, default=0.0)
    generators = sum(generator_shares)
    both = server_share + generators
    if busiest >= SATURATED:
        return (
            f"GENERATOR-BOUND: a load-generator process used {busiest:.0%} of a "
            "core; the server figures are lower bounds"
        )
    if server_share >= SATURATED:
        return f"server-bound: the server used {server_share:.0%} of a core"
    if both >= SATURATED * cores:
        return (
            f"GENERATOR-BOUND (cores full): server {server_share:.0%} + generators "
            f"{generators:.0%} of a core, on {cores} cores: the generators took CPU "
            "time the server could have used; its capacity is deliveries per "
            "server CPU-second, the other figures are lower bounds"
        )
    if both >= SATURATED and cores >= 2:
        # A message leaves its window once the receivers have read it, so the
        # generators release a batch, wait for the server to fan it out, and
        # so on: event loops taking turns.
        heavier = "generators" if generators > server_share else "server"
        return (
            f"took turns ({heavier} heavier): server {server_share:.0%} + "
            f"generators {generators:.0%} of a core, with cores to spare; the "
            "closed loop serialises them, so deliveries/s and latency understate "
            "the server; its capacity is deliveries per server CPU-second"
        )
    return (
        f"latency-bound: neither saturated a core (server {server_share:.0%}, "
        f"generators {generators:.0%}); bound by latency and the window, raise "
        "--window or --senders"
    )


def history_count(texts: Sequence[str], plan: Plan) -> tuple[int, int]:
    """How many of this run's messages the history holds, and how many twice."""
    found: set[tuple[int, int]] = set()
    ours = 0
    for text in texts:
        parsed = parse_text(text.encode("utf-8", "replace"))
        if parsed is None:
            continue
        sender, seq, _ = parsed
        if sender < plan.senders and seq < plan.messages:
            ours += 1
            found.add((sender, seq))
    return len(found), ours - len(found)


def summarise(
    front: str,
    plan: Plan,
    measured: Measurement,
    stopped: Stopped,
    run_seconds: float,
    *,
    server: str = OURS,
    reference: str | None = None,
) -> FanoutResult:
    send, settled, closed = measured.send, measured.settled, measured.closed
    first = min(reply["first_send_ns"] for reply in send)
    last = max(reply["last_delivery_ns"] for reply in send)
    wall = max(0.0, (last - first) / SECOND_NS) if last else 0.0
    outcomes = {reply["outcome"] for reply in send}
    outcome = next(
        (bad for bad in ("timed out", "stalled") if bad in outcomes), "completed"
    )
    unique = sum(reply["unique"] for reply in settled)
    sent = sum(reply["sent"] for reply in send)
    latencies = array("q")
    for reply in settled:
        latencies.frombytes(reply["latencies"])
    ordered = sorted(latencies)
    generator_cpu = [reply["cpu_seconds"] for reply in send]
    generator_shares = [cpu / wall if wall > 0 else 0.0 for cpu in generator_cpu]
    server_share = measured.server_cpu_seconds / wall if wall > 0 else 0.0
    per_cpu = (
        unique / measured.server_cpu_seconds if measured.server_cpu_seconds else None
    )
    idle_kib = (
        (measured.server_rss_idle_mib - measured.server_rss_start_mib)
        * 1024
        / plan.idle
        if plan.idle
        else None
    )
    on_disk, on_disk_twice = stopped.history or (None, None)
    log = stopped.log
    return FanoutResult(
        front=front,
        server=server,
        reference=reference,
        clients=plan.clients,
        senders=plan.senders,
        messages=plan.messages,
        window=plan.window,
        procs=plan.processes,
        idle=plan.idle,
        outcome=outcome,
        expected=plan.expected,
        deliveries=unique,
        sent=sent,
        unsent=plan.senders * plan.messages - sent,
        lost=plan.expected - unique,
        duplicated=sum(reply["duplicated"] for reply in settled),
        unexpected=sum(reply["unexpected"] for reply in settled),
        echoes=sum(reply["echoes"] for reply in settled),
        dropped_connections=sum(reply["dropped"] for reply in closed),
        idle_dropped=sum(reply["idle_dropped"] for reply in closed),
        server_errors=[text for reply in settled for text in reply["server_errors"]][
            :10
        ],
        wall_seconds=wall,
        deliveries_per_second=unique / wall if wall > 0 else 0.0,
        server_cpu_seconds=measured.server_cpu_seconds,
        server_cpu_share=server_share,
        deliveries_per_server_cpu_second=per_cpu,
        latency_p50_ms=percentile_ms(ordered, 0.50),
        latency_p99_ms=percentile_ms(ordered, 0.99),
        latency_max_ms=percentile_ms(ordered, 1.0),
        connect_seconds=measured.connect_seconds,
        connect_server_cpu_seconds=measured.connect_server_cpu_seconds,
        connect_generator_cpu_seconds=measured.connect_generator_cpu_seconds,
        idle_connect_seconds=measured.idle_connect_seconds,
        server_rss_start_mib=measured.server_rss_start_mib,
        server_rss_idle_mib=measured.server_rss_idle_mib,
        idle_rss_kib_per_connection=idle_kib,
        server_rss_connected_mib=measured.server_rss_connected_mib,
        server_rss_mib=measured.server_rss_mib,
        server_peak_rss_mib=measured.server_peak_rss_mib,
        generator_cpu_seconds=generator_cpu,
        generator_cpu_shares=generator_shares,
        generator_slow_records=sum(reply["slow_records"] for reply in send),
        bottleneck=bottleneck(server_share, generator_shares),
        history_on_disk=on_disk,
        history_duplicates=on_disk_twice,
        server_log_bytes=None if log is None else log.bytes,
        server_log_problems=None if log is None else log.problems,
        server_log_samples=[] if log is None else log.samples,
        server_exit_code=stopped.exit_code,
        server_shut_down=stopped.shut_down,
        unclosed_connections=sum(reply["unclosed"] for reply in closed),
        run_seconds=run_seconds,
        notes=measured.notes,
    )


def profile_path(profile: Path | None, front: str, several: bool) -> Path | None:
    """C{--profile fanout.json} with several fronts: fanout-line.json..."""
    if profile is None or not several:
        return profile
    return profile.with_name(f"{profile.stem}-{front}{profile.suffix}")


@dataclass(frozen=True)
class Contender:
    """
    A server to measure, as a run needs it: the front its clients use, how to
    start it in a directory, and what it left once stopped.
    """

    name: str  # the prefix of its temporary directory
    front: str
    start: Callable[[Path], AbstractContextManager[Server]]
    stopped: Callable[[Path, int | None], Stopped]  # its directory, exit status
    server: str = OURS
    reference: str | None = None
    idle_concurrency: int = IDLE_CONCURRENCY
    backlog: int | None = None  # see shares
    notes: tuple[str, ...] = ()


def our_server(front: str, plan: Plan, server_args: Sequence[str]) -> Contender:
    """This source tree's server, on one front; its history and log checked after."""

    def stopped(directory: Path, exit_code: int | None) -> Stopped:
        log = scan_log(directory)
        texts = history_texts(data_directory(directory, server_args), ROOM)
        return Stopped(exit_code, log.shut_down, history_count(texts, plan), log)

    return Contender(
        front,
        front,
        lambda directory: running_server(directory, server_args, plan.timeout),
        stopped,
    )


def reference_server(name: str, plan: Plan) -> Contender:
    """A reference IRC server (L{reference_irc}): no history, no log of ours."""
    reference = REFERENCES[name]
    connections = plan.clients + plan.idle
    return Contender(
        name,
        "irc",
        lambda directory: running_reference(
            reference, directory, connections, plan.timeout
        ),
        lambda _, exit_code: Stopped(exit_code, exit_code in reference.clean_exits),
        server=reference.version(),
        reference=name,
        idle_concurrency=reference.idle_concurrency or IDLE_CONCURRENCY,
        backlog=reference.backlog,
        notes=tuple(reference.notes()),
    )


def run_contender(
    contender: Contender,
    plan: Plan,
    *,
    profile: Path | None = None,
    profile_format: str = "speedscope",
    keep_logs: bool = False,
) -> FanoutResult:
    """Start a server, run the benchmark on one front, stop it; the figures."""
    began = time.monotonic()
    front = contender.front
    directory = Path(tempfile.mkdtemp(prefix=f"fanout-{contender.name}-"))
    try:
        with (
            contender.start(directory) as server,
            generator_processes(
                shares(
                    plan,
                    front,
                    server.ports[front],
                    idle_concurrency=contender.idle_concurrency,
                    backlog=contender.backlog,
                )
            ) as generators,
        ):
            measured = measure(
                generators, server.process.pid, plan, profile, profile_format
            )
        measured.notes.extend(contender.notes)
        result = summarise(
            front,
            plan,
            measured,
            contender.stopped(directory, server.process.returncode),
            time.monotonic() - began,
            server=contender.server,
            reference=contender.reference,
        )
    finally:
        if keep_logs:
            print(
                f"{contender.name}: server directory kept in {directory}",
                file=sys.stderr,
            )
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if result.deliveries == 0:
        raise NoProgress(
            f"{result.label}: the send phase {result.outcome} without a single "
            "delivery"
            + "".join(f"\n  server log: {line}" for line in result.server_log_samples)
        )
    return result


def run(
    plan: Plan,
    fronts: Sequence[str] = FRONTS,
    server_args: Sequence[str] = (),
    *,
    against: str | None = None,
    profile: Path | None = None,
    profile_format: str = "speedscope",
    keep_logs: bool = False,
    progress: bool = False,
) -> list[FanoutResult]:
    """
    Each front in turn, each against a fresh server; then, C{against} a
    reference IRC server, the IRC benchmark once more against it.
    """
    plan.check()
    raise_file_limit(plan.idle + plan.clients + SPARE_FILES)
    contenders = [our_server(front, plan, server_args) for front in fronts]
    if against is not None:
        contenders.append(reference_server(against, plan))
    results = []
    for contender in contenders:
        # py-spy samples Python programs: our server only.
        profiled = None
        if contender.reference is None:
            profiled = profile_path(profile, contender.front, len(fronts) > 1)
        result = run_contender(
            contender,
            plan,
            profile=profiled,
            profile_format=profile_format,
            keep_logs=keep_logs,
        )
        if progress:
            print(report(result) + "\n", flush=True)
        results.append(result)
    return results


# Reports


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _history(result: FanoutResult) -> str:
    if result.history_on_disk is None:
        return "n/a (a reference server keeps none)"
    return f"{result.history_on_disk:,} of {result.sent:,} on disk" + (
        f", {result.history_duplicates:,} twice" if result.history_duplicates else ""
    )


def _server_log(result: FanoutResult) -> str:
    if result.server_log_bytes is None:
        return "n/a (not ours)"
    return (
        f"{result.server_log_bytes / MIB:.1f} MiB, "
        f"{result.server_log_problems} warning/error lines"
    )


def _server_ending(result: FanoutResult) -> list[str]:
    """What a report shouts about the way the server stopped."""
    if result.reference is None:
        return server_ending_problems(
            result.server_exit_code,
            result.server_shut_down,
            result.server_log_samples,
        )
    if result.server_shut_down:
        return []
    return [
        f"{result.server} exited with status {result.server_exit_code}, not the "
        "one it gives on SIGTERM"
    ]


def report(result: FanoutResult) -> str:
    per_cpu = result.deliveries_per_server_cpu_second
    shares = ", ".join(f"{share:.0%}" for share in result.generator_cpu_shares)
    lines = [
        f"fan-out, {result.title}: {result.clients} clients in #{ROOM}, "
        f"{result.senders} senders x {result.messages} messages, window "
        f"{result.window}, {result.procs} generator process"
        + ("es" if result.procs > 1 else "")
        + (f", {result.idle:,} idle connections" if result.idle else ""),
        f"  outcome            {result.outcome}",
        f"  deliveries         {result.deliveries:,} of {result.expected:,} expected",
        f"  wall               {result.wall_seconds:.3f} s (first send to last delivery)",
        f"  deliveries/s       {result.deliveries_per_second:,.0f} (wall)",
        "  per server CPU-s   "
        + ("n/a" if per_cpu is None else f"{per_cpu:,.0f} deliveries")
        + f" (server CPU {result.server_cpu_seconds:.2f} s = "
        f"{result.server_cpu_share:.0%} of one core)",
        f"  latency ms         p50 {_ms(result.latency_p50_ms)}  "
        f"p99 {_ms(result.latency_p99_ms)}  max {_ms(result.latency_max_ms)}",
        f"  lost               {result.lost:,}",
        f"  duplicated         {result.duplicated:,}",
        f"  connect            {result.connect_seconds:.3f} s "
        f"({result.clients} clients connected and in #{ROOM}; CPU: server "
        f"{result.connect_server_cpu_seconds:.2f} s, generators "
        f"{sum(result.connect_generator_cpu_seconds):.2f} s)",
    ]
    if result.idle:
        lines.append(
            f"  idle               {result.idle:,} connections registered in "
            f"{result.idle_connect_seconds:.2f} s; server RSS "
            f"{result.server_rss_start_mib:.1f} -> {result.server_rss_idle_mib:.1f} "
            f"MiB = {result.idle_rss_kib_per_connection:.2f} KiB per idle connection"
        )
    lines += [
        f"  server RSS         {result.server_rss_mib:.1f} MiB after sending "
        f"(peak {result.server_peak_rss_mib:.1f} MiB, "
        f"{result.server_rss_connected_mib:.1f} MiB before)",
        f"  history            {_history(result)}",
        f"  generator CPU      {sum(result.generator_cpu_seconds):.2f} s; each "
        f"process {shares} of wall"
        + (
            f"; {result.generator_slow_records:,} message(s) counted one by one"
            if result.generator_slow_records
            else ""
        ),
        f"  bottleneck         {result.bottleneck}",
        f"  server log         {_server_log(result)}",
        f"  run                {result.run_seconds:.1f} s (server start to stop)",
    ]
    notes = list(result.notes)
    connect = max(result.connect_seconds, 1e-9)
    generator = max(result.connect_generator_cpu_seconds, default=0.0) / connect
    server = result.connect_server_cpu_seconds / connect
    if connect > 0.1 and max(generator, server) >= SATURATED:
        shares = f"server {server:.0%}, a generator process {generator:.0%}"
        verdict = (
            "kept both busy"
            if min(generator, server) >= SATURATED
            else "was GENERATOR-BOUND"
            if generator >= SATURATED
            else "was server-bound"
        )
        notes.append(
            f"connecting {verdict} ({shares} of those {connect:.2f} s): each "
            "arrival is told to everyone already in the room"
        )
    loud = []
    if result.outcome != "completed":
        loud.append(
            f"send phase {result.outcome}: "
            + (
                f"{result.unsent:,} messages never sent"
                if result.unsent
                else "some messages never reached every receiver"
            )
        )
    if result.lost:
        loud.append(f"LOST {result.lost:,} of {result.expected:,} deliveries")
    if result.duplicated:
        loud.append(f"DUPLICATED {result.duplicated:,} deliveries")
    if result.unexpected:
        loud.append(f"{result.unexpected:,} garbled, misattributed or unknown records")
    if result.dropped_connections:
        loud.append(f"{result.dropped_connections} connections dropped during the run")
    if result.idle_dropped:
        loud.append(f"{result.idle_dropped} idle connections dropped during the run")
    on_disk = result.history_on_disk
    if on_disk is not None and on_disk != result.sent:
        loud.append(
            f"HISTORY MISSING {result.sent - on_disk:,} of {result.sent:,} messages"
        )
    if result.unclosed_connections:
        loud.append(
            f"{result.unclosed_connections} connections did not close at the end"
        )
    loud.extend(f"server error reply: {text}" for text in result.server_errors)
    loud.extend(_server_ending(result))
    lines.extend(f"  note: {text}" for text in notes)
    lines.extend(f"!!! {text}" for text in loud)
    return "\n".join(lines)


def summary(results: Sequence[FanoutResult]) -> str:
    """One row per front (or reference server)."""
    header = (
        f"{'front':<9}{'deliveries':>12}{'per srv CPU-s':>15}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'lost':>7}{'dup':>6}{'connect s':>11}"
        f"{'history':>17}{'gen. CPU':>11}{'idle KiB':>10}  verdict"
    )
    rows = [header]
    for result in results:
        per_cpu = result.deliveries_per_server_cpu_second
        idle = result.idle_rss_kib_per_connection
        on_disk = result.history_on_disk
        history = "n/a" if on_disk is None else f"{on_disk:,}/{result.sent:,}"
        rows.append(
            f"{result.label:<9}{result.deliveries:>12,}"
            f"{'n/a' if per_cpu is None else f'{per_cpu:,.0f}':>15}"
            f"{_ms(result.latency_p50_ms):>9}{_ms(result.latency_p99_ms):>9}"
            f"{_ms(result.latency_max_ms):>9}{result.lost:>7,}{result.duplicated:>6,}"
            f"{result.connect_seconds:>11.3f}"
            f"{history:>17}"
            f"{'/'.join(f'{share:.0%}' for share in result.generator_cpu_shares):>11}"
            f"{'-' if idle is None else f'{idle:.2f}':>10}  "
            + result.bottleneck.partition(":")[0]
        )
    return "\n".join(rows)


def comparison(ours: FanoutResult, reference: FanoutResult) -> str:
    """
    The last line with C{--against}: our IRC front's deliveries per server
    CPU-second over the reference server's, measured minutes apart on the same
    machine, and both p99 latencies.
    """
    mine = ours.deliveries_per_server_cpu_second
    theirs = reference.deliveries_per_server_cpu_second
    ratio = f"{mine / theirs:.2f}x" if mine and theirs else "n/a"
    return (
        f"ours / {reference.server}: deliveries per server CPU-second "
        f"{_count(mine)} / {_count(theirs)} = {ratio}; p99 ms "
        f"{_ms(ours.latency_p99_ms)} / {_ms(reference.latency_p99_ms)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1] if __doc__ else ""
    )
    parser.add_argument(
        "--front",
        choices=[*FRONTS, "all"],
        help="the front to load (all, the default: each in turn, each with a "
        "fresh server)",
    )
    parser.add_argument(
        "--against",
        choices=sorted(REFERENCES),
        help="run the IRC benchmark on our server, then the same against this "
        "reference IRC server, and end with the ratio of the two",
    )
    parser.add_argument("--clients", type=int, default=100, help="clients in the room")
    parser.add_argument("--senders", type=int, default=10, help="clients that send")
    parser.add_argument("--messages", type=int, default=500, help="messages per sender")
    parser.add_argument(
        "--window", type=int, default=10, help="messages in flight per sender"
    )
    parser.add_argument(
        "--procs",
        type=int,
        default=DEFAULT_PROCS,
        help="load-generator processes (at most one per two clients)",
    )
    parser.add_argument(
        "--idle",
        type=int,
        default=0,
        help="idle connections opened first, on the same front, and held throughout",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds allowed for each phase"
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=10.0,
        help="end the send phase after this many seconds without a delivery",
    )
    parser.add_argument(
        "--server-args",
        default="",
        help='extra twistedchat options, one string: --server-args="--max-line 8192"',
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy during the send phase, into this file "
        "(with several fronts, one file each: NAME-<front>.EXT)",
    )
    parser.add_argument(
        "--profile-format", choices=PROFILE_FORMATS, default="speedscope"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="end with one JSON line (with several fronts, or --against, an "
        "object per front or server)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the server's directory"
    )
    options = parser.parse_args(argv)
    plan = Plan(
        clients=options.clients,
        senders=options.senders,
        messages=options.messages,
        window=options.window,
        procs=options.procs,
        idle=options.idle,
        timeout=options.timeout,
        stall=options.stall,
    )
    try:
        plan.check()
    except ValueError as e:
        parser.error(str(e))
    if options.against and options.front not in (None, "irc"):
        parser.error(
            "--against compares IRC servers: it runs the irc front only, not "
            f"--front {options.front}"
        )
    front = options.front or ("irc" if options.against else "all")
    fronts = FRONTS if front == "all" else (front,)
    if plan.processes != plan.procs:
        print(
            f"fanout: {plan.processes} generator process(es), not {plan.procs}: "
            "each needs two clients",
            file=sys.stderr,
        )
        plan = replace(plan, procs=plan.processes)
    try:
        results = run(
            plan,
            fronts,
            shlex.split(options.server_args),
            against=options.against,
            profile=options.profile,
            profile_format=options.profile_format,
            keep_logs=options.keep_logs,
            progress=True,
        )
    except NoProgress as e:
        print(f"fanout: {e}", file=sys.stderr)
        return 2
    except BenchmarkFailed as e:
        print(f"fanout: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fanout: interrupted", file=sys.stderr)
        return 130
    if len(results) > 1:
        print(summary(results), flush=True)
    if options.against:
        print(comparison(results[0], results[-1]), flush=True)
    if options.json:
        if len(results) == 1:
            print(json.dumps(asdict(results[0])))
        else:
            print(json.dumps({result.label: asdict(result) for result in results}))
    return 0 if all(result.faultless for result in results) else 3


if __name__ == "__main__":
    sys.exit(main())
