"""
History on disk: one JSON Lines file per room, appended to and rotated by the
writer's thread, and read back from its tail at start-up.

A room's file is C{<folder>/<room>.jsonl} (see L{file_name}); past
C{max_bytes} it becomes C{.1}, the older ones shifting up to C{keep}. Only
L{read_tail} and L{RoomFiles} touch the files, and only from the writer's one
thread (or before the reactor runs), so nothing here needs a lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
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
