"""
The history when several nodes serve one chat: the same on every node, on
disk once, written by one node at a time.

Every node records every room message and picture it applies from the log
(L{ClusterHistory.record}, called by the service while it applies an entry,
whose id is the message's id), so the rooms' recent entries, their positions
(C{seq}), replay and C{/history} are the same on every node. The files are the
single-node ones (L{twistedchat.persistence}: one JSON Lines file per room in
C{DATA_DIR/history}), shared by the nodes, and written by one node: the
holder of the lease C{chat:lease:history} (L{twistedchat.cluster.nodes.Lease}).

How nothing is lost or written twice:
 - the holder writes entries in the log's order; once a batch is on disk it
   records in Redis how far it wrote (C{chat:history:written}, the id of the
   last entry on disk), with a script that does so only while the lease is
   its own and only forwards;
 - every node keeps in memory the entries after that point (the holder has
   not confirmed them yet; the others ask Redis every C{confirm_interval}
   seconds how far it got, and forget what is confirmed), bounded by
   C{max_unconfirmed};
 - a node that gains the lease writes all it keeps, and each write skips
   what the files already hold: before appending to a room's file, under an
   exclusive C{flock} of C{history/writer.lock} (which readers share), the
   writer reads the id of the file's last entry (ids are log entry ids,
   ordered like the log) unless the file is as it left it, and drops its
   lines up to that id. So a holder killed between writing and recording,
   or one paused (SIGSTOP) that wakes up still writing, never doubles a line
   nor leaves a hole: each writer holds every entry after the point
   recorded, and only ever appends what follows the file's last line.

Positions: a room's C{seq} counts its entries. A node that starts reads the
tails of the files (positions included), then applies the log from its
start: an entry whose id is not after the last one on disk for its room was
counted in the file already, and is skipped (neither counted nor written
again); the later ones carry on from the file's position, as they did on the
nodes that were there. Entries written before the cluster (single-node
message ids, not log ids) come before every log entry.
"""

from __future__ import annotations

import fcntl
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from ..core.events import Image, Message
from ..core.history import HistoryEntry
from ..core.names import fold_room
from ..persistence.files import (
    MAX_LINE,
    FsyncPolicy,
    HistoryWriteError,
    RoomFiles,
    read_backward,
)
from ..persistence.writer import HistoryWriter
from ..server.options import ServerSettings
from .markers import ClusterMarkers
from .nodes import LEASE_TTL, Lease, new_node_id
from .position import LogPosition
from .redis import RedisClient, Script

LEASE = "history"  # the lease's name: chat:lease:history
LOCK_FILE = "writer.lock"  # in the history folder: its writer excludes readers
CONFIRM_INTERVAL = 1.0  # seconds between two looks at how far the holder wrote
# Entries kept in memory that the holder has not confirmed on disk, at most.
MAX_UNCONFIRMED = 100_000

Order = tuple[int, int]


def stream_order(entry_id: str) -> Order | None:
    """A log entry id as numbers (C{"1764300000000-3"}: (ms, seq)); None if not one."""
    ms, dash, seq = entry_id.partition("-")
    if not dash or not ms.isdigit() or not seq.isdigit():
        return None
    return int(ms), int(seq)


def line_order(line: bytes) -> Order | None:
    """The order of the entry on a line the writer made (its id comes first)."""
    if not line.startswith(b'{"id":"'):
        return None
    end = line.find(b'"', 7)
    return None if end < 0 else stream_order(line[7:end].decode("ascii", "replace"))


# KEYS: the lease, the cursor; ARGV: this node, the last entry id on disk.
# Moves the cursor forwards only, and only for the lease's holder.
_CONFIRM = Script(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local old = redis.call('GET', KEYS[2])
if old then
  local oms, oseq = string.match(old, '^(%d+)-(%d+)$')
  local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
  if oms and ms then
    oms, oseq, ms, seq = tonumber(oms), tonumber(oseq), tonumber(ms), tonumber(seq)
    if ms < oms or (ms == oms and seq <= oseq) then return 1 end
  end
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""
)


