"""
What each person has read: positions of entries, read markers on disk, what
a returning identity is shown, and older pages read from the files' ends.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable
from typing import IO, Any, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.client.i18n import translations
from twistedchat.client.render import Renderer
from twistedchat.core.events import Message, User
from twistedchat.core.history import HistoryEntry
from twistedchat.core.identity import Identities
from twistedchat.core.reading import MAX_PAGE, HistoryCountInvalid
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.line import LineFront
from twistedchat.persistence import HistoryWriter, MarkerFile, file_name, read_tail
from twistedchat.persistence import files as files_module

from .test_client_console import ConsoleTestCase
from .test_framed_front import FramedClient
from .test_history import HistoryTestCase, run_now
from .test_line_front import Client as LineClient

TOTO = User("u1", "toto", 33)


def entry(seq: int, room: str = "general", text: str | None = None) -> HistoryEntry:
    return HistoryEntry(
        f"e-{seq}", 1000 + seq, room, "u1", "toto", "message", text or f"m{seq}", seq
    )


def texts(entries: Any) -> list[str]:
    return [e.text if isinstance(e, HistoryEntry) else e["text"] for e in entries]


class Logged:
    """The log events emitted while a test runs."""

    def __init__(self, test: SynchronousTestCase) -> None:
        self.events: list[dict[str, Any]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        test.addCleanup(globalLogPublisher.removeObserver, observer)

    def matching(self, text: str) -> list[dict[str, Any]]:
        return [e for e in self.events if text in e.get("log_format", "")]


class PositionTests(HistoryTestCase):
    def test_the_position_is_in_the_line_and_comes_back(self) -> None:
        line = entry(7).to_json()
        self.assertIn('"seq":7', line)
        self.assertEqual(HistoryEntry.from_json(line), entry(7))

    def test_a_line_from_before_positions_loads_at_position_zero(self) -> None:
        old = (
            '{"id":"a-1","time":1000,"room":"general","user_id":"u1",'
            '"nick":"toto","kind":"message","text":"old"}'
        )
        self.assertEqual(HistoryEntry.from_json(old).seq, 0)
        for bad in ['"seq":-1', '"seq":1.5', '"seq":"3"', '"seq":true', '"seq":null']:
            with self.assertRaises(ValueError, msg=bad):
                HistoryEntry.from_json(old[:-1] + "," + bad + "}")

    def test_positions_count_per_room_and_go_on_after_a_restart(self) -> None:
        writer = self.writer(replay=2)
        for n in range(5):
            writer.record(Message(1000 + n, "general", TOTO, f"g{n}"))
        writer.record(Message(1010, "Other", TOTO, "o0"))
        self.assertEqual([e.seq for e in writer.recent("general")], [4, 5])
        self.assertEqual(writer.last_seq("GENERAL"), 5)
        self.assertEqual(writer.last_seq("other"), 1)
        self.assertEqual(writer.last_seq("nowhere"), 0)
        self.successResultOf(writer.stopService())

        again = self.writer(replay=0)  # no ring: the position is still read
        self.assertEqual(again.last_seq("general"), 5)
        again.record(Message(1020, "general", TOTO, "g5"))
        self.assertEqual(again.last_seq("general"), 6)
        self.successResultOf(again.flush())
        with open(os.path.join(self.folder, file_name("general")), "rb") as file:
            seqs = [json.loads(line)["seq"] for line in file]
        self.assertEqual(seqs, [1, 2, 3, 4, 5, 6])

    def test_an_old_file_without_positions_still_loads_and_goes_on(self) -> None:
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, "general.jsonl"), "w") as file:
            for n in range(3):
                file.write(
                    f'{{"id":"a-{n}","time":{n},"room":"general","user_id":"u",'
                    f'"nick":"old","kind":"message","text":"old {n}"}}\n'
                )
        writer = self.writer()
        self.assertEqual(texts(writer.recent("general")), ["old 0", "old 1", "old 2"])
        self.assertEqual(writer.last_seq("general"), 0)
        writer.record(Message(1000, "general", TOTO, "new"))
        self.assertEqual(writer.recent("general")[-1].seq, 1)


class ReadingFromTheEndTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.path = os.path.join(self.folder, "general.jsonl")
        self.warnings: list[tuple[str, int, str]] = []

    def warn(self, path: str, offset: int, why: str) -> None:
        self.warnings.append((path, offset, why))

    def write(self, lines: list[str]) -> None:
        with open(self.path, "w", encoding="utf-8") as file:
            file.writelines(line + "\n" for line in lines)

    def test_entries_split_across_blocks(self) -> None:
        lines = [entry(n, text="é" * (n % 37)).to_json() for n in range(1, 201)]
        self.write(lines)
        # Blocks of 61 bytes: nearly every entry (80 to 160 bytes) spans two or
        # three of them, cut anywhere, a UTF-8 character included.
        for below, wanted in [(201, 5), (150, 20), (3, 10), (1, 5), (1000, 1)]:
            got = read_tail(self.path, wanted, self.warn, below=below, block_size=61)
            expected = [entry(n, text="é" * (n % 37)) for n in range(1, 201)]
            expected = [e for e in expected if e.seq < below][-wanted:]
            self.assertEqual(got, expected, f"below {below}, {wanted} wanted")
        self.assertEqual(self.warnings, [])

    def test_damaged_lines_are_skipped_and_said(self) -> None:
        lines = [entry(n).to_json() for n in range(1, 11)]
        lines[4] = lines[4][:30]  # entry 5 cut short
        lines.insert(7, "nonsense")  # between entries 7 and 8
        self.write(lines)
        got = read_tail(self.path, 4, self.warn, below=9, block_size=50)
        self.assertEqual([e.seq for e in got], [4, 6, 7, 8])
        self.assertEqual(len(self.warnings), 2)  # both damaged lines, once each

    def test_a_big_file_is_read_from_its_end_only(self) -> None:
        filler = "x" * 200
        with open(self.path, "w", encoding="utf-8") as file:
            for n in range(1, 40_001):  # about 10 MB
                file.write(entry(n, text=filler).to_json() + "\n")
        size = os.path.getsize(self.path)
        read = []
        real_open = builtins.open

        class Counting:
            def __init__(self, file: IO[bytes]) -> None:
                self.file = file

            def __enter__(self) -> Counting:
                return self

            def __exit__(self, *_: object) -> None:
                self.file.close()

            def seek(self, *arguments: int) -> int:
                return self.file.seek(*arguments)

            def read(self, size: int) -> bytes:
                data = self.file.read(size)
                read.append(len(data))
                return data

        def counting_open(path: str, mode: str) -> Counting:
            return Counting(real_open(path, mode))

        # The module's own open, found before the built-in one.
        setattr(files_module, "open", counting_open)  # noqa: B010
        self.addCleanup(delattr, files_module, "open")
        got = read_tail(self.path, 30, self.warn, below=39_000)
        self.assertEqual([e.seq for e in got], list(range(38_970, 39_000)))
        self.assertLess(sum(read), size / 20)
        self.assertGreater(len(read), 1)  # in blocks, backwards


class WriterOlderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.folder = os.path.abspath(self.mktemp())

    def test_older_entries_come_from_the_files_rotated_ones_included(self) -> None:
        writer = HistoryWriter(
            self.folder,
            self.clock,
            run_in_thread=run_now,
            replay=3,
            max_bytes=600,  # a few entries a file
            keep=50,
            flush_interval=60,
            batch=2,
        )
        writer.startService()
        for n in range(1, 31):
            writer.record(Message(1000 + n, "general", TOTO, f"m{n}"))
        self.assertTrue(os.path.exists(os.path.join(self.folder, "general.jsonl.3")))
        got = self.successResultOf(writer.older("General", 20, 12))
        self.assertEqual(texts(got), [f"m{n}" for n in range(8, 20)])
        self.assertEqual(
            texts(self.successResultOf(writer.older("general", 3, 9))), ["m1", "m2"]
        )

    def test_what_waits_to_be_written_is_written_before_reading(self) -> None:
        writer = HistoryWriter(
            self.folder, self.clock, run_in_thread=run_now, flush_interval=60
        )
        writer.startService()
        for n in range(1, 6):
            writer.record(Message(1000 + n, "general", TOTO, f"m{n}"))
        got = self.successResultOf(writer.older("general", 5, 10))
        self.assertEqual(texts(got), ["m1", "m2", "m3", "m4"])


class MarkerFileTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(100_000)
        self.folder = os.path.abspath(self.mktemp())
        self.path = os.path.join(self.folder, "read-markers.json")
        self.saves: list[str] = []

    def markers(self, **options: Any) -> MarkerFile:
        def save(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
            self.saves.append(function.__name__)
            return maybeDeferred(function, *args)

        markers = MarkerFile(self.path, self.clock, run_in_thread=save, **options)
        markers.startService()
        return markers

    def on_disk(self) -> dict[str, Any]:
        with open(self.path, encoding="utf-8") as file:
            identities: dict[str, Any] = json.load(file)["identities"]
        return {user: fields["rooms"] for user, fields in identities.items()}

    def test_markers_only_grow(self) -> None:
        markers = self.markers()
        self.assertIsNone(markers.last_shown("u1", "general"))
        markers.shown("u1", "general", 10)
        markers.shown("u1", "general", 7)  # another session of u1 saw less
        self.assertEqual(markers.last_shown("u1", "general"), 10)
        markers.shown("u1", "general", 12)
        self.assertEqual(markers.last_shown("u1", "general"), 12)
        self.assertIsNone(markers.last_shown("u2", "general"))

    def test_saved_in_batches_atomically_and_read_back(self) -> None:
        markers = self.markers(save_interval=5)
        for n in range(100):
            markers.shown(f"u{n % 10}", "general", n)
        self.assertEqual(self.saves, [])
        self.clock.advance(4.9)
        self.assertFalse(os.path.exists(self.path))
        self.clock.advance(0.2)
        self.assertEqual(self.saves, ["write_markers"])  # one write for 100 changes
        self.assertEqual(self.on_disk()["u3"], {"general": 93})
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        self.assertEqual(os.listdir(self.folder), ["read-markers.json"])
        self.clock.advance(60)
        self.assertEqual(len(self.saves), 1)  # nothing changed: nothing written
        markers.shown("u3", "dev", 4)
        self.successResultOf(markers.stopService())
        self.assertEqual(len(self.saves), 2)

        again = self.markers()
        self.assertEqual(again.last_shown("u3", "general"), 93)
        self.assertEqual(again.last_shown("u3", "dev"), 4)

    def test_memory_is_bounded(self) -> None:
        markers = self.markers(max_identities=3, max_rooms=2, max_age=1000)
        for n in range(5):
            markers.shown(f"u{n}", "general", n)
            self.clock.advance(1)
        self.assertEqual(
            [markers.last_shown(f"u{n}", "general") for n in range(5)],
            [None, None, 2, 3, 4],
        )
        for room in ["a", "b", "c"]:
            markers.shown("u4", room, 1)
        self.assertIsNone(markers.last_shown("u4", "general"))
        self.assertEqual(markers.last_shown("u4", "c"), 1)
        self.clock.advance(999)  # u2 and u3 unseen for over 1000 s; u4 not
        self.successResultOf(markers.save())
        self.assertEqual(list(self.on_disk()), ["u4"])

    def test_a_damaged_file_is_said_and_forgotten(self) -> None:
        os.makedirs(self.folder)
        logged = Logged(self)
        for content in [b"{not json", b"[1, 2]", b"\xff\xfe"]:
            with open(self.path, "wb") as file:
                file.write(content)
            markers = self.markers()
            self.assertIsNone(markers.last_shown("u1", "general"))
        self.assertEqual(len(logged.matching("read markers")), 3)
        identities = {
            "u1": {"seen": 99_000, "rooms": {"general": 5, "bad": -1, "worse": "x"}},
            "u2": "nonsense",
            "u3": {"seen": "then", "rooms": {}},
        }
        with open(self.path, "w") as file:
            json.dump({"format": 1, "identities": identities}, file)
        markers = self.markers()
        self.assertEqual(markers.last_shown("u1", "general"), 5)
        self.assertIsNone(markers.last_shown("u1", "bad"))
        self.assertEqual(len(logged.matching("unreadable identities")), 1)

    def test_a_failed_save_is_said_once_and_retried(self) -> None:
        logged = Logged(self)
        os.makedirs(self.folder)
        os.makedirs(self.path)  # a folder where the file goes: cannot replace it
        markers = self.markers(save_interval=1)
        markers.shown("u1", "general", 1)
        for _ in range(5):
            self.clock.advance(1)
        self.assertGreaterEqual(len(self.saves), 4)
        self.assertEqual(len(logged.matching("could not save")), 1)
        os.rmdir(self.path)
        self.clock.advance(1)
        self.assertEqual(self.on_disk(), {"u1": {"general": 1}})
        self.assertEqual(len(logged.matching("saved again")), 1)


class ChatTestCase(SynchronousTestCase):
    """A chat with history and read markers, a netcat speaker in #general."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        folder = os.path.abspath(self.mktemp())
        self.history = HistoryWriter(
            os.path.join(folder, "history"), self.clock, run_in_thread=run_now, replay=3
        )
        self.history.startService()
        self.markers_path = os.path.join(folder, "read-markers.json")
        self.markers = MarkerFile(self.markers_path, self.clock, run_in_thread=run_now)
        self.markers.startService()
        self.identities = Identities(Identities.new_secret())  # kept by restarts
        self.build()

    def build(self) -> None:
        self.service = ChatService(
            self.clock,
            "general",
            identities=self.identities,
            history=self.history,
            delivery=Fanout(),
            markers=self.markers,
        )
        self.markers.before_stop[:] = [self.service.reading.mark_present]
        self.framed = FramedFront(self.service)
        self.line = LineFront(self.service)
        self.speaker = LineClient(self.line, 5000)

    def say(self, *words: str) -> None:
        for word in words:
            self.speaker.send(f"MSG {word}\n")

    def connect(
        self, token: str = "", rooms: tuple[str, ...] = ("general",)
    ) -> FramedClient:
        client = FramedClient(self.framed, 6000)
        client.send(codec.Hello(codec.PROTOCOL_VERSION, "toto", token, "en", rooms))
        return client

    def arrival(self, client: FramedClient) -> tuple[str, list[codec.Frame]]:
        welcome, *rest = client.received()
        assert isinstance(welcome, codec.Welcome)
        return welcome.token, rest


