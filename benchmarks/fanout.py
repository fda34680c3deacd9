"""
Fan-out benchmark: how fast the server relays one room's messages to everyone in it, on each front.

What it measures: N clients of one front (line, framed, IRC or web;
C{--front all}, the default, runs each in turn against a fresh server) sit in
#general; S of
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
    no rooms, an IRC user sends NICK and USER but joins nothing, a web user
    opens its WebSocket and says hello with no rooms. So they hold
    a connection and a session but are in no room: none of the chat reaches
    them, and their arrivals cost no room-wide notices (a line user is in
    the default room until its PART, so its arrival and departure reach the
    few that arrive with it). The server's RSS (C{/proc/<pid>/status}) is
    read before and after: (after - before) / K is the memory per idle
    connection.
 2. connect: the N chat clients connect at once and register in #general (a
    line user sends NICK and is in the default room; a framed user says Hello
    with the room; an IRC user sends NICK and USER, JOIN once welcomed (001),
    and waits for the end of NAMES, 366; a web user upgrades C{/ws} to a
    WebSocket, as a browser's page does, and says hello with the room, in
    JSON). The connect time runs from the
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
    all its clients have everything (framed and web senders' echoes of their
    own messages are not counted), when nothing has arrived for C{--stall}
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
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import figures
from fanout_clients import (
    CHAT_CLIENTS,
    IDLE_CLIENTS,
    ROOM,
    IdleClient,
    SenderWindow,
    Settled,
    Tally,
    add_up,
    expected_nicks,
    parse_text,
)
from figures import OURS, Figures, Stopped
from generators import (
    Client,
    Measurement,
    Phases,
    Reply,
    check_names,
    close_all,
    generator_processes,
    measure,
    register_all,
    send_outcome,
    span_seconds,
)
from harness import (
    HOST,
    SATURATED,
    SECOND_NS,
    Server,
    add_server_options,
    data_directory,
    guarded,
    history_texts,
    raise_file_limit,
    run_directory,
    running_server,
    scan_log,
)
from reference_irc import REFERENCES, running_reference
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint

FRONTS = ("line", "framed", "irc", "web")
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


# A generator process's work


class FanoutWorkload:
    """
    One load-generator process's share of the clients, phase by phase (see
    L{generators}): each C{command_<name>} runs one phase and returns what to
    report.
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

    async def command_idle(self) -> Reply:
        kind = IDLE_CLIENTS[self.share.front]
        self.idle = [kind(index) for index in self.share.idle]
        concurrency = self.share.idle_concurrency
        timeout = self.plan.idle_timeout
        return await self._register(self.idle, timeout, "idle connections", concurrency)

    async def command_connect(self) -> Reply:
        concurrency = self.share.connect_concurrency
        return await self._register(
            self.clients, self.plan.timeout, "connecting", concurrency
        )

    def route(self, client: Client) -> IStreamClientEndpoint:
        """The endpoint C{client} connects to: the server's (a cluster's: its node's)."""
        return self.endpoint

    async def _register(
        self,
        clients: Sequence[Client],
        timeout: float,
        what: str,
        concurrency: int | None,
    ) -> Reply:
        return await register_all(
            self.reactor,
            self.endpoint,
            clients,
            timeout=timeout,
            what=what,
            concurrency=concurrency,
            route=self.route,
        )

    async def command_names(self) -> Reply:
        wanted = expected_nicks(self.plan.clients)
        asking = [(client, ROOM, client.ask_names()) for client in self.clients]
        return await check_names(
            self.reactor, asking, lambda _: wanted, self.plan.timeout
        )

    async def command_arm(self) -> Reply:
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

    async def command_send(self) -> Reply:
        tally = self.tally
        cpu = time.process_time()
        tally.first_send_ns = time.perf_counter_ns()
        for window in tally.windows.values():
            window.fill()
        if not tally.receivers:
            tally.finish("completed")
        watchdog = self.reactor.callLater(WATCH_SECONDS, self._watch)
        reply = await send_outcome(tally.finished, watchdog, tally, cpu)
        return {**reply, "slow_records": tally.slow_records}

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

    async def command_settle(self) -> Reply:
        return self.settled_reply([client.settle() for client in self.clients])

    def settled_reply(self, parts: Sequence[Settled]) -> Reply:
        """The settle phase's reply: what the clients kept, checked (C{parts})."""
        settled = add_up(parts)
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

    async def command_close(self) -> Reply:
        everyone: list[Client] = [*self.clients, *self.idle]
        timeout = min(self.plan.timeout, 30)
        unclosed = await close_all(self.reactor, everyone, timeout)
        return {
            "dropped": self.tally.dropped,
            "idle_dropped": sum(1 for client in self.idle if client.dropped),
            "unclosed": unclosed,
        }


