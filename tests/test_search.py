"""
Finding history entries by id or time (core/search.py, IRC's CHATHISTORY):
each selection on entries in memory, then on a history writer's real files,
rotated ones included, read from their ends on the writer's thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core import errors
from twistedchat.core.events import Message, User
from twistedchat.core.history import HistoryEntry
from twistedchat.core.search import (
    MAX_SCAN,
    Point,
    after,
    around,
    before,
    between,
    latest,
    parse_time,
)
from twistedchat.core.service import ChatService
from twistedchat.persistence import HistoryWriter

from .test_core import RecordingClient
from .test_history import run_now

TOTO = User("u1", "toto", 33)


def entry(n: int) -> HistoryEntry:
    """Entry n: id m<n>, said at 1000 + n seconds."""
    return HistoryEntry(
        f"m{n}", 1000 + n, "general", "u1", "toto", "message", f"t{n}", n
    )


ENTRIES = [entry(n) for n in range(10)]  # m0 .. m9, oldest first


def newest_first() -> list[HistoryEntry]:
    return ENTRIES[::-1]


def ids(entries: list[HistoryEntry]) -> list[str]:
    return [e.id for e in entries]


def msgid(n: int) -> Point:
    return Point(msgid=f"m{n}")


def moment(n: int) -> Point:
    return Point(ms=(1000 + n) * 1000)


class SelectionTests(SynchronousTestCase):
    """The selections of irctest's chathistory.py, on m0 .. m9."""

    def pick(self, selection: object) -> list[str]:
        assert callable(selection)
        return ids(selection(newest_first()))

    def test_latest(self) -> None:
        self.assertEqual(self.pick(latest(None, 20)), ids(ENTRIES))
        self.assertEqual(self.pick(latest(None, 5)), ids(ENTRIES[-5:]))
        self.assertEqual(self.pick(latest(None, 1)), ["m9"])
        self.assertEqual(self.pick(latest(msgid(4), 20)), ids(ENTRIES[5:]))
        self.assertEqual(self.pick(latest(moment(4), 20)), ids(ENTRIES[5:]))
        self.assertEqual(self.pick(latest(msgid(4), 2)), ["m8", "m9"])

    def test_before(self) -> None:
        self.assertEqual(self.pick(before(msgid(6), 20)), ids(ENTRIES[:6]))
        self.assertEqual(self.pick(before(moment(6), 20)), ids(ENTRIES[:6]))
        self.assertEqual(self.pick(before(moment(6), 2)), ["m4", "m5"])

    def test_after(self) -> None:
        self.assertEqual(self.pick(after(msgid(3), 20)), ids(ENTRIES[4:]))
        self.assertEqual(self.pick(after(moment(3), 20)), ids(ENTRIES[4:]))
        self.assertEqual(self.pick(after(moment(3), 3)), ["m4", "m5", "m6"])
        self.assertEqual(self.pick(after(msgid(3), 3)), ["m4", "m5", "m6"])

    def test_between(self) -> None:
        for first, last in [(msgid, msgid), (moment, moment), (msgid, moment)]:
            self.assertEqual(
                self.pick(between(first(0), last(9), 20)), ids(ENTRIES[1:-1])
            )
            self.assertEqual(
                self.pick(between(last(9), first(0), 20)), ids(ENTRIES[1:-1])
            )
            self.assertEqual(
                self.pick(between(first(0), last(9), 3)), ["m1", "m2", "m3"]
            )
            self.assertEqual(
                self.pick(between(last(9), first(0), 3)), ["m6", "m7", "m8"]
            )
        self.assertEqual(self.pick(between(msgid(4), msgid(5), 10)), [])

    def test_around(self) -> None:
        self.assertEqual(self.pick(around(msgid(7), 1)), ["m7"])
        self.assertEqual(self.pick(around(msgid(7), 3)), ["m6", "m7", "m8"])
        self.assertIn("m7", self.pick(around(moment(7), 3)))
        self.assertIn("m7", self.pick(around(moment(7), 1)))
        self.assertEqual(self.pick(around(msgid(1), 5)), ["m0", "m1", "m2", "m3"])

    def test_an_unknown_message_selects_nothing(self) -> None:
        unknown = Point(msgid="nope")
        for selection in [before(unknown, 5), after(unknown, 5), around(unknown, 5)]:
            self.assertEqual(self.pick(selection), [])
        self.assertEqual(self.pick(between(unknown, msgid(2), 5)), [])
        self.assertEqual(self.pick(latest(unknown, 20)), [])

    def test_reading_stops_where_the_selection_does(self) -> None:
        read: list[HistoryEntry] = []

        def counted() -> Iterator[HistoryEntry]:
            for e in newest_first():
                read.append(e)
                yield e

        self.assertEqual(ids(before(msgid(8), 2)(counted())), ["m6", "m7"])
        self.assertEqual(ids(read), ["m9", "m8", "m7", "m6"])

    def test_no_more_than_max_scan_entries_are_read(self) -> None:
        read = 0

        def endless() -> Iterator[HistoryEntry]:
            nonlocal read
            n = 10**9
            while True:
                read += 1
                n -= 1
                yield entry(n)

        self.assertEqual(before(Point(msgid="never"), 5)(endless()), [])
        self.assertEqual(read, MAX_SCAN + 1)

    def test_times(self) -> None:
        self.assertEqual(parse_time("1970-01-01T00:16:40.123Z"), 1_000_123)
        for wrong in [
            "",
            "*",
            "not-a-timestamp",
            "1970-01-01 00:16:40",
            "2019-13-01T00:00:00Z",
        ]:
            self.assertIsNone(parse_time(wrong), wrong)