class ReplayTests(ChatTestCase):
    """What a framed client is shown when it enters a room, through the front."""

    def test_a_newcomer_gets_the_last_entries(self) -> None:
        self.say("one", "two", "three", "four")
        _, (entered, history) = self.arrival(self.connect())
        self.assertIsInstance(entered, codec.Entered)
        assert isinstance(history, codec.History)
        self.assertEqual(texts(json.loads(history.entries)), ["two", "three", "four"])
        self.assertEqual([e["seq"] for e in json.loads(history.entries)], [2, 3, 4])

    def test_part_and_join_again_shows_only_what_was_missed(self) -> None:
        self.say("one", "two")
        client = self.connect()
        self.arrival(client)
        self.say("three")  # seen live
        client.send(codec.Part("general"))
        self.say("four", "five")
        client.received()
        client.send(codec.Join("general"))
        entered, missed = client.received()
        self.assertIsInstance(entered, codec.Entered)
        assert isinstance(missed, codec.Missed)
        self.assertEqual(texts(json.loads(missed.entries)), ["four", "five"])
        self.assertEqual(missed.skipped, 0)
        # Nothing missed: nothing at all.
        client.send(codec.Part("general"), codec.Join("general"))
        self.assertEqual(
            [type(f) for f in client.received()], [codec.Left, codec.Entered]
        )

    def test_a_reconnection_shows_what_came_meanwhile_and_counts_the_rest(self) -> None:
        self.say("one")
        client = self.connect()
        token, _ = self.arrival(client)
        client.close()
        self.say(*[f"m{n}" for n in range(1, 8)])
        _, (entered, missed) = self.arrival(self.connect(token))
        self.assertTrue(isinstance(entered, codec.Entered) and entered.returning)
        assert isinstance(missed, codec.Missed)
        self.assertEqual(texts(json.loads(missed.entries)), ["m5", "m6", "m7"])
        self.assertEqual(missed.skipped, 4)

    def test_a_reconnection_with_nothing_missed_shows_nothing(self) -> None:
        self.say("one", "two")
        client = self.connect()
        token, _ = self.arrival(client)
        client.send(codec.Goodbye(""))
        _, frames = self.arrival(self.connect(token))
        self.assertEqual([type(f) for f in frames], [codec.Entered])

    def test_a_kick_leaves_a_marker_too(self) -> None:
        self.say("one")
        client = self.connect()
        self.arrival(client)
        self.speaker.send("KICK toto\n")  # the speaker opened #general
        self.say("two")
        client.send(codec.Join("general"))
        frames = client.received()
        missed = frames[-1]
        assert isinstance(missed, codec.Missed)
        self.assertEqual(texts(json.loads(missed.entries)), ["two"])

    def test_what_was_seen_survives_a_restart(self) -> None:
        self.say("one", "two")
        client = self.connect()
        token, _ = self.arrival(client)
        self.say("three")  # seen live, the client still there at the stop
        self.successResultOf(self.markers.stopService())
        self.successResultOf(self.history.stopService())
        client.close()

        self.history = HistoryWriter(
            self.history.folder, self.clock, run_in_thread=run_now, replay=3
        )
        self.history.startService()
        self.markers = MarkerFile(self.markers_path, self.clock, run_in_thread=run_now)
        self.markers.startService()
        self.build()
        self.say("four")
        _, (_, missed) = self.arrival(self.connect(token))
        assert isinstance(missed, codec.Missed)
        self.assertEqual(texts(json.loads(missed.entries)), ["four"])
        self.assertEqual(json.loads(missed.entries)[0]["seq"], 4)

    def test_a_marker_beyond_the_history_is_a_newcomers(self) -> None:
        self.say("one", "two")
        client = self.connect()
        token, _ = self.arrival(client)
        client.close()
        self.markers.shown(self.service.identities.resume(token) or "", "general", 99)
        _, (_, history) = self.arrival(self.connect(token))
        assert isinstance(history, codec.History)
        self.assertEqual(texts(json.loads(history.entries)), ["one", "two"])

    def test_line_users_are_shown_on_return_what_they_missed_only(self) -> None:
        # A connection without a lasting identity has markers for its own
        # lifetime, never written down: coming back to a room, it is shown
        # what was said while it was out, not again what it saw there.
        self.say("one", "two")
        listener = LineClient(self.line, 5001)
        listener.send("JOIN dev\n")
        self.say("three")
        listener.send("JOIN general\n")
        self.assertEqual(
            [line.split("] ", 1)[1] for line in listener.lines() if "[history" in line],
            ["[127.0.0.1:5000] one", "[127.0.0.1:5000] two", "[127.0.0.1:5000] three"],
        )
        listener.send("JOIN dev\nJOIN general\n")
        self.assertEqual([line for line in listener.lines() if "[history" in line], [])
        self.assertEqual(self.markers.last_shown("whoever", "general"), None)
        self.assertEqual(self.markers.saves, 0)
        self.clock.advance(60)
        self.assertFalse(os.path.exists(self.markers_path))
        # A new connection is a newcomer.
        other = LineClient(self.line, 5002)
        self.assertEqual(len([line for line in other.lines() if "[history" in line]), 3)


