"""
Cluster benchmark: one room's fan-out served by one node, then by several
nodes sharing a Redis, on this machine.

What it measures: the fan-out benchmark's plan (L{fanout}: N clients of one
front in #general, S of them sending M messages each, at most W in flight per
sender), with the clients spread over the nodes: client k connects to node
k mod NODES, so every node holds senders and receivers, and each message
reaches receivers on its sender's node (same-node pairs) and on the others
(cross-node pairs). It runs, each with fresh servers and a fresh Redis:

 - C{single}: today's single node, no C{--cluster}, no Redis (skip it with
   C{--no-single});
 - for each count in C{--nodes} (default 1,2): that many nodes started with
   C{--cluster redis://...} on one real C{redis-server} (L{tests.redis_server}:
   a free loopback port, a folder of its own, no persistence), sharing one
   data directory (one history for the cluster).

For each: deliveries per wall-second; deliveries per server CPU-second, the
server being every node plus Redis (each one's CPU time from C{/proc}, to the
nanosecond, around the send phase, and given apart); latency p50/p99/max over
all deliveries, over same-node pairs and over cross-node pairs; lost,
duplicated and out-of-order deliveries, which must all be 0; Redis commands per
message sent (C{INFO commandstats} before and after the send phase, the
benchmark's own INFO taken out); the history on disk (every message once);
the nodes' logs. The last lines compare the setups: the wall-clock rate of
the most nodes over one node (target: 2 nodes >= 1.6x one node at 500
clients) and the cross-node p99 over the same-node p99 (target: <= 2x).

Out of order, two ways: each receiver checks that each sender's messages came
in the sender's order (in process, at settle); then the coordinator compares
every receiver's order of arrival with one reference receiver's (the first
client that does not send, which gets every message; the report names it and
its node): one chat means one order in the room for everyone, on every node. A delivery that comes after a message the
reference put later is out of order, counted once.

How: as L{fanout} does (its workload, clients, counting and phases, in
generator processes forked from this one; L{harness} starts each node as
C{twistd -n twistedchat} in a directory of its own, every front on port 0),
and stops the nodes with SIGTERM, then Redis. Exit status: 0 when every setup
delivered everything once, in order, and kept it on disk; 3 when something was
lost, duplicated, out of order, garbled or missing on disk; 1 when the
benchmark could not run (redis-server missing, say); 2 when a send phase
delivered nothing. The targets are reported, not enforced by the exit
status. Linux only (C{/proc}). Usage: C{python benchmarks/cluster.py --help}.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
import unittest
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import figures
from fanout import (
    SPARE_FILES,
    FanoutWorkload,
    Plan,
    Share,
    history_count,
    phases,
    profiling,
    send_phase_problems,
)
from fanout_clients import ROOM, expected_nicks
from figures import Figures, Stopped
from generators import (
    Client,
    Generators,
    Measurement,
    Phases,
    Reply,
    check_names,
    generator_processes,
)
from harness import (
    HOST,
    LOG_PROBLEM,
    SATURATED,
    BenchmarkFailed,
    LogReport,
    Server,
    add_server_options,
    guarded,
    history_texts,
    raise_file_limit,
    run_directory,
    running_server,
    scan_log,
    server_cpu_seconds,
    server_memory_mib,
    within,
)
from twisted.internet import task
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.python.failure import Failure

from tests.redis_server import MISSING, RedisServer, redis_server_path

FRONTS = ("line", "framed", "irc", "web")
DEFAULT_FRONT = "irc"
DEFAULT_NODES = (1, 2)
DATA = "data"  # the nodes' shared data directory, in the run's directory
POLL = 0.02  # seconds between looks at a redis-server starting or stopping
NAMES_RETRY = 0.2  # seconds before asking again who is in the room
# The targets of issue 17, at 500 clients.
TARGET_SPEEDUP = 1.6  # wall-clock rate, 2 nodes over 1
TARGET_CROSS_P99 = 2.0  # cross-node p99 over same-node p99

T = TypeVar("T")


# The setups


@dataclass(frozen=True)
class Setup:
    """How many nodes serve the room, and whether through Redis."""

    nodes: int
    redis: bool

    @property
    def label(self) -> str:
        if not self.redis:
            return "single"
        return f"{self.nodes} node" + ("s" if self.nodes > 1 else "")

    @property
    def title(self) -> str:
        if not self.redis:
            return "a single node, no Redis (today's server)"
        return f"{self.label} sharing one Redis"


def setups(nodes: Sequence[int], single: bool) -> list[Setup]:
    """Today's single node first (if C{single}), then each cluster size."""
    return [
        *([Setup(1, redis=False)] if single else []),
        *(Setup(count, redis=True) for count in nodes),
    ]


