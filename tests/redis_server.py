"""
A real C{redis-server} for the cluster's tests, started and stopped by them.

L{RedisServer} runs one on a free loopback port in a folder of its own
(without persistence, or with an append-only file written at every command so
that a restart, even after SIGKILL, keeps every entry; optionally behind TLS
with a throwaway certificate authority), waits until it answers PING, and
stops it. For fault tests it restarts it on the same port, pauses it with
SIGSTOP/SIGCONT or with C{DEBUG SLEEP}. Waits are bounded and poll from the
reactor (L{RedisServer.start} and L{RedisServer.stop} return Deferreds), so
trial TestCases and pytest-twisted tests (e2e/) use it alike. Without
redis-server installed, L{require_redis} skips the test and says why.

In a trial TestCase: C{server = yield started_redis(self, reactor)} (stopped
and removed at the test's end). In e2e/::

    server = RedisServer(str(tmp_path / "redis"), persistent=True)
    await server.start(reactor)
    try:
        ... server.url() is the --cluster of the nodes ...
        await server.restart(reactor, down=2.0)  # or server.debug_sleep(3)
    finally:
        await server.cleanup(reactor)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
from typing import Any

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime

from twistedchat.cluster.address import RedisAddress

from .tls_certificates import Pki, make_pki

REDIS_SERVER = "redis-server"
START_TIMEOUT = 15.0  # seconds for a redis-server to answer its first PING
STOP_TIMEOUT = 10.0
POLL = 0.02
MISSING = (
    "redis-server is not installed (apt-get install redis-server; "
    ".ci/run installs it): the cluster's tests need a real one"
)


def redis_server_path() -> str | None:
    return shutil.which(REDIS_SERVER)


def require_redis() -> str:
    """The path of redis-server; C{SkipTest} naming the missing program if none."""
    path = redis_server_path()
    if path is None:
        raise unittest.SkipTest(MISSING)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def encode_command(*args: str | bytes | int) -> bytes:
    """A command as RESP, the way a client sends it."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Reader:
    """Blocking RESP reader for the helper's own few commands."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _exact(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return data

    def reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisReplyError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._exact(int(rest))
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.reply() for _ in range(count)]
        raise ConnectionError(f"not a RESP reply: {line!r}")


class RedisReplyError(Exception):
    """An error reply to one of the helper's commands."""