class OlderPageTests(ChatTestCase):
    def test_fetch_history_pages_back_from_the_oldest_shown(self) -> None:
        self.say(*[f"m{n}" for n in range(1, 11)])
        client = self.connect()
        self.arrival(client)  # shown m8 to m10
        pages = []
        for count in [4, 4, 4]:
            client.send(codec.FetchHistory("general", count))
            (older,) = client.received()
            assert isinstance(older, codec.Older)
            pages.append((texts(json.loads(older.entries)), older.more))
        self.assertEqual(
            pages,
            [
                (["m4", "m5", "m6", "m7"], True),
                (["m1", "m2", "m3"], False),
                ([], False),
            ],
        )

    def test_a_returning_identity_can_fetch_what_it_was_not_shown(self) -> None:
        client = self.connect()
        token, _ = self.arrival(client)
        client.close()
        self.say(*[f"m{n}" for n in range(1, 9)])
        client = self.connect(token)
        _, (_, missed) = self.arrival(client)
        assert isinstance(missed, codec.Missed)
        self.assertEqual(missed.skipped, 5)
        client.send(codec.FetchHistory("general", 5))
        (older,) = client.received()
        assert isinstance(older, codec.Older)
        self.assertEqual(
            texts(json.loads(older.entries)), [f"m{n}" for n in range(1, 6)]
        )

    def test_bad_requests_get_clear_errors_and_change_nothing(self) -> None:
        self.say("one")
        client = self.connect()
        self.arrival(client)
        for frame, code in [
            (codec.FetchHistory("general", 0), codec.ErrorCode.BAD_HISTORY_COUNT),
            (
                codec.FetchHistory("general", MAX_PAGE + 1),
                codec.ErrorCode.BAD_HISTORY_COUNT,
            ),
            (codec.FetchHistory("elsewhere", 5), codec.ErrorCode.NOT_IN_ROOM),
            (codec.FetchHistory("a/b", 5), codec.ErrorCode.NOT_IN_ROOM),
        ]:
            client.send(frame)
            (error,) = client.received()
            assert isinstance(error, codec.Error)
            self.assertEqual((error.code, error.fatal), (code, False), frame)
        self.assertIn("1 to 200", str(HistoryCountInvalid(0)))
        self.say("two")
        self.assertEqual(len(client.received()), 1)  # still connected, still here

    def test_no_history_kept(self) -> None:
        service = ChatService(self.clock, "general", delivery=Fanout())
        client = FramedClient(FramedFront(service), 6001)
        client.send(codec.Hello(codec.PROTOCOL_VERSION, "toto", "", "en", ("general",)))
        client.received()
        client.send(codec.FetchHistory("general", 5))
        (error,) = client.received()
        assert isinstance(error, codec.Error)
        self.assertEqual(error.code, codec.ErrorCode.NO_HISTORY)

    def test_line_history_command(self) -> None:
        self.say(*[f"m{n}" for n in range(1, 7)])
        reader = LineClient(self.line, 5001)
        reader.lines()  # shown m4 to m6
        reader.send("HISTORY 2\n")
        lines = reader.lines()
        self.assertEqual(
            lines[0], "[server] 2 messages before those shown, in #general:"
        )
        self.assertEqual([line.rsplit(" ", 1)[1] for line in lines[1:3]], ["m2", "m3"])
        self.assertEqual(
            lines[3], "[server] end of these; HISTORY #general shows older ones"
        )
        reader.send("history #general\n")
        lines = reader.lines()
        self.assertEqual(
            lines[0], "[server] 1 message before those shown, in #general:"
        )
        self.assertEqual(lines[-1], "[server] that is the start of #general's history")
        reader.send("HISTORY\n")
        self.assertEqual(reader.lines(), ["[server] no older messages in #general"])
        for bad, answer in [
            ("HISTORY x", "[server] error: usage: HISTORY [#<room>] [count]"),
            ("HISTORY 2 3", "[server] error: usage: HISTORY [#<room>] [count]"),
            ("HISTORY # 2", "[server] error: usage: HISTORY [#<room>] [count]"),
            ("HISTORY ²", "[server] error: usage: HISTORY [#<room>] [count]"),
            (
                "HISTORY 0",
                "[server] error: cannot fetch 0 entries: ask for 1 to 200 at a time",
            ),
            ("HISTORY #dev 3", "[server] error: you are not in #dev"),
        ]:
            reader.send(bad + "\n")
            self.assertEqual(reader.lines(), [answer], bad)


