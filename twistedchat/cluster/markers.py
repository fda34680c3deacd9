"""
Read markers shared by the nodes: what each identity was shown of each room,
the same whichever node it comes back through ("what you missed").

A marker is set when a session of a lasting identity leaves a room (see
L{twistedchat.core.reading}): on the node of that session, while it applies
the entry of the leaving, to the room's position there, which is the same on
every node. L{ClusterMarkers} keeps markers in Redis, one hash per identity
(C{chat:markers:<user id>}: room key -> C{"<seq> <ms>"}, the position and
when it was set), written by a script that only moves a marker forwards and
keeps the C{max_rooms} most lately left; the hash expires C{max_age} after
its last change. Why Redis and not log entries: a marker concerns one
identity and is read by the one node it comes back through, so no other node
needs it, nor the log's order; and a node's start does not replay them.

L{IReadMarkers.last_shown} must answer at once (a joiner's replay is
computed as the join is applied), so each node keeps a cache, filled by
L{ClusterMarkers.fetch} when an identity connects through it: the node asks
Redis for the identity's markers as it appends the connection, and answers
the connection once both are done (L{ReplicatedService.connect}), so before
any of its joins is appended. A node's own markers go to its cache at once,
and to Redis as they are set; while Redis is away they wait (bounded by
C{max_identities}) and are sent again every C{retry_interval}. The cache
holds the C{max_identities} identities seen most lately.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core.reading import IReadMarkers
from ..persistence.markers import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_IDENTITIES,
    DEFAULT_MAX_ROOMS,
)
from .redis import RedisClient, Script

RETRY_INTERVAL = 1.0  # seconds between two attempts to send markers to Redis

# KEYS: the identity's hash; ARGV: room key, position, now (ms), max age (s),
# max rooms. A marker only moves forwards; past max rooms, the least lately
# left goes.
_SHOWN = Script(
    """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and tonumber(string.match(old, '^(%d+)')) >= tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[5]) then
  local fields = redis.call('HGETALL', KEYS[1])
  local oldest, at = nil, nil
  for i = 1, #fields, 2 do
    local when = tonumber(string.match(fields[i + 1], ' (%d+)$') or '0')
    if at == nil or when < at then oldest, at = fields[i], when end
  end
  redis.call('HDEL', KEYS[1], oldest)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
)