def node_of(index: int, nodes: int) -> int:
    """The node client C{index} connects to."""
    return index % nodes


# A generator process's work


@dataclass(frozen=True)
class ClusterShare(Share):
    """L{Share}, with the port of the front on every node, by node number."""

    ports: tuple[int, ...] = ()


class ClusterWorkload(FanoutWorkload):
    """
    L{FanoutWorkload} with its clients spread over the nodes; it asks again
    who is in the room until every node has applied every arrival, and
    reports same-node and cross-node latencies apart and each receiver's
    order of arrival.
    """

    share: ClusterShare

    def __init__(self, reactor: Any, share: ClusterShare) -> None:
        super().__init__(reactor, share)
        timeout = max(1, int(share.plan.timeout))
        self.endpoints = [
            TCP4ClientEndpoint(reactor, HOST, port, timeout=timeout)
            for port in share.ports
        ]
        self.tally.nodes = len(self.endpoints)
        self.tally.keep_order = True

    def route(self, client: Client) -> IStreamClientEndpoint:
        index = int(client.nick[1:], 16)
        return self.endpoints[node_of(index, len(self.endpoints))]

    async def command_names(self) -> Reply:
        """
        Every client must see the N chat nicks. A node applies the others'
        arrivals in the log's order, so one may answer before it has applied
        an arrival made on another node: those that saw fewer ask again,
        until the phase's timeout.
        """
        wanted = expected_nicks(self.plan.clients)
        deadline = time.monotonic() + self.plan.timeout
        asking = list(self.clients)
        while True:
            answers = await within(
                self.reactor,
                self.plan.timeout,
                "names",
                gatherResults([client.ask_names() for client in asking]),
            )
            asking = [
                client
                for client, seen in zip(asking, answers, strict=True)
                if seen != wanted
            ]
            if not asking or time.monotonic() > deadline:
                break
            await task.deferLater(self.reactor, NAMES_RETRY)
        # What is still wrong is said the usual way.
        return await check_names(
            self.reactor,
            [(client, ROOM, client.ask_names()) for client in asking],
            lambda _: wanted,
            self.plan.timeout,
        )

    async def command_settle(self) -> Reply:
        parts = [client.settle() for client in self.clients]
        reply = self.settled_reply(parts)
        cross = array("q")
        for part in parts:
            cross.extend(part.cross_latencies)
        return {
            **reply,
            "cross_latencies": cross.tobytes(),
            "reordered": sum(part.reordered for part in parts),
            "reads": sum(part.reads for part in parts),
            "orders": {
                client.index: part.order.tobytes()
                for client, part in zip(self.clients, parts, strict=True)
            },
        }


def cluster_shares(plan: Plan, front: str, ports: Sequence[int]) -> list[ClusterShare]:
    """Each generator process's clients (k mod processes), on every node."""
    count = plan.processes
    return [
        ClusterShare(
            number,
            front,
            ports[0],
            plan,
            tuple(range(number, plan.clients, count)),
            (),
            ports=tuple(ports),
        )
        for number in range(count)
    ]


def workloads(shares: Sequence[ClusterShare]) -> list[Callable[[Any], ClusterWorkload]]:
    return [partial(ClusterWorkload, share=share) for share in shares]


# Redis, started and stopped from here (this process runs no reactor)


def blocking(work: Callable[[task.Clock], Deferred[T]]) -> T:
    """
    Run C{work}, which polls with the clock it is given, to its end: a clock
    advanced here as real time passes. (A reactor run in this process would
    be inherited, stopped, by the generator processes it forks.) The helper's
    waits are bounded by their own deadlines.
    """
    clock = task.Clock()
    outcome: list[T | Failure] = []
    work(clock).addBoth(outcome.append)
    while not outcome:
        time.sleep(POLL)
        clock.advance(POLL)
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A redis-server of the run's own (no persistence) until the block ends."""
    try:
        redis = RedisServer(str(directory / "redis"))
    except unittest.SkipTest as e:
        raise BenchmarkFailed(str(e)) from None
    try:
        blocking(redis.start)
    except (RuntimeError, TimeoutError) as e:
        raise BenchmarkFailed(str(e)) from None
    try:
        yield redis
    finally:
        blocking(redis.stop)


def redis_version(redis: RedisServer) -> str:
    info = bytes(redis.call("INFO", "server")).decode("utf-8", "replace")
    for line in info.splitlines():
        if line.startswith("redis_version:"):
            return line.partition(":")[2].strip()
    return "?"


def command_calls(redis: RedisServer) -> dict[str, int]:
    """Calls of each command since Redis started (C{INFO commandstats})."""
    info = bytes(redis.call("INFO", "commandstats")).decode("utf-8", "replace")
    calls = {}
    for line in info.splitlines():
        name, _, stats = line.partition(":")
        if not name.startswith("cmdstat_"):
            continue
        for item in stats.split(","):
            key, _, value = item.partition("=")
            if key == "calls":
                calls[name.removeprefix("cmdstat_")] = int(value)
    return calls


