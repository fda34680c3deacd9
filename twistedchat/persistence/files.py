"""
History on disk: one JSON Lines file per room, appended to and rotated by the
writer's thread, and read back from its end (at start-up, and for older pages
and searches, see L{read_backward}).

A room's file is C{<folder>/<room>.jsonl} (see L{file_name}); past
C{max_bytes} it becomes C{.1}, the older ones shifting up to C{keep}. Only
L{read_tail} and L{RoomFiles} touch the files, and only from the writer's one
thread (or before the reactor runs), so nothing here needs a lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator
from contextlib import suppress
from hashlib import sha256
from typing import Literal
from urllib.parse import quote

from ..core.history import HistoryEntry
from ..core.names import fold_room

FsyncPolicy = Literal["always", "interval", "never"]
FSYNC_POLICIES: tuple[FsyncPolicy, ...] = ("always", "interval", "never")
FSYNC_INTERVAL = 1.0  # seconds between two fsyncs under the "interval" policy
SUFFIX = ".jsonl"
_TAIL_BLOCK = 64 * 1024
# The longest line read_tail takes for an entry, unless told otherwise: the
# longest a text of 64 KiB (the default largest frame) can make.
MAX_LINE = 6 * 64 * 1024 + 4096
# Lines kept for a room whose file cannot be written, before the oldest go.
MAX_BACKLOG = 200_000


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


def largest_entry(text_bytes: int) -> int:
    """
    The longest line an entry whose text has at most C{text_bytes} bytes can
    take: JSON escapes a byte as at most six (C{\\u0001}), plus the other
    fields, which are short.
    """
    return 6 * text_bytes + 4096


def read_tail(
    path: str,
    wanted: int,
    warn: Callable[[str, int, str], None],
    max_line: int = MAX_LINE,
    room_file: str | None = None,
    *,
    below: int | None = None,
    block_size: int = _TAIL_BLOCK,
) -> list[HistoryEntry]:
    """
    The last C{wanted} readable entries of the file at C{path}, oldest first;
    given C{below}, the last of those whose position (C{seq}) is below it
    (the later ones are passed over). See L{read_backward}, which reads them.
    """
    entries: list[HistoryEntry] = []
    if wanted <= 0:
        return entries
    backward = read_backward(path, warn, max_line, room_file, block_size=block_size)
    try:
        for entry in backward:
            if below is not None and entry.seq >= below:
                continue
            entries.append(entry)
            if len(entries) >= wanted:
                break
    finally:
        backward.close()
    entries.reverse()
    return entries


def read_backward(
    path: str,
    warn: Callable[[str, int, str], None],
    max_line: int = MAX_LINE,
    room_file: str | None = None,
    *,
    block_size: int = _TAIL_BLOCK,
) -> Generator[HistoryEntry]:
    """
    The readable entries of the file at C{path}, newest first, read as they
    are asked for.

    Blocks are read backwards from the end, and lines taken newest first:
    what comes before the last entry asked for is never read, so the cost
    does not depend on the file's size. Each byte read is looked at a bounded
    number of times, and at most C{max_line} bytes of a line are kept while
    its start is looked for: a longer line is no entry the server wrote, and
    is skipped like any unreadable one. C{warn(path, offset, why)} is told of
    each unreadable line among those read. Given C{room_file} (the name of
    the room's file, see L{file_name}), an entry of another room (an edited
    file) is skipped too, as it would be shown in the wrong room.
    """

    def take(pieces: list[bytes], size: int, offset: int) -> HistoryEntry | None:
        """The entry on the line made of C{pieces} (last first), C{size} bytes."""
        if size > max_line:
            warn(path, offset, f"longer than {max_line} bytes")
            return None
        line = b"".join(reversed(pieces))
        if not line.strip():
            return None
        try:
            entry = HistoryEntry.from_json(line.decode("utf-8"))
        except ValueError as e:
            warn(path, offset, str(e))
            return None
        if room_file is not None and file_name(entry.room) != room_file:
            warn(path, offset, f"an entry of another room ({entry.room!r:.60})")
            return None
        return entry

    with open(path, "rb") as file:
        position = file.seek(0, os.SEEK_END)  # everything from here on is read
        # The end of a line whose start is not read yet: its size, and its
        # pieces (last first) unless it is already too long to be an entry.
        partial: list[bytes] = []
        partial_size = 0
        while position > 0:
            start = max(0, position - block_size)
            file.seek(start)
            block = file.read(position - start)
            position = start
            end = len(block)  # block[:end] is not taken yet
            while (cut := block.rfind(b"\n", 0, end)) >= 0:
                size = partial_size + end - cut - 1
                if size <= max_line:
                    partial.append(block[cut + 1 : end])
                entry = take(partial, size, start + cut + 1)
                partial.clear()
                partial_size = 0
                end = cut
                if entry is not None:
                    yield entry
            partial_size += end
            if partial_size <= max_line:
                partial.append(block[:end])
            else:
                partial.clear()
        if partial_size:
            entry = take(partial, partial_size, 0)  # the file's first line
            if entry is not None:
                yield entry


class HistoryWriteError(OSError):
    """
    Lines could not be written: they wait in L{RoomFiles.backlog} for the
    next write. Carries a copy of what waits, taken on the writer's thread,
    for the reactor's thread to report.
    """

    def __init__(
        self,
        why: str,
        waiting: dict[str, int],
        dropped: dict[str, int],
        written: int = 0,
    ) -> None:
        super().__init__(why)
        self.waiting = waiting  # file name -> lines waiting
        self.dropped = dropped  # file name -> lines given up past MAX_BACKLOG
        self.written = written  # lines of other files this write did write


class RoomFiles:
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
        self.dropped: dict[str, int] = {}  # file name -> lines lost past MAX_BACKLOG
        # file name -> its size before a write that failed (and was not retried yet)
        self.sizes_before: dict[str, int] = {}
        self.last_fsync = 0.0

    def write(self, batch: dict[str, list[bytes]]) -> int:
        """Append C{batch} (and what earlier failures left); return lines written."""
        for name, lines in batch.items():
            self.backlog.setdefault(name, []).extend(lines)
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as e:
            raise self._error(f"{self.folder}: {e.strerror or e}") from None
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
                failures.append(f"{name}: {e.strerror or e}")
                if len(lines) > MAX_BACKLOG:
                    excess = len(lines) - MAX_BACKLOG
                    del lines[:excess]
                    self.dropped[name] = self.dropped.get(name, 0) + excess
                continue
            written += len(lines)
            del self.backlog[name]
        if sync:
            self.last_fsync = now
        if failures:
            raise self._error("; ".join(failures), written)
        return written

    def _error(self, why: str, written: int = 0) -> HistoryWriteError:
        waiting = {name: len(lines) for name, lines in self.backlog.items()}
        return HistoryWriteError(why, waiting, dict(self.dropped), written)

    def _append(self, name: str, lines: list[bytes], sync: bool) -> None:
        """
        Append C{lines} to file C{name}, starting a line of their own.

        If a write fails part way (a full disk), the file is cut back to the
        size it had before, now and again before the retry, so that the
        retried lines are neither doubled nor glued to a partial line.
        """
        path = os.path.join(self.folder, name)
        fd = self._open(name, path)
        try:
            size = os.fstat(fd).st_size
            if size >= self.max_bytes:
                os.close(fd)
                fd = -1
                self._rotate(path)
                fd = self._open(name, path)
                size = 0
            data = b"".join(lines)
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a line cut short (a crash) ends before ours
            self.sizes_before[name] = size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if sync:
                    os.fsync(fd)
            except OSError:
                with suppress(OSError):  # else the retry cuts it
                    os.ftruncate(fd, size)
                raise
            del self.sizes_before[name]
        finally:
            if fd >= 0:
                os.close(fd)

    def _open(self, name: str, path: str) -> int:
        """File C{name} open for appending, cut back to its size before a failure."""
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        before = self.sizes_before.get(name)
        if before is not None:
            try:
                if os.fstat(fd).st_size > before:
                    os.ftruncate(fd, before)
            except OSError:
                os.close(fd)
                raise
        return fd

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
