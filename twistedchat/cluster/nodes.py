"""
Which nodes are alive, which one holds a lease, and the secret they share.

L{Heartbeat} keeps this node alive in Redis: every C{beat} seconds it sets
its expiry (Redis's clock plus C{dead_after}) in the sorted set
C{chat:nodes}, and every C{check} seconds it looks for nodes whose expiry
has passed and calls C{on_dead(node_id)} once for each, on every live node
(the replicated service appends a C{gone} entry; applying it twice does
nothing more). All times come from Redis (TIME, inside Lua), so the
machines' clocks do not matter. A node that stops marks itself expired, so
the others see it gone at their next check.

L{Lease} is held by one node at a time (C{SET NX PX}, then renewed and
released only by its holder, compared in Lua). The holder takes it as lost
as soon as a renewal finds another holder, or when no renewal has succeeded
for long enough that Redis may have let it expire: it stops acting as holder
before anyone else can become one. When Redis comes back (perhaps without
its data), the holder takes the lease back at once and the others wait a
ttl before trying, so it does not change hands for nothing.

L{shared_secret} gives every node the same signing secret (resume tokens).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from .redis import RedisClient, RedisError, RedisUnavailable, Script

NODES_KEY = "chat:nodes"
SECRET_KEY = "chat:secret"
LEASE_PREFIX = "chat:lease:"
BEAT = 2.0  # seconds between two heartbeats
DEAD_AFTER = 6.0  # seconds without a heartbeat before a node is dead
CHECK = 1.0  # seconds between two looks for dead nodes
FORGET_AFTER = 60.0  # seconds a dead node stays listed (for late checkers)
LEASE_TTL = 6.0


def new_node_id() -> str:
    """C{hostname-pid-random}: unique even for a pid used again after a restart."""
    host = socket.gethostname().split(".")[0] or "node"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


# Sets this node's expiry to Redis's time plus ARGV[2] ms; returns the expiry
# it had (false if none), so a node learns it had been taken for dead.
_BEAT = Script(
    """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
if before and tonumber(before) < ms then return 1 end
return 0
"""
)

# Nodes whose expiry has passed; forgets those dead for longer than ARGV[1] ms.
_DEAD = Script(
    """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms - tonumber(ARGV[1]))
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms)
"""
)

_ALIVE = Script(
    """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ms, '+inf')
"""
)

# This node leaves: expired now, so that every other node sees it gone.
_LEAVE = Script(
    """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ms - 1, ARGV[1])