class SharedRoomFiles(RoomFiles):
    """
    Room files that several nodes may write, one after the other: each write
    holds the folder's lock and appends only what follows each file's last
    entry (see the module's docstring). Used from the writer's thread only.
    """

    def __init__(
        self,
        folder: str,
        fsync: FsyncPolicy,
        max_bytes: int,
        keep: int,
        *,
        max_line: int = MAX_LINE,
        warn: Callable[[str, int, str], None] = lambda path, offset, why: None,
    ) -> None:
        super().__init__(folder, fsync, max_bytes, keep)
        self.max_line = max_line
        self.warn = warn
        # By file: (inode, size, order of its last entry) as this node left it.
        self._tails: dict[str, tuple[int, int, Order | None]] = {}
        self.skipped = 0  # lines found on disk already, not written again

    def _lock(self, how: int) -> int:
        """The folder's lock, taken (waiting for it): its file descriptor."""
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, LOCK_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, how)
        except OSError:
            os.close(fd)
            raise
        return fd

    @contextmanager
    def locked(self, how: int) -> Iterator[None]:
        """The folder's lock: C{LOCK_EX} to write, C{LOCK_SH} to read."""
        fd = self._lock(how)
        try:
            yield
        finally:
            os.close(fd)  # and the lock with it

    def write(self, batch: dict[str, list[bytes]]) -> int:
        for name, lines in batch.items():
            self.backlog.setdefault(name, []).extend(lines)
        if not any(self.backlog.values()):
            return 0  # not the writer (a page read flushes first): no lock
        try:
            fd = self._lock(fcntl.LOCK_EX)
        except OSError as e:
            raise self._error(f"{self.folder}: {e.strerror or e}") from None
        try:
            skipped = self._skip_written()
            last = {name: lines[-1] for name, lines in self.backlog.items()}
            try:
                written = super().write({})
            except HistoryWriteError as e:
                e.written += skipped
                self._tails.clear()  # some files are not as we think: read them again
                raise
            for name, line in last.items():
                self._remember(name, line_order(line))
            return written + skipped
        finally:
            os.close(fd)

    def _skip_written(self) -> int:
        """Drop from the backlog the lines each file already ends with."""
        skipped = 0
        for name in list(self.backlog):
            lines = self.backlog[name]
            tail = self._tail(name)
            if tail is None:
                continue
            first = 0
            while first < len(lines):
                order = line_order(lines[first])
                if order is None or order > tail:
                    break
                first += 1
            if first:
                del lines[:first]
                skipped += first
            if not lines:
                del self.backlog[name]
        self.skipped += skipped
        return skipped

    def _tail(self, name: str) -> Order | None:
        """The order of the last entry in C{name}'s files (None: none, or not a log id)."""
        path = os.path.join(self.folder, name)
        try:
            status = os.stat(path)
        except FileNotFoundError:
            status = None
        known = self._tails.get(name)
        if (
            known is not None
            and status is not None
            and (status.st_ino, status.st_size) == known[:2]
        ):
            return known[2]
        for candidate in [path, *(f"{path}.{n}" for n in range(1, self.keep + 1))]:
            if not os.path.exists(candidate):
                continue  # path itself, just rotated away by the last writer
            backward = read_backward(candidate, self.warn, self.max_line, name)
            try:
                for entry in backward:
                    return stream_order(entry.id)
            finally:
                backward.close()
        return None

    def _remember(self, name: str, order: Order | None) -> None:
        try:
            status = os.stat(os.path.join(self.folder, name))
        except OSError:
            self._tails.pop(name, None)
            return
        self._tails[name] = (status.st_ino, status.st_size, order)

    def drop_backlog(self) -> None:
        """No longer the writer: what waits is the next holder's to write."""
        self.backlog.clear()
        self.sizes_before.clear()