def calls_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands run between two C{INFO commandstats}, the first INFO taken out."""
    spent = {
        name: count - before.get(name, 0)
        for name, count in after.items()
        if count > before.get(name, 0)
    }
    if spent.get("info"):
        spent["info"] -= 1  # ours: a command's stats count once it has run
        if not spent["info"]:
            del spent["info"]
    return spent


# The servers of a setup


@dataclass
class Servers:
    """A setup's nodes, running, and its Redis (None: a single node without)."""

    nodes: list[Server]
    redis: RedisServer | None
    version: str = ""  # Redis's

    def pids(self) -> dict[str, int]:
        """Each process to measure, by name: the nodes, then Redis."""
        named = {f"node {number}": node.process.pid for number, node in enumerate(self)}
        if self.redis is not None and self.redis.process is not None:
            named["redis"] = self.redis.process.pid
        return named

    def __iter__(self) -> Iterator[Server]:
        return iter(self.nodes)


def node_arguments(
    setup: Setup, data: Path, redis: RedisServer | None, server_args: Sequence[str]
) -> list[str]:
    arguments = ["--data-dir", str(data)]
    if redis is not None:
        arguments += ["--cluster", redis.url()]
    return [*arguments, *server_args]


@contextmanager
def running_servers(
    setup: Setup, directory: Path, server_args: Sequence[str], timeout: float
) -> Iterator[Servers]:
    """
    Redis (for a cluster) and the setup's nodes, each node in a directory of
    its own (C{node-<n>}), all with one data directory; stopped in reverse.
    """
    with ExitStack() as stack:
        redis = None
        version = ""
        if setup.redis:
            redis = stack.enter_context(running_redis(directory))
            version = redis_version(redis)
        arguments = node_arguments(setup, directory / DATA, redis, server_args)
        nodes = []
        for number in range(setup.nodes):
            folder = directory / f"node-{number}"
            folder.mkdir()
            nodes.append(
                stack.enter_context(running_server(folder, arguments, timeout))
            )
        yield Servers(nodes, redis, version)


# Measuring


@dataclass
class ClusterMeasurement:
    """L{Measurement} summed over the nodes, with each process's CPU apart."""

    measured: Measurement
    cpu_seconds: dict[str, float]  # each node's and Redis's, over the send phase
    redis_calls: dict[str, int]  # commands Redis ran during the send phase
    machine_busy: float  # cores the whole machine kept busy over the send phase


def machine_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU time so far, in ticks (C{/proc/stat})."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle, iowait
    total = sum(fields[:8])  # guest time is counted in user time already
    return total - idle, total


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores were busy between two L{machine_ticks}, on average."""
    total = after[1] - before[1]
    if total <= 0:
        return 0.0
    return (after[0] - before[0]) / total * (os.cpu_count() or 1)


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: server_cpu_seconds(pid) for name, pid in pids.items()}


def _rss(servers: Servers) -> tuple[float, float]:
    """The nodes' resident and peak resident memory, summed (MiB)."""
    memories = [server_memory_mib(node.process.pid) for node in servers]
    return sum(rss for rss, _ in memories), sum(peak for _, peak in memories)


def measure(
    generators: Generators,
    servers: Servers,
    phase: Phases,
    during_send: AbstractContextManager[list[str]],
) -> ClusterMeasurement:
    """
    The phases of L{generators.measure}, with every node and Redis sampled:
    memory is the nodes' sum, CPU time every process's, apart and summed.
    C{during_send} is entered around the send phase (a profiler) and yields
    notes for the report.
    """
    pids = servers.pids()
    measured = Measurement()
    measured.server_rss_start_mib = _rss(servers)[0]
    cpu = _cpu(pids)
    measured.connected = generators.command("connect", phase.timeout)
    measured.connect_server_cpu_seconds = sum(_cpu(pids).values()) - sum(cpu.values())
    generators.command("names", phase.timeout)
    measured.server_rss_connected_mib = _rss(servers)[0]
    generators.command("arm", phase.timeout)
    redis = servers.redis
    before_calls = command_calls(redis) if redis is not None else {}
    with during_send as notes:
        cpu = _cpu(pids)
        ticks = machine_ticks()
        measured.send = generators.command("send", phase.send)
        machine = busy_cores(ticks, machine_ticks())
        spent = {name: seconds - cpu[name] for name, seconds in _cpu(pids).items()}
    measured.notes = notes
    calls = calls_between(before_calls, command_calls(redis)) if redis else {}
    measured.server_cpu_seconds = sum(spent.values())
    measured.server_rss_mib, measured.server_peak_rss_mib = _rss(servers)
    measured.settled = generators.command("settle", phase.timeout)
    measured.closed = generators.command("close", phase.timeout)
    return ClusterMeasurement(measured, spent, calls, machine)