class WriterSearchTests(SynchronousTestCase):
    """A writer's files, rotated every few entries, read back on its thread."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.folder = os.path.abspath(self.mktemp())
        self.writer = HistoryWriter(
            self.folder, self.clock, run_in_thread=run_now, max_bytes=600, keep=5
        )
        self.writer.startService()
        self.addCleanup(self.writer.stopService)

    def say(self, count: int) -> list[Message]:
        said = []
        for n in range(count):
            self.clock.advance(1.5)
            event = Message(
                self.clock.seconds(), "General", TOTO, f"text {n}", msgid=f"id-{n}"
            )
            self.writer.record(event)
            said.append(event)
        return said

    def test_across_rotated_files(self) -> None:
        said = self.say(30)
        self.writer.flush()
        rotated = [name for name in os.listdir(self.folder) if ".jsonl." in name]
        self.assertGreater(len(rotated), 2)
        found = self.successResultOf(
            self.writer.search("general", between(Point("id-2"), Point("id-27"), 100))
        )
        self.assertEqual([e.text for e in found], [f"text {n}" for n in range(3, 27)])
        found = self.successResultOf(self.writer.search("GENERAL", latest(None, 4)))
        self.assertEqual([e.id for e in found], ["id-26", "id-27", "id-28", "id-29"])
        at = round(said[10].time * 1000)
        found = self.successResultOf(
            self.writer.search("general", before(Point(ms=at), 2))
        )
        self.assertEqual([e.id for e in found], ["id-8", "id-9"])

    def test_what_was_just_said_is_found(self) -> None:
        self.say(3)  # not written yet: the search writes it first
        found = self.successResultOf(self.writer.search("general", latest(None, 10)))
        self.assertEqual([e.id for e in found], ["id-0", "id-1", "id-2"])

    def test_a_room_without_history(self) -> None:
        found = self.successResultOf(self.writer.search("empty", latest(None, 10)))
        self.assertEqual(found, [])


class MembersOnlyTests(SynchronousTestCase):
    def test_only_members_search_a_room(self) -> None:
        clock = Clock()
        writer = HistoryWriter(
            os.path.abspath(self.mktemp()), clock, run_in_thread=run_now
        )
        writer.startService()
        self.addCleanup(writer.stopService)
        service = ChatService(clock=clock, history=writer)

        toto = service.connect(RecordingClient(), "toto")
        titi = service.connect(RecordingClient(), "titi")
        service.join(toto, "general")
        service.say(toto, "general", "hello")
        self.assertRaises(
            errors.NotInRoom, service.reading.search, titi, "general", latest(None, 5)
        )
        found = self.successResultOf(
            service.reading.search(toto, "general", latest(None, 5))
        )
        self.assertEqual([e.text for e in found], ["hello"])