end
return 0
"""
)


class Heartbeat(Service):
    """
    This node's presence, and who else is alive.

    @ivar on_dead: called with the id of each node found dead (once per node
        as long as this node runs; again if that id comes back and dies again).
    @ivar on_presumed_dead: called when a beat finds that this node's own
        expiry had passed (a long pause): the others took it for dead.
    """

    log = Logger()

    def __init__(
        self,
        client: RedisClient,
        node_id: str,
        on_dead: Callable[[str], object],
        *,
        on_presumed_dead: Callable[[], object] | None = None,
        beat: float = BEAT,
        dead_after: float = DEAD_AFTER,
        check: float = CHECK,
        forget_after: float = FORGET_AFTER,
        key: str = NODES_KEY,
    ) -> None:
        self.client = client
        self.clock: IReactorTime = client.clock
        self.node_id = node_id
        self.on_dead = on_dead
        self.on_presumed_dead = on_presumed_dead
        self.beat_interval = beat
        self.dead_after = dead_after
        self.check_interval = check
        self.forget_after = forget_after
        self.key = key
        self.dead: set[str] = set()  # found dead and reported
        self._beating: task.LoopingCall | None = None
        self._checking: task.LoopingCall | None = None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._beating = self._loop(self.beat)
        self._beating.start(self.beat_interval, now=True)
        self._checking = self._loop(self.check)
        self._checking.start(self.check_interval, now=False)
        # Beat again as soon as Redis is back rather than at the next tick.
        self.client.on_connected(self._reconnected)

    def _loop(self, work: Callable[[], defer.Deferred[None]]) -> task.LoopingCall:
        loop = task.LoopingCall(work)
        loop.clock = self.clock
        return loop

    def _reconnected(self) -> None:
        if self.running:
            self.beat()

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        for loop in (self._beating, self._checking):
            if loop is not None and loop.running:
                loop.stop()
        self._beating = self._checking = None
        if not self.client.connected:
            return defer.succeed(None)
        d = _LEAVE.run(self.client, [self.key], [self.node_id])
        d.addErrback(self._failed, "leaving")
        return d.addCallback(lambda _: None)

    def beat(self) -> defer.Deferred[None]:
        """Push this node's expiry C{dead_after} seconds ahead."""
        if not self.client.connected:
            return defer.succeed(None)
        d = _BEAT.run(
            self.client, [self.key], [self.node_id, int(self.dead_after * 1000)]
        )

        def beaten(was_dead: int) -> None:
            if was_dead:
                self.log.warn(
                    "node {node} had missed its heartbeats: the others took it for dead",
                    node=self.node_id,
                )
                if self.on_presumed_dead is not None:
                    self.on_presumed_dead()

        return d.addCallbacks(beaten, self._failed, errbackArgs=("beating",))

    def check(self) -> defer.Deferred[None]:
        """Report the nodes whose heartbeat stopped."""
        if not self.client.connected:
            return defer.succeed(None)
        d = _DEAD.run(self.client, [self.key], [int(self.forget_after * 1000)])

        def found(ids: list[bytes]) -> None:
            dead = {raw.decode("utf-8") for raw in ids} - {self.node_id}
            # An id no longer listed as dead (forgotten, or beating again)
            # may be reported again if it dies again.
            self.dead &= dead
            for node_id in sorted(dead - self.dead):
                self.dead.add(node_id)
                self.log.warn("node {node} is dead (no heartbeat)", node=node_id)
                try:
                    self.on_dead(node_id)
                except Exception:
                    self.log.failure("reporting dead node {node}", node=node_id)

        return d.addCallbacks(found, self._failed, errbackArgs=("checking",))

    def alive(self) -> defer.Deferred[set[str]]:
        """The ids of the nodes alive now (this one included, if beating)."""
        d = _ALIVE.run(self.client, [self.key])
        return d.addCallback(lambda ids: {raw.decode("utf-8") for raw in ids})

    def _failed(self, failure: Failure, doing: str) -> None:
        if failure.check(RedisUnavailable):
            return  # the client says when Redis goes and comes back
        self.log.failure("heartbeat: {doing} failed", failure, doing=doing)


