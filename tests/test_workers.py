"""
C{--workers N}: one parent opens the fronts' ports, N worker nodes accept on
them. The parts on their own (the setting, the restart delays, the sockets a
process inherits, a worker's log as its parent relays it, an adopted socket),
then real twistd processes on loopback with a real redis-server: connections
land on different workers, a killed worker is started again, SIGTERM to the
parent stops every worker, a parent killed outright takes its workers along,
a port in use stops the start once.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import Any, cast

from twisted.internet import reactor as installed
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.error import ProcessTerminated
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import (
    ILogObserver,
    Logger,
    LogLevel,
    formatEvent,
    globalLogPublisher,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat.cluster.workers import (
    FRONTS_ENV,
    AdoptedEndpoint,
    RestartDelay,
    WorkerLogObserver,
    WorkerOutput,
    WorkerPool,
    check_inherited,
    inherited_sockets,
    make_parent,
    worker_command,
)
from twistedchat.server.options import SETTINGS, Options
from twistedchat.server.startup import StartupError
from twistedchat.server.tap import front_endpoints

from .processes import (
    LISTENING,
    LineClient,
    ServerProcess,
    daemon_pid,
    is_running,
    run_twistd,
    run_twistd_daemon,
    server_command,
    server_environment,
    stop_daemon,
)
from .redis_server import started_redis
from .test_server_config import ParsesSettings
from .tls_certificates import make_pki

reactor = cast(Any, installed)
CLUSTER = ("--cluster", "redis://127.0.0.1:6379")


class WorkersSettingTests(ParsesSettings):
    def test_one_by_default(self) -> None:
        self.assertEqual(self.parse().workers, 1)
        self.assertEqual(self.parse("--workers", "4", *CLUSTER).workers, 4)

    def test_more_than_one_needs_a_cluster(self) -> None:
        self.assertEqual(
            self.refused("--workers", "2"),
            "--workers: 2 workers need CLUSTER, the Redis through "
            "which they serve one chat (--cluster redis://host:port)",
        )
        # One worker is today's single node: nothing more needed.
        self.assertIsNone(self.parse("--workers", "1").cluster)

    def test_from_the_config_file(self) -> None:
        config = os.path.abspath(self.mktemp())
        with open(config, "w") as file:
            file.write("# on every core\nWORKERS=3\n")
        line = self.refused("--config", config)
        self.assertIn(f"{config}, line 2, WORKERS: 3 workers need CLUSTER", line)
        self.assertEqual(self.parse("--config", config, *CLUSTER).workers, 3)

    def test_bad_numbers(self) -> None:
        for value in ("0", "-1", "two", "257", ""):
            self.assertEqual(
                self.refused("--workers", value, *CLUSTER),
                f"--workers: not a number of workers (1 to 256): {value!r}",
            )


class RestartDelayTests(SynchronousTestCase):
    def test_doubles_while_workers_keep_failing(self) -> None:
        delay = RestartDelay(first=1, last=30, stable_after=10)
        self.assertEqual(
            [delay.after_run(0.5) for _ in range(7)], [1, 2, 4, 8, 16, 30, 30]
        )

    def test_a_worker_that_ran_a_while_starts_the_count_again(self) -> None:
        delay = RestartDelay(first=1, last=30, stable_after=10)
        for _ in range(4):
            delay.after_run(1)
        self.assertEqual(delay.after_run(10), 1)
        self.assertEqual(delay.after_run(2), 2)


class InheritedSocketsTests(SynchronousTestCase):
    def test_none(self) -> None:
        self.assertEqual(inherited_sockets({}), {})

    def test_from_the_workers_parent(self) -> None:
        self.assertEqual(
            inherited_sockets({FRONTS_ENV: "line=3,web=4"}), {"line": 3, "web": 4}
        )
        error = self.assertRaises(
            StartupError, inherited_sockets, {FRONTS_ENV: "line:3"}
        )
        self.assertEqual(
            str(error), "the workers' parent passed unreadable sockets: 'line:3'"
        )

    def test_a_socket_of_no_front(self) -> None:
        check_inherited({"line": 3}, ["line", "framed"])
        error = self.assertRaises(
            StartupError, check_inherited, {"chat": 3}, ["line", "framed"]
        )
        self.assertEqual(
            str(error),
            "an inherited socket is named 'chat', which is no front "
            "(the fronts are line, framed)",
        )


class WorkerCommandTests(SynchronousTestCase):
    def test_same_settings_with_absolute_paths(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        config = os.path.join(folder, "chat.conf")
        with open(config, "w") as file:
            file.write("DEFAULT_ROOM=lobby\n")
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(folder)  # a relative path is relative to here...
        options = Options()
        options.parseOptions(
            ["--config", "chat.conf", "--workers", "2", *CLUSTER, "--data-dir", "d"]
        )
        command = worker_command(options, SETTINGS)
        self.assertEqual(command[0], sys.executable)
        plugin = command[command.index("twistedchat") + 1 :]
        self.assertEqual(
            plugin,
            [
                f"--config={config}",
                "--data-dir=" + os.path.join(folder, "d"),
                "--cluster=redis://127.0.0.1:6379",
                "--workers=2",
            ],
        )
        # What twistd does with it: the same settings as the parent's, even
        # in another folder (a daemon's parent moves to its --rundir).
        os.chdir("/")
        again = Options()
        again.parseOptions(plugin)
        self.assertEqual(again.settings, options.settings)


def logged(test: SynchronousTestCase) -> list[dict[str, Any]]:
    """Every log event published from now to the end of C{test}."""
    events: list[dict[str, Any]] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    test.addCleanup(globalLogPublisher.removeObserver, observer)
    return events


class WorkerLogTests(SynchronousTestCase):
    def relayed(self, output: bytes, chunk: int) -> list[dict[str, Any]]:
        """What the parent logs of a worker's C{output}, read C{chunk} bytes at a time."""
        events = logged(self)
        worker = WorkerOutput(WorkerPool(reactor, 1, ["x"], {}, {}), 7)
        for start in range(0, len(output), chunk):
            worker.childDataReceived(1, output[start : start + chunk])
        return [e for e in events if e.get("worker") == 7]

    def test_events_reach_the_parent_with_the_worker_number(self) -> None:
        stream = io.StringIO()
        observer = WorkerLogObserver(stream)
        worker_log = Logger(namespace="twistedchat.fronts.line", observer=observer)
        worker_log.info('client connected "{peer}"', peer="ada")
        worker_log.warn("dropping {peer}: {why}", peer="bob", why="flood")
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            worker_log.failure("while applying {entry}", entry="1-1")
        output = stream.getvalue().encode("utf-8")
        self.assertEqual(output.count(b"\n"), 3)  # a traceback stays in one line
        for chunk in (len(output), 7, 1):
            events = self.relayed(output, chunk)
            self.assertEqual(
                [(e["log_namespace"], e["log_level"]) for e in events],
                [
                    ("twistedchat.fronts.line", LogLevel.info),
                    ("twistedchat.fronts.line", LogLevel.warn),
                    ("twistedchat.fronts.line", LogLevel.critical),
                ],
            )
            self.assertEqual(events[0]["text"], 'client connected "ada"')
            self.assertEqual(events[0]["log_format"], "[worker {worker}] {text}")
            self.assertEqual(events[1]["text"], "dropping bob: flood")
            self.assertIn("while applying 1-1", events[2]["text"])
            self.assertIn("ZeroDivisionError", events[2]["text"])

    def test_other_output_is_relayed_as_it_is(self) -> None:
        events = logged(self)
        worker = WorkerOutput(WorkerPool(reactor, 1, ["x"], {}, {}), 2)
        worker.childDataReceived(2, b"twistedchat: cannot lis")
        worker.childDataReceived(2, b"ten\nTraceback (most recent call last):\n")
        worker.childDataReceived(1, b"not json\n")
        worker.childDataReceived(2, b"no end of line")
        worker.processEnded(Failure(ProcessTerminated(exitCode=1)))
        relayed = [(e["log_level"], e["text"]) for e in events if "text" in e]
        self.assertEqual(
            relayed,
            [
                (LogLevel.warn, "twistedchat: cannot listen"),
                (LogLevel.warn, "Traceback (most recent call last):"),
                (LogLevel.info, "not json"),
                (LogLevel.warn, "no end of line"),
            ],
        )


