"""
The cluster's history against a real redis-server and real files: one node
writes, another takes over without losing or doubling a line, a late node
counts the same positions, and read markers follow an identity from node to
node.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import TestCase

from twistedchat.cluster.history import ClusterHistory, line_order, stream_order
from twistedchat.cluster.markers import ClusterMarkers
from twistedchat.cluster.redis import RedisClient
from twistedchat.core.events import Image, Message, User
from twistedchat.core.history import HistoryEntry
from twistedchat.core.reading import Reading
from twistedchat.core.search import Selection, latest
from twistedchat.core.session import Session
from twistedchat.persistence import HistoryWriter, file_name

from .redis_server import RedisServer, started_redis
from .test_core import RecordingClient
from .test_history import run_now

TOTO = User("u1", "toto", 33)
START_MS = 1_764_300_000_000
LEASE_TTL = 0.6  # seconds: a dead holder's lease passes on within a second


def said(n: int, room: str = "general", text: str = "") -> Message:
    """The message of the log's n-th entry (its id is the entry's)."""
    ms = START_MS + n // 3  # a few entries share a millisecond, as in a stream
    return Message(ms / 1000, room, TOTO, text or f"message {n}", msgid=f"{ms}-{n % 3}")


def order(entry_id: str) -> tuple[int, int]:
    found = stream_order(entry_id)
    assert found is not None
    return found


def ids(entries: Iterable[HistoryEntry | dict[str, Any]]) -> list[str]:
    return [e.id if isinstance(e, HistoryEntry) else e["id"] for e in entries]


class ClusterHistoryTests(TestCase):
    timeout = 30

    @inlineCallbacks
    def setUp(self) -> Any:  # type: ignore[override]
        self.redis: RedisServer = yield started_redis(self, reactor)
        self.folder = os.path.abspath(self.mktemp())
        self.clock = Clock()  # the histories' timers; Redis runs on the reactor

    @inlineCallbacks
    def client(self, name: str) -> Any:
        client = RedisClient(reactor, self.redis.address(), name)
        client.start()
        self.addCleanup(client.stop)
        yield client.when_connected()
        return client

    @inlineCallbacks
    def node(self, name: str, *, lease: bool = True, **options: Any) -> Any:
        """
        A node's history, started (its files read), trying for the lease;
        without C{lease}, the test says when it gains or loses it.
        """
        client = yield self.client(name)
        history = ClusterHistory(
            self.folder,
            self.clock,
            client,
            name,
            lease_ttl=LEASE_TTL if lease else None,
            run_in_thread=run_now,
            **options,
        )
        history.startService()
        self.addCleanup(self.stop, history)
        return history

    @inlineCallbacks
    def until(self, condition: Callable[[], bool], what: str) -> Any:
        """Wait (10 s at most) for C{condition}."""
        deadline = time.monotonic() + 10
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"still not {what} after 10 s")
            yield deferLater(reactor, 0.01)

    @inlineCallbacks
    def writer(self, name: str, **options: Any) -> Any:
        """A node that holds the lease: the one that writes."""
        history = yield self.node(name, **options)
        yield self.until(lambda: history.writing, f"{name} writing")
        return history

    def stop(self, history: ClusterHistory) -> Any:
        if history.running:
            return history.stopService()
        return None

    @inlineCallbacks
    def take_lease(self, history: ClusterHistory) -> Any:
        """C{history}'s node (without a lease of its own) takes the lease."""
        taken = yield history.redis.command(
            "SET", history.lease_key, history.node, "NX", "PX", 60_000
        )
        self.assertEqual(taken, "OK")
        history.gained()

    def on_disk(self, room: str = "general") -> list[dict[str, Any]]:
        path = os.path.join(self.folder, file_name(room))
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]

    def cursor(self) -> str | None:
        value = self.redis.call("GET", "chat:history:written")
        return None if value is None else bytes(value).decode()

    def test_stream_order(self) -> None:
        self.assertEqual(stream_order("1764300000000-9"), (1764300000000, 9))
        self.assertTrue(order("1764300000000-9") < order("1764300000001-0"))
        self.assertTrue(order("9-10") < order("10-0"))
        for not_a_log_id in ("19d6a0c2f1e3a7a1b2c3d4-42", "", "12", "1-x", "-1"):
            self.assertIsNone(stream_order(not_a_log_id))
        line = b'{"id":"1764300000000-2","seq":1}\n'
        self.assertEqual(line_order(line), (1764300000000, 2))
        self.assertIsNone(line_order(b'{"seq":1,"id":"1-1"}\n'))

    @inlineCallbacks
    def test_exactly_one_node_writes_and_records_how_far(self) -> Any:
        a = yield self.writer("a")
        b = yield self.node("b")
        events = [said(n, "general" if n % 2 else "other") for n in range(1, 9)]
        for event in events:
            a.record(event)
            b.record(event)
        yield b.flush()
        self.assertEqual(self.on_disk(), [])  # b writes nothing
        yield a.flush()
        self.assertEqual(
            ids(self.on_disk()), [e.msgid for e in events if e.room == "general"]
        )
        self.assertEqual(
            ids(self.on_disk("other")), [e.msgid for e in events if e.room == "other"]
        )
        self.assertEqual([e["seq"] for e in self.on_disk()], [1, 2, 3, 4])
        self.assertEqual(self.cursor(), events[-1].msgid)
        self.assertEqual(a.unconfirmed(), [])
        self.assertEqual(len(b.unconfirmed()), 8)  # until b hears how far a wrote
        yield b.look_at_cursor()
        self.assertEqual(b.unconfirmed(), [])
        self.assertEqual(b.written, 0)
        self.assertFalse(b.writing)
        holder = yield b.lease.holder()
        self.assertEqual(holder, "a")
        # Both show the same: recent entries, positions.
        for room in ("general", "other"):
            self.assertEqual(list(a.recent(room)), list(b.recent(room)))
            self.assertEqual(a.last_seq(room), 4)
            self.assertEqual(b.last_seq(room), 4)

    @inlineCallbacks
    def test_a_holder_killed_between_writing_and_recording(self) -> Any:
        a = yield self.writer("a")
        b = yield self.node("b")
        events = [said(n) for n in range(1, 13)]
        for event in events[:4]:
            a.record(event)
            b.record(event)
        yield a.flush()
        self.assertEqual(self.cursor(), events[3].msgid)
        yield b.look_at_cursor()
        # 5 to 8 reach a's disk, but a is cut off from Redis before Redis
        # hears of it, and its lease is no longer renewed.
        for event in events[4:8]:
            a.record(event)
            b.record(event)
        yield a.redis.stop()
        yield a.flush()
        self.assertEqual(ids(self.on_disk()), [e.msgid for e in events[:8]])
        self.assertEqual(self.cursor(), events[3].msgid)
        # b takes over, with what came meanwhile: each line once, in order.
        b.record(events[8])
        yield self.until(lambda: b.writing, "b writing")
        self.assertFalse(a.writing)  # a gave up before its lease could expire
        for event in events[9:]:
            b.record(event)
        yield b.flush()
        self.assertEqual(ids(self.on_disk()), [e.msgid for e in events])
        self.assertEqual([e["seq"] for e in self.on_disk()], list(range(1, 13)))
        self.assertEqual(b.files.skipped, 4)
        self.assertEqual(self.cursor(), events[-1].msgid)
        self.assertEqual(b.unconfirmed(), [])

    @inlineCallbacks
    def test_a_paused_holder_that_wakes_up_doubles_nothing(self) -> Any:
        # a was paused (SIGSTOP) while b took over; it wakes up still
        # thinking it writes, and writes what b wrote already, and more.
        a = yield self.node("a", lease=False)
        yield self.take_lease(a)
        b = yield self.node("b")
        events = [said(n) for n in range(1, 11)]
        for event in events[:3]:
            a.record(event)
            b.record(event)
        yield a.flush()
        yield b.redis.command("DEL", b.lease_key)  # a's lease expires
        yield self.until(lambda: b.writing, "b writing")
        for event in events[3:6]:
            a.record(event)
            b.record(event)
        yield b.flush()
        for event in events[6:8]:
            a.record(event)
            b.record(event)
        yield a.flush()  # a's stale write: 4 to 6 are there already
        self.assertEqual(self.cursor(), events[5].msgid)  # a may not record
        for event in events[8:]:
            a.record(event)
            b.record(event)
        yield b.flush()
        self.assertEqual(ids(self.on_disk()), [e.msgid for e in events])
        self.assertEqual(self.cursor(), events[-1].msgid)

    @inlineCallbacks
    def test_a_late_node_counts_the_same_positions(self) -> Any:
        a = yield self.writer("a", replay=3)
        log = [said(n, "general" if n % 3 else "other") for n in range(1, 16)]
        picture = Image(log[-1].time, "general", TOTO, "art", said(16).msgid)
        log.append(picture)  # type: ignore[arg-type]
        for event in log[:9]:
            a.record(event)
        yield a.flush()
        for event in log[9:]:
            a.record(event)  # not on disk yet
        # c starts now: it reads the files, then applies the log from its start.
        c = yield self.node("c", replay=3)
        for event in log:
            c.record(event)
        for room in ("general", "other"):
            self.assertEqual(c.last_seq(room), a.last_seq(room))
            self.assertEqual(list(c.recent(room)), list(a.recent(room)))
        self.assertEqual(ids(c.unconfirmed()), [e.msgid for e in log[9:]])
        # a stops (writing what it holds, giving the lease up): c takes over,
        # writing nothing twice, and goes on.
        yield a.stopService()
        yield self.until(lambda: c.writing, "c writing")
        more = said(17)
        c.record(more)
        log.append(more)
        yield c.flush()
        # c took over before it heard how far a wrote: it found them on disk.
        self.assertEqual(c.files.skipped, 7)
        general = [e.msgid for e in log if e.room == "general"]
        self.assertEqual(ids(self.on_disk()), general)
        self.assertEqual(
            [e["seq"] for e in self.on_disk()], list(range(1, len(general) + 1))
        )

    @inlineCallbacks
    def test_history_written_before_the_cluster_comes_first(self) -> Any:
        single = HistoryWriter(self.folder, self.clock, run_in_thread=run_now)
        single.startService()
        for n in range(3):
            single.record(Message(1000.0 + n, "general", TOTO, f"old {n}"))
        yield single.stopService()
        a = yield self.writer("a")
        a.record(said(1))
        yield a.flush()
        self.assertEqual([e["seq"] for e in self.on_disk()], [1, 2, 3, 4])
        self.assertEqual(ids(self.on_disk())[-1], said(1).msgid)

    @inlineCallbacks
    def test_pages_and_searches_include_what_is_not_on_disk(self) -> Any:
        a = yield self.writer("a", flush_interval=3600)
        b = yield self.node("b")
        events = [said(n) for n in range(1, 9)]
        for event in events[:5]:
            a.record(event)
            b.record(event)
        yield a.flush()
        for event in events[5:]:
            a.record(event)  # waiting in a's memory
            b.record(event)
        yield b.look_at_cursor()
        self.assertEqual(len(b.unconfirmed()), 3)
        page = yield b.older("general", 9, 6)
        self.assertEqual(ids(page), [e.msgid for e in events[2:]])
        page = yield b.older("general", 4, 10)
        self.assertEqual(ids(page), [e.msgid for e in events[:3]])
        select: Selection = latest(None, 7)
        found = yield b.search("general", select)
        self.assertEqual(sorted(ids(found)), sorted(e.msgid for e in events[1:]))

    @inlineCallbacks
    def test_memory_for_unconfirmed_entries_is_bounded(self) -> Any:
        b = yield self.node("b", lease=False, max_unconfirmed=3)
        events = [said(n) for n in range(1, 6)]
        for event in events:
            b.record(event)
        self.assertEqual(ids(b.unconfirmed()), [e.msgid for e in events[2:]])
        self.assertEqual(b.forgotten, 2)
        self.assertEqual(b.last_seq("general"), 5)

    @inlineCallbacks
    def test_a_node_that_loses_the_lease_stops_writing(self) -> Any:
        a = yield self.node("a", lease=False)
        yield self.take_lease(a)
        a.record(said(1))
        yield a.flush()
        a.lost()
        a.record(said(2))
        yield a.flush()
        self.assertEqual(ids(self.on_disk()), [said(1).msgid])
        self.assertEqual(ids(a.unconfirmed()), [said(2).msgid])


