"""
Fan-out benchmark: how fast the server relays one room's messages to everyone in it.

What it measures: N line-front clients sit in #general; S of them send M
messages each; every message must reach the N-1 other members. The figures are
deliveries per second of wall time, deliveries per second of *server* CPU time,
delivery latency (p50, p99, max), losses and duplicates, the time N clients take
to connect and be named, the server's memory, and how busy the load generator
itself was, so that a generator-bound run is not mistaken for a server limit.

How: the script starts the real server (C{twistd -n twistedchat} from the same
bin directory as this Python, on 127.0.0.1 port 0, in a temporary directory)
running the source tree this script sits in (on C{PYTHONPATH}, as the
end-to-end tests do), not a possibly stale installed copy.
The server keeps its normal logging (one info line per relayed message is part
of its real cost) but to a file, so that a terminal never throttles it; the
port is read from that log. The load is generated in this process with Twisted
clients over loopback TCP, in three phases:

 1. connect: the N clients connect at once and each sends C{NICK b<K>}; the
    connect time ends when every client has its nick confirmed. Each client then
    asks C{NAMES} and must see all N nicks; the answer also drains the
    nick-change notices so they do not spill into the measurement.
 2. send: clients b0..b<S-1> send C{MSG <K>:<seq>:<t>}, C{t} being the
    generator's C{perf_counter_ns} at sending. A sender keeps at most W messages
    in flight; a message is in flight until all N-1 other clients have received
    it. Each receiver takes one timestamp per chunk read from its socket and
    records latency = arrival - t (same clock, same process), duplicates (the
    same sender and seq twice at one receiver) and, at the end, lost = S*M*(N-1)
    minus the unique deliveries. Wall time runs from the first send to the last
    delivery. The phase ends when every message is delivered, when nothing has
    arrived for C{--stall} seconds (a lost message holds its window slot
    forever) or after C{--timeout} seconds.
 3. around the send phase the server's CPU time (utime+stime from
    C{/proc/<pid>/stat}) and the generator's (C{time.process_time}) are sampled;
    the server's RSS is read from C{/proc/<pid>/status} after it.

Latency includes the generator's own queueing: when the generator's CPU time
approaches the wall time, it was the bottleneck and the server figures are lower
bounds. Linux only (C{/proc}). Usage: C{python benchmarks/fanout.py --help}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from typing import Protocol as TypingProtocol

from twisted.internet import defer
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import ITCPTransport, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

ROOT = Path(__file__).resolve().parent.parent  # the source tree under test
HOST = "127.0.0.1"
ROOM = "general"
LISTENING = re.compile(rb"line front listening on \S+ port (\d+)")
# Lines in the server's log that deserve a look (twistd writes [namespace#level]).
LOG_PROBLEM = re.compile(rb"#(?:warn|error|critical)\]|Traceback|Unhandled")
SECOND_NS = 1_000_000_000
MIB = 1024 * 1024
SATURATED = 0.9  # CPU time / wall time at or above this: that process was busy

T = TypeVar("T")


class BenchmarkFailed(Exception):
    """The benchmark could not run (server did not start, clients not connected...)."""


class NoProgress(BenchmarkFailed):
    """The send phase ended without a single delivery."""


# The server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int


def server_environment() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def twistd_command(log_path: Path, server_args: Sequence[str]) -> list[str]:
    twistd = Path(sys.executable).parent / "twistd"
    if not twistd.exists():
        raise BenchmarkFailed(f"no twistd next to {sys.executable}")
    return [
        str(twistd),
        "-n",
        "--pidfile=",
        f"--logfile={log_path}",
        "twistedchat",
        "--host",
        HOST,
        "--port",
        "0",
        "--framed-port",
        "0",
        "--irc-port",
        "0",
        # The benchmark floods on purpose, from one address.
        "--flood-rate",
        "0",
        "--max-per-address",
        "0",
        *server_args,
    ]


@contextmanager
def running_server(
    directory: Path, server_args: Sequence[str], timeout: float
) -> Iterator[Server]:
    """Run the server in C{directory} until the block ends, whatever happens."""
    log_path = directory / "server.log"
    output_path = directory / "server.out"
    command = twistd_command(log_path, server_args)
    with output_path.open("wb") as output:
        # A session of its own: Ctrl+C reaches only us, and we stop the server.
        process = subprocess.Popen(
            command,
            cwd=directory,
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = await_port(process, log_path, output_path, timeout)
        yield Server(process, port)
    finally:
        stop_server(process, timeout)


def await_port(
    process: subprocess.Popen[bytes], log_path: Path, output_path: Path, timeout: float
) -> int:
    """The port the server announces in its log; blocks (before the reactor runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.exists():
            found = LISTENING.search(log_path.read_bytes())
            if found:
                return int(found.group(1))
        if process.poll() is not None:
            raise BenchmarkFailed(
                f"server exited with status {process.returncode} before listening:\n"
                + _tail(output_path)
                + _tail(log_path)
            )
        time.sleep(0.02)
    raise BenchmarkFailed(
        f"server not listening after {timeout:g} s:\n" + _tail(log_path)
    )


def _tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    text = path.read_text("utf-8", "replace").splitlines()[-lines:]
    return "".join(f"  | {line}\n" for line in text)


def stop_server(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_cpu_seconds(pid: int) -> float:
    """utime + stime of C{pid} (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields are counted after the command name, which may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_memory_mib(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory (VmRSS, VmHWM) of C{pid}, in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / MIB
    return values.get("VmRSS", math.nan), values.get("VmHWM", math.nan)


@dataclass
class LogReport:
    bytes: int
    problems: int
    samples: list[str]
    shut_down: bool


def scan_log(directory: Path) -> LogReport:
    """Size of the server's log (rotated parts included) and lines worth a look."""
    size, problems = 0, 0
    samples: list[str] = []
    paths = [*sorted(directory.glob("server.log*")), directory / "server.out"]
    for path in paths:
        if not path.exists():
            continue
        data = path.read_bytes()
        size += len(data)
        for line in data.splitlines():
            if LOG_PROBLEM.search(line):
                problems += 1
                if len(samples) < 5:
                    samples.append(line.decode("utf-8", "replace")[:300])
    log = directory / "server.log"
    shut_down = log.exists() and log.read_bytes().rstrip().endswith(
        b"Server Shut Down."
    )
    return LogReport(size, problems, samples, shut_down)


# The load generator


@dataclass(frozen=True)
class Plan:
    clients: int
    senders: int
    messages: int
    window: int
    timeout: float
    stall: float

    def check(self) -> None:
        if self.clients < 2:
            raise ValueError("need at least 2 clients (one to send, one to receive)")
        if not 1 <= self.senders <= self.clients:
            raise ValueError("senders must be between 1 and the number of clients")
        if self.messages < 1 or self.window < 1:
            raise ValueError("messages and window must be at least 1")
        if self.timeout <= 0 or self.stall <= 0:
            raise ValueError("timeout and stall must be positive")

    @property
    def expected(self) -> int:
        return self.senders * self.messages * (self.clients - 1)


class Tally:
    """
    What the receivers saw, and the senders' windows.

    C{waiting[sender][seq]} counts the receivers still owed a message; when it
    reaches zero the message leaves its sender's window.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        others = plan.clients - 1
        self.waiting = [[others] * plan.messages for _ in range(plan.senders)]
        self.seen = [
            [bytearray(plan.messages) for _ in range(plan.senders)]
            for _ in range(plan.clients)
        ]
        self.latencies: list[int] = []
        self.unique = 0
        self.duplicates = 0
        self.unexpected = 0  # garbled, unknown sender or seq, or echoed to its sender
        self.server_errors: list[str] = []
        self.dropped = 0  # connections lost before the end
        self.completed = 0  # messages every other client has received
        self.sent = 0
        self.first_send_ns = 0
        self.last_delivery_ns = 0
        self.windows: list[SenderWindow] = []
        self.finished: Deferred[str] = Deferred()

    def record(
        self, receiver: int, sender: int, seq: int, sent_ns: int, now: int
    ) -> None:
        if not (0 <= sender < self.plan.senders and 0 <= seq < self.plan.messages):
            self.unexpected += 1
            return
        if receiver == sender:
            self.unexpected += 1
            return
        row = self.seen[receiver][sender]
        if row[seq]:
            self.duplicates += 1
            return
        row[seq] = 1
        self.unique += 1
        self.latencies.append(now - sent_ns)
        self.last_delivery_ns = now
        waiting = self.waiting[sender]
        waiting[seq] -= 1
        if waiting[seq] == 0:
            self.completed += 1
            if self.completed == self.plan.senders * self.plan.messages:
                self.finish("completed")
            else:
                self.windows[sender].slot_freed()

    def finish(self, outcome: str) -> None:
        if not self.finished.called:
            self.finished.callback(outcome)


class SenderWindow:
    """One sender: at most C{window} messages in flight."""

    def __init__(self, client: BenchClient, index: int, tally: Tally) -> None:
        self.client = client
        self.index = index
        self.tally = tally
        self.next_seq = 0
        self.in_flight = 0

    def fill(self) -> None:
        plan = self.tally.plan
        while self.in_flight < plan.window and self.next_seq < plan.messages:
            self.client.send_message(self.index, self.next_seq)
            self.next_seq += 1
            self.in_flight += 1
            self.tally.sent += 1

    def slot_freed(self) -> None:
        self.in_flight -= 1
        self.fill()


class Counts(TypingProtocol):
    """What a counting client reports to: its run's tally."""

    unexpected: int

    def record(
        self, receiver: int, sender: int, seq: int, sent_ns: int, now: int
    ) -> None: ...


class CountingClient(Protocol):
    """
    A line-front client that counts the benchmark's messages it receives:
    C{[<NICK_PREFIX><k>] <k>:<seq>:<send time ns>}. Subclasses handle the
    C{[server]} lines (C{server_line}) and what they send.
    """

    MAX_LENGTH = 1 << 20  # a NAMES answer is one line of every nick
    NICK_PREFIX: ClassVar[bytes]
    wire: ITransport
    _buffer = b""
    _now = 0
    _names: Deferred[list[str]] | None = None

    tally: Counts

    def __init__(self, index: int, tally: Counts) -> None:
        self.index = index
        self.tally = tally

    def ask_names(self) -> Deferred[list[str]]:
        self._names = Deferred()
        self.wire.write(b"NAMES\n")
        return self._names

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
        if line.startswith(b"[" + self.NICK_PREFIX):
            head, _, body = line.partition(b"] ")
            fields = body.split(b":")
            if len(fields) != 3 or fields[0] != head[1 + len(self.NICK_PREFIX) :]:
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
        raise NotImplementedError


class BenchClient(CountingClient):
    """One line-front client: names itself, then counts what it receives."""

    NICK_PREFIX = b"b"
    tally: Tally

    def __init__(self, index: int, tally: Tally) -> None:
        super().__init__(index, tally)
        self.nick = f"b{index}"
        self._confirmation = f'you are now known as "{self.nick}"'.encode()
        self.named: Deferred[None] = Deferred()
        self.is_named = False
        self.gone: Deferred[None] = Deferred()
        self.closing = False

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.wire = self.transport
        if ITCPTransport.providedBy(self.wire):
            self.wire.setTcpNoDelay(True)
        self.wire.write(f"NICK {self.nick}\n".encode())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.closing:
            self.tally.dropped += 1
        if not self.named.called:
            self.named.errback(BenchmarkFailed(f"{self.nick}: connection lost"))
        if self._names is not None and not self._names.called:
            self._names.errback(BenchmarkFailed(f"{self.nick}: connection lost"))
        self.gone.callback(None)

    def send_message(self, sender: int, seq: int) -> None:
        self.wire.write(b"MSG %d:%d:%d\n" % (sender, seq, time.perf_counter_ns()))

    def server_line(self, text: bytes) -> None:
        if text == self._confirmation:
            self.is_named = True
            if not self.named.called:
                self.named.callback(None)
        elif text.startswith(b"error: "):
            self.tally.server_errors.append(f"{self.nick}: {text.decode()}")
            if not self.named.called:
                self.named.errback(BenchmarkFailed(f"{self.nick}: {text.decode()}"))
        elif self._names is not None and not self._names.called and b'"' not in text:
            # Once every client is named, the only quote-free server line is NAMES.
            self._names.callback(text.decode().split())


@dataclass
class Measurement:
    outcome: str
    connect_seconds: float
    wall_seconds: float
    server_cpu_seconds: float
    generator_cpu_seconds: float
    server_rss_mib: float
    server_peak_rss_mib: float
    unclosed: int


async def within(reactor: Any, seconds: float, what: str, work: Deferred[T]) -> T:
    timed_out = BenchmarkFailed(f"{what}: not done after {seconds:g} s")
    try:
        return await work.addTimeout(seconds, reactor)
    except defer.TimeoutError:
        raise timed_out from None
    except defer.FirstError as e:  # one client failed, or the timeout cancelled all
        if e.subFailure.check(defer.CancelledError):
            raise timed_out from None
        if e.subFailure.check(BenchmarkFailed):
            e.subFailure.raiseException()
        raise BenchmarkFailed(f"{what}: {e.subFailure.getErrorMessage()}") from None


async def measure(
    reactor: Any, port: int, server_pid: int, tally: Tally
) -> Measurement:
    """Connect, name, send and count; the reactor is passed in."""
    plan = tally.plan
    endpoint = TCP4ClientEndpoint(
        reactor, HOST, port, timeout=max(1, int(plan.timeout))
    )
    clients = [BenchClient(index, tally) for index in range(plan.clients)]

    start = time.perf_counter_ns()
    for client in clients:
        connectProtocol(endpoint, client).addErrback(_fail_naming, client)
    named = gatherResults([client.named for client in clients], consumeErrors=True)
    try:
        await within(reactor, plan.timeout, "connecting", named)
    except BenchmarkFailed as e:
        count = sum(1 for client in clients if client.is_named)
        raise BenchmarkFailed(
            f"{e} ({count} of {plan.clients} clients named)"
        ) from None
    connect_seconds = (time.perf_counter_ns() - start) / SECOND_NS

    nicks = {client.nick for client in clients}
    asking = [client.ask_names() for client in clients]
    listings = await within(
        reactor, plan.timeout, "NAMES", gatherResults(asking, consumeErrors=True)
    )
    for client, listing in zip(clients, listings, strict=True):
        if set(listing) != nicks:
            raise BenchmarkFailed(
                f"{client.nick} sees {len(listing)} members of #{ROOM}, "
                f"expected {plan.clients}"
            )

    tally.windows = [SenderWindow(clients[i], i, tally) for i in range(plan.senders)]
    server_cpu = server_cpu_seconds(server_pid)
    generator_cpu = time.process_time()
    tally.first_send_ns = time.perf_counter_ns()
    for window in tally.windows:
        window.fill()
    watchdog = reactor.callLater(0.25, _watch, reactor, tally)
    outcome = await tally.finished
    if watchdog.active():
        watchdog.cancel()
    server_cpu = server_cpu_seconds(server_pid) - server_cpu
    generator_cpu = time.process_time() - generator_cpu
    rss, peak = server_memory_mib(server_pid)
    end = tally.last_delivery_ns or time.perf_counter_ns()

    for client in clients:
        client.closing = True
        client.wire.loseConnection()
    gone = gatherResults([client.gone for client in clients], consumeErrors=True)
    with suppress(BenchmarkFailed):  # reported as unclosed; the server stops anyway
        await within(reactor, min(plan.timeout, 10), "closing", gone)
    return Measurement(
        outcome=outcome,
        connect_seconds=connect_seconds,
        wall_seconds=(end - tally.first_send_ns) / SECOND_NS,
        server_cpu_seconds=server_cpu,
        generator_cpu_seconds=generator_cpu,
        server_rss_mib=rss,
        server_peak_rss_mib=peak,
        unclosed=sum(1 for client in clients if not client.gone.called),
    )


def _fail_naming(failure: Failure, client: BenchClient) -> None:
    if not client.named.called:
        client.named.errback(failure)


def _watch(reactor: Any, tally: Tally) -> None:
    """End the send phase when it stalls or overruns; check again soon otherwise."""
    now = time.perf_counter_ns()
    plan = tally.plan
    if now - tally.first_send_ns >= plan.timeout * SECOND_NS:
        tally.finish("timed out")
    elif (
        now - (tally.last_delivery_ns or tally.first_send_ns) >= plan.stall * SECOND_NS
    ):
        tally.finish("stalled")
    else:
        reactor.callLater(0.25, _watch, reactor, tally)


def drive(reactor: Any, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """
    Run the reactor until C{work} ends; return its result or raise its error.

    If the reactor is stopped from outside (Ctrl+C), raise KeyboardInterrupt,
    whatever C{work} made of its connections being closed meanwhile.
    """
    outcome: list[T | Failure] = []
    interrupted: list[bool] = []

    def start() -> None:
        done = Deferred.fromCoroutine(work())
        done.addBoth(outcome.append)
        done.addBoth(stop)

    def stop(_: object) -> None:
        if not interrupted:  # else the reactor is already shutting down
            reactor.stop()

    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: interrupted.append(not outcome)
    )
    reactor.callWhenRunning(start)
    reactor.run()
    if not outcome or interrupted[:1] == [True]:
        raise KeyboardInterrupt("the reactor stopped before the benchmark ended")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


# Results


@dataclass
class FanoutResult:
    clients: int
    senders: int
    messages: int
    window: int
    outcome: str  # completed, stalled or timed out
    expected: int
    deliveries: int  # unique (sender, seq) arrivals at a receiver
    sent: int
    unsent: int
    lost: int
    duplicated: int
    unexpected: int
    dropped_connections: int
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
    server_rss_mib: float
    server_peak_rss_mib: float
    generator_cpu_seconds: float
    generator_cpu_share: float
    bottleneck: str
    server_log_bytes: int
    server_log_problems: int
    server_log_samples: list[str]
    server_exit_code: int | None
    server_shut_down: bool  # the log ends with twistd's "Server Shut Down."
    unclosed_connections: int


def percentile_ms(ordered: Sequence[int], fraction: float) -> float | None:
    """Nearest-rank percentile of nanosecond values, in milliseconds."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] / 1e6


def bottleneck(server_share: float, generator_share: float) -> str:
    shared = (os.cpu_count() or 1) < 2
    note = " (generator and server share one CPU)" if shared else ""
    if generator_share >= SATURATED:
        return (
            f"GENERATOR-BOUND: the load generator used {generator_share:.0%} of a core; "
            f"the server figures are lower bounds{note}"
        )
    if server_share >= SATURATED:
        return f"server-bound: the server used {server_share:.0%} of a core{note}"
    if server_share + generator_share >= SATURATED and not shared:
        # A message leaves its window only once the last receiver has read it,
        # so the generator tends to release a whole batch, wait for the server
        # to fan it out, and so on: two event loops taking turns.
        return (
            f"the two processes probably took turns (server {server_share:.0%} + "
            f"generator {generator_share:.0%} of a core, with a second core idle): "
            "the closed loop serialises them, so deliveries/s understates the "
            "server; its capacity is deliveries per server CPU-second"
        )
    return (
        f"neither saturated a core (server {server_share:.0%}, generator "
        f"{generator_share:.0%}): bound by latency and the window; "
        f"raise --window or --senders{note}"
    )


def summarise(
    plan: Plan,
    tally: Tally,
    measured: Measurement,
    log: LogReport,
    exit_code: int | None,
) -> FanoutResult:
    wall = measured.wall_seconds
    rate = tally.unique / wall if wall > 0 else 0.0
    server_share = measured.server_cpu_seconds / wall if wall > 0 else 0.0
    generator_share = measured.generator_cpu_seconds / wall if wall > 0 else 0.0
    per_cpu = (
        tally.unique / measured.server_cpu_seconds
        if measured.server_cpu_seconds
        else None
    )
    ordered = sorted(tally.latencies)
    return FanoutResult(
        clients=plan.clients,
        senders=plan.senders,
        messages=plan.messages,
        window=plan.window,
        outcome=measured.outcome,
        expected=plan.expected,
        deliveries=tally.unique,
        sent=tally.sent,
        unsent=plan.senders * plan.messages - tally.sent,
        lost=plan.expected - tally.unique,
        duplicated=tally.duplicates,
        unexpected=tally.unexpected,
        dropped_connections=tally.dropped,
        server_errors=tally.server_errors[:10],
        wall_seconds=wall,
        deliveries_per_second=rate,
        server_cpu_seconds=measured.server_cpu_seconds,
        server_cpu_share=server_share,
        deliveries_per_server_cpu_second=per_cpu,
        latency_p50_ms=percentile_ms(ordered, 0.50),
        latency_p99_ms=percentile_ms(ordered, 0.99),
        latency_max_ms=percentile_ms(ordered, 1.0),
        connect_seconds=measured.connect_seconds,
        server_rss_mib=measured.server_rss_mib,
        server_peak_rss_mib=measured.server_peak_rss_mib,
        generator_cpu_seconds=measured.generator_cpu_seconds,
        generator_cpu_share=generator_share,
        bottleneck=bottleneck(server_share, generator_share),
        server_log_bytes=log.bytes,
        server_log_problems=log.problems,
        server_log_samples=log.samples,
        server_exit_code=exit_code,
        server_shut_down=log.shut_down,
        unclosed_connections=measured.unclosed,
    )


def run(
    clients: int = 100,
    senders: int = 10,
    messages: int = 500,
    window: int = 10,
    timeout: float = 60.0,
    server_args: Sequence[str] = (),
    *,
    stall: float = 10.0,
    keep_logs: bool = False,
) -> FanoutResult:
    """
    Start the server, run the benchmark, stop the server and return the figures.

    Runs the global reactor, so it can be called once per process.
    """
    plan = Plan(clients, senders, messages, window, timeout, stall)
    plan.check()
    from twisted.internet import reactor

    directory = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        tally = Tally(plan)
        with running_server(directory, server_args, timeout) as server:
            pid = server.process.pid
            measured = drive(reactor, lambda: measure(reactor, server.port, pid, tally))
        result = summarise(
            plan, tally, measured, scan_log(directory), server.process.returncode
        )
    finally:
        if keep_logs:
            print(f"server log kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if tally.unique == 0:
        raise NoProgress(
            f"the send phase {measured.outcome} without a single delivery"
            + "".join(f"\n  server log: {line}" for line in result.server_log_samples)
        )
    return result


def report(result: FanoutResult) -> str:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    per_cpu = result.deliveries_per_server_cpu_second
    lines = [
        f"fan-out: {result.clients} clients in #{ROOM}, {result.senders} senders x "
        f"{result.messages} messages, window {result.window}",
        f"  outcome            {result.outcome}",
        f"  deliveries         {result.deliveries:,} of {result.expected:,} expected",
        f"  wall               {result.wall_seconds:.3f} s (first send to last delivery)",
        f"  deliveries/s       {result.deliveries_per_second:,.0f} (wall)",
        "  per server CPU-s   "
        + ("n/a" if per_cpu is None else f"{per_cpu:,.0f} deliveries")
        + f" (server CPU {result.server_cpu_seconds:.2f} s = "
        f"{result.server_cpu_share:.0%} of one core)",
        f"  latency ms         p50 {ms(result.latency_p50_ms)}  "
        f"p99 {ms(result.latency_p99_ms)}  max {ms(result.latency_max_ms)}",
        f"  lost               {result.lost:,}",
        f"  duplicated         {result.duplicated:,}",
        f"  connect            {result.connect_seconds:.3f} s "
        f"({result.clients} clients connected and named)",
        f"  server RSS         {result.server_rss_mib:.1f} MiB "
        f"(peak {result.server_peak_rss_mib:.1f} MiB)",
        f"  generator CPU      {result.generator_cpu_seconds:.2f} s = "
        f"{result.generator_cpu_share:.0%} of wall",
        f"  bottleneck         {result.bottleneck}",
        f"  server log         {result.server_log_bytes / MIB:.1f} MiB, "
        f"{result.server_log_problems} warning/error lines",
    ]
    notes = []
    if result.clients > 50 and result.connect_seconds >= 0.9:
        notes.append(
            f"connecting took {result.connect_seconds:.2f} s: probably SYN retries "
            "on a full listen queue (Twisted listens with a backlog of 50); compare "
            '--server-args="--line tcp:0:interface=127.0.0.1:backlog=1024"'
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
        loud.append(f"{result.unexpected:,} garbled or misaddressed message lines")
    if result.dropped_connections:
        loud.append(f"{result.dropped_connections} connections dropped during the run")
    if result.unclosed_connections:
        loud.append(
            f"{result.unclosed_connections} connections did not close at the end"
        )
    loud.extend(f"server error reply: {text}" for text in result.server_errors)
    # twistd stopped by SIGTERM shuts down cleanly, then exits by that signal.
    if (
        result.server_exit_code not in (0, -signal.SIGTERM)
        or not result.server_shut_down
    ):
        loud.append(
            f"server exited with status {result.server_exit_code}, "
            + ("after" if result.server_shut_down else "WITHOUT")
            + " a clean shutdown"
        )
    loud.extend(f"server log: {line}" for line in result.server_log_samples)
    lines.extend(f"  note: {text}" for text in notes)
    lines.extend(f"!!! {text}" for text in loud)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1] if __doc__ else ""
    )
    parser.add_argument("--clients", type=int, default=100, help="clients in the room")
    parser.add_argument("--senders", type=int, default=10, help="clients that send")
    parser.add_argument("--messages", type=int, default=500, help="messages per sender")
    parser.add_argument(
        "--window", type=int, default=10, help="messages in flight per sender"
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
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the server's log directory"
    )
    options = parser.parse_args(argv)
    try:
        Plan(
            options.clients,
            options.senders,
            options.messages,
            options.window,
            options.timeout,
            options.stall,
        ).check()
    except ValueError as e:
        parser.error(str(e))
    try:
        result = run(
            options.clients,
            options.senders,
            options.messages,
            options.window,
            options.timeout,
            shlex.split(options.server_args),
            stall=options.stall,
            keep_logs=options.keep_logs,
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
    print(report(result), flush=True)
    if options.json:
        print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