class Greeter(Protocol):
    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"hello\n")
        self.transport.loseConnection()


class AdoptedEndpointTests(TestCase):
    def listening_socket(self) -> socket.socket:
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        return sock

    @inlineCallbacks
    def test_a_front_adopts_a_listening_socket(self) -> Any:
        sock = self.listening_socket()
        address = sock.getsockname()
        endpoint = AdoptedEndpoint(reactor, "line", os.dup(sock.fileno()))
        port = yield endpoint.listen(Factory.forProtocol(Greeter))
        self.addCleanup(port.stopListening)
        sock.close()  # ours: the adopted one listens on
        self.assertEqual(port.getHost().port, address[1])
        answer: Deferred[bytes] = Deferred()

        def ask() -> None:
            with socket.create_connection(address, timeout=10) as client:
                answer_bytes = b""
                while chunk := client.recv(100):
                    answer_bytes += chunk
            reactor.callFromThread(answer.callback, answer_bytes)

        reactor.callInThread(ask)
        self.assertEqual((yield answer), b"hello\n")

    @inlineCallbacks
    def test_what_is_not_a_listening_socket_is_refused(self) -> Any:
        read, write = os.pipe()
        self.addCleanup(os.close, write)
        self.addCleanup(os.close, read)
        with self.assertRaises(StartupError) as raised:
            yield AdoptedEndpoint(reactor, "web", read).listen(Factory())
        self.assertEqual(
            str(raised.exception),
            f"the web front's inherited descriptor {read} is not a socket "
            "(Socket operation on non-socket)",
        )
        idle = socket.socket()
        self.addCleanup(idle.close)
        with self.assertRaises(StartupError) as raised:
            yield AdoptedEndpoint(reactor, "irc", idle.fileno()).listen(Factory())
        self.assertEqual(
            str(raised.exception),
            f"the irc front's inherited descriptor {idle.fileno()} is not a "
            "listening stream socket",
        )


STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")
SERVING = re.compile(r"\[worker (\d+)\] serving as a worker")
# The node's own word that it has joined the chat (cluster/node.py).
READY = re.compile(r"\[worker (\d+)\] node \S+ caught up with the cluster")
READY_NODE = re.compile(r"node \S+ caught up with the cluster")
CONNECTED = re.compile(r"\[worker (\d+)\] client connected")


class WorkersTestCase(TestCase):
    """C{twistd -n twistedchat --workers 2} on loopback, with a real Redis."""

    timeout = 120

    def arguments(self) -> tuple[str, ...]:
        """More settings for the server."""
        return ()

    @inlineCallbacks
    def setUp(self) -> Any:  # type: ignore[override]
        redis = yield started_redis(self, reactor)
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.server = ServerProcess(
            self.folder, "--workers", "2", "--cluster", redis.url(), *self.arguments()
        )
        self.addCleanup(self.leave_no_worker)  # after the parent's stop
        self.addCleanup(self.server.stop)
        self.server.start()
        self.pids = self.each(2, STARTED, SERVING, READY)[0]

    def leave_no_worker(self) -> None:
        """Whatever the outcome, no worker outlives the test (nor its parent)."""
        output = "".join(self.server.output)
        kill_left([int(m.group(2)) for m in STARTED.finditer(output)])

    def each(
        self, count: int, *patterns: re.Pattern[str], timeout: float = 30
    ) -> list[dict[int, int]]:
        """
        Wait until each worker 1 to C{count} has logged a line of each of
        C{patterns} (in any order: lines that match none are passed over);
        for each pattern, the second group of each worker's line (its pid).
        """
        either = re.compile("|".join(f"(?:{p.pattern})" for p in patterns))
        found: list[dict[int, int]] = [{} for _ in patterns]
        deadline = time.monotonic() + timeout
        while any(len(seen) < count for seen in found):
            line = self.server.wait_for(either, max(0.1, deadline - time.monotonic()))
            for pattern, seen in zip(patterns, found, strict=True):
                match = pattern.search(line)
                if match is not None:
                    groups = match.groups()
                    seen[int(groups[0])] = int(groups[1]) if len(groups) > 1 else 0
        return found

    def connect(self) -> tuple[LineClient, int]:
        """A netcat user, and the worker that accepted it."""
        client = LineClient(self.server.ports["line"])
        self.addCleanup(client.close)
        client.expect("[server] you are in #general")
        match = CONNECTED.search(self.server.wait_for(CONNECTED))
        assert match is not None
        return client, int(match.group(1))


