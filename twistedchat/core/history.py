"""
Room history: what was said, kept as JSON Lines on disk and replayed on join.

The core hands each room message or picture to L{HistoryWriter.record}, which
never waits: the entry is serialised at once, kept in the room's in-memory ring
of recent entries (what a joiner is shown) and queued. The queue is written in
batches by one worker thread, at most every C{flush_interval} seconds or as soon
as C{batch} entries wait, appending to one file per room
(C{<data dir>/history/<room>.jsonl}) and rotating it past C{max_bytes}.
C{stopService} writes everything still queued before the process exits. At
start-up each room's ring is filled from the tail of its files only, so the
cost does not grow with their size; a line that cannot be read is skipped with
a warning.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from hashlib import sha256
from json.encoder import encode_basestring as _quote
from typing import Any, Literal, NamedTuple
from urllib.parse import quote

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import Interface, implementer

from .events import Image, Message
from .names import fold_room

DEFAULT_FLUSH_MS = 200
DEFAULT_BATCH = 1000
DEFAULT_REPLAY = 50
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_KEEP = 5
FsyncPolicy = Literal["always", "interval", "never"]
FSYNC_POLICIES: tuple[FsyncPolicy, ...] = ("always", "interval", "never")
FSYNC_INTERVAL = 1.0  # seconds between two fsyncs under the "interval" policy
SUFFIX = ".jsonl"
_TAIL_BLOCK = 64 * 1024
# Lines kept for a room whose file cannot be written, before the oldest go.
MAX_BACKLOG = 200_000


class HistoryEntry(NamedTuple):
    """One line of a room's history (a tuple: cheap to make on the hot path)."""

    id: str
    time: float
    room: str
    user_id: str
    nick: str
    kind: str  # "message" or "image"
    text: str

    def to_json(self) -> str:
        return json_line(
            self.id,
            round(self.time * 1000),
            _quote(self.room),
            self.user_id,
            self.nick,
            self.kind,
            self.text,
        )

    @classmethod
    def from_json(cls, line: str) -> HistoryEntry:
        """The entry in C{line}; ValueError if it is not one."""
        try:
            fields = json.loads(line)
            entry = cls(
                id=str(fields["id"]),
                time=float(fields["time"]) / 1000,
                room=str(fields["room"]),
                user_id=str(fields["user_id"]),
                nick=str(fields["nick"]),
                kind=str(fields["kind"]),
                text=str(fields["text"]),
            )
        except (TypeError, KeyError) as e:
            raise ValueError(f"not a history entry ({e!r})") from None
        return entry


def json_line(
    entry_id: str,
    milliseconds: int,
    quoted_room: str,
    user_id: str,
    nick: str,
    kind: str,
    text: str,
) -> str:
    """
    An entry as one JSON object (no newline): id, time (ms), room, user_id,
    nick, kind, text. Written by hand with the C string encoder, as
    C{json.dumps} of a dict costs several times more on the hot path.
    """
    return (
        f'{{"id":{_quote(entry_id)},"time":{milliseconds},"room":{quoted_room},'
        f'"user_id":{_quote(user_id)},"nick":{_quote(nick)},"kind":"{kind}",'
        f'"text":{_quote(text)}}}'
    )


class IHistory(Interface):
    def record(event: Message | Image) -> None:
        """Keep C{event}; must not wait for the disk."""

    def recent(room: str) -> Sequence[HistoryEntry]:
        """The last entries of C{room}, oldest first."""


def file_name(room: str) -> str:
    """
    The file of C{room}'s history: its case-folded name with everything but
    ASCII letters, digits, C{-} and C{_} percent-encoded (so C{..} and C{/}
    never reach the file system), or a digest when that would be too long.
    """
    encoded = quote(fold_room(room), safe="-_")
    encoded = encoded.replace(".", "%2E")
    if len(encoded) > 150:
        encoded = "h-" + sha256(fold_room(room).encode("utf-8")).hexdigest()
    return encoded + SUFFIX


