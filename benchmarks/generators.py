"""
The load generators: processes that hold a benchmark's clients, and the phases
the coordinator takes them through while it watches the server.

A benchmark's clients live in generator processes forked from the coordinator
(this process, which runs no reactor of its own): each runs its own reactor
and a workload of the benchmark's, an object whose C{command_<phase>}
coroutines run one phase each and return what to report, a dict that crosses
the pipe. L{measure} tells every process to run a phase and waits for all of
them, phase by phase: idle connections (if any), connect, names, arm, send,
settle, close. Around the phases it samples the server from C{/proc}: memory
at the start, after the idle connections, once connected and after sending;
CPU time over connecting and over sending. What the workloads share (making
their clients connect and register, checking who is in a room, closing) is
here too; L{figures} turns the replies into a benchmark's figures.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from harness import (
    SECOND_NS,
    BenchmarkFailed,
    drive,
    server_cpu_seconds,
    server_memory_mib,
    within,
)
from twisted.internet.defer import (
    Deferred,
    DeferredSemaphore,
    fail,
    gatherResults,
    succeed,
)
from twisted.internet.endpoints import connectProtocol
from twisted.internet.interfaces import (
    IDelayedCall,
    IReadDescriptor,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

Reply = dict[str, Any]
# A workload, built in the generator process from that process's reactor.
Workload = Callable[[Any], object]


# Inside a generator process


class Client(Protocol):
    """A benchmark client, as the helpers below see it."""

    nick: str
    ready: Deferred[None]  # fires once registered (and in its room)
    is_ready: bool
    gone: Deferred[None]  # fires once its connection is lost
    closing: bool  # set before closing: a lost connection is no drop then


def _connect_failed(failure: Failure, client: Client) -> None:
    if not client.ready.called:
        client.ready.errback(failure)


def register(endpoint: IStreamClientEndpoint, client: Client) -> Deferred[None]:
    """Connect C{client}; the result fires once it is registered."""
    assert isinstance(client, TwistedProtocol)
    connectProtocol(endpoint, client).addErrback(_connect_failed, client)
    return client.ready


async def register_all(
    reactor: Any,
    endpoint: IStreamClientEndpoint,
    clients: Sequence[Client],
    *,
    timeout: float,
    what: str,
    concurrency: int | None = None,
    route: Callable[[Client], IStreamClientEndpoint] | None = None,
) -> Reply:
    """
    Register C{clients}, at most C{concurrency} at once (None: all at once),
    each at C{endpoint} or, with C{route}, at the endpoint it gives for that
    client (one of several servers); when they started and ended, and the CPU
    time this process spent.
    """
    cpu = time.process_time()
    start = time.perf_counter_ns()

    def to(client: Client) -> IStreamClientEndpoint:
        return endpoint if route is None else route(client)

    if concurrency is None:
        registering = [register(to(client), client) for client in clients]
    else:
        gate = DeferredSemaphore(concurrency)
        registering = [gate.run(register, to(client), client) for client in clients]
    try:
        await within(
            reactor, timeout, what, gatherResults(registering, consumeErrors=True)
        )
    except BenchmarkFailed as e:
        count = sum(1 for client in clients if client.is_ready)
        raise BenchmarkFailed(
            f"{e} ({count} of this process's {len(clients)} clients ready)"
        ) from None
    return {
        "start_ns": start,
        "end_ns": time.perf_counter_ns(),
        "cpu_seconds": time.process_time() - cpu,
    }


async def check_names(
    reactor: Any,
    asking: Sequence[tuple[Client, str, Deferred[set[str]]]],
    members: Callable[[Client], set[str]],
    timeout: float,
) -> Reply:
    """
    Each client's answer to its question (who is in its room) must be
    C{members(client)}: (client, its room, the answer) for each.
    """
    answers = gatherResults([answer for _, _, answer in asking], consumeErrors=True)
    listings = await within(reactor, timeout, "names", answers)
    for (client, room, _), listing in zip(asking, listings, strict=True):
        wanted = members(client)
        if listing != wanted:
            extra = sorted(listing - wanted)[:5]
            raise BenchmarkFailed(
                f"{client.nick} sees {len(listing)} members of #{room}, "
                f"expected {len(wanted)}"
                + (f" (e.g. {', '.join(extra)})" if extra else "")
            )
    return {}


async def close_all(reactor: Any, clients: Sequence[Client], timeout: float) -> int:
    """Close every client's connection; how many did not close in time."""
    for client in clients:
        client.closing = True
        assert isinstance(client, TwistedProtocol)
        if client.transport is not None:
            client.transport.loseConnection()
    gone = gatherResults([client.gone for client in clients], consumeErrors=True)
    with suppress(BenchmarkFailed):  # reported as unclosed; the server stops anyway
        await within(reactor, timeout, "closing", gone)
    return sum(1 for client in clients if not client.gone.called)


class Sending(Protocol):
    """What a workload's tally knows of a send phase."""

    first_send_ns: int
    last_delivery_ns: int
    sent: int


async def send_outcome(
    finished: Deferred[str], timer: IDelayedCall, tally: Sending, cpu: float
) -> Reply:
    """
    The send phase's reply once C{finished} gives its outcome: C{timer} (a
    watchdog, a deadline) is cancelled, C{cpu} is this process's CPU time
    when the phase began.
    """
    outcome = await finished
    if timer.active():
        timer.cancel()
    return {
        "outcome": outcome,
        "cpu_seconds": time.process_time() - cpu,
        "first_send_ns": tally.first_send_ns,
        "last_delivery_ns": tally.last_delivery_ns,
        "sent": tally.sent,
    }


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