class WorkerProcessesTests(WorkersTestCase):
    def test_connections_land_on_every_worker_in_one_chat(self) -> None:
        clients: dict[int, LineClient] = {}
        for _ in range(60):
            client, worker = self.connect()
            clients.setdefault(worker, client)
            if len(clients) == 2:
                break
        self.assertEqual(set(clients), {1, 2})
        clients[1].send("NICK ada")
        clients[1].expect('[server] you are now known as "ada"')
        clients[1].send("MSG from worker 1")
        clients[2].expect("[ada] from worker 1")

    def test_a_killed_worker_is_started_again(self) -> None:
        old = self.pids[1]
        os.kill(old, signal.SIGKILL)
        self.server.wait_for(
            rf"worker 1 \(pid {old}\) ended after [\d.]+ s: killed by SIGKILL; "
            r"starting it again in 1 s"
        )
        new = self.each(1, STARTED, SERVING, READY)[0][1]
        self.assertNotEqual(new, old)
        self.assertTrue(is_running(new))
        self.assertTrue(is_running(self.pids[2]))  # the other was left alone
        # Both serve again: new connections reach the new one too.
        workers = set()
        for _ in range(60):
            workers.add(self.connect()[1])
            if workers == {1, 2}:
                break
        self.assertEqual(workers, {1, 2})

    def test_sigterm_to_the_parent_stops_every_worker(self) -> None:
        client, _ = self.connect()
        self.assertEqual(self.server.stop(), -signal.SIGTERM)
        client.expect_closed()
        for number, pid in self.pids.items():
            self.assertFalse(is_running(pid), f"worker {number} still runs")
        output = "".join(self.server.output)
        for number, pid in self.pids.items():
            self.assertIn(f"worker {number} (pid {pid}) stopped", output)
        self.assertNotIn("Traceback", output)
        self.assertNotIn("starting it again", output)

    def test_workers_stop_when_their_parent_is_killed(self) -> None:
        self.server.process.kill()
        self.server.process.wait(10)
        deadline = time.monotonic() + 10
        while any(is_running(pid) for pid in self.pids.values()):
            self.assertLess(time.monotonic(), deadline, "workers outlived the parent")
            time.sleep(0.05)

    def test_sigterm_to_every_process_at_once(self) -> None:
        # As systemd's default KillMode=control-group stops a service.
        client, _ = self.connect()
        for pid in self.pids.values():
            os.kill(pid, signal.SIGTERM)
        self.assertEqual(self.server.stop(), -signal.SIGTERM)
        client.expect_closed()
        for number, pid in self.pids.items():
            self.assertFalse(is_running(pid), f"worker {number} still runs")
        self.assertNotIn("Traceback", "".join(self.server.output))


class TLSWorkersTests(WorkersTestCase):
    """A front on an C{ssl:} endpoint: its workers speak TLS on it too."""

    def arguments(self) -> tuple[str, ...]:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        self.pki = make_pki(folder)
        key = quoteStringArgument(self.pki.server_key)
        cert = quoteStringArgument(self.pki.server_cert)
        return (
            "--line",
            f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}",
        )

    def test_every_worker_speaks_tls(self) -> None:
        context = ssl.create_default_context(cafile=self.pki.ca_cert)
        workers = set()
        for _ in range(60):
            plain = socket.create_connection(
                ("127.0.0.1", self.server.ports["line"]), timeout=10
            )
            secure = context.wrap_socket(plain, server_hostname="localhost")
            self.addCleanup(secure.close)
            received = b""
            while b"[server] you are in #general" not in received:
                chunk = secure.recv(4096)
                self.assertTrue(chunk, f"closed after {received!r}")
                received += chunk
            match = CONNECTED.search(self.server.wait_for(CONNECTED))
            assert match is not None
            workers.add(int(match.group(1)))
            if workers == {1, 2}:
                break
        self.assertEqual(workers, {1, 2})