# The room's order, compared between receivers


@dataclass(frozen=True)
class OrderCheck:
    """How far the receivers agree with one reference receiver on the room's order."""

    reference: int | None  # the reference receiver's index; None: no receiver
    out_of_order: int  # deliveries after a message the reference put later
    receivers: int  # receivers with at least one such delivery
    compared: int  # receivers compared


def reference_receiver(orders: dict[int, array[int]], senders: int) -> int | None:
    """
    The receiver the others are compared with: one that got the most
    messages, the first that does not send if any (it gets every message).
    """
    if not orders:
        return None
    return max(orders, key=lambda index: (len(orders[index]), index >= senders, -index))


def out_of_order(reference: array[int], rank: dict[int, int], order: array[int]) -> int:
    """
    Deliveries of C{order} that come after a message C{reference} puts later
    (messages it lacks are not judged).
    """
    late = 0
    highest = -1
    for key in order:
        place = rank.get(key)
        if place is None:
            continue
        if place < highest:
            late += 1
        else:
            highest = place
    return late


def check_order(orders: dict[int, array[int]], senders: int) -> OrderCheck:
    """Every receiver's order of arrival against the reference receiver's."""
    chosen = reference_receiver(orders, senders)
    if chosen is None:
        return OrderCheck(None, 0, 0, 0)
    reference = orders[chosen]
    rank: dict[int, int] | None = None
    # A sender on a front without echoes lacks only its own messages.
    without = {
        sender: array("q", (key for key in reference if key >> 32 != sender))
        for sender in range(senders)
    }
    late = receivers = 0
    for index, order in orders.items():
        if order == reference or order == without.get(index):
            continue
        if rank is None:
            rank = {key: place for place, key in enumerate(reference)}
        found = out_of_order(reference, rank, order)
        late += found
        receivers += 1 if found else 0
    return OrderCheck(chosen, late, receivers, len(orders))


def gathered_orders(settled: Sequence[Reply]) -> dict[int, array[int]]:
    orders: dict[int, array[int]] = {}
    for reply in settled:
        for index, data in reply["orders"].items():
            order = array("q")
            order.frombytes(data)
            orders[int(index)] = order
    return orders


# Results


@dataclass
class ClusterResult:
    figures: Figures
    setup: Setup
    front: str
    clients: int
    senders: int
    messages: int
    window: int
    procs: int
    redis_version: str
    unsent: int
    echoes: int
    cpu_seconds: dict[str, float]  # each node's and Redis's, over the send phase
    same_node_deliveries: int
    same_node_p50_ms: float | None
    same_node_p99_ms: float | None
    same_node_max_ms: float | None
    cross_node_deliveries: int
    cross_node_p50_ms: float | None
    cross_node_p99_ms: float | None
    cross_node_max_ms: float | None
    reordered: int  # messages after a later one of their own sender
    reads: int  # the receivers' reads that brought messages
    machine_busy_cores: float  # every process's, over the send phase
    order: OrderCheck
    redis_calls: dict[str, int]
    redis_commands_per_message: float | None  # None: no Redis
    run_seconds: float
    notes: list[str] = field(default_factory=list)
    # Warning and error lines the nodes logged while they stopped (SIGTERM,
    # once the clients had left): apart from the run's (server_log_problems).
    stopping_log_problems: int = 0
    stopping_log_samples: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.setup.label

    @property
    def out_of_order(self) -> int:
        return self.reordered + self.order.out_of_order

    @property
    def busiest_node_rate(self) -> float | None:
        """
        Deliveries per CPU-second of the busiest node: the rate the setup
        would reach if each node had a core of its own and nothing else
        limited it (derived from CPU time, not measured on the clock).
        """
        nodes = [
            seconds for name, seconds in self.cpu_seconds.items() if name != "redis"
        ]
        busiest = max(nodes, default=0.0)
        return self.figures.deliveries / busiest if busiest > 0 else None

    @property
    def faultless(self) -> bool:
        return self.figures.faultless and not self.out_of_order