def workloads(shares: Sequence[Share]) -> list[Callable[[Any], FanoutWorkload]]:
    """What each generator process runs, made there with its reactor."""
    return [partial(FanoutWorkload, share=share) for share in shares]


# Profiling the server


def _start_py_spy(
    pid: int, path: Path, fmt: str
) -> tuple[subprocess.Popen[bytes] | None, str]:
    """py-spy recording C{pid} into C{path}, once it samples; else None and why."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        return None, f"no py-spy next to {sys.executable}: not profiled"
    command = [str(py_spy), "record", "--pid", str(pid), "--output", str(path)]
    command += ["--format", fmt, "--rate", str(PROFILE_RATE)]
    recorder = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert recorder.stdout is not None
    # It says so once it samples; the send phase must not start before.
    first = recorder.stdout.readline().decode("utf-8", "replace").strip()
    if "Sampling" not in first:
        recorder.wait(10)
        return None, f"py-spy did not start: {first}"
    return recorder, ""


def _stop_py_spy(recorder: subprocess.Popen[bytes], path: Path) -> str:
    """Stop C{recorder}; what came of it."""
    recorder.send_signal(signal.SIGINT)
    try:
        output, _ = recorder.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        output, _ = recorder.communicate()
    if path.exists():
        return (
            f"server profile (send phase) in {path}; py-spy sampled it "
            f"{PROFILE_RATE} times a second, so these figures are perturbed"
        )
    text = output.decode("utf-8", "replace").strip().splitlines()
    return "py-spy wrote nothing: " + " / ".join(text[-3:])


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
    recorder, why = _start_py_spy(pid, path, fmt)
    if recorder is None:
        notes.append(why)
        yield notes
        return
    try:
        yield notes
    finally:
        notes.append(_stop_py_spy(recorder, path))


# Results


@dataclass
class FanoutResult:
    figures: Figures
    front: str
    reference: str | None  # the reference server's --against name; None: ours
    clients: int
    senders: int
    messages: int
    window: int
    procs: int
    idle: int
    unsent: int
    echoes: int  # framed and web senders' own messages, not counted as deliveries
    idle_dropped: int
    idle_connect_seconds: float
    server_rss_idle_mib: float
    idle_rss_kib_per_connection: float | None
    generator_slow_records: int  # message records counted one by one
    run_seconds: float  # the whole run of this front, server start to stop
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Its name in tables and JSON: our front's, or the reference server's."""
        return self.reference or self.front

    @property
    def title(self) -> str:
        """What was measured, for a report's first line."""
        if self.reference is None:
            return f"{self.front} front"
        return f"{self.figures.server} (reference, IRC)"

    @property
    def faultless(self) -> bool:
        return self.figures.faultless and not self.idle_dropped


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
    contender: Contender,
    plan: Plan,
    measured: Measurement,
    stopped: Stopped,
    run_seconds: float,
) -> FanoutResult:
    figured = figures.summarise(measured, stopped, bottleneck, contender.server)
    sent = figured.sent
    idle_kib = None
    if plan.idle:
        grown = measured.server_rss_idle_mib - measured.server_rss_start_mib
        idle_kib = grown * 1024 / plan.idle
    return FanoutResult(
        figures=figured,
        front=contender.front,
        reference=contender.reference,
        clients=plan.clients,
        senders=plan.senders,
        messages=plan.messages,
        window=plan.window,
        procs=plan.processes,
        idle=plan.idle,
        unsent=plan.senders * plan.messages - sent,
        echoes=sum(reply["echoes"] for reply in measured.settled),
        idle_dropped=sum(reply["idle_dropped"] for reply in measured.closed),
        idle_connect_seconds=span_seconds(measured.idle),
        server_rss_idle_mib=measured.server_rss_idle_mib,
        idle_rss_kib_per_connection=idle_kib,
        generator_slow_records=sum(reply["slow_records"] for reply in measured.send),
        run_seconds=run_seconds,
        notes=[*measured.notes, *contender.notes],
    )


