"""
Every core of one machine: C{twistd twistedchat --workers N}, one parent and N
worker nodes sharing the fronts' listening sockets.

The parent opens each front's listening socket once, while the server starts
(so a port in use stops it with the usual one line, before anything runs),
then never accepts on them: it spawns N children, the same twistd with the
same settings, each handed the sockets as inherited file descriptors
(C{childFDs}, named in L{FRONTS_ENV}). A child is an ordinary cluster node
whose fronts adopt those sockets (C{adoptStreamPort}) instead of listening:
the kernel hands each new connection to whichever worker accepts it first,
and a connection that arrives while a worker restarts waits in the shared
backlog instead of being refused. We adopt inherited sockets rather than
binding each worker with C{SO_REUSEPORT} because the port is then opened once:
port 0 means one port for all, a port in use is one error before anything
starts, and no worker binds a port another program took in between; the
fronts' factories are unchanged either way. (Several services of one
systemd socket unit need nothing of this module: Twisted's own C{systemd:}
endpoints adopt the sockets systemd passes, see docs/SCALING.md.)

The parent runs no chat: it supervises. A child that ends is started again
after a delay that doubles while children keep failing (L{RestartDelay});
SIGTERM or SIGINT to the parent stops the children with SIGTERM and waits
for them (SIGKILL after L{STOP_TIMEOUT}); each child's log events reach the
parent's log as structured lines on its standard output, prefixed with its
worker number. A child whose parent vanishes (SIGKILL) sees its standard
input close and stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet import fdesc
from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ReactorNotRunning
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IProtocolFactory,
    IReadDescriptor,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.logger import (
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    eventAsText,
)
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from ..server.options import SETTINGS
from ..server.startup import FrontListener, StartupError
from ..server.tap import AnnouncedEndpoint, build_service, front_endpoints, listen_now

log = Logger()

# Set in a worker's environment by its parent: its number (1 to N), and which
# inherited descriptor is which front's socket ("line=3,framed=4,...").
WORKER_ENV = "TWISTEDCHAT_WORKER"
FRONTS_ENV = "TWISTEDCHAT_FRONT_SOCKETS"
# The first descriptor after standard input, output and error.
FIRST_SOCKET = 3

# A child that ran this long before it ended was fine: the next delay is the
# first again. Delays double from FIRST_DELAY up to LAST_DELAY.
FIRST_DELAY = 1.0
LAST_DELAY = 30.0
STABLE_AFTER = 10.0
# How long the parent waits for its children to stop before SIGKILL; longer
# than a worker's own stop (the history's HISTORY_STOP_RETRY, default 5 s).
STOP_TIMEOUT = 30.0
# A child's log line longer than this is cut (the parent's memory is bounded).
MAX_LOG_LINE = 256 * 1024
# What a child's twistd is given on its command line before the plugin name.
WORKER_LOGGER = "twistedchat.cluster.workers.worker_log_observer"


def inherited_sockets(environ: Mapping[str, str]) -> dict[str, int]:
    """
    The listening sockets a worker inherited from its parent, by front name
    (L{FRONTS_ENV}); empty for any other process. L{StartupError} when they
    cannot be read.
    """
    described = environ.get(FRONTS_ENV)
    if not described:
        return {}
    sockets: dict[str, int] = {}
    for item in described.split(","):
        name, _, number = item.partition("=")
        if not name or not number.isdigit():
            raise StartupError(
                f"the workers' parent passed unreadable sockets: {described!r}"
            )
        sockets[name] = int(number)
    return sockets


def check_inherited(sockets: Mapping[str, int], fronts: Sequence[str]) -> None:
    """L{StartupError} for an inherited socket that names no front."""
    for name in sockets:
        if name not in fronts:
            raise StartupError(
                f"an inherited socket is named {name!r}, which is no front "
                f"(the fronts are {', '.join(fronts)})"
            )


def tls_context(reactor: Any, description: str) -> Any | None:
    """
    The TLS context of an C{ssl:} endpoint description, None for any other:
    an adopted socket of an C{ssl:} front speaks TLS as the endpoint would.
    """
    endpoint = serverFromString(reactor, description)
    # The endpoint built it from the description (certificate, key, chain,
    # DH parameters...); Twisted offers no public way to read it back.
    return getattr(endpoint, "_sslContextFactory", None)


@implementer(IStreamServerEndpoint)
class AdoptedEndpoint:
    """
    A front's listening socket inherited from another process: C{listen}
    adopts it (the fronts' factories unchanged). C{tls}: the context of an
    C{ssl:} front, whose connections are then wrapped in TLS.
    """

    def __init__(
        self, reactor: Any, front: str, descriptor: int, tls: Any | None = None
    ) -> None:
        self.reactor = reactor
        self.front = front
        self.descriptor = descriptor
        self.tls = tls

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        try:
            family = self._family()
            # Twisted accepts in a loop until EAGAIN: on a blocking socket
            # the reactor would block at the last one.
            fdesc.setNonBlocking(self.descriptor)
            if self.tls is not None:
                factory = TLSMemoryBIOFactory(self.tls, False, factory)
            port: IListeningPort = self.reactor.adoptStreamPort(
                self.descriptor, family, factory
            )
        except (OSError, StartupError) as e:
            return fail(e)
        # adoptStreamPort duplicated it; ours is not needed any more.
        os.close(self.descriptor)
        return succeed(port)

    def _family(self) -> int:
        try:
            probe = socket.socket(fileno=os.dup(self.descriptor))
        except OSError as e:
            raise StartupError(
                f"the {self.front} front's inherited descriptor "
                f"{self.descriptor} is not a socket ({e.strerror})"
            ) from None
        try:
            listening = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            if probe.type != socket.SOCK_STREAM or not listening:
                raise StartupError(
                    f"the {self.front} front's inherited descriptor "
                    f"{self.descriptor} is not a listening stream socket"
                )
            return int(probe.family)
        finally:
            probe.close()


def adopting_endpoints(
    reactor: Any, sockets: Mapping[str, int]
) -> Callable[[str, str], IStreamServerEndpoint]:
    """
    What a worker's service tree asks for each front's endpoint: the socket
    its parent passed for that front.
    """

    def endpoint(front: str, description: str) -> IStreamServerEndpoint:
        if front in sockets:
            return AdoptedEndpoint(
                reactor, front, sockets[front], tls_context(reactor, description)
            )
        raise StartupError(
            f"the workers' parent passed no socket for the {front} front"
        )

    return endpoint


class RestartDelay:
    """
    How long to wait before starting a worker again: L{FIRST_DELAY}, doubled
    at each failure in a row up to L{LAST_DELAY}; a worker that ran for
    L{STABLE_AFTER} seconds starts the count again.
    """

    def __init__(
        self,
        first: float = FIRST_DELAY,
        last: float = LAST_DELAY,
        stable_after: float = STABLE_AFTER,
    ) -> None:
        self.first = first
        self.last = last
        self.stable_after = stable_after
        self._next = first

    def after_run(self, seconds: float) -> float:
        """The delay before the next start of a worker that ran C{seconds}."""
        if seconds >= self.stable_after:
            self._next = self.first
        delay = self._next
        self._next = min(self.last, delay * 2)
        return delay


class WorkerOutput(ProcessProtocol):
    """
    One worker process, as its parent sees it: its log events (JSON lines on
    standard output, see L{worker_log_observer}) and anything else it writes
    (standard error: a refusal to start, a crash) go to the parent's log with
    its number; its end is told to the pool.
    """

    def __init__(self, pool: WorkerPool, number: int) -> None:
        self.pool = pool
        self.number = number
        self.started = 0.0
        self.pid: int | None = None
        self.ended: Deferred[None] = Deferred()
        self._partial = {1: b"", 2: b""}

    def connectionMade(self) -> None:
        self.pid = self.transport.pid  # type: ignore[union-attr]

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD not in self._partial:
            return
        *lines, rest = (self._partial[childFD] + data).split(b"\n")
        if len(rest) > MAX_LOG_LINE:
            lines.append(rest[:MAX_LOG_LINE])
            rest = b""
        self._partial[childFD] = rest
        for line in lines:
            self._relay(childFD, line)

    def _relay(self, childFD: int, line: bytes) -> None:
        if childFD == 1:
            try:
                record = json.loads(line)
                level = LogLevel.levelWithName(record["level"])
                namespace = str(record["namespace"])
                text = str(record["text"])
            except (ValueError, KeyError, TypeError, AttributeError):
                level, namespace = LogLevel.info, log.namespace
                text = line.decode("utf-8", "replace")
        else:
            level, namespace = LogLevel.warn, log.namespace
            text = line.decode("utf-8", "replace")
        if not text.strip():
            return
        Logger(namespace=namespace).emit(
            level, "[worker {worker}] {text}", worker=self.number, text=text
        )

    def processEnded(self, reason: Failure) -> None:
        for childFD, rest in self._partial.items():
            if rest:
                self._relay(childFD, rest)
        self._partial = {1: b"", 2: b""}
        self.pool.worker_ended(self, reason)
        self.ended.callback(None)


class WorkerPool(Service):
    """
    N worker processes started with C{command} and C{environment} plus
    their number and the sockets, started again when they end, stopped
    with the pool. C{sockets}: front name to the parent's descriptor.
    """

    def __init__(
        self,
        reactor: Any,
        count: int,
        command: Sequence[str],
        environment: Mapping[str, str],
        sockets: Mapping[str, int],
        delay: RestartDelay | None = None,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.reactor = reactor
        self.count = count
        self.command = list(command)
        self.environment = dict(environment)
        self.sockets = dict(sockets)
        self.delay = delay or RestartDelay()
        self.stop_timeout = stop_timeout
        self.workers: dict[int, WorkerOutput] = {}
        self._restarts: dict[int, IDelayedCall] = {}
        # The parent's own ports of those sockets, kept for the pool's life
        # (were they collected, their sockets would close).
        self.ports: list[IListeningPort] = []

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        for number in range(1, self.count + 1):
            self.start_worker(number)

    def start_worker(self, number: int) -> None:
        self._restarts.pop(number, None)
        child_fds: dict[int, int | str] = {0: "w", 1: "r", 2: "r"}
        passed = []
        for offset, (front, descriptor) in enumerate(self.sockets.items()):
            child_fds[FIRST_SOCKET + offset] = descriptor
            passed.append(f"{front}={FIRST_SOCKET + offset}")
        env = dict(self.environment)
        env[WORKER_ENV] = str(number)
        env[FRONTS_ENV] = ",".join(passed)
        worker = WorkerOutput(self, number)
        worker.started = self.reactor.seconds()
        self.workers[number] = worker
        try:
            self.reactor.spawnProcess(
                worker, self.command[0], self.command, env, childFDs=child_fds
            )
        except OSError as e:
            log.error("cannot start worker {worker}: {why}", worker=number, why=e)
            del self.workers[number]
            self._start_later(number, self.delay.after_run(0))
            return
        log.info("worker {worker} started (pid {pid})", worker=number, pid=worker.pid)

    def worker_ended(self, worker: WorkerOutput, reason: Failure) -> None:
        if self.workers.get(worker.number) is worker:
            del self.workers[worker.number]
        why = _ending(reason)
        if not self.running:
            log.info(
                "worker {worker} (pid {pid}) stopped ({why})",
                worker=worker.number,
                pid=worker.pid,
                why=why,
            )
            return
        ran = self.reactor.seconds() - worker.started
        delay = self.delay.after_run(ran)
        log.warn(
            "worker {worker} (pid {pid}) ended after {ran:.1f} s: {why}; "
            "starting it again in {delay:g} s",
            worker=worker.number,
            pid=worker.pid,
            ran=ran,
            why=why,
            delay=delay,
        )
        self._start_later(worker.number, delay)

    def _start_later(self, number: int, delay: float) -> None:
        self._restarts[number] = self.reactor.callLater(
            delay, self.start_worker, number
        )

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        for call in self._restarts.values():
            call.cancel()
        self._restarts.clear()
        workers = list(self.workers.values())
        for worker in workers:
            _signal(worker, "TERM")
        if not workers:
            return succeed(None)
        log.info("stopping {count} workers", count=len(workers))
        late = self.reactor.callLater(self.stop_timeout, self._kill, workers)
        stopped = DeferredList([w.ended for w in workers])

        def done(_: object) -> None:
            if late.active():
                late.cancel()

        return stopped.addCallback(done)

    def _kill(self, workers: list[WorkerOutput]) -> None:
        for worker in workers:
            if not worker.ended.called:
                log.warn(
                    "worker {worker} (pid {pid}) still running {timeout:g} s "
                    "after SIGTERM: SIGKILL",
                    worker=worker.number,
                    pid=worker.pid,
                    timeout=self.stop_timeout,
                )
                _signal(worker, "KILL")


def _signal(worker: WorkerOutput, name: str) -> None:
    transport = worker.transport
    if transport is None:
        return
    with contextlib.suppress(ProcessExitedAlready, OSError):  # already gone
        transport.signalProcess(name)


def _ending(reason: Failure) -> str:
    """How a worker ended, as an operator reads it."""
    value = reason.value
    if isinstance(value, ProcessDone):
        return "exited with status 0"
    signal_number = getattr(value, "signal", None)
    if signal_number is not None:
        try:
            return f"killed by {signal.Signals(signal_number).name}"
        except ValueError:
            return f"killed by signal {signal_number}"
    return f"exited with status {getattr(value, 'exitCode', '?')}"


class UnusedFactory(Factory):
    """The parent's factory on its fronts' ports, where it never accepts."""

    noisy = False  # its start and stop say nothing the fronts' lines do not

    def buildProtocol(self, addr: Any) -> Protocol | None:
        return None


def worker_command(options: Mapping[str, Any], settings: Sequence[Any]) -> list[str]:
    """
    The twistd command line of a worker: this Python and twistd, in the
    foreground, no pid file, log events on standard output for the parent,
    and the parent's own settings (paths made absolute: the parent may have
    changed folder since, as a daemon does).
    """
    arguments = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "--nodaemon",
        "--pidfile=",
        f"--logger={WORKER_LOGGER}",
        "twistedchat",
    ]
    if options.get("config") is not None:
        arguments.append(f"--config={os.path.abspath(options['config'])}")
    for setting in settings:
        value = options.get(setting.option)
        if value is None:
            continue
        if setting.is_path and value:
            value = os.path.abspath(value)
        arguments.append(f"--{setting.option}={value}")
    return arguments


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment, less what was meant for the parent alone."""
    env = {
        name: value
        for name, value in environ.items()
        if name not in (WORKER_ENV, FRONTS_ENV)
    }
    # The children's log lines reach the parent whole and at once.
    env["PYTHONUNBUFFERED"] = "1"
    return env