def bottleneck(
    wall: float,
    cpu_seconds: dict[str, float],
    generator_shares: Sequence[float],
    machine_busy: float,
) -> str:
    """
    Which process limited the send phase: a short verdict, a colon, why.
    C{machine_busy}: the cores every process of the machine kept busy.
    """
    cores = os.cpu_count() or 1
    shares = (
        {name: seconds / wall for name, seconds in cpu_seconds.items()} if wall else {}
    )
    servers = sum(shares.values())
    generators = sum(generator_shares)
    said = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    said += f", generators {generators:.0%}"
    busiest = max(generator_shares, default=0.0)
    if busiest >= SATURATED:
        return (
            f"GENERATOR-BOUND: a load-generator process used {busiest:.0%} of a "
            f"core ({said}); the server figures are lower bounds"
        )
    others = machine_busy - servers - generators
    if machine_busy >= SATURATED * cores and others >= 0.25:
        return (
            f"MACHINE FULL: {machine_busy:.0%} of a core busy on {cores} cores, "
            f"{others:.0%} of it other processes' ({said}): the wall-clock "
            "figures depend on them; deliveries per server CPU-second tells the "
            "servers' own cost"
        )
    if servers + generators >= SATURATED * cores:
        return (
            f"cores full: {said} of a core, on {cores} cores: the processes "
            "shared the machine; deliveries per server CPU-second tells the "
            "servers' own cost"
        )
    node, share = max(shares.items(), key=lambda item: item[1], default=("", 0.0))
    if share >= SATURATED:
        return f"{node}-bound: {said} of a core"
    return (
        f"latency-bound: no process saturated a core ({said}); bound by latency "
        "and the window, raise --window or --senders"
    )


def summarise(
    setup: Setup,
    front: str,
    plan: Plan,
    measured: ClusterMeasurement,
    stopped: Stopped,
    version: str,
    run_seconds: float,
) -> ClusterResult:
    settled = measured.measured.settled
    same = figures.gathered(settled, "latencies")
    cross = figures.gathered(settled, "cross_latencies")
    # The figures' latencies are every delivery's, same-node and cross-node.
    everyone = [
        {**reply, "latencies": reply["latencies"] + reply["cross_latencies"]}
        for reply in settled
    ]
    whole = replace(measured.measured, settled=everyone)
    figured = figures.summarise(whole, stopped, lambda *_: "")
    figured.bottleneck = bottleneck(
        figured.wall_seconds,
        measured.cpu_seconds,
        figured.generator_cpu_shares,
        measured.machine_busy,
    )
    calls = measured.redis_calls
    sent = figured.sent
    order = check_order(gathered_orders(settled), plan.senders)
    return ClusterResult(
        figures=figured,
        setup=setup,
        front=front,
        clients=plan.clients,
        senders=plan.senders,
        messages=plan.messages,
        window=plan.window,
        procs=plan.processes,
        redis_version=version,
        unsent=plan.senders * plan.messages - sent,
        echoes=sum(reply["echoes"] for reply in settled),
        cpu_seconds=measured.cpu_seconds,
        same_node_deliveries=len(same),
        same_node_p50_ms=figures.percentile_ms(same, 0.50),
        same_node_p99_ms=figures.percentile_ms(same, 0.99),
        same_node_max_ms=figures.percentile_ms(same, 1.0),
        cross_node_deliveries=len(cross),
        cross_node_p50_ms=figures.percentile_ms(cross, 0.50),
        cross_node_p99_ms=figures.percentile_ms(cross, 0.99),
        cross_node_max_ms=figures.percentile_ms(cross, 1.0),
        reordered=sum(reply["reordered"] for reply in settled),
        reads=sum(reply["reads"] for reply in settled),
        machine_busy_cores=measured.machine_busy,
        order=order,
        redis_calls=dict(sorted(calls.items(), key=lambda item: -item[1])),
        redis_commands_per_message=(
            sum(calls.values()) / sent if setup.redis and sent else None
        ),
        run_seconds=run_seconds,
        notes=list(measured.measured.notes),
    )


def log_size(folder: Path) -> int:
    """How long a node's current log is now (where its stop will begin)."""
    try:
        return (folder / "server.log").stat().st_size
    except FileNotFoundError:
        return 0


def log_problems(data: bytes) -> list[str]:
    """The lines of a log worth a look (see L{harness.LOG_PROBLEM})."""
    return [
        line.decode("utf-8", "replace")[:300]
        for line in data.splitlines()
        if LOG_PROBLEM.search(line)
    ]


def split_log(folder: Path, mark: int) -> tuple[LogReport, list[str]]:
    """
    A node's log (rotated parts and its output included) up to C{mark}, the
    moment its stop began, reported as L{scan_log} does; and the lines worth
    a look it wrote after, while it stopped.
    """
    whole = scan_log(folder)
    current = folder / "server.log"
    data = current.read_bytes() if current.exists() else b""
    earlier = [*sorted(folder.glob("server.log.*")), folder / "server.out"]
    running = [
        line
        for path in earlier
        if path.exists()
        for line in log_problems(path.read_bytes())
    ] + log_problems(data[:mark])
    report = LogReport(whole.bytes, len(running), running[:5], whole.shut_down)
    return report, log_problems(data[mark:])


