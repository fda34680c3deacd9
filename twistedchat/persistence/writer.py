"""
The history writer: room history kept in memory for replay and written to
disk in batches, off the reactor thread.

L{HistoryWriter.record}, called by the core for each room message or picture,
never waits: the entry is serialised at once, kept in the room's in-memory
ring of recent entries (what a joiner is shown) and queued. The queue is
written in batches by one worker thread, at most every C{flush_interval}
seconds or as soon as C{batch} entries wait, through L{RoomFiles}.
C{stopService} writes everything recorded before it fires, and what is
recorded after at once (see its docstring for why nothing can be left
behind). At start-up each room's ring is filled from the tail of its files
only, so the cost does not grow with their size; a line that cannot be read
(cut short, edited, too long) is skipped with a warning. Each entry gets the
next position (C{seq}) of its room, carried on from the last one on disk;
L{HistoryWriter.older} reads older entries back from the files' ends, on the
writer's thread.

When the disk refuses (a full disk, a folder made read-only), the lines wait
in memory and are retried until they can be written: one error says so, then
a reminder at most every C{reminder_interval} with the count waiting, and a
line when writing works again. At shutdown, writes that still fail are
retried for up to C{stop_retry} seconds; then the log says exactly how many
messages of which rooms were lost.

L{HistoryWriter.status} says how the writing goes (what waits, what failed
and since when, how long the write under way has taken), for the server's
health and metrics (L{twistedchat.server.health}, L{twistedchat.server.metrics}):
counted per entry only where the entry's kind is known anyway, the rest per
batch or when asked.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from json.encoder import encode_basestring as _quote
from typing import Any, NamedTuple

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core.events import Image, Message
from ..core.history import HistoryEntry, IHistory, json_line, with_picture
from ..core.msgids import message_ids
from ..core.names import fold_room
from .files import (
    MAX_BACKLOG,
    MAX_LINE,
    SUFFIX,
    FsyncPolicy,
    HistoryWriteError,
    RoomFiles,
    file_name,
    read_backward,
    read_tail,
)
from .worker import DiskWorker

DEFAULT_FLUSH_MS = 200
DEFAULT_BATCH = 1000
DEFAULT_REPLAY = 50
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_KEEP = 5
DEFAULT_STOP_RETRY = 5.0  # seconds a failing write is retried at shutdown
REMINDER_INTERVAL = 60.0  # seconds between two reminders that writes fail


class HistoryStatus(NamedTuple):
    """How the history's writing goes, at one moment."""

    running: bool
    recorded: dict[str, int]  # entries recorded since the start, by kind
    written: int  # entries written to disk since the start
    waiting: int  # entries recorded and not on disk yet
    write_errors: int  # writes that failed (each retry counts)
    failing_since: float | None  # when writes began to fail, while they do
    last_error: str | None  # why the last write failed, while writes fail
    writing_since: float | None  # when the write under way was handed over


class _Tally:
    """
    What the writer counts for its status: one attribute of the writer, so
    that its instances keep the attribute layout that CPython reads fastest
    (past 30 attributes, every attribute read of C{record} costs more).
    """

    __slots__ = ("handed", "recorded", "seq_at_start", "write_errors", "writing_since")

    def __init__(self) -> None:
        self.recorded = {"action": 0, "image": 0}  # and messages: see status
        self.seq_at_start = 0  # the rooms' positions, added up, at the start
        self.write_errors = 0
        self.handed = 0  # entries handed to the thread, not known written
        self.writing_since: float | None = None  # the write under way, if any


class _RoomHistory:
    """One room's recent entries, and its lines waiting to be written."""

    __slots__ = ("file", "pending", "quoted_name", "ring", "seq")

    def __init__(self, name: str, file: str, ring: deque[HistoryEntry]) -> None:
        self.quoted_name = _quote(name)
        self.file = file
        self.ring = ring
        self.pending: list[bytes] = []
        self.seq = 0  # the position of the room's last entry