# The servers


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


# Running


def profile_path(profile: Path | None, front: str, several: bool) -> Path | None:
    """C{--profile fanout.json} with several fronts: fanout-line.json..."""
    if profile is None or not several:
        return profile
    return profile.with_name(f"{profile.stem}-{front}{profile.suffix}")


def phases(plan: Plan) -> Phases:
    return Phases(
        timeout=plan.timeout + 30,
        send=plan.timeout + plan.stall + 30,
        idle=plan.idle_timeout + 30 if plan.idle else None,
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
    prefix = f"fanout-{contender.name}-"
    with run_directory(prefix, keep_logs) as directory:
        with contender.start(directory) as server:
            work = shares(
                plan,
                front,
                server.ports[front],
                idle_concurrency=contender.idle_concurrency,
                backlog=contender.backlog,
            )
            with generator_processes(workloads(work), "fanout") as generators:
                pid = server.process.pid
                during_send = profiling(pid, profile, profile_format)
                measured = measure(generators, pid, phases(plan), during_send)
        stopped = contender.stopped(directory, server.process.returncode)
    result = summarise(contender, plan, measured, stopped, time.monotonic() - began)
    figures.check_progress(result.label, result.figures)
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


def _connect_note(result: FanoutResult) -> list[str]:
    """Whether connecting kept a process busy: each arrival is told to the room."""
    f = result.figures
    connect = max(f.connect_seconds, 1e-9)
    generator = max(f.connect_generator_cpu_seconds, default=0.0) / connect
    server = f.connect_server_cpu_seconds / connect
    if connect <= 0.1 or max(generator, server) < SATURATED:
        return []
    shares = f"server {server:.0%}, a generator process {generator:.0%}"
    verdict = (
        "kept both busy"
        if min(generator, server) >= SATURATED
        else "was GENERATOR-BOUND"
        if generator >= SATURATED
        else "was server-bound"
    )
    return [
        f"connecting {verdict} ({shares} of those {connect:.2f} s): each "
        "arrival is told to everyone already in the room"
    ]


def _lines(result: FanoutResult) -> list[tuple[str, str]]:
    """The report's lines: the figures, this benchmark's own among them."""
    rows = figures.rows(result.figures, result.clients, f"in #{ROOM}")
    common = ["outcome", "deliveries", "wall", "deliveries/s", "per server CPU-s"]
    common += ["latency ms", "lost", "duplicated", "connect"]
    lines = [(label, rows[label]) for label in common]
    if result.idle:
        lines.append(
            (
                "idle",
                f"{result.idle:,} connections registered in "
                f"{result.idle_connect_seconds:.2f} s; server RSS "
                f"{result.figures.server_rss_start_mib:.1f} -> "
                f"{result.server_rss_idle_mib:.1f} MiB = "
                f"{result.idle_rss_kib_per_connection:.2f} KiB per idle connection",
            )
        )
    lines += [(label, rows[label]) for label in ("server RSS", "history")]
    slow = result.generator_slow_records
    lines.append(
        (
            "generator CPU",
            rows["generator CPU"]
            + (f"; {slow:,} message(s) counted one by one" if slow else ""),
        )
    )
    lines += [(label, rows[label]) for label in ("bottleneck", "server log")]
    lines.append(("run", f"{result.run_seconds:.1f} s (server start to stop)"))
    return lines


def send_phase_problems(outcome: str, unsent: int) -> list[str]:
    """What a send phase that did not complete left undone (fanout, cluster)."""
    if outcome == "completed":
        return []
    if unsent:
        return [f"send phase {outcome}: {unsent:,} messages never sent"]
    return [f"send phase {outcome}: some messages never reached every receiver"]


def _problems(result: FanoutResult) -> list[str]:
    loud = send_phase_problems(result.figures.outcome, result.unsent)
    if result.idle_dropped:
        loud.append(f"{result.idle_dropped} idle connections dropped during the run")
    return [*loud, *figures.problems(result.figures)]


def report(result: FanoutResult) -> str:
    title = (
        f"fan-out, {result.title}: {result.clients} clients in #{ROOM}, "
        f"{result.senders} senders x {result.messages} messages, window "
        f"{result.window}, {result.procs} generator process"
        + ("es" if result.procs > 1 else "")
        + (f", {result.idle:,} idle connections" if result.idle else "")
    )
    notes = [*result.notes, *_connect_note(result)]
    return figures.report(title, _lines(result), notes, _problems(result))


def summary(results: Sequence[FanoutResult]) -> str:
    """One row per front (or reference server)."""
    header = (
        f"{'front':<9}{'deliveries':>12}{'per srv CPU-s':>15}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'lost':>7}{'dup':>6}{'connect s':>11}"
        f"{'history':>17}{'gen. CPU':>11}{'idle KiB':>10}  verdict"
    )
    return "\n".join([header, *(_summary_row(result) for result in results)])


def _summary_row(result: FanoutResult) -> str:
    f = result.figures
    idle = result.idle_rss_kib_per_connection
    on_disk = f.history_on_disk
    history = "n/a" if on_disk is None else f"{on_disk:,}/{f.sent:,}"
    return (
        f"{result.label:<9}{f.deliveries:>12,}"
        f"{figures.count(f.deliveries_per_server_cpu_second):>15}"
        f"{figures.ms(f.latency_p50_ms):>9}{figures.ms(f.latency_p99_ms):>9}"
        f"{figures.ms(f.latency_max_ms):>9}{f.lost:>7,}{f.duplicated:>6,}"
        f"{f.connect_seconds:>11.3f}"
        f"{history:>17}"
        f"{'/'.join(f'{share:.0%}' for share in f.generator_cpu_shares):>11}"
        f"{'-' if idle is None else f'{idle:.2f}':>10}  "
        + f.bottleneck.partition(":")[0]
    )


def comparison(ours: FanoutResult, reference: FanoutResult) -> str:
    """
    The last line with C{--against}: our IRC front's deliveries per server
    CPU-second over the reference server's, measured minutes apart on the same
    machine, and both p99 latencies.
    """
    mine = ours.figures.deliveries_per_server_cpu_second
    theirs = reference.figures.deliveries_per_server_cpu_second
    ratio = f"{mine / theirs:.2f}x" if mine and theirs else "n/a"
    return (
        f"ours / {reference.figures.server}: deliveries per server CPU-second "
        f"{figures.count(mine)} / {figures.count(theirs)} = {ratio}; p99 ms "
        f"{figures.ms(ours.figures.latency_p99_ms)} / "
        f"{figures.ms(reference.figures.latency_p99_ms)}"
    )


# The command line


def _parser() -> argparse.ArgumentParser:
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
    _add_run_options(parser)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds allowed for each phase"
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=10.0,
        help="end the send phase after this many seconds without a delivery",
    )
    add_server_options(parser)
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


def _plan(parser: argparse.ArgumentParser, options: argparse.Namespace) -> Plan:
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
    if plan.processes != plan.procs:
        print(
            f"fanout: {plan.processes} generator process(es), not {plan.procs}: "
            "each needs two clients",
            file=sys.stderr,
        )
        plan = replace(plan, procs=plan.processes)
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    plan = _plan(parser, options)
    front = options.front or ("irc" if options.against else "all")
    outcome = guarded(
        "fanout",
        lambda: run(
            plan,
            FRONTS if front == "all" else (front,),
            shlex.split(options.server_args),
            against=options.against,
            profile=options.profile,
            profile_format=options.profile_format,
            keep_logs=options.keep_logs,
            progress=True,
        ),
    )
    if isinstance(outcome, int):
        return outcome
    results = outcome
    if len(results) > 1:
        print(summary(results), flush=True)
    if options.against:
        print(comparison(results[0], results[-1]), flush=True)
    if options.json:
        objects = {result.label: figures.as_json(result) for result in results}
        print(json.dumps(objects if len(results) > 1 else objects[results[0].label]))
    return 0 if all(result.faultless for result in results) else 3


if __name__ == "__main__":
    sys.exit(main())