@implementer(ILogObserver)
class WorkerLogObserver:
    """
    A worker's log: each event as one JSON line (level, namespace, text,
    traceback included) on standard output, which its parent reads.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __call__(self, event: LogEvent) -> None:
        text = eventAsText(event, includeTimestamp=False, includeSystem=False)
        level = event.get("log_level", LogLevel.info)
        record = {
            "level": getattr(level, "name", "info"),
            "namespace": event.get("log_namespace", "log_legacy"),
            "text": text,
        }
        try:
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the parent is gone; the lifeline stops this worker


def worker_log_observer() -> WorkerLogObserver:
    """The log observer twistd builds for a worker (C{--logger}, by name)."""
    return WorkerLogObserver(sys.stdout)


@implementer(IReadDescriptor)
class Lifeline(Service):
    """
    A worker's standard input, a pipe its parent holds open and never writes
    to: when it closes the parent is gone (even by SIGKILL), and the worker
    stops instead of serving on alone.
    """

    def __init__(self, reactor: Any, descriptor: int = 0) -> None:
        self.reactor = reactor
        self.descriptor = descriptor

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        fdesc.setNonBlocking(self.descriptor)
        self.reactor.addReader(self)

    def stopService(self) -> None:
        super().stopService()  # type: ignore[no-untyped-call]
        self.reactor.removeReader(self)

    def fileno(self) -> int:
        return self.descriptor

    def logPrefix(self) -> str:
        return "lifeline"

    def doRead(self) -> Any:
        return fdesc.readFromFD(self.descriptor, lambda data: None)

    def connectionLost(self, reason: Failure) -> None:
        self.reactor.removeReader(self)
        log.warn("the workers' parent is gone: stopping")
        with contextlib.suppress(ReactorNotRunning):  # stopping already
            self.reactor.stop()


def ignore_stop_signals() -> None:
    """
    Once a worker is stopping, a second SIGTERM or SIGINT (systemd's to the
    whole control group, as well as its parent's) changes nothing: its
    parent escalates.
    """
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_IGN)


def make_service(reactor: Any, options: Any) -> MultiService:
    """
    What C{twistd twistedchat --workers N} runs: the parent of N workers,
    or one of them (its parent set L{WORKER_ENV}). L{StartupError} when it
    cannot start.
    """
    settings = options.settings
    fronts = front_endpoints(settings)
    number = os.environ.get(WORKER_ENV)
    if not number:
        return make_parent(reactor, options, fronts)
    sockets = inherited_sockets(os.environ)
    check_inherited(sockets, [name for name, _ in fronts])
    top = build_service(settings, reactor, adopting_endpoints(reactor, sockets))
    listen_now(top)
    make_worker(reactor, top, number)
    return top


def make_parent(
    reactor: Any, options: Any, fronts: Sequence[tuple[str, str]]
) -> MultiService:
    """
    The workers' parent: each front's socket opened here, once (a port in
    use stops the start with the usual line), never accepted on, and the
    pool of workers that accept on it.
    """
    # The parent's ports are never started nor stopped as services: stopping
    # a Twisted port shuts its socket down (shutdown(2)), which would stop
    # the accept of every worker sharing it, some still serving. They stay
    # open, not reading, for the parent's life, and close with it.
    opened = MultiService()
    listeners = []
    for name, description in fronts:
        endpoint = AnnouncedEndpoint(name, serverFromString(reactor, description))
        listening = FrontListener(name, description, endpoint, UnusedFactory(), reactor)
        listening.setServiceParent(opened)  # type: ignore[no-untyped-call]
        listeners.append(listening)
    listen_now(opened)
    sockets = {}
    ports = []
    for listening in listeners:
        port = listening.port
        assert port is not None  # listen_now raised otherwise
        port.stopReading()  # type: ignore[attr-defined]
        sockets[listening.front] = port.fileno()  # type: ignore[attr-defined]
        ports.append(port)
    top = MultiService()
    pool = WorkerPool(
        reactor,
        options.settings.workers,
        worker_command(options, SETTINGS),
        worker_environment(os.environ),
        sockets,
    )
    pool.ports = ports
    pool.setName("workers")  # type: ignore[no-untyped-call]
    pool.setServiceParent(top)  # type: ignore[no-untyped-call]
    return top


def make_worker(reactor: Any, top: MultiService, number: str) -> None:
    """
    What makes a node a worker: a lifeline to its parent, its own process
    group (a Ctrl-C at the terminal reaches the parent alone, which stops its
    workers in turn), and deafness to a second stop signal.
    """
    os.setpgid(0, 0)
    lifeline = Lifeline(reactor)
    lifeline.setName("lifeline")  # type: ignore[no-untyped-call]
    lifeline.setServiceParent(top)  # type: ignore[no-untyped-call]
    reactor.addSystemEventTrigger("before", "shutdown", ignore_stop_signals)
    log.info("serving as a worker (pid {pid})", pid=os.getpid())