class WorkerPoolTests(TestCase):
    """The pool with small real processes in place of twistd."""

    timeout = 60

    def pool(self, code: str, **options: Any) -> WorkerPool:
        pool = WorkerPool(
            reactor, 1, [sys.executable, "-c", code], dict(os.environ), {}, **options
        )
        return pool

    def until_logged(self, text: str, count: int = 1) -> Deferred[list[str]]:
        """Fires with the texts of the log events so far once C{count} contain C{text}."""
        seen: list[str] = []
        done: Deferred[list[str]] = Deferred()

        def observe(event: dict[str, Any]) -> None:
            seen.append(formatEvent(event))
            if not done.called and sum(text in line for line in seen) >= count:
                globalLogPublisher.removeObserver(observer)
                reactor.callLater(0, done.callback, seen)

        observer = cast(ILogObserver, observe)
        globalLogPublisher.addObserver(observer)

        def forget() -> None:
            if not done.called:
                globalLogPublisher.removeObserver(observer)

        self.addCleanup(forget)
        return done

    @inlineCallbacks
    def test_a_failing_worker_comes_back_later_and_later(self) -> Any:
        pool = self.pool(
            "import sys; sys.exit(3)",
            delay=RestartDelay(first=0.05, last=0.2, stable_after=10),
        )
        ended = self.until_logged("starting it again", 4)
        pool.startService()
        lines = yield ended
        yield pool.stopService()
        again = [line for line in lines if "starting it again" in line]
        self.assertEqual(
            [line.split(": ", 1)[1] for line in again],
            [
                f"exited with status 3; starting it again in {delay} s"
                for delay in ("0.05", "0.1", "0.2", "0.2")
            ],
        )
        self.assertTrue(all(line.startswith("worker 1 (pid ") for line in again))

    @inlineCallbacks
    def test_a_worker_deaf_to_sigterm_is_killed(self) -> Any:
        pool = self.pool(
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('deaf', flush=True); time.sleep(60)",
            stop_timeout=0.5,
        )
        deaf = self.until_logged("[worker 1] deaf")
        pool.startService()
        yield deaf
        stopped = self.until_logged("stopped (killed by SIGKILL)")
        yield pool.stopService()
        lines = yield stopped
        self.assertIn("still running 0.5 s after SIGTERM: SIGKILL", "".join(lines))


class ParentSocketsTests(TestCase):
    @inlineCallbacks
    def test_the_parent_never_shuts_the_shared_sockets_down(self) -> Any:
        # Stopping a Twisted port shuts its socket down for every process
        # sharing it: workers still serving would fail to accept.
        options = Options()
        options.parseOptions(
            [
                *("--host", "127.0.0.1", "--port", "0", "--framed-port", "0"),
                *CLUSTER,
                "--irc-port",
                "0",
                "--web-port",
                "0",
                "--workers",
                "2",
            ]
        )
        top = make_parent(reactor, options, front_endpoints(options.settings))
        pool = top.getServiceNamed("workers")
        assert isinstance(pool, WorkerPool)
        for port in pool.ports:
            self.addCleanup(port.stopListening)
        self.assertEqual(sorted(pool.sockets), ["framed", "irc", "line", "web"])
        # What a worker holds: its own descriptors of the same sockets.
        held = {front: os.dup(fd) for front, fd in pool.sockets.items()}
        yield top.stopService()  # no worker was started: the parent's end
        for front, descriptor in held.items():
            with socket.socket(fileno=descriptor) as shared:
                self.assertTrue(
                    shared.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
                    f"the {front} front's socket no longer listens",
                )
                # A connection waits in the backlog for a worker.
                socket.create_connection(shared.getsockname(), timeout=5).close()


def kill_left(pids: list[int]) -> None:
    """SIGKILL to those of C{pids} still running (a failed test's workers)."""
    for pid in pids:
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


