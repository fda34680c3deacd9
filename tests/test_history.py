"""The history writer: batching, replay, faults, rotation, file names."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import time
from collections.abc import Callable
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat import codec
from twistedchat.core.events import Image, Message, User
from twistedchat.core.history import HistoryEntry
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.line import LineFront
from twistedchat.persistence import HistoryWriter, file_name, read_tail

from .test_core import RecordingClient
from .test_framed_front import FramedClient
from .test_line_front import Client as LineClient

TOTO = User("u1", "toto", 33)


def run_now(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """Disk work done at once, on this thread: real files, no waiting."""
    return maybeDeferred(function, *args)


def message(n: int, room: str = "general", at: float = 1000.0) -> Message:
    return Message(at + n, room, TOTO, f"message {n}")


class HistoryTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.folder = os.path.abspath(self.mktemp())

    def writer(self, **options: Any) -> HistoryWriter:
        writer = HistoryWriter(
            self.folder, self.clock, run_in_thread=run_now, **options
        )
        writer.startService()
        return writer

    def lines(self, room: str = "general") -> list[dict[str, Any]]:
        path = os.path.join(self.folder, file_name(room))
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as file:
            return [json.loads(line) for line in file]


class EntryTests(SynchronousTestCase):
    def test_json_round_trip_with_milliseconds(self) -> None:
        entry = HistoryEntry(
            "b-1", 1700000000.123, "général", "u1", "toto", "message", "é\n"
        )
        line = entry.to_json()
        self.assertIn('"time":1700000000123', line)
        self.assertNotIn("\n", line)
        self.assertEqual(HistoryEntry.from_json(line), entry)

    def test_not_an_entry(self) -> None:
        for line in ["", "{", "[]", '{"id": 1}', "null", "[" * 100_000]:
            self.assertRaises(ValueError, HistoryEntry.from_json, line)

    def test_impossible_field_values_are_not_an_entry(self) -> None:
        good = json.loads(
            HistoryEntry(
                "b-1", 1700000000, "general", "u1", "toto", "message", "hi"
            ).to_json()
        )
        edits: list[tuple[str, object]] = [
            ("time", float("nan")),
            ("time", float("inf")),
            ("time", float("-inf")),
            ("time", 1e300),
            ("time", -1e20),
            ("time", -1),
            ("time", 10**20),
            ("time", True),
            ("time", "1700000000000"),
            ("time", None),
            ("id", 5),
            ("nick", None),
            ("text", ["hi"]),
            ("user_id", {"a": 1}),
            ("room", ""),
            ("room", "a/b"),
            ("kind", "video"),
        ]
        for field, value in edits:
            edited = json.dumps(
                {**good, field: value}
            )  # NaN, Infinity as Python writes them
            with self.assertRaises(ValueError, msg=f"{field}={value!r}"):
                HistoryEntry.from_json(edited)

    def test_every_entry_can_be_shown(self) -> None:
        for milliseconds in [0, 1, 253402300799999]:
            line = (
                f'{{"id":"a","time":{milliseconds},"room":"r","user_id":"u",'
                '"nick":"n","kind":"image","text":"t"}'
            )
            entry = HistoryEntry.from_json(line)
            time.strftime("%H:%M", time.localtime(entry.time))  # what fronts do


class FileNameTests(SynchronousTestCase):
    def test_room_names_never_escape_the_folder(self) -> None:
        names = [
            file_name(room) for room in ["..", ".", "a/b", "../../etc/passwd", "x" * 50]
        ]
        names.append(file_name("é" * 50))
        for name in names:
            self.assertNotIn("/", name)
            self.assertNotIn("..", name)
            self.assertTrue(name.endswith(".jsonl"))
            self.assertLess(len(name), 200)
        self.assertEqual(file_name("General"), file_name("general"))
        self.assertEqual(file_name("dev-ops_2"), "dev-ops_2.jsonl")
        self.assertEqual(len(set(names)), len(names))


class BatchingTests(HistoryTestCase):
    def test_written_after_the_flush_interval(self) -> None:
        writer = self.writer(flush_interval=0.2, batch=100)
        for n in range(3):
            writer.record(message(n))
        self.assertEqual(self.lines(), [])
        self.clock.advance(0.19)
        self.assertEqual(self.lines(), [])
        self.clock.advance(0.02)
        self.assertEqual(
            [line["text"] for line in self.lines()], [f"message {n}" for n in range(3)]
        )

    def test_written_at_once_when_the_batch_is_full(self) -> None:
        writer = self.writer(flush_interval=10, batch=5)
        for n in range(4):
            writer.record(message(n))
        self.assertEqual(self.lines(), [])
        writer.record(message(4))
        self.assertEqual(len(self.lines()), 5)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_entry_fields(self) -> None:
        writer = self.writer()
        writer.record(message(1))
        writer.record(Image(1002.5, "general", TOTO, " /\\\n/__\\"))
        self.successResultOf(writer.flush())
        first, second = self.lines()
        self.assertEqual(
            {k: v for k, v in first.items() if k != "id"},
            {
                "seq": 1,
                "time": 1001000,
                "room": "general",
                "user_id": "u1",
                "nick": "toto",
                "kind": "message",
                "text": "message 1",
            },
        )
        self.assertEqual((second["kind"], second["text"]), ("image", " /\\\n/__\\"))
        self.assertEqual(second["seq"], 2)
        self.assertNotEqual(first["id"], second["id"])

    def test_stop_writes_everything_queued(self) -> None:
        writer = self.writer(flush_interval=60, batch=10_000)
        for n in range(250):
            writer.record(message(n, room=f"room{n % 3}"))
        self.successResultOf(writer.stopService())
        self.assertEqual(sum(len(self.lines(f"room{r}")) for r in range(3)), 250)
        self.assertEqual(writer.written, 250)


class ShutdownTests(HistoryTestCase):
    """stopService waits for every write started or queued, and loses nothing."""

    def test_nothing_recorded_before_or_after_stop_is_lost(self) -> None:
        in_thread: list[tuple[Deferred[Any], Callable[[], Any]]] = []

        def later(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
            done: Deferred[Any] = Deferred()
            in_thread.append((done, lambda: function(*args)))
            return done

        def finish_one() -> None:
            done, work = in_thread.pop(0)
            done.callback(work())

        writer = HistoryWriter(
            self.folder, self.clock, run_in_thread=later, batch=2, flush_interval=0.01
        )
        writer.startService()
        for n in range(4):  # two batches: one in the thread, one queued behind
            writer.record(message(n))
        self.assertEqual(len(in_thread), 1)
        stopped = writer.stopService()
        writer.record(message(4))  # while stopping
        self.clock.advance(1)
        finish_one()
        self.assertNoResult(stopped)
        writer.record(message(5))
        finish_one()  # the queued batch: now stopService may end
        self.assertEqual(in_thread, [])
        self.successResultOf(stopped)
        self.assertEqual(writer.written, 6)
        writer.record(message(6))  # after the stop: written at once
        self.assertEqual(
            [line["text"] for line in self.lines()], [f"message {n}" for n in range(7)]
        )


class ReplayTests(HistoryTestCase):
    def test_recent_entries_survive_a_restart_in_order(self) -> None:
        writer = self.writer(replay=3)
        for n in range(10):
            writer.record(message(n))
        writer.record(message(99, room="Other"))
        self.assertEqual(
            [e.text for e in writer.recent("GENERAL")],
            ["message 7", "message 8", "message 9"],
        )
        self.successResultOf(writer.stopService())

        again = self.writer(replay=3)
        self.assertEqual(
            [e.text for e in again.recent("general")],
            ["message 7", "message 8", "message 9"],
        )
        self.assertEqual([e.text for e in again.recent("other")], ["message 99"])
        self.assertEqual(again.recent("nowhere"), ())

    def test_only_the_tail_is_read(self) -> None:
        os.makedirs(self.folder)
        path = os.path.join(self.folder, file_name("general"))
        with open(path, "w", encoding="utf-8") as file:
            file.write("this is not JSON, and it is long\n" * 40_000)  # 1.3 MB
            for n in range(10):
                file.write(
                    HistoryEntry(
                        f"x-{n}", n, "general", "u", "t", "message", str(n)
                    ).to_json()
                    + "\n"
                )
        warnings: list[tuple[str, int, str]] = []
        tail = read_tail(path, 5, lambda *problem: warnings.append(problem))
        self.assertEqual([e.text for e in tail], ["5", "6", "7", "8", "9"])
        self.assertEqual(warnings, [])

    def test_corrupt_and_truncated_lines_are_skipped_with_a_warning(self) -> None:
        writer = self.writer()
        for n in range(3):
            writer.record(message(n))
        self.successResultOf(writer.stopService())
        path = os.path.join(self.folder, file_name("general"))
        size = os.path.getsize(path)
        with open(path, "ab") as file:
            file.write(b"hand-edited nonsense\n")
            file.write(
                b'{"id":"x","time":5,"room":"general","nick":"to'
            )  # crash mid-write
        logged: list[dict[str, Any]] = []
        observer = cast(ILogObserver, logged.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        again = self.writer()
        self.assertEqual(
            [e.text for e in again.recent("general")],
            ["message 0", "message 1", "message 2"],
        )
        warnings = [
            e for e in logged if "skipped an unreadable line" in e.get("log_format", "")
        ]
        self.assertEqual(
            sorted((w["path"], w["offset"]) for w in warnings),
            [(path, size), (path, size + 21)],
        )


class DamagedFileTests(HistoryTestCase):
    """Files a crash or a person left in a state the writer never leaves them."""

    def path(self, room: str = "general") -> str:
        return os.path.join(self.folder, file_name(room))

    def logged(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        return events

    def test_a_message_after_a_cut_short_line_starts_a_new_line(self) -> None:
        writer = self.writer()
        writer.record(message(1))
        self.successResultOf(writer.stopService())
        with open(self.path(), "ab") as file:
            file.write(b'{"id":"x","time":5,"room":"general","nick":"to')  # crash
        again = self.writer()
        again.record(message(2))
        self.successResultOf(again.stopService())
        with open(self.path(), "rb") as file:
            last = file.read().split(b"\n")[-2]
        self.assertEqual(json.loads(last)["text"], "message 2")
        third = self.writer()
        self.assertEqual(
            [e.text for e in third.recent("general")], ["message 1", "message 2"]
        )

    def test_impossible_times_are_skipped_and_joins_still_work(self) -> None:
        os.makedirs(self.folder)
        logged = self.logged()
        good = HistoryEntry("a-1", 1000, "general", "u1", "toto", "message", "kept")
        with open(self.path(), "w", encoding="utf-8") as file:
            file.write(good.to_json() + "\n")
            for bad in ["NaN", "Infinity", "-Infinity", "1e300", "-1e20"]:
                file.write(good.to_json().replace('"time":1000000', f'"time":{bad}'))
                file.write("\n")
        history = self.writer()
        self.assertEqual([e.text for e in history.recent("general")], ["kept"])
        warnings = [e for e in logged if "unreadable" in e.get("log_format", "")]
        self.assertEqual(len(warnings), 5)
        service = ChatService(self.clock, "general", history=history, delivery=Fanout())
        joiner = LineClient(LineFront(service), 5000)
        self.assertIn("] [toto] kept", joiner.lines()[-1])

    def test_an_entry_of_another_room_is_skipped(self) -> None:
        os.makedirs(self.folder)
        logged = self.logged()
        with open(self.path(), "w", encoding="utf-8") as file:
            for n, room in enumerate(["general", "General", "dev"]):
                entry = HistoryEntry(f"a-{n}", 1, room, "u1", "toto", "message", room)
                file.write(entry.to_json() + "\n")
        history = self.writer()
        self.assertEqual(
            [e.text for e in history.recent("general")], ["general", "General"]
        )
        self.assertEqual(history.recent("dev"), ())
        (warning,) = [e for e in logged if "unreadable" in e.get("log_format", "")]
        self.assertIn("another room", warning["why"])

    def test_a_long_run_without_a_newline_is_read_in_linear_time(self) -> None:
        writer = self.writer()
        for n in range(3):
            writer.record(message(n))
        self.successResultOf(writer.stopService())
        with open(self.path(), "ab") as file:
            block = b"garbage, no newline " * 52429  # 1 MiB
            for _ in range(32):
                file.write(block)
        logged = self.logged()
        started = time.process_time()
        again = self.writer()
        spent = time.process_time() - started
        self.assertEqual(
            [e.text for e in again.recent("general")],
            ["message 0", "message 1", "message 2"],
        )
        self.assertLess(spent, 2.0)  # was 9 s: quadratic
        (warning,) = [e for e in logged if "unreadable" in e.get("log_format", "")]
        self.assertIn("longer than", warning["why"])

    def test_no_line_may_be_longer_than_an_entry(self) -> None:
        os.makedirs(self.folder)
        entry = HistoryEntry("a-1", 1, "general", "u1", "toto", "message", "x" * 500)
        path = self.path()
        with open(path, "w", encoding="utf-8") as file:
            file.write(entry.to_json() + "\n")
            file.write("y" * 5000 + "\n")  # in one read block
            file.write(entry.to_json() + "\n")
            file.write("z" * 200_000)  # over several read blocks, at the end
        warnings: list[tuple[str, int, str]] = []
        tail = read_tail(path, 10, lambda *w: warnings.append(w), max_line=1000)
        self.assertEqual(tail, [entry, entry])
        line = len(entry.to_json()) + 1
        self.assertEqual(
            [(offset, why) for _, offset, why in warnings],
            [
                (2 * line + 5001, "longer than 1000 bytes"),
                (line, "longer than 1000 bytes"),
            ],
        )

    def test_a_write_cut_short_by_a_full_disk_is_retried_whole(self) -> None:
        """
        The file size limit (RLIMIT_FSIZE) stands for a full disk: a write
        past it writes what fits, then fails; later there is room again.
        """
        limit: list[int] = []  # while set, the file size limit of writes

        def write(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
            if not limit:
                return run_now(function, *args)
            # Only around the write itself: what the test runner logs must
            # not meet the limit.
            handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            previous = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit[0], previous[1]))
            try:
                return run_now(function, *args)
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, previous)
                signal.signal(signal.SIGXFSZ, handler)

        writer = HistoryWriter(self.folder, self.clock, run_in_thread=write)
        writer.startService()
        writer.record(message(0))
        self.successResultOf(writer.flush())
        size = os.path.getsize(self.path())
        for n in range(1, 6):
            writer.record(message(n))
        limit.append(size + 2 * size + size // 2)  # room for two lines and a half
        self.successResultOf(writer.flush())
        limit.clear()
        self.assertEqual(writer.written, 1)
        writer.record(message(6))
        self.successResultOf(writer.flush())  # the disk has room again
        self.assertEqual(
            [line["text"] for line in self.lines()],
            [f"message {n}" for n in range(7)],
        )
        self.assertEqual(writer.written, 7)


class FaultTests(HistoryTestCase):
    def test_write_error_is_logged_retried_and_loses_nothing(self) -> None:
        os.makedirs(os.path.dirname(self.folder), exist_ok=True)
        with open(self.folder, "w") as blocker:  # a file where the folder should be
            blocker.write("in the way")
        writer = self.writer(flush_interval=0.2)
        writer.record(message(1))
        self.clock.advance(0.2)
        self.assertEqual(len(self.flushLoggedErrors()), 0)
        self.assertEqual(writer.written, 0)
        writer.record(message(2))
        os.remove(self.folder)  # the disk is usable again
        self.clock.advance(0.2)
        self.assertEqual(
            [line["text"] for line in self.lines()], ["message 1", "message 2"]
        )
        self.assertEqual(writer.written, 2)

    def test_retries_without_new_messages(self) -> None:
        os.makedirs(os.path.dirname(self.folder), exist_ok=True)
        with open(self.folder, "w") as blocker:
            blocker.write("in the way")
        writer = self.writer(flush_interval=0.2)
        writer.record(message(1))
        self.clock.advance(0.2)
        os.remove(self.folder)
        self.clock.advance(0.2)
        self.assertEqual([line["text"] for line in self.lines()], ["message 1"])


class TroubleTests(HistoryTestCase):
    """
    Writes that keep failing: said once, then a reminder a minute with the
    count waiting; nothing lost when the disk comes back; at stop, retried
    for a bounded time, then the loss is told exactly, room by room.
    """

    def setUp(self) -> None:
        super().setUp()
        self.events: list[dict[str, Any]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def block(self) -> None:
        """A file where the folder should be: fails for root too."""
        os.makedirs(os.path.dirname(self.folder), exist_ok=True)
        with open(self.folder, "w") as blocker:
            blocker.write("in the way")

    def said(self, *words: str) -> list[dict[str, Any]]:
        """The writer's log events whose format has all of C{words}."""
        return [
            event
            for event in self.events
            if event.get("log_namespace", "").endswith("HistoryWriter")
            and all(word in event["log_format"] for word in words)
        ]

    def run_for(self, seconds: float, step: float = 0.2) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def test_one_error_then_a_reminder_a_minute_then_back_to_work(self) -> None:
        self.block()
        writer = self.writer(flush_interval=0.2)
        for n in range(3):
            writer.record(message(n))
        self.run_for(0.2)
        (first,) = self.said("cannot write history")
        self.assertEqual(first["waiting"], 3)
        self.assertEqual(first["log_level"].name, "error")
        writer.record(message(3))
        writer.record(message(4))
        self.run_for(59.6)  # about 300 failed retries: nothing more said
        self.assertEqual(len(self.said("cannot write history")), 1)
        self.assertEqual(self.said("still cannot"), [])
        self.run_for(0.4)
        (reminder,) = self.said("still cannot")
        self.assertEqual((reminder["waiting"], reminder["lost"]), (5, 0))
        self.run_for(59.6)
        self.assertEqual(len(self.said("still cannot")), 1)
        self.run_for(0.4)
        self.assertEqual(len(self.said("still cannot")), 2)
        self.assertEqual(writer.written, 0)
        os.remove(self.folder)  # the disk is usable again
        self.run_for(0.2)
        (back,) = self.said("written again")
        self.assertEqual(back["count"], 5)
        self.assertEqual(
            [line["text"] for line in self.lines()], [f"message {n}" for n in range(5)]
        )
        # A later failure is news again: said at once.
        os.remove(os.path.join(self.folder, file_name("general")))
        os.rmdir(self.folder)
        self.block()
        writer.record(message(5))
        self.run_for(0.2)
        self.assertEqual(len(self.said("cannot write history")), 2)

    def test_stop_retries_and_loses_nothing_when_the_disk_comes_back(self) -> None:
        self.block()
        writer = self.writer(flush_interval=0.2, stop_retry=5)
        writer.record(message(0))
        self.run_for(0.2)
        stopping = writer.stopService()
        writer.record(message(1))  # read while stopping
        self.run_for(3)
        self.assertNoResult(stopping)
        (retrying,) = self.said("retrying for up to")
        self.assertEqual(retrying["waiting"], 1)  # message 1 came after
        os.remove(self.folder)
        self.run_for(0.2)
        self.successResultOf(stopping)
        self.assertEqual(
            [line["text"] for line in self.lines()], ["message 0", "message 1"]
        )
        self.assertEqual(self.said("lost"), [])

    def test_stop_gives_up_after_its_time_and_counts_what_is_lost(self) -> None:
        self.block()
        writer = self.writer(flush_interval=0.2, stop_retry=5)
        for n in range(3):
            writer.record(message(n))
        writer.record(message(3, room="Other"))
        self.run_for(0.2)
        stopping = writer.stopService()
        writer.record(message(4, room="Other"))
        self.run_for(4.6)
        self.assertNoResult(stopping)
        self.run_for(0.4)  # 5 s: given up
        self.successResultOf(stopping)
        (total,) = self.said("accepted messages could not be written")
        self.assertEqual(total["lost"], 5)
        rooms = {e["room"]: e["count"] for e in self.said("messages of room")}
        self.assertEqual(rooms, {"general": 3, "Other": 2})

    def test_a_failure_first_met_at_stop_is_retried_too(self) -> None:
        writer = self.writer(flush_interval=0.2, stop_retry=1)
        writer.record(message(0))
        self.block()  # before the first write
        stopping = writer.stopService()
        self.assertNoResult(stopping)
        self.run_for(1)
        self.successResultOf(stopping)
        (total,) = self.said("accepted messages could not be written")
        self.assertEqual(total["lost"], 1)


