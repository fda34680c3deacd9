"""
The history writer: room history kept in memory for replay and written to
disk in batches, off the reactor thread.

L{HistoryWriter.record}, called by the core for each room message or picture,
never waits: the entry is serialised at once, kept in the room's in-memory
ring of recent entries (what a joiner is shown) and queued. The queue is
written in batches by one worker thread, at most every C{flush_interval}
seconds or as soon as C{batch} entries wait, through L{RoomFiles}.
C{stopService} writes everything still queued before the process exits. At
start-up each room's ring is filled from the tail of its files only, so the
cost does not grow with their size; a line that cannot be read is skipped
with a warning.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring as _quote
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ..core.events import Image, Message
from ..core.history import HistoryEntry, IHistory, json_line
from ..core.names import fold_room
from .files import SUFFIX, FsyncPolicy, RoomFiles, file_name, read_tail

DEFAULT_FLUSH_MS = 200
DEFAULT_BATCH = 1000
DEFAULT_REPLAY = 50
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_KEEP = 5


class _RoomHistory:
    """One room's recent entries, and its lines waiting to be written."""

    __slots__ = ("file", "pending", "quoted_name", "ring")

    def __init__(self, name: str, file: str, ring: deque[HistoryEntry]) -> None:
        self.quoted_name = _quote(name)
        self.file = file
        self.ring = ring
        self.pending: list[bytes] = []


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
        run_in_thread: Callable[..., Deferred[Any]] | None = None,
    ) -> None:
        """
        C{run_in_thread(f, *args)} runs disk work; by default a thread pool of
        one thread owned by this service, so batches are written in order.
        """
        self.folder = folder
        self.clock: IReactorTime = reactor
        self._reactor: IReactorFromThreads = reactor
        self.flush_interval = flush_interval
        self.batch = batch
        self.replay = replay
        self.files = RoomFiles(folder, fsync, max_bytes, keep)
        self._run_in_thread = run_in_thread
        self._pool: ThreadPool | None = None
        self._rooms: dict[str, _RoomHistory] = {}  # by name as the core spells it
        self._rooms_by_key: dict[str, _RoomHistory] = {}  # by folded name
        self._pending_count = 0
        self._timer: IDelayedCall | None = None
        self._last_write: Deferred[Any] = succeed(None)
        self._boot = f"{int(self.clock.seconds() * 1000):x}"
        self._sequence = 0
        self.written = 0

    # Service

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.load()
        if self._run_in_thread is None:
            self._pool = ThreadPool(minthreads=1, maxthreads=1, name="history")
            self._pool.start()

    def stopService(self) -> Deferred[None]:
        """Write everything still queued; fires once it is on disk."""
        super().stopService()  # type: ignore[no-untyped-call]
        done = self._drain()

        def stop_pool(result: object) -> object:
            if self._pool is not None:
                self._pool.stop()
                self._pool = None
            return result

        return done.addBoth(stop_pool)

    # IHistory

    def record(self, event: Message | Image) -> None:
        room = self._rooms.get(event.room) or self._room(event.room)
        self._sequence += 1
        entry_id = f"{self._boot}-{self._sequence}"
        user = event.user
        if isinstance(event, Message):
            kind, text = "message", event.text
        else:
            kind, text = "image", event.art
        room.ring.append(
            HistoryEntry(
                entry_id, event.time, event.room, user.id, user.nick, kind, text
            )
        )
        line = json_line(
            entry_id,
            round(event.time * 1000),
            room.quoted_name,
            user.id,
            user.nick,
            kind,
            text,
        )
        room.pending.append(line.encode("utf-8", "replace") + b"\n")
        self._pending_count += 1
        if self._pending_count >= self.batch:
            self.flush()
        elif self._timer is None:
            self._timer = self.clock.callLater(self.flush_interval, self.flush)

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

    # Writing

    def flush(self) -> Deferred[None]:
        """Write what is queued (after any write under way); fires when done."""
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        batch: dict[str, list[bytes]] = {}
        for room in self._rooms_by_key.values():
            if room.pending:
                batch[room.file], room.pending = room.pending, []
        self._pending_count = 0
        previous = self._last_write
        done: Deferred[None] = Deferred()

        def write(_: object) -> Deferred[Any]:
            return self._in_thread(self.files.write, batch)

        def written(count: int) -> None:
            self.written += count

        def failed(failure: Failure) -> None:
            # The lines stay in the writer's backlog: the next flush retries.
            if failure.check(OSError):
                self.log.error(
                    "could not write history to {folder}, will retry: {why}",
                    folder=self.folder,
                    why=failure.getErrorMessage(),
                )
            else:
                self.log.failure(
                    "writing history to {folder}", failure, folder=self.folder
                )
            if self.running and self._timer is None:
                self._timer = self.clock.callLater(self.flush_interval, self.flush)

        # Chained on the previous write: one batch at a time, in order.
        self._last_write = previous.addCallback(write).addCallbacks(written, failed)
        self._last_write.addBoth(lambda _: done.callback(None))
        return done

    def _drain(self) -> Deferred[None]:
        """Flush until nothing is queued (entries may come while writing)."""

        def again(_: object) -> Deferred[None] | None:
            return self._drain() if self._pending_count else None

        return self.flush().addCallback(again)

    def _in_thread(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        if self._run_in_thread is not None:
            return self._run_in_thread(function, *args)
        assert self._pool is not None, "history service not started"
        return deferToThreadPool(self._reactor, self._pool, function, *args)

    # Loading

    def load(self) -> None:
        """Fill each room's ring from the tails of its files."""
        for path_group in self._files_by_room():
            entries: list[HistoryEntry] = []
            for path in path_group:  # newest first
                try:
                    older = read_tail(path, self.replay - len(entries), self._skipped)
                except OSError as e:
                    self.log.error(
                        "cannot read history file {path}: {why}", path=path, why=e
                    )
                    break
                entries[:0] = older
                if len(entries) >= self.replay:
                    break
            if entries:
                self._room(entries[-1].room).ring.extend(entries)

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