@implementer(IHistory)
class HistoryWriter(Service):
    """The history of every room: recent entries in memory, everything on disk."""

    log = Logger()

    def __init__(
        self,
        folder: str,
        reactor: Any,
        *,
        flush_interval: float = DEFAULT_FLUSH_MS / 1000,
        batch: int = DEFAULT_BATCH,
        fsync: FsyncPolicy = "interval",
        replay: int = DEFAULT_REPLAY,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        max_entry: int = MAX_LINE,
        stop_retry: float = DEFAULT_STOP_RETRY,
        reminder_interval: float = REMINDER_INTERVAL,
        run_in_thread: Callable[..., Deferred[Any]] | None = None,
    ) -> None:
        """
        C{run_in_thread(f, *args)} runs disk work; by default a thread pool of
        one thread owned by this service, so batches are written in order.
        C{max_entry}: the longest line an entry can take (see
        L{largest_entry}); a longer one in a file is skipped at load.
        C{stop_retry}: how long C{stopService} retries writes that fail.
        """
        self.folder = folder
        self.clock: IReactorTime = reactor
        self.flush_interval = flush_interval
        self.batch = batch
        self.replay = replay
        self.max_entry = max_entry
        self.stop_retry = stop_retry
        self.reminder_interval = reminder_interval
        self.files = RoomFiles(folder, fsync, max_bytes, keep)
        self._worker = DiskWorker(reactor, "history", run_in_thread)
        self._rooms: dict[str, _RoomHistory] = {}  # by name as the core spells it
        self._rooms_by_key: dict[str, _RoomHistory] = {}  # by folded name
        self._pending_count = 0
        self._timer: IDelayedCall | None = None
        self._flush_at = batch  # pending entries that start a write at once
        # Batches waiting for the thread, each with who waits for it.
        self._batches: deque[tuple[dict[str, list[bytes]], Deferred[None]]] = deque()
        self._writing = False  # a batch is in the thread
        self._idle: list[Deferred[None]] = []  # told when no batch is left
        self._on_stopped: list[Deferred[None]] = []  # flushes while stopping
        self._stopping = False  # stopService was called
        self._direct = False  # stopped: writes happen on the caller's thread
        # Events carry the core's message id; one made without it gets ours.
        self._ids = message_ids(self.clock)
        self.written = 0
        self.tally = _Tally()  # for status()
        # While writes fail: since when, when it was last said, the last error.
        self._failing_since: float | None = None
        self._reminded_at = 0.0
        self._trouble: HistoryWriteError | None = None
        self._gave_up = False  # stopped: what cannot be written now is lost

    # Service

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._stopping = self._direct = self._gave_up = False
        self._flush_at = self.batch
        self.load()
        self.tally = _Tally()
        self.tally.seq_at_start = self._positions()
        self._worker.start()

    def stopService(self) -> Deferred[None]:
        """
        Write everything recorded, before and after this call; fires once it
        is on disk, or once C{stop_retry} seconds of failed writes are over
        (then what is lost is logged, room by room).

        Every batch already handed to the thread or queued for it is written
        first, while what is recorded meanwhile waits, starting no write (so
        the wait is bounded, however fast messages still come). Then, the
        thread idle and stopped, what waits is written at once on this
        thread, and so is each entry recorded from then on: at shutdown the
        reactor may still read a few messages, and no longer runs timers
        once this has fired.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self._stopping = True
        self._flush_at = sys.maxsize
        self._cancel_timer()
        idle: Deferred[None] = Deferred()
        self._idle.append(idle)
        if not self._writing:
            self._write_next()
        deadline = self.clock.seconds() + self.stop_retry

        def write_the_rest(_: object) -> Deferred[None] | None:
            self._worker.stop()
            self._direct = True
            self._flush_at = 1
            self.flush()
            if self._trouble is not None and self.stop_retry > 0:
                return self._retry_before_stop(deadline)
            return None

        def done(_: object) -> None:
            self._gave_up = True
            if self._trouble is not None:
                self._tell_loss(self._trouble)
            self._fire(self._on_stopped)

        return idle.addCallback(write_the_rest).addCallback(done)

    def _retry_before_stop(self, deadline: float) -> Deferred[None]:
        """
        Writes fail as the server stops: retry (what waits, with what comes
        meanwhile) every C{flush_interval} until it works or C{deadline}.
        """
        assert self._trouble is not None
        finished: Deferred[None] = Deferred()
        self.log.warn(
            "stopping: {waiting} history entries not written yet to {folder} "
            "({why}); retrying for up to {seconds:g} s",
            waiting=self._waiting(self._trouble),
            folder=self.folder,
            why=str(self._trouble),
            seconds=self.stop_retry,
        )

        def attempt() -> None:
            self.flush()  # on this thread: the pool is stopped
            over = self.clock.seconds() + self.flush_interval > deadline
            if self._trouble is None or over:
                finished.callback(None)
            else:
                self.clock.callLater(self.flush_interval, attempt)

        self.clock.callLater(self.flush_interval, attempt)
        return finished

    # IHistory

    def record(self, event: Message | Image) -> None:
        room = self._rooms.get(event.room) or self._room(event.room)
        entry_id = event.msgid or next(self._ids)
        room.seq = seq = room.seq + 1
        user = event.user
        picture = ""
        # Plain messages are counted at no cost (see status): the others here.
        if isinstance(event, Message):
            kind, text = "message", event.text
            if event.action:
                kind = self._counted("action")
        else:
            kind, text, picture = self._counted("image"), event.art, event.picture
        entry = HistoryEntry(
            entry_id,
            event.time,
            event.room,
            user.id,
            user.nick,
            kind,
            text,
            seq,
            picture,
        )
        room.ring.append(entry)
        line = json_line(
            entry_id,
            seq,
            round(event.time * 1000),
            room.quoted_name,
            user.id,
            user.nick,
            kind,
            text,
        )
        if picture:
            line = with_picture(line, picture)
        room.pending.append(line.encode("utf-8", "replace") + b"\n")
        self._pending_count += 1
        if self._pending_count >= self._flush_at:
            self.flush()
        elif self._timer is None:
            self._timer = self.clock.callLater(self.flush_interval, self._flush_due)

    def _counted(self, kind: str) -> str:
        self.tally.recorded[kind] += 1
        return kind

    def _room(self, name: str) -> _RoomHistory:
        """The state of room C{name}, made on its first message."""
        key = fold_room(name)
        room = self._rooms_by_key.get(key)
        if room is None:
            room = _RoomHistory(name, file_name(name), deque(maxlen=self.replay))
            self._rooms_by_key[key] = room
        self._rooms[name] = room
        return room

    def recent(self, room: str) -> Sequence[HistoryEntry]:
        state = self._rooms_by_key.get(fold_room(room))
        return () if state is None else state.ring

    def last_seq(self, room: str) -> int:
        state = self._rooms_by_key.get(fold_room(room))
        return 0 if state is None else state.seq

    def older(self, room: str, below: int, count: int) -> Deferred[list[HistoryEntry]]:
        """
        The last C{count} entries of C{room} below position C{below}, oldest
        first: once what is queued is written, read backwards from the end of
        the room's files (the newest first) on the writer's thread, which is
        the only one that touches them.
        """
        path = os.path.join(self.folder, file_name(room))
        rotated = [f"{path}.{n}" for n in range(1, self.files.keep + 1)]

        def read(_: object) -> Deferred[list[HistoryEntry]]:
            if self._direct or self._stopping:  # the thread is going or gone
                return succeed([])
            return self._worker.run(self._read_older, [path, *rotated], below, count)

        return self.flush().addCallback(read)

    def search(
        self, room: str, select: Callable[[Iterable[HistoryEntry]], list[HistoryEntry]]
    ) -> Deferred[list[HistoryEntry]]:
        """
        What C{select} picks among the entries of C{room}, newest first: once
        what is queued is written, on the writer's thread, reading the room's
        files from their ends, the newest file first, as far as C{select}
        takes entries.
        """
        paths = self._paths(room)

        def read(_: object) -> Deferred[list[HistoryEntry]]:
            if self._direct or self._stopping:  # the thread is going or gone
                return succeed([])
            return self._worker.run(lambda: select(self._newest_first(paths)))

        return self.flush().addCallback(read)

    def _paths(self, room: str) -> list[str]:
        """The files of C{room}, the newest first."""
        path = os.path.join(self.folder, file_name(room))
        return [path, *(f"{path}.{n}" for n in range(1, self.files.keep + 1))]

    def _newest_first(self, paths: list[str]) -> Iterator[HistoryEntry]:
        """On the writer's thread: the entries of C{paths}, newest first."""
        room_file = os.path.basename(paths[0])
        for path in paths:
            if not os.path.exists(path):
                return
            backward = read_backward(path, self._skipped, self.max_entry, room_file)
            try:
                yield from backward
            except OSError as e:  # what was read is still worth showing
                self.log.error(
                    "cannot read history file {path}: {why}", path=path, why=e
                )
                return
            finally:
                backward.close()

    def _read_older(
        self, paths: list[str], below: int, count: int
    ) -> list[HistoryEntry]:
        """On the writer's thread: L{older}'s reading, file after file."""
        entries: list[HistoryEntry] = []
        for path in paths:
            if len(entries) >= count or not os.path.exists(path):
                break
            try:
                entries[:0] = read_tail(
                    path,
                    count - len(entries),
                    self._skipped,
                    self.max_entry,
                    os.path.basename(paths[0]),
                    below=below,
                )
            except OSError as e:  # what was read is still worth showing
                self.log.error(
                    "cannot read history file {path}: {why}", path=path, why=e
                )
                break
        return entries

    # Writing

    def flush(self) -> Deferred[None]:
        """
        Write what is queued, after the batches queued before; fires when it
        is done (written, or failed and logged: the lines are then kept and
        retried). While stopping, fires when stopService's result does.
        """
        self._cancel_timer()
        done: Deferred[None] = Deferred()
        if self._stopping and not self._direct:
            self._on_stopped.append(done)  # stopService writes it
            return done
        batch = self._take_pending()
        if self._direct:
            self._write_directly(batch)
            done.callback(None)
        else:
            self._batches.append((batch, done))
            if not self._writing:
                self._write_next()
        return done

    def _take_pending(self) -> dict[str, list[bytes]]:
        """The lines waiting in each room (by file), taken from the rooms."""
        batch: dict[str, list[bytes]] = {}
        for room in self._rooms_by_key.values():
            if room.pending:
                batch[room.file], room.pending = room.pending, []
        self._pending_count = 0
        return batch

    def _flush_due(self) -> None:
        """The flush interval is over."""
        self._timer = None
        if not self._stopping:  # stopService writes it
            self.flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _write_next(self) -> None:
        """
        Hand what is queued to the thread, as one write: one write at a time,
        so that batches reach the files in order, and however many queued
        while the last one was written (the queue cannot outgrow the disk).
        When nothing is left, tell those who wait for that.
        """
        if not self._batches:
            self._writing = False
            self.tally.writing_since = None
            self._fire(self._idle)
            return
        self._writing = True
        self.tally.writing_since = self.clock.seconds()
        batch, done = self._batches.popleft()
        waiting = [done]
        if self._batches:
            batch = {name: lines[:] for name, lines in batch.items()}
            while self._batches:
                more, done = self._batches.popleft()
                waiting.append(done)
                for name, lines in more.items():
                    batch.setdefault(name, []).extend(lines)
        self.tally.handed += sum(map(len, batch.values()))
        writing = self._worker.run(self.files.write, batch)
        writing.addCallbacks(self._written, self._failed)
        writing.addCallback(lambda _: self._fire(waiting))
        writing.addCallback(lambda _: self._write_next())

    @staticmethod
    def _fire(waiting: list[Deferred[None]]) -> None:
        now = waiting[:]
        del waiting[:]
        for waiter in now:
            waiter.callback(None)

    def _written(self, count: int) -> None:
        self.written += count
        self.tally.handed -= count
        self._trouble = None
        if self._failing_since is not None:
            self.log.info(
                "history written again to {folder}: {count} entries that waited "
                "{seconds:.0f} s are on disk",
                folder=self.folder,
                count=count,
                seconds=self.clock.seconds() - self._failing_since,
            )
            self._failing_since = None

    def _failed(self, failure: Failure) -> None:
        # The lines stay in the writer's backlog: the next write retries them.
        self.tally.write_errors += 1
        if isinstance(failure.value, HistoryWriteError):
            self._count_failed(failure.value)
            self._tell_trouble(failure.value)
        else:
            self.log.failure("writing history to {folder}", failure, folder=self.folder)
        if self.running and self._timer is None:
            self._timer = self.clock.callLater(self.flush_interval, self._flush_due)

    def _count_failed(self, error: HistoryWriteError) -> None:
        """What a failed write did write, and what it left waiting."""
        self.written += error.written
        self.tally.handed = sum(error.waiting.values())

    def status(self) -> HistoryStatus:
        """How the writing goes now."""
        queued = sum(
            len(lines) for batch, _ in self._batches for lines in batch.values()
        )
        trouble, tally = self._trouble, self.tally
        # Each entry recorded moved its room's position on by one.
        recorded = self._positions() - tally.seq_at_start
        return HistoryStatus(
            bool(self.running),
            {"message": recorded - sum(tally.recorded.values()), **tally.recorded},
            self.written,
            self._pending_count + queued + tally.handed,
            tally.write_errors,
            self._failing_since if trouble is not None else None,
            None if trouble is None else str(trouble),
            tally.writing_since,
        )

    def _positions(self) -> int:
        """The positions of the rooms' last entries, added up."""
        return sum(room.seq for room in self._rooms_by_key.values())

    def _waiting(self, error: HistoryWriteError) -> int:
        """Entries not on disk: those the failed write kept, and those since."""
        return sum(error.waiting.values()) + self._pending_count

    def _tell_trouble(self, error: HistoryWriteError) -> None:
        """Say once that writes fail, then remind at most every reminder_interval."""
        self._trouble = error
        now = self.clock.seconds()
        if self._failing_since is None:
            self._failing_since = self._reminded_at = now
            self.log.error(
                "cannot write history to {folder}: {why}; {waiting} entries wait "
                "in memory and are retried until they can be written",
                folder=self.folder,
                why=str(error),
                waiting=self._waiting(error),
            )
        elif now - self._reminded_at >= self.reminder_interval:
            self._reminded_at = now
            self.log.error(
                "history still cannot be written to {folder} ({seconds:.0f} s): "
                "{waiting} entries waiting, {lost} lost (over {limit} for one "
                "room); {why}",
                folder=self.folder,
                seconds=now - self._failing_since,
                waiting=self._waiting(error),
                lost=sum(error.dropped.values()),
                limit=MAX_BACKLOG,
                why=str(error),
            )

    def _write_directly(self, batch: dict[str, list[bytes]]) -> None:
        """Once stopped: the thread is gone, so write on this one, at once."""
        self.tally.handed += sum(map(len, batch.values()))
        try:
            self._written(self.files.write(batch))
        except HistoryWriteError as e:
            self.tally.write_errors += 1
            self._count_failed(e)
            self._trouble = e  # stopService retries it, or tells the loss
            if self._gave_up:
                self._tell_loss(e)
        except Exception:
            self.log.failure("writing history to {folder}", folder=self.folder)

    def _tell_loss(self, error: HistoryWriteError) -> None:
        """The server stops and these lines will never be written: say which."""
        rooms = {room.file: name for name, room in self._rooms.items()}
        lost = {
            name: error.waiting.get(name, 0) + error.dropped.get(name, 0)
            for name in {*error.waiting, *error.dropped}
        }
        self.log.error(
            "history stopped: {lost} accepted messages could not be written to "
            "{folder} and are lost ({why})",
            lost=sum(lost.values()),
            folder=self.folder,
            why=str(error),
        )
        for name, count in sorted(lost.items()):
            self.log.error(
                "history stopped: {count} messages of room {room} lost ({path})",
                count=count,
                room=rooms.get(name, name),
                path=os.path.join(self.folder, name),
            )

    # Loading

    def load(self) -> None:
        """Fill each room's ring from the tails of its files."""
        wanted = max(self.replay, 1)  # the last entry, for the room's position
        for path_group in self._files_by_room():
            entries: list[HistoryEntry] = []
            for path in path_group:  # newest first
                try:
                    older = read_tail(
                        path,
                        wanted - len(entries),
                        self._skipped,
                        self.max_entry,
                        os.path.basename(path_group[0]),
                    )
                except OSError as e:
                    self.log.error(
                        "cannot read history file {path}: {why}", path=path, why=e
                    )
                    break
                entries[:0] = older
                if len(entries) >= wanted:
                    break
            if entries:
                room = self._room(entries[-1].room)
                room.ring.extend(entries)
                room.seq = max(room.seq, max(entry.seq for entry in entries))

    def _files_by_room(self) -> Iterator[list[str]]:
        """For each room's file, it and its rotated files, newest first."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return
        except OSError as e:
            self.log.error(
                "cannot read the history folder {folder}: {why}",
                folder=self.folder,
                why=e,
            )
            return
        for name in sorted(names):
            if name.endswith(SUFFIX):
                path = os.path.join(self.folder, name)
                rotated = [f"{path}.{n}" for n in range(1, self.files.keep + 1)]
                yield [path, *(p for p in rotated if os.path.exists(p))]

    def _skipped(self, path: str, offset: int, why: str) -> None:
        self.log.warn(
            "history file {path}: skipped an unreadable line at byte {offset} ({why})",
            path=path,
            offset=offset,
            why=why,
        )