class RotationTests(HistoryTestCase):
    def test_rotates_and_keeps_a_bounded_number_of_files(self) -> None:
        writer = self.writer(max_bytes=1000, keep=2, replay=30)
        for n in range(60):
            writer.record(message(n))
            self.successResultOf(writer.flush())
        names = sorted(os.listdir(self.folder))
        self.assertEqual(names, ["general.jsonl", "general.jsonl.1", "general.jsonl.2"])
        for name in names:
            self.assertLess(
                os.path.getsize(os.path.join(self.folder, name)), 1000 + 200
            )
        self.successResultOf(writer.stopService())
        again = self.writer(max_bytes=1000, keep=2, replay=30)
        texts = [e.text for e in again.recent("general")]
        self.assertEqual(texts[-1], "message 59")
        self.assertEqual(texts, [f"message {n}" for n in range(60 - len(texts), 60)])
        self.assertGreater(len(texts), len(self.lines()))  # reached into rotated files


class ThreadedWriterTests(TestCase):
    """The real writer thread, under the real reactor."""

    def test_written_off_the_reactor_thread(self) -> object:
        folder = os.path.abspath(self.mktemp())
        writer = HistoryWriter(folder, reactor, flush_interval=0.05)
        writer.startService()
        for n in range(500):
            writer.record(message(n))

        def check(_: object) -> None:
            with open(os.path.join(folder, "general.jsonl"), encoding="utf-8") as file:
                texts = [json.loads(line)["text"] for line in file]
            self.assertEqual(texts, [f"message {n}" for n in range(500)])
            shutil.rmtree(folder)

        return writer.stopService().addCallback(check)