class ClusterMarkersTests(TestCase):
    timeout = 30

    @inlineCallbacks
    def setUp(self) -> Any:  # type: ignore[override]
        self.redis: RedisServer = yield started_redis(self, reactor)
        self.clock = Clock()
        self.clock.advance(1_764_300_000)

    @inlineCallbacks
    def markers(self, name: str, **options: Any) -> Any:
        client = RedisClient(reactor, self.redis.address(), name)
        client.start()
        self.addCleanup(client.stop)
        yield client.when_connected()
        markers = ClusterMarkers(client, self.clock, **options)
        markers.startService()
        self.addCleanup(markers.stopService)
        return markers

    @inlineCallbacks
    def test_a_marker_set_on_one_node_is_read_on_another(self) -> Any:
        one = yield self.markers("one")
        two = yield self.markers("two")
        one.shown("u1", "general", 7)
        self.assertEqual(one.last_shown("u1", "general"), 7)
        yield one.flush()
        self.assertIsNone(two.last_shown("u1", "general"))  # until u1 comes
        yield two.fetch("u1")
        self.assertEqual(two.last_shown("u1", "general"), 7)
        self.assertIsNone(two.last_shown("u1", "other"))
        # Never back: another session of u1 that saw less leaves later.
        two.shown("u1", "general", 5)
        yield two.flush()
        three = yield self.markers("three")
        yield three.fetch("u1")
        self.assertEqual(three.last_shown("u1", "general"), 7)

    @inlineCallbacks
    def test_markers_wait_while_redis_is_away(self) -> Any:
        one = yield self.markers("one", retry_interval=0.05)
        yield self.redis.stop(reactor)
        one.shown("u1", "general", 3)
        self.assertEqual(one.unsent, 1)
        yield self.redis.restart(reactor)
        yield one.redis.when_connected()
        self.clock.advance(0.05)
        yield one.flush()
        self.assertEqual(one.unsent, 0)
        two = yield self.markers("two")
        yield two.fetch("u1")
        self.assertEqual(two.last_shown("u1", "general"), 3)

    @inlineCallbacks
    def test_an_identity_keeps_its_rooms_left_most_lately(self) -> Any:
        one = yield self.markers("one", max_rooms=2)
        for n, room in enumerate(["a", "b", "c"], 1):
            self.clock.advance(1)
            one.shown("u1", room, n)
            yield one.flush()
        two = yield self.markers("two")
        yield two.fetch("u1")
        self.assertEqual([two.last_shown("u1", room) for room in "abc"], [None, 2, 3])
        ttl = self.redis.call("TTL", "chat:markers:u1")
        self.assertGreater(ttl, 170 * 24 * 3600)

    @inlineCallbacks
    def test_what_you_missed_through_another_node(self) -> Any:
        # Two nodes, each with its history and markers, apply the same log.
        folder = os.path.abspath(self.mktemp())
        nodes = []
        for name in ("one", "two"):
            client = RedisClient(reactor, self.redis.address(), name)
            client.start()
            self.addCleanup(client.stop)
            yield client.when_connected()
            history = ClusterHistory(
                folder, self.clock, client, name, lease_ttl=None, run_in_thread=run_now
            )
            history.startService()
            self.addCleanup(history.stopService)
            markers = ClusterMarkers(client, self.clock)
            nodes.append((history, Reading(history, markers), markers))
        (_h1, reading1, m1), (_h2, reading2, m2) = nodes

        def apply(n: int) -> None:
            for history, _, _ in nodes:
                history.record(said(n))

        for n in range(1, 4):
            apply(n)
        toto = Session(RecordingClient(), TOTO, True)
        toto.rooms = ("general",)
        self.assertEqual(len(reading1.replay(toto, "general", lasting=True).entries), 3)
        apply(4)
        reading1.left(toto, "general")  # toto leaves node one, saw up to 4
        yield m1.flush()
        for n in range(5, 8):
            apply(n)
        back = Session(RecordingClient(), TOTO, True)
        back.rooms = ("general",)
        yield m2.fetch(TOTO.id)  # toto connects through node two
        replay = reading2.replay(back, "general", lasting=True)
        self.assertTrue(replay.since_left)
        self.assertEqual(ids(replay.entries), [said(n).msgid for n in range(5, 8)])
