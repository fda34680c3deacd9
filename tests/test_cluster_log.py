"""The cluster's shared log: in a real Redis stream, and in memory."""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

from twisted.internet import defer, reactor, task
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from twistedchat.cluster.log import ILog, LogUnavailable, MemoryLog, RedisLog
from twistedchat.cluster.position import entry_order
from twistedchat.cluster.redis import RedisClient
from twistedchat.core.errors import ChatError

from .redis_server import RedisServer, eventually, started_client, started_redis, within

CLOCK: IReactorTime = reactor


class Applied:
    """What a follower applied, in order."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, bytes]] = []

    def __call__(self, entry_id: str, data: bytes) -> None:
        self.entries.append((entry_id, data))

    @property
    def data(self) -> list[bytes]:
        return [data for _, data in self.entries]

    def first_occurrences(self) -> list[bytes]:
        seen: set[bytes] = set()
        order = []
        for data in self.data:
            if data not in seen:
                seen.add(data)
                order.append(data)
        return order


class RedisLogTests(TestCase):
    @defer.inlineCallbacks
    def make_log(self, server: RedisServer, **options: Any) -> Any:
        client: RedisClient = yield started_client(
            self, reactor, server.address(), "node-a"
        )
        log = RedisLog(client, **options)
        self.addCleanup(log.stop)
        return log

    @defer.inlineCallbacks
    def test_appends_keep_their_order_and_followers_see_it(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        log: RedisLog = yield self.make_log(server, block_ms=200)
        self.assertTrue(verifyObject(ILog, log))
        before = yield defer.gatherResults(
            [log.append(b"old %d" % i) for i in range(300)]
        )
        self.assertEqual(before, sorted(before, key=entry_order))
        self.assertEqual(len(set(before)), 300)
        applied = Applied()
        caught_up = log.follow(applied)
        yield within(caught_up, 10, CLOCK)
        # Caught up: at least what was in the log when following began.
        self.assertEqual(applied.data[:300], [b"old %d" % i for i in range(300)])
        self.assertEqual([i for i, _ in applied.entries[:300]], before)
        after = yield defer.gatherResults(
            [log.append(b"new %d" % i) for i in range(50)]
        )
        yield eventually(lambda: len(applied.entries) == 350, CLOCK, what="350 applied")
        self.assertEqual(applied.data[300:], [b"new %d" % i for i in range(50)])
        self.assertEqual([i for i, _ in applied.entries[300:]], after)
        self.assertEqual(server.call("XLEN", "chat:log"), 350)

    @defer.inlineCallbacks
    def test_a_burst_of_entries_leaves_the_reactor_turns(self) -> Any:
        # 200 entries that take 5 ms each to apply (users arriving, each
        # told to a whole room) arrive in one read: a second of work. The
        # heartbeat's timer must still run every few tenths of a second.
        server: RedisServer = yield started_redis(self, CLOCK)
        log: RedisLog = yield self.make_log(server, block_ms=200)
        yield defer.gatherResults([log.append(b"%d" % i) for i in range(200)])
        applied = Applied()

        def slowly(entry_id: str, data: bytes) -> None:
            deadline = time.monotonic() + 0.005
            while time.monotonic() < deadline:
                pass
            applied(entry_id, data)

        ticks: list[float] = []
        ticking = task.LoopingCall(lambda: ticks.append(time.monotonic()))
        ticking.clock = CLOCK
        ticking.start(0.05)
        self.addCleanup(ticking.stop)
        yield within(log.follow(slowly), 20, CLOCK)
        self.assertEqual(len(applied.entries), 200)
        gaps = [later - earlier for earlier, later in pairwise(ticks)]
        self.assertLess(max(gaps), 0.3, "the reactor waited for the whole burst")

    @defer.inlineCallbacks
    def test_following_from_a_point_and_an_empty_log(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        log: RedisLog = yield self.make_log(server, block_ms=200)
        applied = Applied()
        yield within(log.follow(applied), 10, CLOCK)  # empty: caught up at once
        self.assertEqual(applied.entries, [])
        ids = yield defer.gatherResults([log.append(b"%d" % i) for i in range(5)])
        yield eventually(lambda: len(applied.entries) == 5, CLOCK)
        other: RedisLog = yield self.make_log(server, block_ms=200)
        later = Applied()
        yield within(other.follow(later, after=ids[2]), 10, CLOCK)
        self.assertEqual(later.data, [b"3", b"4"])

    @defer.inlineCallbacks
    def test_redis_restarted_during_appends_nothing_lost_nor_reordered(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, persistent=True)
        log: RedisLog = yield self.make_log(server, block_ms=200)
        applied = Applied()
        yield within(log.follow(applied), 10, CLOCK)
        appended: list[defer.Deferred[str]] = []
        for i in range(100):
            appended.append(log.append(b"%d" % i))
        restarting = server.restart(CLOCK, down=0.5, crash=True)
        # Accepted while Redis is away: they wait, in order.
        for i in range(100, 200):
            appended.append(log.append(b"%d" % i))
            if i == 150:
                yield eventually(lambda: not log.client.connected, CLOCK)
                self.assertGreater(log.waiting, 0)
        yield restarting
        ids = yield within(defer.gatherResults(appended), 20, CLOCK)
        self.assertEqual(ids, sorted(ids, key=entry_order))
        expected = [b"%d" % i for i in range(200)]
        yield eventually(
            lambda: applied.first_occurrences() == expected,
            CLOCK,
            what="every entry applied",
        )
        # The log itself: every entry, first occurrences in order (an XADD
        # whose reply was lost may be there twice: the applier skips it).
        stream = [
            fields[1] for _, fields in server.call("XRANGE", "chat:log", "-", "+")
        ]
        seen: list[bytes] = []
        for data in stream:
            if data not in seen:
                seen.append(data)
        self.assertEqual(seen, expected)
        self.assertEqual(log.waiting, 0)

    @defer.inlineCallbacks
    def test_redis_busy_in_debug_sleep_delays_but_loses_nothing(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        log: RedisLog = yield self.make_log(server, block_ms=200)
        applied = Applied()
        yield within(log.follow(applied), 10, CLOCK)
        appended = [log.append(b"%d" % i) for i in range(20)]
        server.debug_sleep(1.5)
        appended += [log.append(b"%d" % i) for i in range(20, 40)]
        yield task.deferLater(CLOCK, 0.5)
        appended += [log.append(b"%d" % i) for i in range(40, 60)]
        ids = yield within(defer.gatherResults(appended), 15, CLOCK)
        self.assertEqual(ids, sorted(ids, key=entry_order))
        expected = [b"%d" % i for i in range(60)]
        yield eventually(lambda: applied.first_occurrences() == expected, CLOCK)
        self.assertEqual(applied.data, expected)  # nothing was sent twice

    @defer.inlineCallbacks
    def test_a_sleep_longer_than_the_reply_timeout_reconnects_and_resends(
        self,
    ) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client: RedisClient = yield started_client(
            self, reactor, server.address(), "node-a", reply_timeout=0.4
        )
        log = RedisLog(client, block_ms=100)
        self.addCleanup(log.stop)
        applied = Applied()
        yield within(log.follow(applied), 10, CLOCK)
        lost: list[bool] = []
        client.on_lost(lambda: lost.append(True))
        appended = [log.append(b"%d" % i) for i in range(20)]
        server.debug_sleep(1.5)
        appended += [log.append(b"%d" % i) for i in range(20, 60)]
        ids = yield within(defer.gatherResults(appended), 20, CLOCK)
        self.assertTrue(lost)  # the connection was given up, then came back
        self.assertEqual(ids, sorted(ids, key=entry_order))
        expected = [b"%d" % i for i in range(60)]
        yield eventually(lambda: applied.first_occurrences() == expected, CLOCK)

    @defer.inlineCallbacks
    def test_full_queue_refuses_at_once_then_the_rest_goes_in_order(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, persistent=True)
        log: RedisLog = yield self.make_log(server, queue_limit=5)
        client = log.client
        yield server.stop(CLOCK)
        yield eventually(lambda: not client.connected, CLOCK)
        waiting = [log.append(b"w%d" % i) for i in range(5)]
        refused = log.append(b"one too many")
        error = yield self.assertFailure(refused, LogUnavailable)
        self.assertIsInstance(error, ChatError)
        self.assertIn("try again", str(error))
        self.assertFalse(any(d.called for d in waiting))
        yield server.restart(CLOCK)
        ids = yield within(defer.gatherResults(waiting), 10, CLOCK)
        self.assertEqual(ids, sorted(ids, key=entry_order))
        stream = server.call("XRANGE", "chat:log", "-", "+")
        self.assertEqual([f[1] for _, f in stream], [b"w%d" % i for i in range(5)])

    @defer.inlineCallbacks
    def test_follow_resumes_after_a_restart_without_applying_twice(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, persistent=True)
        log: RedisLog = yield self.make_log(server, block_ms=300)
        applied = Applied()
        yield within(log.follow(applied), 10, CLOCK)
        yield defer.gatherResults([log.append(b"a%d" % i) for i in range(10)])
        yield eventually(lambda: len(applied.entries) == 10, CLOCK)
        yield server.restart(CLOCK, down=0.3)
        yield within(log.client.when_connected(), 10, CLOCK)
        yield defer.gatherResults([log.append(b"b%d" % i) for i in range(10)])
        yield eventually(lambda: len(applied.entries) >= 20, CLOCK)
        self.assertEqual(
            applied.data,
            [b"a%d" % i for i in range(10)] + [b"b%d" % i for i in range(10)],
        )

    @defer.inlineCallbacks
    def test_a_failing_apply_does_not_stop_the_log(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        log: RedisLog = yield self.make_log(server, block_ms=200)
        applied = Applied()

        def apply(entry_id: str, data: bytes) -> None:
            if data == b"bad":
                raise ValueError("cannot apply")
            applied(entry_id, data)

        yield within(log.follow(apply), 10, CLOCK)
        for data in (b"one", b"bad", b"two"):
            yield log.append(data)
        yield eventually(lambda: len(applied.entries) == 2, CLOCK)
        self.assertEqual(applied.data, [b"one", b"two"])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    @defer.inlineCallbacks
    def test_stop_fails_what_still_waits(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        log: RedisLog = yield self.make_log(server)
        yield server.stop(CLOCK)
        yield eventually(lambda: not log.client.connected, CLOCK)
        waiting = log.append(b"late")
        yield log.stop()
        yield self.assertFailure(waiting, LogUnavailable)
        yield self.assertFailure(log.append(b"after"), LogUnavailable)


class MemoryLogTests(SynchronousTestCase):
    def test_same_interface_and_order(self) -> None:
        clock = Clock()
        log = MemoryLog(clock)
        self.assertTrue(verifyObject(ILog, log))
        first = Applied()
        caught_up = log.follow(first)
        ids = [self.successResultOf(log.append(b"%d" % i)) for i in range(3)]
        self.assertEqual(ids, ["0-1", "0-2", "0-3"])
        # Entries reach followers on the next turn, never from append itself.
        self.assertEqual(first.entries, [])
        clock.advance(0.002)
        ids.append(self.successResultOf(log.append(b"3")))
        self.assertEqual(ids[3], "2-0")
        self.assertEqual(len(first.entries), 3)
        clock.advance(0)
        self.successResultOf(caught_up)
        self.assertEqual(
            first.entries, list(zip(ids, [b"0", b"1", b"2", b"3"], strict=True))
        )
        second = Applied()
        caught = log.follow(second, after=ids[1])
        self.assertNoResult(caught)
        clock.advance(0)
        self.successResultOf(caught)
        self.assertEqual(second.data, [b"2", b"3"])

    def test_down_queues_bounded_then_up_appends_in_order(self) -> None:
        clock = Clock()
        log = MemoryLog(clock, queue_limit=2)
        applied = Applied()
        log.follow(applied)
        log.down()
        waiting = [log.append(b"a"), log.append(b"b")]
        self.failureResultOf(log.append(b"c"), LogUnavailable)
        self.assertNoResult(waiting[0])
        log.up()
        self.assertEqual([self.successResultOf(d) for d in waiting], ["0-1", "0-2"])
        clock.advance(0)
        self.assertEqual(applied.data, [b"a", b"b"])
        log.down()
        late = log.append(b"d")
        self.successResultOf(log.stop())
        self.failureResultOf(late, LogUnavailable)
