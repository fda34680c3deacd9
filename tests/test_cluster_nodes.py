"""Node presence, leases and the shared secret, against a real redis-server."""

from __future__ import annotations

import re
import time
from typing import Any

from twisted.internet import defer, reactor, task
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat.cluster.nodes import (
    Heartbeat,
    Lease,
    new_node_id,
    shared_secret,
)
from twistedchat.cluster.redis import RedisClient

from .redis_server import RedisServer, eventually, started_client, started_redis

CLOCK: IReactorTime = reactor


class NodeIdTests(SynchronousTestCase):
    def test_host_pid_random(self) -> None:
        first, second = new_node_id(), new_node_id()
        self.assertRegex(first, r"^[^.\s]+-\d+-[0-9a-f]{6}$")
        self.assertNotEqual(first, second)
        self.assertEqual(
            re.sub(r"-[0-9a-f]{6}$", "", first), re.sub(r"-[0-9a-f]{6}$", "", second)
        )


class HeartbeatTests(TestCase):
    @defer.inlineCallbacks
    def node(
        self, server: RedisServer, node_id: str, dead: list[str], **options: Any
    ) -> Any:
        client: RedisClient = yield started_client(
            self, reactor, server.address(), node_id
        )
        heartbeat = Heartbeat(client, node_id, dead.append, **options)
        heartbeat.startService()
        self.addCleanup(heartbeat.stopService)
        return heartbeat

    @defer.inlineCallbacks
    def test_a_killed_node_is_found_dead_within_the_timings(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        dead_a: list[str] = []
        dead_b: list[str] = []
        a: Heartbeat = yield self.node(server, "node-a", dead_a)  # default timings
        b: Heartbeat = yield self.node(server, "node-b", dead_b)
        yield eventually(lambda: server.call("ZCARD", "chat:nodes") == 2, CLOCK)
        self.assertEqual((yield a.alive()), {"node-a", "node-b"})
        # node-b vanishes without a word (its connection gone, as with SIGKILL).
        yield b.client.stop()
        yield b.stopService()
        vanished = time.monotonic()
        yield eventually(lambda: dead_a == ["node-b"], CLOCK, seconds=12, what="dead")
        took = time.monotonic() - vanished
        # dead after 6 s without a beat (beats every 2 s), looked for every
        # 1 s: within 7 s, and the 10 s leave room for a loaded machine.
        self.assertLess(took, 9.5)
        self.assertGreater(took, 6 - 2 - 0.5)
        self.assertEqual((yield a.alive()), {"node-a"})
        # Reported once, not at every check.
        yield task.deferLater(CLOCK, 2.5)
        self.assertEqual(dead_a, ["node-b"])

    @defer.inlineCallbacks
    def test_a_stopped_node_is_gone_at_the_next_check_of_every_node(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        dead: dict[str, list[str]] = {"a": [], "b": [], "c": []}
        # Dead only 5 s after the last beat: seen sooner, it is the leaving.
        fast = {"beat": 0.2, "dead_after": 5.0, "check": 0.1}
        nodes = {}
        for name in "abc":
            nodes[name] = yield self.node(server, f"node-{name}", dead[name], **fast)
        yield eventually(lambda: server.call("ZCARD", "chat:nodes") == 3, CLOCK)
        left = time.monotonic()
        yield nodes["c"].stopService()
        yield eventually(
            lambda: dead["a"] == ["node-c"] and dead["b"] == ["node-c"],
            CLOCK,
            seconds=5,
        )
        self.assertLess(time.monotonic() - left, 2.5)
        self.assertEqual(dead["c"], [])

    @defer.inlineCallbacks
    def test_a_node_that_was_taken_for_dead_learns_it(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client: RedisClient = yield started_client(self, reactor, server.address(), "n")
        presumed: list[bool] = []
        heartbeat = Heartbeat(
            client,
            "node-slow",
            lambda node: None,
            on_presumed_dead=lambda: presumed.append(True),
            dead_after=0.3,
        )
        yield heartbeat.beat()
        yield heartbeat.beat()
        self.assertEqual(presumed, [])
        yield task.deferLater(CLOCK, 0.5)  # a pause longer than dead_after
        yield heartbeat.beat()
        self.assertEqual(presumed, [True])


class LeaseTests(TestCase):
    @defer.inlineCallbacks
    def lease(
        self,
        server: RedisServer,
        node_id: str,
        events: list[tuple[str, str, float]],
        **options: Any,
    ) -> Any:
        client: RedisClient = yield started_client(
            self, reactor, server.address(), node_id
        )
        lease = Lease(
            client,
            "history",
            node_id,
            on_gained=lambda: events.append((node_id, "gained", time.monotonic())),
            on_lost=lambda: events.append((node_id, "lost", time.monotonic())),
            **options,
        )
        lease.startService()
        self.addCleanup(lease.stopService)
        return lease

    @defer.inlineCallbacks
    def test_passes_to_a_second_holder_when_the_first_stops_renewing(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        events: list[tuple[str, str, float]] = []
        a: Lease = yield self.lease(server, "node-a", events, ttl=3.0)
        yield eventually(lambda: a.held, CLOCK)
        b: Lease = yield self.lease(server, "node-b", events, ttl=3.0)
        self.assertEqual(server.call("GET", "chat:lease:history"), b"node-a")
        self.assertEqual((yield b.holder()), "node-a")
        yield task.deferLater(CLOCK, 3.5)  # renewed meanwhile, more than a ttl
        self.assertTrue(a.held)
        self.assertFalse(b.held)
        # node-a stops renewing (its connection gone): it gives the lease up
        # by itself before Redis lets it expire, then node-b takes it.
        stopped = time.monotonic()
        yield a.client.stop()
        yield eventually(lambda: b.held, CLOCK, seconds=8, what="b holds")
        self.assertFalse(a.held)
        self.assertEqual(
            [(n, e) for n, e, _ in events],
            [
                ("node-a", "gained"),
                ("node-a", "lost"),
                ("node-b", "gained"),
            ],
        )
        a_lost, b_gained = events[1][2], events[2][2]
        self.assertLess(a_lost, b_gained)
        # At most 0.8 ttl after its last renewal; the key expires at 1 ttl,
        # taken at the next try of node-b (every ttl/3); with room for load.
        self.assertLess(a_lost - stopped, 3.5)
        self.assertLess(b_gained - stopped, 5.5)
        self.assertEqual(server.call("GET", "chat:lease:history"), b"node-b")

    @defer.inlineCallbacks
    def test_released_on_stop_and_lost_when_another_holds_it(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        events: list[tuple[str, str, float]] = []
        a: Lease = yield self.lease(server, "node-a", events, ttl=3.0)
        yield eventually(lambda: a.held, CLOCK)
        b: Lease = yield self.lease(server, "node-b", events, ttl=3.0)
        yield a.stopService()
        # Released: free, or already node-b's (its try may come at once).
        self.assertIn(server.call("GET", "chat:lease:history"), (None, b"node-b"))
        yield eventually(lambda: b.held, CLOCK, seconds=2.5)
        # Someone else's value in the key: node-b's next renewal finds out.
        server.call("SET", "chat:lease:history", "intruder", "PX", 10000)
        yield b.renew()
        self.assertFalse(b.held)
        self.assertEqual(events[-1][:2], ("node-b", "lost"))
        self.assertEqual(server.call("GET", "chat:lease:history"), b"intruder")

    @defer.inlineCallbacks
    def test_the_holder_keeps_it_over_a_redis_restart_without_data(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        events: list[tuple[str, str, float]] = []
        a: Lease = yield self.lease(server, "node-a", events, ttl=3.0)
        yield eventually(lambda: a.held, CLOCK)
        b: Lease = yield self.lease(server, "node-b", events, ttl=3.0)
        yield server.restart(CLOCK)  # without persistence: the key is gone
        # (or node-a's again already: the holder takes it back at once)
        self.assertIn(server.call("GET", "chat:lease:history"), (None, b"node-a"))
        yield eventually(
            lambda: server.call("GET", "chat:lease:history") is not None, CLOCK
        )
        yield task.deferLater(CLOCK, 2.5)
        self.assertEqual(server.call("GET", "chat:lease:history"), b"node-a")
        self.assertEqual([(n, e) for n, e, _ in events], [("node-a", "gained")])
        self.assertTrue(a.held)
        self.assertFalse(b.held)


class SharedSecretTests(TestCase):
    @defer.inlineCallbacks
    def test_every_node_gets_the_same_secret(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        one: RedisClient = yield started_client(self, reactor, server.address(), "a")
        two: RedisClient = yield started_client(self, reactor, server.address(), "b")
        secrets = yield defer.gatherResults([shared_secret(one), shared_secret(two)])
        self.assertEqual(secrets[0], secrets[1])
        self.assertEqual(len(secrets[0]), 32)
        self.assertEqual((yield shared_secret(one)), secrets[0])