class RenderTests(SynchronousTestCase):
    def render(self, language: str, frame: codec.Frame) -> list[str]:
        return Renderer(translations(language), colour=False).render(frame)

    def array(self, *words: str) -> str:
        return json.dumps(
            [
                {"time": 0, "nick": "bob", "text": w, "seq": n}
                for n, w in enumerate(words)
            ]
        )

    def test_missed_says_how_many_and_where_live_starts(self) -> None:
        lines = self.render("en", codec.Missed("general", 0, self.array("a", "b")))
        self.assertEqual(lines[0], "— 2 messages since you left —")
        self.assertTrue(lines[1].endswith("(history) bob: a"))
        self.assertEqual(lines[-1], "— live —")
        lines = self.render("fr", codec.Missed("general", 1, self.array("a")))
        self.assertEqual(
            lines[:2],
            [
                "— 2 messages depuis votre départ —",
                "— le premier n’est pas affiché : /history le montre —",
            ],
        )
        self.assertEqual(lines[-1], "— en direct —")
        lines = self.render("en", codec.Missed("general", 0, self.array("a")))
        self.assertEqual(lines[0], "— 1 message since you left —")
        lines = self.render("en", codec.Missed("general", 48, self.array("a", "b")))
        self.assertEqual(
            lines[:2],
            [
                "— 50 messages since you left —",
                "— the first 48 are not shown: /history shows them —",
            ],
        )

    def test_older_pages(self) -> None:
        lines = self.render("en", codec.Older("general", True, self.array("a")))
        self.assertEqual(lines[0], "— older messages of #general —")
        self.assertEqual(lines[-1], "— /history for older ones —")
        lines = self.render("fr", codec.Older("general", False, self.array("a")))
        self.assertEqual(lines[-1], "— début de l’historique de #general —")
        self.assertEqual(
            self.render("fr", codec.Older("general", False, "[]")),
            ["Pas de messages plus anciens dans #general."],
        )
        self.assertEqual(
            self.render("fr", codec.Error(30, "cannot fetch 0 entries", False)),
            ["Erreur : demandez de 1 à 200 anciens messages à la fois"],
        )


