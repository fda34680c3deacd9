"""
The cluster's one ordered log: a Redis stream every node appends to and reads.

A node appends each command its users give (L{ILog.append}) and follows the
whole log in order (L{ILog.follow}), applying every entry, its own included.
L{RedisLog} keeps the log in the stream C{chat:log}: appends go out with
XADD in the order they were made; while Redis is away they wait, at most
C{queue_limit} of them, and are sent again in the same order once it is back
(past the limit, L{append} refuses at once with L{LogUnavailable}, which the
fronts answer like any refusal: nothing accepted is ever dropped). An XADD
whose reply was lost is sent again: the entry may then be in the log twice,
and the applier skips the second by its (node, seq). Following reads with
XREAD BLOCK on a connection of its own and goes on from the last entry it
applied after Redis comes back. L{MemoryLog} is the same log in one process,
for tests of several services sharing one log.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, task
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from ..core.errors import LogUnavailable
from .position import entry_order
from .redis import RedisClient, RedisError, RedisUnavailable

__all__ = [
    "BLOCK_MS",
    "LOG_QUEUE",
    "LOG_STREAM",
    "ILog",
    "LogUnavailable",
    "MemoryLog",
    "RedisLog",
]

LOG_STREAM = "chat:log"
LOG_QUEUE = 10000  # appends that may wait while Redis is away
BLOCK_MS = 2000  # how long one XREAD waits for new entries
READ_COUNT = 500  # entries one XREAD brings at most
# Seconds of applying entries after which the reactor gets a turn: a burst
# (hundreds of users arriving at once, each told to a whole room) must not
# hold up the heartbeat nor Redis's replies, whose lateness would look like a
# dead node or a dead connection.
TURN = 0.05
FIELD = b"e"  # the field of a stream entry that holds the command
RETRY_DELAY = 1.0  # after an error reply to a read

Apply = Callable[[str, bytes], object]
STOPPED = object()  # what the reading connection answers once stopped


class ILog(Interface):
    """The ordered log the nodes share."""

    def append(entry: bytes) -> defer.Deferred[str]:
        """
        Add C{entry} after everything appended before it; fires with its id
        (C{"<ms>-<seq>"}), fails at once with L{LogUnavailable} when the log
        cannot take it.
        """

    def follow(apply: Apply, after: str = "0-0") -> defer.Deferred[None]:
        """
        Call C{apply(entry_id, data)} for each entry after C{after}, in the
        log's order, now and as entries come; fires once the entries that were
        in the log when this was called have been applied.
        """

    def stop() -> defer.Deferred[None]:
        """Stop following; appends still waiting fail with L{LogUnavailable}."""


class _Append:
    __slots__ = ("attempt", "data", "done", "sent")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.done: defer.Deferred[str] = defer.Deferred()
        self.sent = False
        self.attempt = 0


@implementer(ILog)
class RedisLog:
    """
    The log in the Redis stream C{stream}: appends through C{client} (shared
    with the rest of the node), reading through a connection of its own to
    the same address.
    """

    log = Logger()

    def __init__(
        self,
        client: RedisClient,
        *,
        stream: str = LOG_STREAM,
        queue_limit: int = LOG_QUEUE,
        block_ms: int = BLOCK_MS,
        read_count: int = READ_COUNT,
    ) -> None:
        self.client = client
        self.stream = stream
        self.queue_limit = queue_limit
        self.block_ms = block_ms
        self.read_count = read_count
        self.clock: IReactorTime = client.clock
        # Appended and not yet acknowledged by Redis, in order: the first ones
        # may be in flight (sent), the rest wait for a connection.
        self._pending: deque[_Append] = deque()
        self._stopped = False
        self._held = False  # appends kept unsent until release() (see hold())
        self._reader: RedisClient | None = None
        self._following: defer.Deferred[None] | None = None
        self._caught_up: defer.Deferred[None] | None = None
        client.on_connected(self._send_waiting)
        client.on_lost(self._unsend)

    # Appending

    @property
    def waiting(self) -> int:
        """Appends not yet acknowledged by Redis."""
        return len(self._pending)

    def hold(self) -> None:
        """
        Keep appends unsent (queued in order, within C{queue_limit}) until
        L{release}: a starting node sends nothing before its first heartbeat,
        or a node catching up meanwhile would find its entries in the log
        and no heartbeat, and take it for dead.
        """
        self._held = True

    @property
    def held(self) -> bool:
        """Appends are kept unsent (L{hold})."""
        return self._held

    def release(self) -> None:
        """Send what L{hold} kept, in order, and each append from now on."""
        self._held = False
        self._send_waiting()

    def append(self, entry: bytes) -> defer.Deferred[str]:
        if self._stopped:
            return defer.fail(LogUnavailable())
        if len(self._pending) >= self.queue_limit:
            self.log.warn(
                "log: {count} appends wait for Redis already, refusing more",
                count=len(self._pending),
            )
            return defer.fail(LogUnavailable())
        item = _Append(entry)
        self._pending.append(item)
        # Only when nothing waits unsent: an entry never overtakes another.
        if (
            self.client.connected
            and not self._held
            and (len(self._pending) == 1 or self._pending[-2].sent)
        ):
            self._send(item)
        return item.done

    def _send(self, item: _Append) -> None:
        item.sent = True
        item.attempt += 1
        attempt = item.attempt
        d = self.client.command("XADD", self.stream, "*", FIELD, item.data)
        d.addCallback(self._added, item)
        d.addErrback(self._not_added, item, attempt)

    def _added(self, entry_id: bytes, item: _Append) -> None:
        # Replies come in the order the XADDs were sent, so this is the first
        # item in flight (earlier ones were acknowledged or failed before).
        try:
            self._pending.remove(item)
        except ValueError:
            return  # stopped meanwhile: already failed
        item.done.callback(entry_id.decode("ascii"))

    def _not_added(self, failure: Failure, item: _Append, attempt: int) -> None:
        if failure.check(RedisUnavailable):
            # The connection went: _unsend marks what goes again, in order.
            return
        if item.attempt != attempt or item not in self._pending:
            return
        self._pending.remove(item)
        self.log.failure("log: Redis refused an entry", failure)
        item.done.errback(LogUnavailable())

    def _unsend(self) -> None:
        for item in self._pending:
            item.sent = False
        if self._pending:
            self.log.warn(
                "log: Redis is away; {count} appends wait to be sent again",
                count=len(self._pending),
            )

    def _send_waiting(self) -> None:
        if self._held:
            return
        for item in list(self._pending):
            if not self.client.connected:
                return
            if not item.sent:
                self._send(item)

    # Following

    def follow(self, apply: Apply, after: str = "0-0") -> defer.Deferred[None]:
        if self._following is not None:
            raise RuntimeError("this log is already followed")
        reader = RedisClient(
            self.client.reactor,
            self.client.address,
            f"{self.client.name}-log",
            reply_timeout=self.client.reply_timeout,
        )
        self._reader = reader
        reader.start()
        self._caught_up = defer.Deferred()
        caught_up = self._caught_up
        self._following = defer.ensureDeferred(self._read(reader, apply, after))
        self._following.addErrback(
            lambda f: self.log.failure("log: following stopped", f)
        )
        return caught_up

    async def _asked(
        self, reader: RedisClient, *command: str | int, timeout: float | None = None
    ) -> Any:
        """
        The reply to C{command} on the reading connection, asked again
        through reconnections and error replies until one comes; L{STOPPED}
        once the log (or its connection) is stopped.
        """
        while not self._stopped:
            try:
                await reader.when_connected()
            except RedisUnavailable:
                return STOPPED  # the reading connection is stopped
            try:
                return await reader.command(*command, timeout=timeout)
            except RedisUnavailable:
                continue  # lost meanwhile: wait for it again
            except RedisError:
                self.log.failure(
                    "log: Redis refused to read {stream}", stream=self.stream
                )
                await task.deferLater(self.clock, RETRY_DELAY)
        return STOPPED

    async def _end(self, reader: RedisClient) -> str | None:
        """The id of the last entry in the log now ("0-0" if none; None: stopped)."""
        last = await self._asked(reader, "XREVRANGE", self.stream, "+", "-", "COUNT", 1)
        if last is STOPPED:
            return None
        return last[0][0].decode("ascii") if last else "0-0"

    async def _read(self, reader: RedisClient, apply: Apply, after: str) -> None:
        end = await self._end(reader)
        if end is None:
            return
        position = after
        if entry_order(end) <= entry_order(position):
            self._fire_caught_up()
        timeout = self.block_ms / 1000 + reader.reply_timeout
        while not self._stopped:
            reply = await self._asked(
                reader,
                "XREAD",
                "COUNT",
                self.read_count,
                "BLOCK",
                self.block_ms,
                "STREAMS",
                self.stream,
                position,
                timeout=timeout,
            )
            if reply is STOPPED:
                return
            if not reply:
                continue
            turn = self.clock.seconds()
            for raw_id, fields in reply[0][1]:
                if self._stopped:
                    return
                entry_id = raw_id.decode("ascii")
                position = entry_id
                self._apply(apply, entry_id, fields)
                if self.clock.seconds() - turn > TURN:
                    await task.deferLater(self.clock, 0)
                    turn = self.clock.seconds()
                if self._caught_up is not None and entry_order(entry_id) >= entry_order(
                    end
                ):
                    self._fire_caught_up()

    def _apply(self, apply: Apply, entry_id: str, fields: list[bytes]) -> None:
        data = None
        for i in range(0, len(fields) - 1, 2):
            if fields[i] == FIELD:
                data = fields[i + 1]
                break
        if data is None:
            self.log.warn("log: entry {id} has no command, skipped", id=entry_id)
            return
        try:
            apply(entry_id, data)
        except Exception:
            self.log.failure("log: applying entry {id} failed", id=entry_id)

    def _fire_caught_up(self) -> None:
        caught_up, self._caught_up = self._caught_up, None
        if caught_up is not None:
            caught_up.callback(None)

    def stop(self) -> defer.Deferred[None]:
        self._stopped = True
        pending, self._pending = self._pending, deque()
        for item in pending:
            item.done.errback(LogUnavailable())
        caught_up, self._caught_up = self._caught_up, None
        if caught_up is not None:
            caught_up.errback(LogUnavailable())
        if self._reader is None:
            return defer.succeed(None)
        reader, self._reader = self._reader, None
        following = self._following

        def ended(_: object) -> defer.Deferred[None] | None:
            return following  # ends once its read fails

        return reader.stop().addCallback(ended)


@implementer(ILog)
class MemoryLog:
    """
    The log in this process: entries get ids from C{clock} like Redis gives
    them (milliseconds, then a sequence), and reach followers on the next
    turn of the clock (never from inside C{append}), in order. L{down} and
    L{up} play Redis going away and coming back: appends wait meanwhile, at
    most C{queue_limit}.
    """

    def __init__(self, clock: IReactorTime, *, queue_limit: int = LOG_QUEUE) -> None:
        self.clock = clock
        self.queue_limit = queue_limit
        self.entries: list[tuple[str, bytes]] = []
        self.available = True
        self._waiting: deque[tuple[bytes, defer.Deferred[str]]] = deque()
        self._followers: list[_MemoryFollower] = []
        self._last = (0, 0)

    def _next_id(self) -> str:
        ms = int(self.clock.seconds() * 1000)
        last_ms, last_seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return f"{self._last[0]}-{self._last[1]}"

    def append(self, entry: bytes) -> defer.Deferred[str]:
        if not self.available:
            if len(self._waiting) >= self.queue_limit:
                return defer.fail(LogUnavailable())
            d: defer.Deferred[str] = defer.Deferred()
            self._waiting.append((entry, d))
            return d
        return defer.succeed(self._add(entry))

    def _add(self, entry: bytes) -> str:
        entry_id = self._next_id()
        self.entries.append((entry_id, entry))
        for follower in self._followers:
            follower.wake()
        return entry_id

    def down(self) -> None:
        self.available = False

    def up(self) -> None:
        self.available = True
        while self._waiting and self.available:
            entry, d = self._waiting.popleft()
            d.callback(self._add(entry))

    def follow(self, apply: Apply, after: str = "0-0") -> defer.Deferred[None]:
        follower = _MemoryFollower(self, apply, after)
        self._followers.append(follower)
        return follower.caught_up

    def stop(self) -> defer.Deferred[None]:
        for follower in self._followers:
            follower.stop()
        self._followers = []
        waiting, self._waiting = self._waiting, deque()
        for _, d in waiting:
            d.errback(LogUnavailable())
        return defer.succeed(None)


class _MemoryFollower:
    log = Logger()

    def __init__(self, memory: MemoryLog, apply: Apply, after: str) -> None:
        self.memory = memory
        self.apply = apply
        after_order = entry_order(after)
        self.next = sum(
            1 for entry_id, _ in memory.entries if entry_order(entry_id) <= after_order
        )
        self.end = len(memory.entries)
        self.caught_up: defer.Deferred[None] = defer.Deferred()
        self._call: IDelayedCall | None = None
        self.wake()

    def wake(self) -> None:
        if self._call is None:
            self._call = self.memory.clock.callLater(0, self._deliver)

    def _deliver(self) -> None:
        self._call = None
        entries = self.memory.entries
        while self.next < len(entries):
            entry_id, data = entries[self.next]
            self.next += 1
            try:
                self.apply(entry_id, data)
            except Exception:
                self.log.failure("log: applying entry {id} failed", id=entry_id)
        if not self.caught_up.called and self.next >= self.end:
            self.caught_up.callback(None)

    def stop(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None