# Renews the lease ARGV[2] ms ahead if ARGV[1] holds it. A holder finding
# it gone (Redis restarted without its data: no one can have taken it since)
# takes it again before another node's SET NX can.
_RENEW = Script(
    """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
)

# Gives the lease up if ARGV[1] holds it.
_RELEASE = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
)


class Lease(Service):
    """
    The lease C{chat:lease:<name>}, held by one node at a time.

    Every C{ttl}/3 seconds the node tries to take it (or, holding it, renews
    it). C{on_gained()} is called when this node becomes the holder,
    C{on_lost()} when it stops being one (another node holds it, or no
    renewal succeeded for C{safe} of the C{ttl}: Redis may let it expire).
    """

    log = Logger()

    def __init__(
        self,
        client: RedisClient,
        name: str,
        node_id: str,
        *,
        ttl: float = LEASE_TTL,
        on_gained: Callable[[], object] | None = None,
        on_lost: Callable[[], object] | None = None,
        prefix: str = LEASE_PREFIX,
        safe: float = 0.8,
    ) -> None:
        self.client = client
        self.clock: IReactorTime = client.clock
        self.name = name
        self.key = prefix + name
        self.node_id = node_id
        self.ttl = ttl
        self.on_gained = on_gained
        self.on_lost = on_lost
        self.safe = safe
        self.held = False
        self._trying: task.LoopingCall | None = None
        self._expiry: IDelayedCall | None = None
        self._busy = False
        self._was_lost = False
        self._patient_until = 0.0

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._trying = task.LoopingCall(self.renew)
        self._trying.clock = self.clock
        self._trying.start(self.ttl / 3, now=True)
        self.client.on_connected(self._reconnected)
        self.client.on_lost(self._disconnected)

    def _disconnected(self) -> None:
        self._was_lost = True

    def _reconnected(self) -> None:
        if not self.running:
            return
        if self._was_lost and not self.held:
            # Redis may have come back without its data: the holder, which
            # tries again at once, gets the first chance to take it back.
            self._patient_until = self.clock.seconds() + self.ttl
        self._was_lost = False
        self.renew()

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        if self._trying is not None and self._trying.running:
            self._trying.stop()
        self._trying = None
        return self.release()

    def renew(self) -> defer.Deferred[None]:
        """Take the lease if free, or renew it if held; fires when answered."""
        if self._busy or not self.running or not self.client.connected:
            return defer.succeed(None)
        if not self.held and self.clock.seconds() < self._patient_until:
            return defer.succeed(None)
        self._busy = True
        sent = self.clock.seconds()
        ttl_ms = int(self.ttl * 1000)
        if self.held:
            d = _RENEW.run(self.client, [self.key], [self.node_id, ttl_ms])
        else:
            d = self.client.command("SET", self.key, self.node_id, "NX", "PX", ttl_ms)
            # Not free: it may still be ours (a renewal whose reply came late).
            d.addCallback(
                lambda reply: (
                    1
                    if reply == "OK"
                    else _RENEW.run(self.client, [self.key], [self.node_id, ttl_ms])
                )
            )
        d.addCallbacks(self._answered, self._failed, callbackArgs=(sent,))

        def done(_: object) -> None:
            self._busy = False

        return d.addBoth(done)

    def _answered(self, holds: int, sent: float) -> None:
        if not self.running:
            return
        if not holds:
            if self.held:
                self.log.warn("lease {name}: another node holds it now", name=self.name)
                self._lose()
            return
        # Redis keeps it ttl from when it ran the command, which is after
        # `sent`: acting as holder until sent + safe * ttl is on the safe side.
        until = sent + self.safe * self.ttl
        delay = until - self.clock.seconds()
        if delay <= 0:
            return  # answered too late to be of use; the next try decides
        if self._expiry is not None and self._expiry.active():
            self._expiry.cancel()
        self._expiry = self.clock.callLater(delay, self._expired)
        if not self.held:
            self.held = True
            self.log.info(
                "lease {name}: held by {node}", name=self.name, node=self.node_id
            )
            self._call(self.on_gained)

    def _failed(self, failure: Failure) -> None:
        if not failure.check(RedisUnavailable):
            self.log.failure("lease {name}: renewal failed", failure, name=self.name)
        # Not lost yet: the expiry timer decides, unless Redis refused.
        if failure.check(RedisError) and self.held:
            self._lose()

    def _expired(self) -> None:
        self._expiry = None
        if self.held:
            self.log.warn(
                "lease {name}: not renewed in time, giving it up", name=self.name
            )
            self._lose()

    def _lose(self) -> None:
        if self._expiry is not None and self._expiry.active():
            self._expiry.cancel()
        self._expiry = None
        self.held = False
        self._call(self.on_lost)

    def release(self) -> defer.Deferred[None]:
        """Give the lease up (only if held): another node may take it at once."""
        if not self.held:
            return defer.succeed(None)
        self._lose()
        if not self.client.connected:
            return defer.succeed(None)
        d = _RELEASE.run(self.client, [self.key], [self.node_id])
        d.addErrback(
            lambda f: self.log.failure("lease {name}: release", f, name=self.name)
        )
        return d.addCallback(lambda _: None)

    def holder(self) -> defer.Deferred[str | None]:
        """The id of the node holding the lease now, if any."""
        d = self.client.command("GET", self.key)
        return d.addCallback(lambda raw: raw.decode("utf-8") if raw else None)

    def _call(self, callback: Callable[[], object] | None) -> None:
        if callback is None:
            return
        try:
            callback()
        except Exception:
            self.log.failure("lease {name}: callback failed", name=self.name)


@defer.inlineCallbacks
def shared_secret(client: RedisClient, key: str = SECRET_KEY, size: int = 32) -> Any:
    """
    The secret every node signs resume tokens with: the first node to ask
    sets a random one (SET NX), every node reads the one that was set.
    """
    yield client.command("SET", key, secrets.token_bytes(size), "NX")
    secret = yield client.command("GET", key)
    if not isinstance(secret, bytes) or not secret:
        raise RedisUnavailable(f"no shared secret under {key}")
    return secret
