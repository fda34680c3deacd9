"""
Read markers on disk: per identity and room, the position of the last history
entry that identity was shown (see L{twistedchat.core.reading}).

L{MarkerFile} keeps them in memory and in one small JSON file of the data
folder. A change never waits for the disk: it schedules a save, at most one
every C{save_interval} seconds, in which a worker thread writes the whole file
to a temporary file and renames it over the old one (so a crash leaves the old
file or the new one, never half of one). Markers are read once, at start-up.
Memory is bounded: the identities not seen for C{max_age} seconds, and past
C{max_identities} those seen least lately, are forgotten (they are then
newcomers again), as are an identity's least lately left rooms past
C{max_rooms}.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core.reading import IReadMarkers
from .worker import DiskWorker

FILE_NAME = "read-markers.json"
FORMAT = 1
DEFAULT_SAVE_INTERVAL = 5.0  # seconds between two saves, at most
DEFAULT_MAX_IDENTITIES = 20_000
DEFAULT_MAX_ROOMS = 200  # rooms remembered per identity
DEFAULT_MAX_AGE = 180 * 24 * 3600  # an identity unseen for this long is forgotten


class _Identity:
    """
    One identity's markers. C{rooms} is replaced, never changed, once made:
    a save hands the current dicts to the thread, which reads them meanwhile.
    """

    __slots__ = ("rooms", "seen")

    def __init__(self, rooms: dict[str, int], seen: float) -> None:
        self.rooms = rooms
        self.seen = seen


@implementer(IReadMarkers)
class MarkerFile(Service):
    """The read markers of every identity, saved now and then to one file."""

    log = Logger()

    def __init__(
        self,
        path: str,
        reactor: Any,
        *,
        save_interval: float = DEFAULT_SAVE_INTERVAL,
        max_identities: int = DEFAULT_MAX_IDENTITIES,
        max_rooms: int = DEFAULT_MAX_ROOMS,
        max_age: float = DEFAULT_MAX_AGE,
        run_in_thread: Callable[..., Deferred[Any]] | None = None,
    ) -> None:
        """
        C{run_in_thread(f, *args)} runs a save; by default on a thread pool of
        one thread owned by this service (so saves happen in order).
        """
        self.path = path
        self.clock: IReactorTime = reactor
        self.save_interval = save_interval
        self.max_identities = max_identities
        self.max_rooms = max_rooms
        self.max_age = max_age
        self._worker = DiskWorker(reactor, "read-markers", run_in_thread)
        self._identities: OrderedDict[str, _Identity] = OrderedDict()  # seen last, last
        self._timer: IDelayedCall | None = None
        self._saving: Deferred[None] | None = None
        self._dirty = False
        self._failing = False  # the last save failed (told once, until one works)
        self.before_stop: list[Callable[[], None]] = []  # called by stopService first
        self.saves = 0

    # IReadMarkers

    def last_shown(self, user_id: str, room_key: str) -> int | None:
        identity = self._identities.get(user_id)
        return None if identity is None else identity.rooms.get(room_key)

    def shown(self, user_id: str, room_key: str, seq: int) -> None:
        identity = self._identities.get(user_id)
        now = self.clock.seconds()
        if identity is None:
            identity = self._identities[user_id] = _Identity({}, now)
            while len(self._identities) > self.max_identities:
                self._identities.popitem(last=False)
        else:
            self._identities.move_to_end(user_id)
            identity.seen = now
        old = identity.rooms.get(room_key)
        if old is not None and old >= seq:
            return  # never back: another session of the identity saw more
        rooms = {k: v for k, v in identity.rooms.items() if k != room_key}
        rooms[room_key] = seq  # last: the most lately left
        while len(rooms) > self.max_rooms:
            del rooms[next(iter(rooms))]
        identity.rooms = rooms
        self._changed()

    # Saving

    def _changed(self) -> None:
        self._dirty = True
        if self._timer is None and self.running and self._saving is None:
            self._timer = self.clock.callLater(self.save_interval, self._save_due)

    def _save_due(self) -> None:
        self._timer = None
        self.save()

    def save(self) -> Deferred[None]:
        """Write the markers now (after a save under way); fires when done."""
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        if self._saving is not None:
            return self._saving.addCallback(lambda _: self.save())
        if not self._dirty:
            return succeed(None)
        self._dirty = False
        snapshot = self._snapshot()
        saving = self._worker.run(write_markers, self.path, snapshot)
        saving.addCallbacks(self._saved, self._failed)
        self._saving = saving

        def done(_: object) -> None:
            self._saving = None
            if self._dirty and self.running:
                self._changed_since()

        saving.addCallback(done)
        return saving

    def _changed_since(self) -> None:
        if self._timer is None:
            self._timer = self.clock.callLater(self.save_interval, self._save_due)

    def _snapshot(self) -> dict[str, Any]:
        """What the file is to hold: dicts the reactor thread no longer changes."""
        self._forget_old()
        return {
            "format": FORMAT,
            "identities": {
                user_id: {"seen": round(identity.seen), "rooms": identity.rooms}
                for user_id, identity in self._identities.items()
            },
        }

    def _saved(self, _: object) -> None:
        self.saves += 1
        if self._failing:
            self._failing = False
            self.log.info("read markers saved again to {path}", path=self.path)

    def _failed(self, failure: Failure) -> None:
        self._dirty = True  # try again at the next change or the next stop
        if not self._failing:
            self._failing = True
            self.log.error(
                "could not save read markers to {path}: {why}",
                path=self.path,
                why=failure.getErrorMessage(),
            )

    def _forget_old(self) -> None:
        oldest = self.clock.seconds() - self.max_age
        while self._identities:
            user_id, identity = next(iter(self._identities.items()))
            if identity.seen >= oldest:
                break
            del self._identities[user_id]

    # Service

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.load()
        self._worker.start()

    def stopService(self) -> Deferred[None]:
        """Mark what those still present saw, save, then stop the thread."""
        for settle in self.before_stop:
            settle()
        saving = self.save()
        super().stopService()  # type: ignore[no-untyped-call]

        def stop_thread(_: object) -> None:
            self._worker.stop()

        return saving.addBoth(stop_thread)

    def load(self) -> None:
        """Read the file, if any; what cannot be read is said and left out."""
        try:
            with open(self.path, "rb") as file:
                data = json.loads(file.read().decode("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError) as e:
            self.log.error(
                "cannot read the read markers in {path}, starting without them: {why}",
                path=self.path,
                why=e,
            )
            return
        identities = data.get("identities") if isinstance(data, dict) else None
        if not isinstance(identities, dict):
            self.log.error("{path} holds no read markers, ignored", path=self.path)
            return
        loaded = []
        skipped = 0
        for user_id, fields in identities.items():
            identity = _identity(fields)
            if identity is None:
                skipped += 1
            else:
                loaded.append((identity.seen, user_id, identity))
        loaded.sort(key=lambda item: item[0])
        self._identities.clear()
        for _, user_id, identity in loaded[-self.max_identities :]:
            self._identities[user_id] = identity
        self._forget_old()
        if skipped:
            self.log.warn(
                "{path}: skipped {count} unreadable identities",
                path=self.path,
                count=skipped,
            )


def _identity(fields: object) -> _Identity | None:
    """The identity C{fields} of the file describe, or None if they are damaged."""
    if not isinstance(fields, dict):
        return None
    seen, rooms = fields.get("seen"), fields.get("rooms")
    if not isinstance(seen, int | float) or not isinstance(rooms, dict):
        return None
    kept = {
        key: seq
        for key, seq in rooms.items()
        if type(key) is str and type(seq) is int and seq >= 0
    }
    return _Identity(kept, float(seen))


def write_markers(path: str, snapshot: dict[str, Any]) -> None:
    """On the worker thread: the whole file, written aside then renamed over."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.tmp"
    data = json.dumps(snapshot, separators=(",", ":")).encode("utf-8")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