class ClusterHistory(HistoryWriter):
    """
    A node's history in a cluster: every entry applied, kept as the
    single-node writer keeps them; written to the shared files while this
    node holds the history's lease (L{gained}, L{lost}).
    """

    def __init__(
        self,
        folder: str,
        reactor: Any,
        redis: RedisClient,
        node: str,
        *,
        prefix: str = "chat:",
        position: LogPosition | None = None,
        lease_ttl: float | None = LEASE_TTL,
        owns_client: bool = False,
        confirm_interval: float = CONFIRM_INTERVAL,
        max_unconfirmed: int = MAX_UNCONFIRMED,
        **options: Any,
    ) -> None:
        """
        C{redis}: a Redis client, started and stopped with this service if
        it C{owns_client}; C{node}: this node's id (the value its lease
        holds); C{prefix}: the cluster's Redis keys' prefix; C{position}: the
        applier's position in the log (the id of the entry being applied,
        for an event without a message id); C{lease_ttl}: the lease's (None:
        no lease, L{gained} and L{lost} are called by the caller). The
        C{options} are L{HistoryWriter}'s.
        """
        super().__init__(folder, reactor, **options)
        self.files = SharedRoomFiles(
            folder,
            self.files.fsync,
            self.files.max_bytes,
            self.files.keep,
            max_line=self.max_entry,
            warn=self._skipped,
        )
        self.redis = redis
        self.owns_client = owns_client
        self.node = node
        self.lease: Lease | None = None
        if lease_ttl is not None:
            self.lease = Lease(
                redis,
                LEASE,
                node,
                ttl=lease_ttl,
                on_gained=self.gained,
                on_lost=self.lost,
                prefix=f"{prefix}lease:",
            )
        self.lease_key = f"{prefix}lease:{LEASE}"
        self.written_key = f"{prefix}history:written"
        self.position = position or LogPosition()
        self.confirm_interval = confirm_interval
        self.max_unconfirmed = max_unconfirmed
        self.writing = False  # this node holds the lease
        # Entries after the point the holder recorded, in the log's order.
        self._unconfirmed: deque[tuple[Order, HistoryEntry]] = deque()
        self.forgotten = 0  # unconfirmed entries let go past max_unconfirmed
        self.confirmed = ""  # the last entry id on disk, as last heard
        # By room key, the order of its last entry on disk when the files were
        # read, until the log's entries pass it.
        self._on_disk: dict[str, Order] = {}
        self._disk_end: Order = (0, 0)  # the latest of those
        self._queued = ""  # the last entry id handed to the files (holder)
        self._watch = LoopingCall(self.look_at_cursor)
        self._watch.clock = reactor
        self._unlucky = False  # the last confirmation failed (said once)

    # Service

    def startService(self) -> None:
        """Read the files' tails (before any entry is applied), then try for the lease."""
        super().startService()
        self._watch.start(self.confirm_interval, now=False)
        if self.owns_client:
            self.redis.start()
        if self.lease is not None:
            self.lease.startService()

    def stopService(self) -> Deferred[None]:
        """
        Write what is recorded (while still the holder), record how far,
        then give the lease up: another node writes from there at once.
        """
        if self._watch.running:
            self._watch.stop()

        def confirm(_: object) -> Deferred[None] | None:
            last = self._queued if self.writing else ""
            if last and self._trouble is None:
                return self._confirm(last)
            return None

        def release(_: object) -> Deferred[None] | None:
            if self.lease is not None and self.lease.running:
                return self.lease.stopService()
            return None

        def disconnect(_: object) -> Deferred[None] | None:
            return self.redis.stop() if self.owns_client else None

        stopping = super().stopService()
        return stopping.addCallback(confirm).addCallback(release).addBoth(disconnect)

    def load(self) -> None:
        """The rooms' tails, and for each room the last entry on disk."""
        super().load()
        self._on_disk.clear()
        self._disk_end = (0, 0)
        for paths in self._files_by_room():
            room_file = os.path.basename(paths[0])
            for path in paths:
                backward = read_backward(path, self._skipped, self.max_entry, room_file)
                try:
                    entry = next(backward, None)
                except OSError:
                    entry = None
                finally:
                    backward.close()
                if entry is not None:
                    order = stream_order(entry.id)
                    if order is not None:
                        self._on_disk[fold_room(entry.room)] = order
                        self._disk_end = max(self._disk_end, order)
                    break

    # IHistory

    def record(self, event: Message | Image) -> None:
        entry_id = event.msgid or self.position.current
        order = stream_order(entry_id)  # None: not a log entry's (a test's)
        if self._on_disk and order is not None:
            if order > self._disk_end:
                self._on_disk.clear()  # past every file's end: checks are over
            else:
                key = fold_room(event.room)
                disk = self._on_disk.get(key)
                if disk is not None:
                    if order <= disk:
                        return  # counted and written already (read from the files)
                    del self._on_disk[key]
        room = self._rooms.get(event.room) or self._room(event.room)
        room.seq = seq = room.seq + 1
        picture = ""
        if isinstance(event, Message):
            kind, text = "message", event.text
            if event.action:
                kind = self._counted("action")
        else:
            kind, text, picture = self._counted("image"), event.art, event.picture
        user = event.user
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
        if order is not None:
            unconfirmed = self._unconfirmed
            unconfirmed.append((order, entry))
            if len(unconfirmed) > self.max_unconfirmed:
                self._forget_oldest()
        if self.writing:
            self._queue(room, entry)

    def _queue(self, room: Any, entry: HistoryEntry) -> None:
        """Hand C{entry} to C{room}'s file (the holder's part of L{record})."""
        room.pending.append(entry.to_json().encode("utf-8", "replace") + b"\n")
        self._queued = entry.id
        self._pending_count += 1
        if self._pending_count >= self._flush_at:
            self.flush()
        elif self._timer is None:
            self._timer = self.clock.callLater(self.flush_interval, self._flush_due)

    def _forget_oldest(self) -> None:
        self._unconfirmed.popleft()
        if not self.forgotten:
            self.log.error(
                "history: over {limit} entries not confirmed on disk by the "
                "history's writer; the oldest are let go (if this node takes "
                "the writing over, they will be missing from the files)",
                limit=self.max_unconfirmed,
            )
        self.forgotten += 1

    def unconfirmed(self, room: str | None = None) -> list[HistoryEntry]:
        """The entries kept until the holder confirms them (of C{room}), oldest first."""
        if room is None:
            return [entry for _, entry in self._unconfirmed]
        key = fold_room(room)
        return [entry for _, entry in self._unconfirmed if fold_room(entry.room) == key]

    def older(self, room: str, below: int, count: int) -> Deferred[list[HistoryEntry]]:
        """As L{HistoryWriter.older}, with what is not on disk yet."""

        def merged(on_disk: list[HistoryEntry]) -> list[HistoryEntry]:
            by_seq = {entry.seq: entry for entry in on_disk}
            for entry in self.unconfirmed(room):
                if entry.seq < below:
                    by_seq[entry.seq] = entry
            return [by_seq[seq] for seq in sorted(by_seq)][-count:]

        return super().older(room, below, count).addCallback(merged)

    def _read_older(
        self, paths: list[str], below: int, count: int
    ) -> list[HistoryEntry]:
        assert isinstance(self.files, SharedRoomFiles)
        with self.files.locked(fcntl.LOCK_SH):  # no line half written by the holder
            return super()._read_older(paths, below, count)

    def search(
        self, room: str, select: Callable[[Iterable[HistoryEntry]], list[HistoryEntry]]
    ) -> Deferred[list[HistoryEntry]]:
        """As L{HistoryWriter.search}, with what is not on disk yet."""
        memory = self.unconfirmed(room)[::-1]  # newest first
        paths = self._paths(room)
        files = self.files
        assert isinstance(files, SharedRoomFiles)

        def newest_first() -> Iterator[HistoryEntry]:
            lowest = None
            for entry in memory:
                yield entry
                lowest = entry.seq
            for entry in self._newest_first(paths):
                if lowest is None or entry.seq < lowest:
                    yield entry

        def locked() -> list[HistoryEntry]:
            with files.locked(fcntl.LOCK_SH):
                return select(newest_first())

        def read(_: object) -> Deferred[list[HistoryEntry]]:
            if self._direct or self._stopping:  # the thread is going or gone
                return succeed(select(iter(memory)))
            return self._worker.run(locked)

        return self.flush().addCallback(read)

    # Writing

    def flush(self) -> Deferred[None]:
        """
        As L{HistoryWriter.flush}; the holder then records how far the files
        go, and this fires once that is done (or failed: the next one covers it).
        """
        last = self._queued if self.writing else ""
        done = super().flush()
        if last:
            done.addCallback(self._written_up_to, last)
        return done

    def _written_up_to(self, _: object, last: str) -> Deferred[None] | None:
        if self._trouble is None and self.writing and not self._stopping:
            return self._confirm(last)
        return None

    def _confirm(self, last: str) -> Deferred[None]:
        """Record in Redis that the files hold everything up to C{last}."""
        d = _CONFIRM.run(
            self.redis, [self.lease_key, self.written_key], [self.node, last]
        )

        def recorded(mine: int) -> None:
            self._unlucky = False
            if mine:
                self._confirmed(last)
            else:
                self.log.warn(
                    "history: wrote up to {last} but the lease {lease} is no "
                    "longer this node's: its holder writes",
                    last=last,
                    lease=self.lease_key,
                )

        def failed(failure: Failure) -> None:
            if not self._unlucky:  # the next batch's confirmation covers this one
                self._unlucky = True
                self.log.warn(
                    "history: cannot record in Redis how far it is written "
                    "({why}); trying again with the next batch",
                    why=failure.getErrorMessage(),
                )

        return d.addCallbacks(recorded, failed)

    def look_at_cursor(self) -> Deferred[None]:
        """
        Ask how far the holder wrote, and forget what is on disk (every
        C{confirm_interval} while this node does not hold the lease).
        """
        if self.writing:
            return succeed(None)

        def heard(value: bytes | None) -> None:
            if value:
                self._confirmed(value.decode("ascii", "replace"))

        # Redis away: the next look will tell; memory is bounded meanwhile.
        return self.redis.command("GET", self.written_key).addCallbacks(
            heard, lambda _: None
        )

    def _confirmed(self, last: str) -> None:
        """Everything up to C{last} is on disk: forget it."""
        order = stream_order(last)
        if order is None:
            return
        self.confirmed = last
        unconfirmed = self._unconfirmed
        while unconfirmed and unconfirmed[0][0] <= order:
            unconfirmed.popleft()
        if self.forgotten and not unconfirmed:
            self.forgotten = 0

    # The lease

    def gained(self) -> None:
        """
        This node holds the lease now: write every entry not confirmed on
        disk (the files skip those the last holder wrote), then each new one.
        """
        if self.writing:
            return
        self.writing = True
        rooms = self._rooms_by_key
        for _, entry in self._unconfirmed:
            self._queue(rooms[fold_room(entry.room)], entry)
        self.log.info(
            "history: this node writes the history now, from {count} entries "
            "not confirmed on disk (after {confirmed})",
            count=len(self._unconfirmed),
            confirmed=self.confirmed or "the start",
        )
        self.flush()

    def lost(self) -> None:
        """
        This node no longer holds the lease: it writes nothing more (what
        was handed to the thread may still land; the next holder's writes
        skip it), and keeps what it records until the next holder confirms it.
        """
        if not self.writing:
            return
        self.writing = False
        self._queued = ""
        self._take_pending()  # dropped: the entries stay in _unconfirmed
        self._cancel_timer()
        self.log.warn("history: this node no longer writes the history")
        if self.running and not self._direct:
            assert isinstance(self.files, SharedRoomFiles)
            self._worker.run(self.files.drop_backlog).addCallback(self._untroubled)

    def _untroubled(self, _: object) -> None:
        """Not the writer: the last holder's disk troubles are not ours."""
        if not self.writing:
            self._trouble = None
            self._failing_since = None
            self.tally.handed = 0


def cluster_history(
    settings: ServerSettings, reactor: Any, node: str | None = None
) -> tuple[ClusterHistory, ClusterMarkers]:
    """
    A node's history and read markers for C{server/tap.py}, from the
    settings (C{CLUSTER} set): the history files in C{DATA_DIR/history},
    shared with the other nodes, and a Redis connection of their own, which
    the history starts and closes. Add the history to the service tree
    before the node starts following the log (it reads the files' tails
    first) and the markers after it (they stop first, while the connection
    is still open); fetch an identity's markers (L{ClusterMarkers.fetch})
    when it connects through this node. C{node}: this node's id (a new
    one if not given), held in the history's lease.
    """
    address = settings.cluster
    if address is None:
        raise ValueError("cluster_history needs the CLUSTER setting")
    node = node or new_node_id()
    client = RedisClient(reactor, address, f"{node}-history")
    history = ClusterHistory(
        os.path.join(settings.data_dir, "history"),
        reactor,
        client,
        node,
        owns_client=True,
        **settings.history_options(),
    )
    return history, ClusterMarkers(client, reactor)