class ReplayToClientsTests(HistoryTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.history = self.writer(replay=2)
        self.service = ChatService(
            self.clock, "general", history=self.history, delivery=Fanout()
        )
        self.line_front = LineFront(self.service)
        self.framed_front = FramedFront(self.service)

    def test_room_messages_are_kept_private_ones_are_not(self) -> None:
        toto = self.service.connect(RecordingClient(), "toto")
        self.service.join(toto, "general")
        self.service.connect(RecordingClient(), "tutu")
        self.service.say(toto, "general", "public")
        self.service.whisper(toto, "tutu", "secret")
        self.service.show_image(toto, "general", "art")
        self.assertEqual(
            [e.text for e in self.service.recent("general")], ["public", "art"]
        )
        self.successResultOf(self.history.flush())
        self.assertNotIn("secret", json.dumps(self.lines()))

    def test_netcat_joiner_sees_marked_history_first(self) -> None:
        speaker = LineClient(self.line_front, 5000)
        for text in ["one", "two", "three"]:
            speaker.send(f"MSG {text}\n")
        newcomer = LineClient(self.line_front, 5001)
        when = time.strftime("%H:%M", time.localtime(self.clock.seconds()))
        self.assertEqual(
            newcomer.lines()[1:],
            [
                "[server] you are in #general",
                f"[history {when}] [127.0.0.1:5000] two",
                f"[history {when}] [127.0.0.1:5000] three",
            ],
        )
        # Back in the room on the same connection: only what it missed.
        newcomer.send("JOIN dev\n")
        speaker.send("MSG four\n")
        newcomer.send("JOIN general\n")
        self.assertEqual(
            newcomer.lines()[-2:],
            [
                "[server] you are in #general (2 members)",
                f"[history {when}] [127.0.0.1:5000] four",
            ],
        )

    def test_framed_joiner_gets_one_history_frame_after_entering(self) -> None:
        speaker = LineClient(self.line_front, 5000)
        speaker.send("MSG one\nMSG two\nMSG three\n")
        client = FramedClient(self.framed_front, 6000)
        client.send(codec.Hello(codec.PROTOCOL_VERSION, "toto", "", "fr", ("general",)))
        _, entered, history = client.received()
        self.assertIsInstance(entered, codec.Entered)
        assert isinstance(history, codec.History)
        entries = json.loads(history.entries)
        self.assertEqual([e["text"] for e in entries], ["two", "three"])
        self.assertEqual(entries[0]["time"], round(self.clock.seconds() * 1000))
        client.send(codec.Join("empty"))
        (entered_empty,) = client.received()
        self.assertIsInstance(entered_empty, codec.Entered)