def stopped_nodes(
    directory: Path,
    exit_codes: Sequence[int | None],
    marks: Sequence[int],
    plan: Plan,
) -> tuple[Stopped, list[str]]:
    """
    What the stopped nodes left: the worst exit, their logs while they ran
    (up to C{marks}, each node's log size when the stops began), the one
    history; and the lines worth a look that they wrote while stopping.
    """
    logs, stopping = [], []
    for number, mark in enumerate(marks):
        log, late = split_log(directory / f"node-{number}", mark)
        logs.append(log)
        stopping += [f"node {number}: {line}" for line in late]
    log = LogReport(
        sum(each.bytes for each in logs),
        sum(each.problems for each in logs),
        [
            f"node {number}: {sample}"
            for number, each in enumerate(logs)
            for sample in each.samples
        ][:5],
        all(each.shut_down for each in logs),
    )
    bad = [code for code in exit_codes if code not in (0, -signal.SIGTERM)]
    texts = history_texts(directory / DATA, ROOM)
    stopped = Stopped(
        bad[0] if bad else exit_codes[0],
        log.shut_down,
        history_count(texts, plan),
        log,
    )
    return stopped, stopping


# Running


def run_setup(
    setup: Setup,
    plan: Plan,
    front: str,
    server_args: Sequence[str],
    *,
    keep_logs: bool = False,
    profile: Path | None = None,
) -> ClusterResult:
    """Start Redis and the nodes, run the fan-out over them, stop them; the figures."""
    began = time.monotonic()
    load = os.getloadavg()[0]
    prefix = f"cluster-{setup.label.replace(' ', '-')}-"
    with run_directory(prefix, keep_logs) as directory:
        with running_servers(setup, directory, server_args, plan.timeout) as servers:
            ports = [node.ports[front] for node in servers]
            work = cluster_shares(plan, front, ports)
            with generator_processes(workloads(work), "cluster") as generators:
                during_send = profiling(
                    servers.nodes[0].process.pid, profile, "speedscope"
                )
                measured = measure(generators, servers, phases(plan), during_send)
            version = servers.version
            marks = [
                log_size(directory / f"node-{number}") for number in range(setup.nodes)
            ]
        codes = [node.process.returncode for node in servers]
        stopped, stopping = stopped_nodes(directory, codes, marks, plan)
    result = summarise(
        setup, front, plan, measured, stopped, version, time.monotonic() - began
    )
    result.stopping_log_problems = len(stopping)
    result.stopping_log_samples = stopping[:5]
    result.notes.append(
        f"load average {load:.2f} on {os.cpu_count()} cores before the servers "
        "started: other processes took their share of the machine too"
        if load >= 0.5
        else f"load average {load:.2f} before the servers started"
    )
    figures.check_progress(setup.label, result.figures)
    return result


def run(
    plan: Plan,
    front: str,
    chosen: Sequence[Setup],
    server_args: Sequence[str] = (),
    *,
    keep_logs: bool = False,
    profile: Path | None = None,
    progress: bool = False,
) -> list[ClusterResult]:
    plan.check()
    if any(setup.redis for setup in chosen) and redis_server_path() is None:
        raise BenchmarkFailed(MISSING)  # before any setup runs
    raise_file_limit(plan.clients + SPARE_FILES)
    results = []
    for setup in chosen:
        profiled = None
        if profile is not None:
            label = setup.label.replace(" ", "-")
            profiled = profile.with_name(f"{profile.stem}-{label}{profile.suffix}")
        result = run_setup(
            setup, plan, front, server_args, keep_logs=keep_logs, profile=profiled
        )
        if progress:
            print(report(result) + "\n", flush=True)
        results.append(result)
    return results


# Reports


def _latency(p50: float | None, p99: float | None, top: float | None) -> str:
    return f"p50 {figures.ms(p50)}  p99 {figures.ms(p99)}  max {figures.ms(top)}"


def _cpu_line(result: ClusterResult) -> str:
    f = result.figures
    apart = ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in result.cpu_seconds.items()
    )
    return (
        f"{figures.count(f.deliveries_per_server_cpu_second)} deliveries (server "
        f"CPU {f.server_cpu_seconds:.2f} s: {apart})"
    )


def _order_line(result: ClusterResult) -> str:
    check = result.order
    compared = (
        "no receiver to compare"
        if check.reference is None
        else f"{check.out_of_order:,} against b{check.reference:04x}'s order "
        f"(node {node_of(check.reference, result.setup.nodes)}) in "
        f"{check.receivers} of {check.compared} receivers"
    )
    return (
        f"{result.out_of_order:,} ({result.reordered:,} behind a later message of "
        f"their sender; the room's order: {compared})"
    )