async def _answer(workload: object, name: str) -> tuple[str, Any]:
    """Run the phase C{name} of C{workload}: ("ok", its reply) or ("failed", why)."""
    handler = getattr(workload, f"command_{name}", None)
    try:
        if handler is None:
            raise BenchmarkFailed(f"unknown command {name!r}")
        return "ok", await handler()
    except BenchmarkFailed as e:
        return "failed", str(e)
    except Exception:
        return "failed", traceback.format_exc()


def generate(build: Workload, connection: Connection) -> None:
    """A generator process's life: run commands until told to close, or failed."""
    from twisted.internet import reactor

    async def serve() -> None:
        workload = build(reactor)
        commands = Commands(reactor, connection)
        while True:
            name = await commands.next()
            status, reply = await _answer(workload, name)
            connection.send((status, reply))
            if status != "ok" or name == "close":
                return

    # The coordinator reports the failure (the pipe closed, or Ctrl+C).
    with suppress(KeyboardInterrupt, BenchmarkFailed):
        drive(reactor, serve)


# In the coordinator


class Generators:
    """The generator processes, as this process drives them: one command at a time."""

    def __init__(self, workloads: Sequence[Workload], name: str) -> None:
        # Forked: this process has no reactor yet, so each child makes its own.
        context = multiprocessing.get_context("fork")
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.connections: list[Connection] = []
        for number, build in enumerate(workloads):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=generate,
                args=(build, theirs),
                name=f"{name}-generator-{number}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.processes.append(process)
            self.connections.append(mine)

    def command(self, name: str, timeout: float) -> list[Reply]:
        """Tell every process to run C{name}; wait for all their replies."""
        for connection in self.connections:
            connection.send(name)
        replies: dict[int, Reply] = {}
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
                if connection in ready:
                    del pending[number]
                    replies[number] = self._reply(name, number, connection)
        return [replies[number] for number in range(len(self.connections))]

    def _reply(self, name: str, number: int, connection: Connection) -> Reply:
        try:
            status, payload = connection.recv()
        except EOFError:
            code = self.processes[number].exitcode
            raise BenchmarkFailed(
                f"{name}: generator process {number} exited (status {code})"
            ) from None
        if status != "ok":
            raise BenchmarkFailed(f"generator process {number}: {payload}")
        return dict(payload)

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
def generator_processes(
    workloads: Sequence[Workload], name: str
) -> Iterator[Generators]:
    generators = Generators(workloads, name)
    try:
        yield generators
    finally:
        generators.stop()


@dataclass(frozen=True)
class Phases:
    """How long each phase may take, in seconds; whether there are idle connections."""

    timeout: float  # connect, names, arm, settle and close
    send: float
    idle: float | None = None  # None: no idle phase


@dataclass
class Measurement:
    """The server as sampled around the phases, and every process's replies."""

    server_rss_start_mib: float = 0.0
    server_rss_idle_mib: float = 0.0
    idle: list[Reply] = field(default_factory=list)
    connected: list[Reply] = field(default_factory=list)
    connect_server_cpu_seconds: float = 0.0
    server_rss_connected_mib: float = 0.0
    send: list[Reply] = field(default_factory=list)
    server_cpu_seconds: float = 0.0
    server_rss_mib: float = 0.0
    server_peak_rss_mib: float = 0.0
    settled: list[Reply] = field(default_factory=list)
    closed: list[Reply] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def span_seconds(replies: Sequence[Reply]) -> float:
    """From the first process's start to the last one's end."""
    if not replies:
        return 0.0
    start = min(reply["start_ns"] for reply in replies)
    return float(max(reply["end_ns"] for reply in replies) - start) / SECOND_NS


def measure(
    generators: Generators,
    pid: int,
    phases: Phases,
    during_send: AbstractContextManager[list[str]],
    after_send: Callable[[], None] | None = None,
) -> Measurement:
    """
    Take the generators through the phases, sampling the server C{pid};
    C{during_send} is entered around the send phase (a profiler) and yields
    notes for the report; C{after_send}, if given, runs once the send phase
    is measured and before the generators settle (to stop the server while
    they are still sending, say).
    """
    measured = Measurement()
    measured.server_rss_start_mib = server_memory_mib(pid)[0]
    if phases.idle is not None:
        measured.idle = generators.command("idle", phases.idle)
        measured.server_rss_idle_mib = server_memory_mib(pid)[0]
    cpu = server_cpu_seconds(pid)
    measured.connected = generators.command("connect", phases.timeout)
    measured.connect_server_cpu_seconds = server_cpu_seconds(pid) - cpu
    generators.command("names", phases.timeout)
    measured.server_rss_connected_mib = server_memory_mib(pid)[0]
    generators.command("arm", phases.timeout)
    with during_send as notes:
        cpu = server_cpu_seconds(pid)
        measured.send = generators.command("send", phases.send)
        measured.server_cpu_seconds = server_cpu_seconds(pid) - cpu
    measured.notes = notes
    measured.server_rss_mib, measured.server_peak_rss_mib = server_memory_mib(pid)
    if after_send is not None:
        after_send()
    measured.settled = generators.command("settle", phases.timeout)
    measured.closed = generators.command("close", phases.timeout)
    return measured