class ConsoleHistoryTests(ConsoleTestCase):
    """/history in the real console, against the framed front."""

    def setUp(self) -> None:
        super().setUp()
        self.history = HistoryWriter(
            os.path.abspath(self.mktemp()), self.clock, run_in_thread=run_now, replay=2
        )
        self.history.startService()
        self.service = ChatService(
            self.clock, "general", history=self.history, delivery=Fanout()
        )
        self.front = FramedFront(self.service)
        self.line_front = LineFront(self.service)
        self.front.outbox.delay = self.line_front.outbox.delay = 0

    def test_history_fetches_older_messages(self) -> None:
        speaker = LineClient(self.line_front, 5000)
        for n in range(1, 6):
            speaker.send(f"MSG m{n}\n")
        console, shown = self.console(lang="en")
        _, _, pump = self.connect(console)
        arrival = self.text(shown)
        self.assertIn("(history) 127.0.0.1:5000: m5\n— live —\n", arrival)
        self.assertNotIn("m3", arrival)
        console.line_received("/history 2")
        pump.flush()
        self.assertEqual(
            self.text(shown),
            "— older messages of #general —\n"
            "[12:00] (history) 127.0.0.1:5000: m2\n"
            "[12:00] (history) 127.0.0.1:5000: m3\n"
            "— /history for older ones —\n",
        )
        console.line_received("/history #general")
        pump.flush()
        self.assertIn("m1\n— start of the history of #general —\n", self.text(shown))

    def test_bad_arguments_are_refused_before_sending(self) -> None:
        console, shown = self.console(lang="fr")
        _, _, pump = self.connect(console)
        self.text(shown)
        for bad, answer in [
            ("/history x", "Usage : /history [#salon] [nombre]\n"),
            ("/history 1 2", "Usage : /history [#salon] [nombre]\n"),
            ("/history 0", "demandez de 1 à 200 anciens messages à la fois\n"),
            ("/history 70000", "demandez de 1 à 200 anciens messages à la fois\n"),
        ]:
            console.line_received(bad)
            pump.flush()
            self.assertEqual(self.text(shown), answer, bad)
        console.line_received("/history #nowhere 3")
        pump.flush()
        self.assertIn("Erreur", self.text(shown))


class UnreadableFileTests(SynchronousTestCase):
    def test_an_unreadable_file_is_said_and_what_was_read_is_kept(self) -> None:
        clock = Clock()
        folder = os.path.abspath(self.mktemp())
        writer = HistoryWriter(
            folder, clock, run_in_thread=run_now, max_bytes=300, keep=5, batch=1
        )
        writer.startService()
        for n in range(1, 11):
            writer.record(Message(1000 + n, "general", TOTO, f"m{n}"))
        logged = Logged(self)
        os.remove(os.path.join(folder, "general.jsonl.1"))
        os.mkdir(os.path.join(folder, "general.jsonl.1"))  # cannot be read as a file
        got = self.successResultOf(writer.older("general", 11, 10))
        self.assertEqual(texts(got), texts(writer.recent("general"))[-len(got) :])
        self.assertTrue(got)
        self.assertEqual(len(logged.matching("cannot read history file")), 1)