def _batching_line(result: ClusterResult) -> str:
    f = result.figures
    per_read = f.deliveries / result.reads if result.reads else 0.0
    return (
        f"{per_read:.1f} messages per read a receiver made ({result.reads:,} "
        "reads): about how many messages the servers wrote to a connection at "
        "once (each write is a system call)"
    )


def _redis_line(result: ClusterResult) -> str:
    per = result.redis_commands_per_message
    if per is None:
        return "n/a (no Redis)"
    sent = max(result.figures.sent, 1)
    top = ", ".join(
        f"{name} {count / sent:.2f}"
        for name, count in list(result.redis_calls.items())[:6]
    )
    return (
        f"{per:.2f} per message sent ({sum(result.redis_calls.values()):,} in the "
        f"send phase: {top or 'none'})"
    )


def _lines(result: ClusterResult) -> list[tuple[str, str]]:
    rows = figures.rows(result.figures, result.clients, f"in #{ROOM}")
    lines = [
        (label, rows[label])
        for label in ("outcome", "deliveries", "wall", "deliveries/s")
    ]
    lines += [
        ("per server CPU-s", _cpu_line(result)),
        ("latency ms", rows["latency ms"]),
        (
            "same node ms",
            _latency(
                result.same_node_p50_ms,
                result.same_node_p99_ms,
                result.same_node_max_ms,
            )
            + f" ({result.same_node_deliveries:,} deliveries)",
        ),
        (
            "cross node ms",
            _latency(
                result.cross_node_p50_ms,
                result.cross_node_p99_ms,
                result.cross_node_max_ms,
            )
            + f" ({result.cross_node_deliveries:,} deliveries)",
        ),
        ("lost", rows["lost"]),
        ("duplicated", rows["duplicated"]),
        ("out of order", _order_line(result)),
        ("batching", _batching_line(result)),
        ("redis commands", _redis_line(result)),
    ]
    lines += [
        (label, rows[label])
        for label in (
            "connect",
            "server RSS",
            "history",
            "generator CPU",
            "bottleneck",
            "server log",
        )
    ]
    if result.stopping_log_problems:
        lines.append(
            (
                "stopping log",
                f"{result.stopping_log_problems} warning/error lines while the nodes "
                "stopped (SIGTERM, the clients gone), not counted above: "
                + " | ".join(result.stopping_log_samples[:3]),
            )
        )
    lines.append(("run", f"{result.run_seconds:.1f} s (servers' start to stop)"))
    return lines


def _problems(result: ClusterResult) -> list[str]:
    loud = send_phase_problems(result.figures.outcome, result.unsent)
    if result.out_of_order:
        loud.append(f"OUT OF ORDER {result.out_of_order:,} deliveries")
    if result.figures.history_duplicates:
        loud.append(
            f"HISTORY TWICE {result.figures.history_duplicates:,} messages (one "
            "history for the cluster: each message must be on disk once)"
        )
    return [*loud, *figures.problems(result.figures)]


def report(result: ClusterResult) -> str:
    setup = result.setup
    per_node = (
        f" ({-(-result.clients // setup.nodes)} per node)" if setup.nodes > 1 else ""
    )
    redis = f", Redis {result.redis_version}" if setup.redis else ""
    title = (
        f"cluster, {setup.title}{redis}: {result.front} front, {result.clients} "
        f"clients in #{ROOM}{per_node}, {result.senders} senders x "
        f"{result.messages} messages, window {result.window}, {result.procs} "
        "generator process" + ("es" if result.procs > 1 else "")
    )
    return figures.report(title, _lines(result), result.notes, _problems(result))


def summary(results: Sequence[ClusterResult]) -> str:
    """One row per setup."""
    header = (
        f"{'setup':<9}{'deliveries/s':>13}{'per srv CPU-s':>15}{'p50 ms':>8}"
        f"{'p99 same':>10}{'p99 cross':>11}{'lost':>6}{'dup':>5}{'order':>7}"
        f"{'redis/msg':>11}{'per busiest node CPU-s':>24}"
    )
    rows = [header]
    for result in results:
        f = result.figures
        per = result.redis_commands_per_message
        rows.append(
            f"{result.label:<9}{f.deliveries_per_second:>13,.0f}"
            f"{figures.count(f.deliveries_per_server_cpu_second):>15}"
            f"{figures.ms(f.latency_p50_ms):>8}"
            f"{figures.ms(result.same_node_p99_ms):>10}"
            f"{figures.ms(result.cross_node_p99_ms):>11}"
            f"{f.lost:>6,}{f.duplicated:>5,}{result.out_of_order:>7,}"
            f"{'-' if per is None else f'{per:.2f}':>11}"
            f"{figures.count(result.busiest_node_rate):>24}"
        )
    return "\n".join(rows)


