"""
What each person has read: the history a joiner is shown, and older pages.

A newcomer to a room is shown its last entries (the history's ring). An
identity that can come back (a framed client's resume token) is shown only
what it missed: the server keeps, per identity and room, the position
(C{seq}) of the last entry it was shown, in an L{IReadMarkers}. Nothing is
done per message for that: while a session is in a room, everything said
there reaches it live, so when it leaves (part, kick, disconnect) its marker
becomes the room's last position. Markers only grow, so several sessions of
one identity never move it back. A session without a lasting identity (a
netcat or IRC connection) has markers of its own for as long as it lives:
rejoining a room, it is shown what was said while it was out, not again
what it saw there. L{Reading.older} pages further back, from
before the oldest entry a session was shown in a room; L{Reading.search}
finds entries by their id or time (IRC's CHATHISTORY).

L{ChatService} owns one L{Reading} (C{service.reading}) and tells it when a
session leaves a room; the fronts ask it what to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple
from weakref import WeakKeyDictionary

from twisted.internet.defer import Deferred, succeed
from zope.interface import Interface

from . import errors
from .history import HistoryEntry, IHistory
from .names import fold_room
from .search import Selection
from .session import Session

DEFAULT_PAGE = 20  # older entries fetched when no count is given
MAX_PAGE = 200  # older entries one request may fetch
# Rooms a session without a lasting identity has markers for, at most: the
# oldest left is forgotten first (a newcomer's replay if it comes back).
SESSION_MARKERS = 1000


class HistoryCountInvalid(errors.ChatError):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"cannot fetch {count} entries: ask for 1 to {MAX_PAGE} at a time"
        )


class HistoryUnavailable(errors.ChatError):
    def __init__(self) -> None:
        super().__init__("this server keeps no history")


class IReadMarkers(Interface):
    """Per identity and room, the position of the last entry it was shown."""

    def last_shown(user_id: str, room_key: str) -> int | None:
        """The position, or None if that identity never left that room."""

    def shown(user_id: str, room_key: str, seq: int) -> None:
        """The identity was shown up to C{seq}; a lower one changes nothing."""


class Replay(NamedTuple):
    """What a joiner is shown of a room's past."""

    entries: Sequence[HistoryEntry]
    # True: the joiner's identity had been here, and these are what came since
    # it left; False: a newcomer's last entries.
    since_left: bool = False
    skipped: int = 0  # entries since it left, before those: too many to show


class Page(NamedTuple):
    """An answer to L{Reading.older}."""

    entries: list[HistoryEntry]
    more: bool  # whether entries older still may be fetched


class _Shown:
    """A session's view of a room: the oldest position shown, whether to mark."""

    __slots__ = ("lasting", "oldest")

    def __init__(self, oldest: int, lasting: bool) -> None:
        self.oldest = oldest
        self.lasting = lasting


class Reading:
    """The history each session is shown, and the markers it leaves."""

    def __init__(self, history: IHistory | None, markers: IReadMarkers | None) -> None:
        self.history = history
        self.markers = markers
        # By session, by room key: what it was shown (sessions in rooms only).
        self._shown: dict[Session, dict[str, _Shown]] = {}
        # The markers of sessions without a lasting identity, by room key,
        # gone with the session.
        self._own: WeakKeyDictionary[Session, dict[str, int]] = WeakKeyDictionary()

    def replay(self, session: Session, room: str, *, lasting: bool = False) -> Replay:
        """
        What C{session}, which just entered C{room}, is to be shown of its
        past. C{lasting}: its identity can come back (with a resume token),
        so it gets only what it missed if it was here before, and leaves a
        marker when it goes.
        """
        if self.history is None:
            return Replay(())
        key = fold_room(room)
        recent = self.history.recent(room)
        last = self.history.last_seq(room)
        marker = None
        if lasting and self.markers is not None:
            marker = self.markers.last_shown(session.user.id, key)
        elif not lasting and (own := self._own.get(session)) is not None:
            marker = own.get(key)
        if marker is not None and marker > last:
            marker = None  # a marker from a history since lost: a newcomer
        if marker is None:
            replay = Replay(recent)
        else:
            entries = [entry for entry in recent if entry.seq > marker]
            replay = Replay(entries, True, last - marker - len(entries))
        oldest = replay.entries[0].seq if replay.entries else last + 1
        self._shown.setdefault(session, {})[key] = _Shown(oldest, lasting)
        return replay

    def left(self, session: Session, room_key: str) -> None:
        """C{session} is no longer in the room: it saw all that was said."""
        rooms = self._shown.get(session)
        if rooms is None:
            return
        shown = rooms.pop(room_key, None)
        if not rooms:
            del self._shown[session]
        if shown is None or self.history is None:
            return
        if shown.lasting:
            self._mark(session, room_key)
        else:
            own = self._own.setdefault(session, {})
            own.pop(room_key, None)  # the room is the last one left
            own[room_key] = self.history.last_seq(room_key)
            if len(own) > SESSION_MARKERS:
                del own[next(iter(own))]

    def mark_present(self) -> None:
        """Mark what everyone still in a room saw (the server is stopping)."""
        for session, rooms in self._shown.items():
            for key, shown in rooms.items():
                if shown.lasting:
                    self._mark(session, key)

    def _mark(self, session: Session, room_key: str) -> None:
        if self.markers is not None and self.history is not None:
            last = self.history.last_seq(room_key)
            self.markers.shown(session.user.id, room_key, last)

    def older(
        self, session: Session, room: str, count: int = DEFAULT_PAGE
    ) -> Deferred[Page]:
        """
        Up to C{count} entries of C{room} from before the oldest C{session}
        was shown there (each call goes further back), oldest first.
        """
        if not 1 <= count <= MAX_PAGE:
            raise HistoryCountInvalid(count)
        key = fold_room(room)
        if key not in (fold_room(name) for name in session.rooms):
            raise errors.NotInRoom(room)
        if self.history is None:
            raise HistoryUnavailable()
        shown = self._shown.setdefault(session, {}).setdefault(
            key, _Shown(self.history.last_seq(room) + 1, False)
        )
        if shown.oldest <= 1:  # position 1 is a room's first entry
            return succeed(Page([], False))

        def fetched(entries: list[HistoryEntry]) -> Page:
            page = entries[-count:]
            if page:
                shown.oldest = min(shown.oldest, page[0].seq)
            return Page(page, len(entries) > count and shown.oldest > 1)

        # One more than asked: whether there is more to fetch after this page.
        return self.history.older(room, shown.oldest, count + 1).addCallback(fetched)

    def search(
        self, session: Session, room: str, select: Selection
    ) -> Deferred[list[HistoryEntry]]:
        """
        The entries of C{room} that C{select} picks (see
        L{twistedchat.core.search}), for C{session}, which must be in it.
        """
        key = fold_room(room)
        if key not in (fold_room(name) for name in session.rooms):
            raise errors.NotInRoom(room)
        if self.history is None:
            raise HistoryUnavailable()
        return self.history.search(room, select)