class WorkersDaemonTests(TestCase):
    timeout = 120

    def log_until(self, path: str, pattern: re.Pattern[str], count: int) -> str:
        """The daemon's log once C{count} lines match C{pattern} (bounded)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                with open(path) as file:
                    text = file.read()
            except FileNotFoundError:
                text = ""
            if len(pattern.findall(text)) >= count:
                return text
            self.assertLess(time.monotonic(), deadline, f"log so far:\n{text}")
            time.sleep(0.05)

    @inlineCallbacks
    def test_a_daemon_runs_and_stops_its_workers(self) -> Any:
        redis = yield started_redis(self, reactor)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        started = run_twistd_daemon(
            folder,
            *("--host", "127.0.0.1", "--port", "0", "--framed-port", "0"),
            *("--irc-port", "0", "--web-port", "0"),
            *("--workers", "2", "--cluster", redis.url()),
        )
        self.assertEqual(started.returncode, 0, started.stderr)
        pid = daemon_pid(folder)
        assert pid is not None
        self.addCleanup(stop_daemon, pid)
        log = self.log_until(os.path.join(folder, "twistd.log"), READY, 2)
        pids = [int(m.group(2)) for m in STARTED.finditer(log)]
        self.assertEqual(len(pids), 2)
        self.addCleanup(kill_left, pids)
        ports = {m.group(1): int(m.group(3)) for m in LISTENING.finditer(log)}
        client = LineClient(ports["line"])
        self.addCleanup(client.close)
        client.expect("[server] you are in #general")
        stop_daemon(pid)
        client.expect_closed()
        for worker in pids:
            self.assertFalse(is_running(worker))


class SocketUnitInstance(ServerProcess):
    """
    One of N C{twistedchat@%i} services of a systemd socket unit: the
    fronts' sockets at descriptors 3 to 6, named in C{LISTEN_FDNAMES}, with
    C{LISTEN_PID} its own pid, as systemd starts it; each front on Twisted's
    C{systemd:} endpoint of its name (docs/systemd/twistedchat@.service).
    """

    def __init__(self, folder: str, sockets: dict[str, socket.socket], *arguments: str):
        super().__init__(folder, *arguments)
        self.sockets = sockets

    def start(self, timeout: float = 30) -> ServerProcess:
        descriptors = [s.fileno() for s in self.sockets.values()]

        def as_systemd_passes_them() -> None:
            for offset, descriptor in enumerate(descriptors):
                os.dup2(descriptor, 3 + offset)

        env = server_environment()
        env["LISTEN_FDS"] = str(len(descriptors))
        env["LISTEN_FDNAMES"] = ":".join(self.sockets)
        self.process = subprocess.Popen(
            [
                "sh",
                "-c",
                'export LISTEN_PID=$$; exec "$@"',
                "sh",
                *server_command(*self.arguments),
            ],
            cwd=self.folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=as_systemd_passes_them,
            pass_fds=range(3, 3 + len(descriptors)),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        while len(self.ports) < len(self.sockets):
            self.wait_for(LISTENING, timeout)
        return self


class SocketUnitTests(TestCase):
    """N systemd services sharing a socket unit's sockets: one chat, one port."""

    timeout = 120

    @inlineCallbacks
    def test_two_services_share_the_sockets_and_the_chat(self) -> Any:
        redis = yield started_redis(self, reactor)
        sockets = {}
        for front in ("line", "framed", "irc", "web"):
            sock = socket.socket()
            self.addCleanup(sock.close)
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)  # blocking, as systemd passes them by default
            sockets[front] = sock
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        services = []
        for _ in range(2):
            service = SocketUnitInstance(
                folder,
                sockets,
                *("--cluster", redis.url()),
                *(f"--{front}=systemd:domain=INET:name={front}" for front in sockets),
            )
            self.addCleanup(service.stop)
            service.start()
            service.wait_for(READY_NODE)
            services.append(service)
        port = sockets["line"].getsockname()[1]
        self.assertEqual(services[0].ports["line"], port)
        self.assertEqual(services[1].ports["line"], port)
        # Connections on the one port land on both services...
        clients = []
        where = set()
        for _ in range(60):
            client = LineClient(port)
            self.addCleanup(client.close)
            client.expect("[server] you are in #general")
            clients.append(client)
            for number, service in enumerate(services):
                if any("client connected" in line for line in service.output):
                    where.add(number)
            if where == {0, 1}:
                break
        self.assertEqual(where, {0, 1})
        # ... and they are in one chat.
        clients[0].send("NICK ada")
        clients[0].expect('[server] you are now known as "ada"')
        clients[0].send("MSG hello from wherever")
        for client in clients[1:]:
            client.expect("[ada] hello from wherever")


class WorkersStartUpTests(SynchronousTestCase):
    def test_a_port_in_use_stops_the_start_once(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_twistd(
            folder,
            *("--host", "127.0.0.1", "--framed-port", "0", "--irc-port", "0"),
            *("--web-port", "0", "--port", str(port), "--workers", "3", *CLUSTER),
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(
            result.stderr,
            f"twistedchat: cannot listen on tcp:{port}:interface=127.0.0.1 for "
            "the line front: address already in use\n",
        )
        self.assertNotIn("worker", result.stdout)  # none was started