def verdicts(results: Sequence[ClusterResult]) -> list[str]:
    """
    The targets: the most nodes' wall-clock rate over one node's (with Redis,
    and over today's single node), and each cluster's cross-node p99 over
    its same-node p99.
    """
    by_label = {result.label: result for result in results}
    lines = []
    cluster = [result for result in results if result.setup.redis]
    one = next((r for r in cluster if r.setup.nodes == 1), None)
    most = max(cluster, key=lambda r: r.setup.nodes, default=None)
    if most is not None and most.setup.nodes > 1:
        rate = most.figures.deliveries_per_second
        for base in (one, by_label.get("single")):
            if base is None or not base.figures.deliveries_per_second:
                continue
            speedup = rate / base.figures.deliveries_per_second
            target = (
                f" (target >= {TARGET_SPEEDUP}x at 500 clients: "
                + ("met" if speedup >= TARGET_SPEEDUP else "NOT MET")
                + ")"
                if base is one
                else ""
            )
            lines.append(
                f"wall-clock rate, {most.label} / {base.label}: {rate:,.0f} / "
                f"{base.figures.deliveries_per_second:,.0f} = {speedup:.2f}x{target}"
            )
    if one is not None and most is not None and most.setup.nodes > 1:
        mine, theirs = most.busiest_node_rate, one.busiest_node_rate
        if mine and theirs:
            lines.append(
                f"deliveries per busiest node's CPU-second, {most.label} / "
                f"{one.label}: {mine:,.0f} / {theirs:,.0f} = {mine / theirs:.2f}x "
                "(the wall-clock ratio with a free core per node, derived from "
                "CPU time)"
            )
    for result in cluster:
        same, cross = result.same_node_p99_ms, result.cross_node_p99_ms
        if same and cross is not None:
            ratio = cross / same
            lines.append(
                f"p99 cross-node / same-node, {result.label}: {cross:.2f} / "
                f"{same:.2f} ms = {ratio:.2f}x (target <= {TARGET_CROSS_P99}x: "
                + ("met" if ratio <= TARGET_CROSS_P99 else "NOT MET")
                + ")"
            )
    return lines


def as_json(result: ClusterResult) -> dict[str, Any]:
    out = figures.as_json(result)
    out.pop("setup")
    out.update(
        label=result.label,
        nodes=result.setup.nodes,
        redis=result.setup.redis,
        out_of_order=result.out_of_order,
        busiest_node_rate=result.busiest_node_rate,
        faultless=result.faultless,
    )
    return out


# The command line


def _nodes(value: str) -> tuple[int, ...]:
    if not value.strip():
        return ()  # today's single node only
    try:
        counts = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: node counts separated by commas, such as 1,2"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: each count at least 1")
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1] if __doc__ else ""
    )
    parser.add_argument(
        "--nodes",
        type=_nodes,
        default=DEFAULT_NODES,
        help="cluster sizes to run, each with its own Redis (default 1,2; "
        "--nodes= for none)",
    )
    parser.add_argument(
        "--no-single",
        action="store_true",
        help="skip the run of today's single node without Redis",
    )
    parser.add_argument("--front", choices=FRONTS, default=DEFAULT_FRONT)
    parser.add_argument("--clients", type=int, default=500, help="clients in the room")
    parser.add_argument("--senders", type=int, default=10, help="clients that send")
    parser.add_argument("--messages", type=int, default=500, help="messages per sender")
    parser.add_argument(
        "--window", type=int, default=10, help="messages in flight per sender"
    )
    parser.add_argument("--procs", type=int, default=1, help="load-generator processes")
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
        help="record node 0 with py-spy during each send phase, into "
        "NAME-<setup>.EXT (speedscope)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="end with one JSON line: an object per setup, by its label",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    plan = Plan(
        clients=options.clients,
        senders=options.senders,
        messages=options.messages,
        window=options.window,
        procs=options.procs,
        timeout=options.timeout,
        stall=options.stall,
    )
    try:
        plan.check()
    except ValueError as e:
        parser.error(str(e))
    chosen = setups(options.nodes, not options.no_single)
    if not chosen:
        parser.error("nothing to run: --no-single and no --nodes")
    for setup in chosen:
        if setup.nodes > plan.clients:
            parser.error(f"{setup.nodes} nodes need at least as many clients")
    outcome = guarded(
        "cluster",
        lambda: run(
            plan,
            options.front,
            chosen,
            shlex.split(options.server_args),
            keep_logs=options.keep_logs,
            profile=options.profile,
            progress=True,
        ),
    )
    if isinstance(outcome, int):
        return outcome
    results = outcome
    print(summary(results), flush=True)
    for line in verdicts(results):
        print(line, flush=True)
    if options.json:
        print(json.dumps({result.label: as_json(result) for result in results}))
    return 0 if all(result.faultless for result in results) else 3


if __name__ == "__main__":
    sys.exit(main())
