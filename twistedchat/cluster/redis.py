"""
The nodes' Redis client: RESP over a Twisted connection that comes back.

Why our own and not txredisapi (what Synapse uses): txredisapi 1.6.0 does
most of what we need (AUTH with a user, SELECT, any command, TLS through an
endpoint), but it imports the global reactor at module level (our library
code takes the reactor as a parameter, and the tests a clock), ships no type
hints (we run mypy --strict), and its pooled connections wait for a
connection instead of failing at once: the log's bounded queue must decide
itself what waits and what is refused. The part of RESP the nodes use is
small (a few commands, replies of five kinds), so it is written here, with
its own reconnection (ClientService, tried first, does not drop a connection
whose preparation, AUTH for instance, failed).

L{RedisClient} keeps one connection (TCP, or TLS whose certificate is checked
against the host name with service_identity) to the address of the CLUSTER
setting: it authenticates, selects the database and names itself on each
(re)connection, then runs commands pipelined in order. While disconnected,
L{RedisClient.command} fails at once with L{RedisUnavailable}; an error reply
fails with L{RedisError}. A reply that does not come in time drops the
connection (its state is then unknown), which fails every command waiting on
it: a blocking read (XREAD BLOCK) gives its own, longer, time.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet import defer, ssl
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from .address import RedisAddress

# Seconds a reply may take before the connection is taken for dead.
REPLY_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
# Reconnection: first retry after INITIAL_DELAY, doubling up to MAX_DELAY.
INITIAL_DELAY = 0.1
MAX_DELAY = 2.0
# A reply larger than this is refused (the connection dropped) rather than
# buffered: nothing the nodes ask for comes near it.
MAX_REPLY = 64 * 1024 * 1024

Reply = Any  # bytes | str | int | None | list[Reply] | RedisError


class RedisError(Exception):
    """An error reply from Redis (C{str()} is its text, e.g. C{"NOSCRIPT ..."})."""


class RedisUnavailable(Exception):
    """No connection to Redis now (or it was lost before the reply came)."""


class _Incomplete(Exception):
    """The buffer ends before the reply does."""


def encode(args: Sequence[bytes | str | int | float]) -> bytes:
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode("utf-8")
        elif isinstance(arg, int | float):
            data = str(arg).encode("ascii")
        else:
            raise TypeError(f"not a Redis argument: {arg!r}")
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


def _parse(buffer: bytes, start: int) -> tuple[Reply, int]:
    """One reply from C{buffer} at C{start}, and where the next one starts."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise _Incomplete()
    kind = buffer[start : start + 1]
    line = buffer[start + 1 : end]
    after = end + 2
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Incomplete()
        return buffer[after : after + size], after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items = []
        for _ in range(count):
            item, after = _parse(buffer, after)
            items.append(item)
        return items, after
    if kind == b":":
        return int(line), after
    if kind == b"+":
        return line.decode("utf-8", "replace"), after
    if kind == b"-":
        return RedisError(line.decode("utf-8", "replace")), after
    raise ValueError(f"not a RESP reply: {buffer[start:end][:40]!r}")