@implementer(IReadMarkers)
class ClusterMarkers(Service):
    """Every node's read markers, kept in Redis, cached for the identities here."""

    log = Logger()

    def __init__(
        self,
        redis: RedisClient,
        clock: IReactorTime,
        *,
        prefix: str = "chat:",
        max_identities: int = DEFAULT_MAX_IDENTITIES,
        max_rooms: int = DEFAULT_MAX_ROOMS,
        max_age: float = DEFAULT_MAX_AGE,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.prefix = f"{prefix}markers:"
        self.max_identities = max_identities
        self.max_rooms = max_rooms
        self.max_age = max_age
        self.retry_interval = retry_interval
        # By identity (the most lately seen last), by room key: the position.
        self._cache: OrderedDict[str, dict[str, int]] = OrderedDict()
        # Markers set here and not yet in Redis, by identity, by room key.
        self._unsent: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._sending: dict[tuple[str, str], Deferred[None]] = {}
        self._retry: IDelayedCall | None = None
        self._failing = False  # the last send failed (said once, until one works)
        self.before_stop: list[Callable[[], None]] = []  # called by stopService first

    def key(self, user_id: str) -> str:
        """The Redis hash of C{user_id}'s markers."""
        return self.prefix + user_id

    # IReadMarkers

    def last_shown(self, user_id: str, room_key: str) -> int | None:
        rooms = self._cache.get(user_id)
        return None if rooms is None else rooms.get(room_key)

    def shown(self, user_id: str, room_key: str, seq: int) -> None:
        rooms = self._rooms(user_id)
        old = rooms.get(room_key)
        if old is not None and old >= seq:
            return  # never back: another session of the identity saw more
        rooms.pop(room_key, None)
        rooms[room_key] = seq  # last: the most lately left
        while len(rooms) > self.max_rooms:
            del rooms[next(iter(rooms))]
        unsent = self._unsent.setdefault(user_id, {})
        unsent[room_key] = max(seq, unsent.get(room_key, seq))
        self._unsent.move_to_end(user_id)
        while len(self._unsent) > self.max_identities:
            self._unsent.popitem(last=False)
        self._send(user_id, room_key)

    def _rooms(self, user_id: str) -> dict[str, int]:
        """C{user_id}'s cached markers (made if missing), now the most lately seen."""
        rooms = self._cache.get(user_id)
        if rooms is None:
            rooms = self._cache[user_id] = {}
            while len(self._cache) > self.max_identities:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(user_id)
        return rooms

    # Redis

    def fetch(self, user_id: str) -> Deferred[None]:
        """
        Fill the cache with C{user_id}'s markers from Redis (it connects
        through this node); fires when done. Redis away: said, and the
        identity is a newcomer where nothing is cached (never an error).
        """

        def fetched(reply: list[bytes] | None) -> None:
            rooms = self._rooms(user_id)
            pairs = reply or []
            for field, value in zip(pairs[::2], pairs[1::2], strict=True):
                seq = _position(value)
                if seq is None:
                    continue
                room_key = field.decode("utf-8", "replace")
                if seq > rooms.get(room_key, -1):
                    rooms[room_key] = seq

        def failed(failure: Failure) -> None:
            self.log.warn(
                "read markers of {user_id} not read from Redis ({why}): "
                "shown as to a newcomer where this node knows none",
                user_id=user_id,
                why=failure.getErrorMessage(),
            )

        return self.redis.command("HGETALL", self.key(user_id)).addCallbacks(
            fetched, failed
        )

    def _send(self, user_id: str, room_key: str) -> None:
        """Send C{user_id}'s marker of C{room_key} (if not already on its way)."""
        if (user_id, room_key) in self._sending:
            return  # sent again when that one is done, if it moved meanwhile
        seq = self._unsent.get(user_id, {}).get(room_key)
        if seq is None:
            return
        now = round(self.clock.seconds() * 1000)
        sending = _SHOWN.run(
            self.redis,
            [self.key(user_id)],
            [room_key, seq, now, round(self.max_age), self.max_rooms],
        )
        sending.addCallbacks(
            lambda _: self._sent(user_id, room_key, seq), self._not_sent
        )
        if not sending.called:  # on its way (else Redis is away: failed at once)
            self._sending[(user_id, room_key)] = sending
            sending.addCallback(self._done_sending, user_id, room_key)

    def _done_sending(self, again: bool, user_id: str, room_key: str) -> None:
        del self._sending[(user_id, room_key)]
        if again:
            self._send(user_id, room_key)

    def _sent(self, user_id: str, room_key: str, seq: int) -> bool:
        """C{seq} is in Redis; whether to send the marker again (it moved on)."""
        if self._failing:
            self._failing = False
            self.log.info("read markers sent to Redis again")
        unsent = self._unsent.get(user_id)
        if unsent is None or room_key not in unsent:
            return False
        if unsent[room_key] > seq:
            return True
        del unsent[room_key]
        if not unsent:
            del self._unsent[user_id]
        return False

    def _not_sent(self, failure: Failure) -> bool:
        if not self._failing:
            self._failing = True
            self.log.error(
                "cannot send read markers to Redis ({why}); they wait here and "
                "are sent again every {interval:g} s",
                why=failure.getErrorMessage(),
                interval=self.retry_interval,
            )
        if self._retry is None and self.running:
            self._retry = self.clock.callLater(self.retry_interval, self._send_unsent)
        return False

    def _send_unsent(self) -> None:
        self._retry = None
        for user_id, rooms in list(self._unsent.items()):
            for room_key in list(rooms):
                self._send(user_id, room_key)

    @property
    def unsent(self) -> int:
        """Markers set here that Redis does not have yet."""
        return sum(map(len, self._unsent.values()))

    def flush(self) -> Deferred[None]:
        """Send every marker that waits; fires when each is sent, or failed."""
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        self._send_unsent()
        if not self._sending:
            return succeed(None)
        waiting: Deferred[Any] = DeferredList(list(self._sending.values()))
        return waiting.addCallback(lambda _: None)

    # Service

    def stopService(self) -> Deferred[None]:
        """Mark what those still present saw, and send what waits."""
        for settle in self.before_stop:
            settle()
        super().stopService()  # type: ignore[no-untyped-call]
        return self.flush()


def _position(value: bytes) -> int | None:
    """The position in a marker's value (C{b"<seq> <ms>"}), or None if damaged."""
    head = value.split(b" ", 1)[0]
    return int(head) if head.isdigit() else None