class RedisServer:
    """
    One redis-server for a test, in C{folder} (created if missing, else a
    temporary one).

    @ivar persistent: append-only file, fsync'd at each write, so a restart
        (even after SIGKILL) keeps everything.
    @ivar tls: serve TLS on L{port} (a certificate for C{localhost} and
        C{tls_ips} signed by L{pki}'s C{ca.pem}); plain TCP on L{plain_port}
        for the helper's own commands.
    """

    def __init__(
        self,
        folder: str | None = None,
        *,
        persistent: bool = False,
        password: str | None = None,
        tls: bool = False,
        tls_ips: tuple[str, ...] = ("127.0.0.1",),
        extra: tuple[str, ...] = (),
    ) -> None:
        self.program = require_redis()
        self.folder = os.path.abspath(
            folder or tempfile.mkdtemp(prefix="twistedchat-redis-")
        )
        os.makedirs(self.folder, exist_ok=True)
        self.persistent = persistent
        self.password = password
        self.tls = tls
        self.tls_ips = tls_ips
        self.extra = extra
        self.port = 0
        self.plain_port = 0  # the same as port without TLS
        self.pki: Pki | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.folder, "redis.log")
        self.paused = False

    # What clients are given

    def address(self, *, db: int = 0, host: str = "127.0.0.1") -> RedisAddress:
        """How a node reaches this server (its password included)."""
        return RedisAddress(
            host=host,
            port=self.port,
            db=db,
            password=self.password,
            tls=self.tls,
            ca=self.pki.ca_cert if self.pki is not None else None,
        )

    def url(self, *, db: int = 0, host: str = "127.0.0.1") -> str:
        """The CLUSTER URL of this server, for twistd's --cluster."""
        scheme = "rediss" if self.tls else "redis"
        credentials = f":{self.password}@" if self.password else ""
        query = f"?ca={self.pki.ca_cert}" if self.pki is not None else ""
        return f"{scheme}://{credentials}{host}:{self.port}/{db}{query}"

    # Starting and stopping

    def _arguments(self) -> list[str]:
        arguments = [
            self.program,
            "--port",
            str(self.plain_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.folder,
            "--logfile",
            self.log_path,
            "--save",
            "",
            "--daemonize",
            "no",
            "--enable-debug-command",
            "local",
        ]
        if self.persistent:
            arguments += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            arguments += ["--appendonly", "no"]
        if self.password is not None:
            arguments += ["--requirepass", self.password]
        if self.tls:
            assert self.pki is not None
            arguments += [
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                self.pki.server_cert,
                "--tls-key-file",
                self.pki.server_key,
                "--tls-ca-cert-file",
                self.pki.ca_cert,
                "--tls-auth-clients",
                "no",
            ]
        return [*arguments, *self.extra]

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            self._arguments(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.paused = False

    def start(self, clock: IReactorTime) -> defer.Deferred[RedisServer]:
        """Start on free ports (the same ones again after L{stop}); fires when ready."""
        if self.tls and self.pki is None:
            pki_folder = os.path.join(self.folder, "pki")
            os.makedirs(pki_folder, exist_ok=True)
            self.pki = make_pki(pki_folder, dns_names=("localhost",), ips=self.tls_ips)
        if not self.plain_port:
            self.plain_port = free_port()
            self.port = free_port() if self.tls else self.plain_port
        self._spawn()
        return self._until_ready(clock)

    def _until_ready(self, clock: IReactorTime) -> defer.Deferred[RedisServer]:
        async def ready() -> RedisServer:
            deadline = time.monotonic() + START_TIMEOUT
            while not self.answers_ping():
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited ({self.process.returncode}) on port "
                        f"{self.port}: {self.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"redis-server did not answer PING within {START_TIMEOUT} s: "
                        f"{self.log_tail()}"
                    )
                await task.deferLater(clock, POLL)
            return self

        return defer.ensureDeferred(ready())

    def stop(self, clock: IReactorTime) -> defer.Deferred[None]:
        """SIGTERM (SIGKILL past L{STOP_TIMEOUT}), resuming it first if paused."""
        process = self.process
        if process is None or process.poll() is not None:
            return defer.succeed(None)
        if self.paused:
            self.resume()
        process.terminate()
        return self._until_exited(process, clock)

    def kill(self, clock: IReactorTime) -> defer.Deferred[None]:
        """SIGKILL: a crash (with persistence, nothing written is lost)."""
        process = self.process
        if process is None or process.poll() is not None:
            return defer.succeed(None)
        process.kill()
        return self._until_exited(process, clock)

    def _until_exited(
        self, process: subprocess.Popen[bytes], clock: IReactorTime
    ) -> defer.Deferred[None]:
        async def exited() -> None:
            deadline = time.monotonic() + STOP_TIMEOUT
            while process.poll() is None:
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
                    return
                await task.deferLater(clock, POLL)

        return defer.ensureDeferred(exited())

    @defer.inlineCallbacks
    def restart(
        self, clock: IReactorTime, down: float = 0.0, *, crash: bool = False
    ) -> Any:
        """Stop (or SIGKILL), stay down C{down} seconds, start on the same port."""
        yield (self.kill(clock) if crash else self.stop(clock))
        if down:
            yield task.deferLater(clock, down)
        # The same ports, just released: another program taking one meanwhile
        # is unlikely on loopback, and reported clearly (the server exits).
        self._spawn()
        yield self._until_ready(clock)
        return self

    def cleanup(self, clock: IReactorTime) -> defer.Deferred[None]:
        """L{stop}, then remove the folder (for C{addCleanup})."""

        def remove(_: None) -> None:
            shutil.rmtree(self.folder, ignore_errors=True)

        return self.stop(clock).addCallback(remove)

    # Faults

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after L{pause}."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def debug_sleep(self, seconds: float) -> None:
        """C{DEBUG SLEEP seconds}: the server busy, not answering anyone."""
        sock = self._connect()
        try:
            self._authenticate(sock, _Reader(sock))
            sock.sendall(encode_command("DEBUG", "SLEEP", f"{seconds:g}"))
        finally:
            # Closing does not cut the sleep short: it is already running.
            sock.close()

    # The helper's own commands (blocking, loopback: for checks in tests)

    def _connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.plain_port), timeout=5)

    def _authenticate(self, sock: socket.socket, reader: _Reader) -> None:
        if self.password is not None:
            sock.sendall(encode_command("AUTH", self.password))
            reply = reader.reply()
            if isinstance(reply, RedisReplyError):
                raise reply

    def call(self, *args: str | bytes | int) -> Any:
        """One command's reply (C{RedisReplyError} for an error reply)."""
        with self._connect() as sock:
            reader = _Reader(sock)
            self._authenticate(sock, reader)
            sock.sendall(encode_command(*args))
            reply = reader.reply()
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    def answers_ping(self) -> bool:
        try:
            with socket.create_connection(
                ("127.0.0.1", self.plain_port), timeout=1
            ) as sock:
                sock.sendall(encode_command("PING"))
                reply = _Reader(sock).reply()
        except OSError:
            return False
        # A server still loading its append-only file answers -LOADING.
        return reply == "PONG" or (
            isinstance(reply, RedisReplyError) and str(reply).startswith("NOAUTH")
        )

    def tls_context(self) -> ssl.SSLContext:
        """A client context trusting this server's authority."""
        assert self.pki is not None
        return ssl.create_default_context(cafile=self.pki.ca_cert)

    def log_tail(self, lines: int = 5) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return " | ".join(log.read().splitlines()[-lines:])
        except OSError:
            return "(no log)"


@defer.inlineCallbacks
def started_redis(test: Any, clock: IReactorTime, **options: Any) -> Any:
    """
    A started L{RedisServer} that C{test} (a trial TestCase) stops and
    removes at its end; skips the test if redis-server is missing.
    """
    server = RedisServer(test.mktemp(), **options)
    test.addCleanup(server.cleanup, clock)
    yield server.start(clock)
    return server


def within(d: defer.Deferred[Any], seconds: float, clock: IReactorTime) -> Any:
    """C{d}, failing with C{TimeoutError} if it has not fired in C{seconds}."""
    return d.addTimeout(seconds, clock)


async def eventually(
    check: Any, clock: IReactorTime, seconds: float = 10.0, what: str = ""
) -> None:
    """Wait until C{check()} is true, polling; C{TimeoutError} after C{seconds}."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {seconds} s: {what or check}")
        await task.deferLater(clock, POLL)


@defer.inlineCallbacks
def started_client(
    test: Any, reactor: Any, address: RedisAddress, name: str, **options: Any
) -> Any:
    """
    A L{RedisClient} to C{address}, started and connected (within 10 s),
    which C{test} stops at its end.
    """
    from twistedchat.cluster.redis import RedisClient

    client = RedisClient(reactor, address, name, **options)
    client.start()
    test.addCleanup(client.stop)
    yield within(client.when_connected(), 10, reactor)
    return client