class RedisProtocol(Protocol):
    """One connection: commands go out in order, replies come back in order."""

    log = Logger()

    def __init__(self, clock: IReactorTime, reply_timeout: float) -> None:
        self.clock = clock
        self.reply_timeout = reply_timeout
        self._buffer = b""
        # The Deferred of each command sent and not yet answered, with the
        # time by which its reply must come (or None: no limit).
        self._waiting: deque[tuple[defer.Deferred[Reply], float | None]] = deque()
        self._timer: IDelayedCall | None = None
        self.lost: Callable[[Failure], None] | None = None
        self.closed = False

    def when_lost(self, lost: Callable[[Failure], None]) -> None:
        self.lost = lost

    def send(
        self, args: Sequence[bytes | str | int | float], timeout: float | None
    ) -> defer.Deferred[Reply]:
        if self.closed or self.transport is None:
            return defer.fail(RedisUnavailable("the connection to Redis is closed"))
        data = encode(args)
        d: defer.Deferred[Reply] = defer.Deferred()
        limit = self.reply_timeout if timeout is None else timeout
        self._waiting.append((d, self.clock.seconds() + limit if limit > 0 else None))
        self.transport.write(data)
        self._arm()
        return d

    def _arm(self) -> None:
        """Keep one timer for the oldest command waiting (replies come in order)."""
        if self._timer is not None and self._timer.active():
            return
        self._timer = None
        for _, deadline in self._waiting:
            if deadline is not None:
                delay = max(0.0, deadline - self.clock.seconds())
                self._timer = self.clock.callLater(delay, self._check_deadlines)
                return

    def _check_deadlines(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        if any(
            deadline is not None and deadline <= now for _, deadline in self._waiting
        ):
            self.log.warn(
                "no reply from Redis within {timeout} s: dropping the connection",
                timeout=self.reply_timeout,
            )
            self._close(RedisUnavailable("no reply from Redis in time"))
        else:
            self._arm()

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        position = 0
        size = len(buffer)
        while position < size:
            try:
                reply, position_after = _parse(buffer, position)
            except _Incomplete:
                break
            except (ValueError, IndexError) as e:
                self._close(RedisUnavailable(f"Redis sent what is not RESP: {e}"))
                return
            position = position_after
            if not self._waiting:
                self._close(RedisUnavailable("Redis sent a reply nobody asked for"))
                return
            d, _ = self._waiting.popleft()
            if isinstance(reply, RedisError):
                d.errback(reply)
            else:
                d.callback(reply)
            if self.closed:
                return
        self._buffer = buffer[position:]
        if len(self._buffer) > MAX_REPLY:
            self._close(RedisUnavailable("a reply from Redis is too large"))
            return
        if not self._waiting and self._timer is not None and self._timer.active():
            self._timer.cancel()
            self._timer = None
        # Otherwise the timer may fire before the oldest deadline now waiting:
        # it looks again then, which costs less than re-arming on each reply.

    def _close(self, why: Exception) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abortConnection()  # type: ignore[attr-defined]
        self._fail_all(why)

    def _fail_all(self, why: Exception) -> None:
        self.closed = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        waiting, self._waiting = self._waiting, deque()
        for d, _ in waiting:
            d.errback(why)

    def connectionLost(self, reason: Failure = ConnectionDone) -> None:  # type: ignore[assignment]
        self._fail_all(
            RedisUnavailable(f"connection to Redis lost: {reason.getErrorMessage()}")
        )
        if self.lost is not None:
            lost, self.lost = self.lost, None
            lost(reason)


class _RedisFactory(Factory):
    def __init__(self, clock: IReactorTime, reply_timeout: float) -> None:
        self.clock = clock
        self.reply_timeout = reply_timeout

    def buildProtocol(self, addr: object) -> RedisProtocol:
        return RedisProtocol(self.clock, self.reply_timeout)


def client_endpoint(reactor: Any, address: RedisAddress) -> Any:
    """The client endpoint of C{address}: TCP, or TLS checking the host name."""
    endpoint = HostnameEndpoint(
        reactor, address.host, address.port, timeout=CONNECT_TIMEOUT
    )
    if not address.tls:
        return endpoint
    if address.ca is not None:
        with open(address.ca, "rb") as ca:
            trust = ssl.Certificate.loadPEM(ca.read())
        options = ssl.optionsForClientTLS(address.host, trustRoot=trust)
    else:
        options = ssl.optionsForClientTLS(address.host)
    return wrapClientTLS(options, endpoint)


class RedisClient:
    """
    One reconnecting connection to Redis, named C{name} (CLIENT SETNAME, and
    in the log).

    L{start} begins connecting (and reconnecting whenever the connection is
    lost or refused, waiting a little longer each time, up to C{max_delay});
    L{stop} closes it for good.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        address: RedisAddress,
        name: str,
        *,
        reply_timeout: float = REPLY_TIMEOUT,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.address = address
        self.name = name
        self.reply_timeout = reply_timeout
        self.max_delay = max_delay
        self._endpoint = client_endpoint(reactor, address)
        self._factory = _RedisFactory(self.clock, reply_timeout)
        self._protocol: RedisProtocol | None = None  # ready for commands
        self._connection: RedisProtocol | None = None  # open, maybe not ready
        self._connecting: defer.Deferred[Any] | None = None
        self._retry: IDelayedCall | None = None
        self._failures = 0
        self._closed: list[defer.Deferred[None]] = []
        self._waiting_for_connection: list[defer.Deferred[None]] = []
        self._connected_hooks: list[Callable[[], None]] = []
        self._lost_hooks: list[Callable[[], None]] = []
        self._running = False
        self._last_refusal = ""

    def __repr__(self) -> str:
        return f"<RedisClient {self.name} {self.address}>"

    # Life

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self.log.info(
            "redis {name}: connecting to {address}",
            name=self.name,
            address=str(self.address),
        )
        self._connect()

    def stop(self) -> defer.Deferred[None]:
        """Close the connection and stop reconnecting; fires once closed."""
        if not self._running:
            return defer.succeed(None)
        self._running = False
        waiting, self._waiting_for_connection = self._waiting_for_connection, []
        for waiter in waiting:
            waiter.errback(RedisUnavailable(f"redis {self.name} stopped"))
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self._connecting is not None:
            self._connecting.cancel()
        connection = self._connection
        if connection is None or connection.transport is None:
            return defer.succeed(None)
        closed: defer.Deferred[None] = defer.Deferred()
        self._closed.append(closed)
        connection.transport.loseConnection()
        return closed

    @property
    def connected(self) -> bool:
        protocol = self._protocol
        # Closed by us (no reply in time): lost, though not yet told so.
        return protocol is not None and not protocol.closed

    def when_connected(self) -> defer.Deferred[None]:
        """Fires once connected (at once if connected now)."""
        if self.connected:
            return defer.succeed(None)
        if not self._running:
            return defer.fail(RedisUnavailable(f"redis {self.name} is stopped"))
        d: defer.Deferred[None] = defer.Deferred(self._forget_waiter)
        self._waiting_for_connection.append(d)
        return d

    def _forget_waiter(self, d: defer.Deferred[None]) -> None:
        if d in self._waiting_for_connection:
            self._waiting_for_connection.remove(d)

    def on_connected(self, hook: Callable[[], None]) -> None:
        """Call C{hook()} on each (re)connection, once it is ready for commands."""
        self._connected_hooks.append(hook)

    def on_lost(self, hook: Callable[[], None]) -> None:
        """Call C{hook()} each time a connection ready for commands is lost."""
        self._lost_hooks.append(hook)

    # Commands

    def command(
        self, *args: bytes | str | int | float, timeout: float | None = None
    ) -> defer.Deferred[Reply]:
        """
        Run one command: fires with its reply (bytes, str for a status, int,
        None, or a list of them), fails with L{RedisError} for an error reply
        and with L{RedisUnavailable} at once while disconnected. C{timeout}
        (seconds, 0 for none) replaces the client's reply timeout for this one
        (a blocking read needs longer).
        """
        protocol = self._protocol
        if protocol is None or protocol.closed:
            return defer.fail(RedisUnavailable(f"not connected to Redis ({self.name})"))
        return protocol.send(args, timeout)

    # Connection

    def _connect(self) -> None:
        self._retry = None
        connecting: defer.Deferred[Any] = self._endpoint.connect(self._factory)
        self._connecting = connecting
        connecting.addCallbacks(self._opened, self._refused)

    def _opened(self, protocol: RedisProtocol) -> None:
        self._connecting = None
        self._connection = protocol
        protocol.when_lost(self._lost)
        if not self._running:
            protocol.transport.loseConnection()  # type: ignore[union-attr]
            return
        self._handshake(protocol).addCallbacks(
            lambda _: self._ready(protocol),
            self._handshake_failed,
            errbackArgs=(protocol,),
        )

    @defer.inlineCallbacks
    def _handshake(self, protocol: RedisProtocol) -> Any:
        address = self.address
        if address.password is not None:
            if address.username is not None:
                yield protocol.send(("AUTH", address.username, address.password), None)
            else:
                yield protocol.send(("AUTH", address.password), None)
        if address.db:
            yield protocol.send(("SELECT", address.db), None)
        yield protocol.send(("CLIENT", "SETNAME", self.name.replace(" ", "-")), None)

    def _ready(self, protocol: RedisProtocol) -> None:
        if protocol.closed or not self._running:
            return
        self._protocol = protocol
        self._failures = 0
        self._last_refusal = ""
        self.log.info(
            "redis {name}: connected to {address}",
            name=self.name,
            address=str(self.address),
        )
        waiting, self._waiting_for_connection = self._waiting_for_connection, []
        for d in waiting:
            d.callback(None)
        for hook in list(self._connected_hooks):
            self._call(hook)

    def _handshake_failed(self, failure: Failure, protocol: RedisProtocol) -> None:
        self._report(failure)
        # Dropping it calls _lost, which tries again later.
        protocol._close(RedisUnavailable(failure.getErrorMessage()))

    def _refused(self, failure: Failure) -> None:
        self._connecting = None
        if not self._running:
            return
        self._report(failure)
        self._again()

    def _report(self, failure: Failure) -> None:
        why = failure.getErrorMessage()
        if why != self._last_refusal:
            self._last_refusal = why
            self.log.error(
                "redis {name}: cannot use {address}: {why}",
                name=self.name,
                address=str(self.address),
                why=why,
            )

    def _again(self) -> None:
        delay = min(self.max_delay, INITIAL_DELAY * 2**self._failures)
        self._failures = min(self._failures + 1, 30)
        # Some jitter, so that nodes do not all come back at the same instant.
        self._retry = self.clock.callLater(
            delay * (0.75 + random.random() / 2), self._connect
        )

    def _lost(self, reason: Failure) -> None:
        self._connection = None
        was_ready = self._protocol is not None
        self._protocol = None
        if was_ready:
            if self._running:
                self.log.warn(
                    "redis {name}: connection lost ({why}), reconnecting",
                    name=self.name,
                    why=reason.getErrorMessage(),
                )
            for hook in list(self._lost_hooks):
                self._call(hook)
        closed, self._closed = self._closed, []
        for d in closed:
            d.callback(None)
        if self._running and self._retry is None and self._connecting is None:
            self._again()

    def _call(self, hook: Callable[[], None]) -> None:
        try:
            hook()
        except Exception:
            self.log.failure("redis {name}: a connection hook failed", name=self.name)


class Script:
    """A Lua script run by its SHA1 (EVALSHA), sent whole once Redis lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def run(
        self,
        client: RedisClient,
        keys: Sequence[str | bytes] = (),
        args: Sequence[str | bytes | int | float] = (),
    ) -> defer.Deferred[Reply]:
        d = client.command("EVALSHA", self.sha, len(keys), *keys, *args)

        def unknown(failure: Failure) -> defer.Deferred[Reply] | Failure:
            failure.trap(RedisError)
            if str(failure.value).startswith("NOSCRIPT"):
                return client.command("EVAL", self.source, len(keys), *keys, *args)
            return failure

        return d.addErrback(unknown)