def read_tail(
    path: str, wanted: int, warn: Callable[[str, int, str], None]
) -> list[HistoryEntry]:
    """
    The last C{wanted} readable entries of the file at C{path}, oldest first.

    Blocks are read backwards from the end, and lines taken newest first,
    until there are enough: what comes before is never read, so the cost does
    not depend on the file's size. C{warn(path, offset, why)} is told of each
    unreadable line among those taken.
    """
    entries: list[HistoryEntry] = []
    if wanted <= 0:
        return entries
    with open(path, "rb") as file:
        end = file.seek(0, os.SEEK_END)
        position = end  # data holds the file's bytes from here to end
        data = b""
        while len(entries) < wanted:
            cut = data.rfind(
                b"\n", 0, len(data) - 1 if data.endswith(b"\n") else len(data)
            )
            if cut < 0 and position > 0:
                start = max(0, position - _TAIL_BLOCK)
                file.seek(start)
                data = file.read(position - start) + data
                position = start
                continue
            line, data = data[cut + 1 :], data[: cut + 1]
            offset = position + cut + 1
            if line.strip():
                try:
                    entries.append(HistoryEntry.from_json(line.decode("utf-8")))
                except ValueError as e:
                    warn(path, offset, str(e))
            if cut < 0:
                break  # that was the file's first line
    entries.reverse()
    return entries


class _RoomHistory:
    """One room's recent entries, and its lines waiting to be written."""

    __slots__ = ("file", "pending", "quoted_name", "ring")

    def __init__(self, name: str, file: str, ring: deque[HistoryEntry]) -> None:
        self.quoted_name = _quote(name)
        self.file = file
        self.ring = ring
        self.pending: list[bytes] = []


class _RoomFiles:
    """
    The worker thread's side: appends batches, rotates, fsyncs. Only ever
    used from the single writer thread, so it needs no lock.
    """

    def __init__(
        self, folder: str, fsync: FsyncPolicy, max_bytes: int, keep: int
    ) -> None:
        self.folder = folder
        self.fsync = fsync
        self.max_bytes = max_bytes
        self.keep = keep
        self.backlog: dict[str, list[bytes]] = {}  # file name -> lines not written yet
        self.last_fsync = 0.0

    def write(self, batch: dict[str, list[bytes]]) -> int:
        """Append C{batch} (and what earlier failures left); return lines written."""
        for name, lines in batch.items():
            self.backlog.setdefault(name, []).extend(lines)
        os.makedirs(self.folder, exist_ok=True)
        written = 0
        now = time.monotonic()
        sync = self.fsync == "always" or (
            self.fsync == "interval" and now - self.last_fsync >= FSYNC_INTERVAL
        )
        failures = []
        for name in list(self.backlog):
            lines = self.backlog[name]
            try:
                self._append(name, lines, sync)
            except OSError as e:
                failures.append(f"{name}: {e}")
                if len(lines) > MAX_BACKLOG:
                    del lines[: len(lines) - MAX_BACKLOG]
                continue
            written += len(lines)
            del self.backlog[name]
        if sync:
            self.last_fsync = now
        if failures:
            raise OSError("; ".join(failures))
        return written

    def _append(self, name: str, lines: list[bytes], sync: bool) -> None:
        path = os.path.join(self.folder, name)
        if os.path.exists(path) and os.path.getsize(path) >= self.max_bytes:
            self._rotate(path)
        with open(path, "ab") as file:
            file.write(b"".join(lines))
            file.flush()
            if sync:
                os.fsync(file.fileno())

    def _rotate(self, path: str) -> None:
        """C{room.jsonl} becomes C{.1}, C{.1} becomes C{.2}... past C{keep}, gone."""
        for number in range(self.keep, 0, -1):
            older = f"{path}.{number}"
            if number == self.keep:
                if os.path.exists(older):
                    os.remove(older)
            else:
                newer = older
                if os.path.exists(newer):
                    os.replace(newer, f"{path}.{number + 1}")
        if self.keep > 0:
            os.replace(path, f"{path}.1")
        else:
            os.remove(path)


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
        self.files = _RoomFiles(folder, fsync, max_bytes, keep)
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
