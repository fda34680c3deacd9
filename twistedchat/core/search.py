"""
Finding messages of a room's history by their id or their time: what IRC's
C{CHATHISTORY} asks for (LATEST, BEFORE, AFTER, AROUND, BETWEEN), in the
core's words, whatever keeps the history.

A L{Point} names a place in a room's history: a message (its msgid, the
history entry's C{id}) or a moment (milliseconds since the epoch). Each
selection (L{latest}, L{before}, L{after}, L{around}, L{between}) is a pure
function of the room's entries given newest first, as the history reads
them from the end of its files (on its own thread: see L{IHistory.search}),
and returns the entries it selects oldest first. It reads no further back
than it must, and never more than L{MAX_SCAN} entries: a point older than
that is not found. A message id that is not found selects nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from .history import HistoryEntry

MAX_LIMIT = 100  # entries one selection returns at most (IRC: CHATHISTORY=100)
MAX_SCAN = 100_000  # entries one selection reads at most, newest first

# What a selection is: entries newest first in, entries oldest first out.
Selection = Callable[[Iterable[HistoryEntry]], list[HistoryEntry]]

AFTER, AT, BEFORE = 1, 0, -1


class Point(NamedTuple):
    """A message (C{msgid}) or a moment (C{ms}, milliseconds since the epoch)."""

    msgid: str = ""
    ms: int = 0

    @property
    def is_time(self) -> bool:
        return not self.msgid


def milliseconds(entry: HistoryEntry) -> int:
    """When C{entry} was said, in the whole milliseconds its history keeps."""
    return round(entry.time * 1000)


def parse_time(text: str) -> int | None:
    """
    Milliseconds since the epoch of an IRCv3 time (C{2026-11-27T22:54:28.123Z},
    as the C{server-time} tag writes it), or None if C{text} is not one.
    """
    if not text.endswith("Z") or "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None
    return round(moment.timestamp() * 1000)


def _sides(
    entries: Iterable[HistoryEntry], point: Point
) -> Iterator[tuple[int, HistoryEntry]]:
    """
    Each entry (newest first, at most L{MAX_SCAN}) with its side of C{point}:
    L{AFTER}, L{AT} (the message itself, or a time equal to the moment's) or
    L{BEFORE}.
    """
    found = False
    for count, entry in enumerate(entries):
        if count >= MAX_SCAN:
            return
        if point.is_time:
            ms = milliseconds(entry)
            yield (AFTER if ms > point.ms else AT if ms == point.ms else BEFORE), entry
        elif found:
            yield BEFORE, entry
        elif entry.id == point.msgid:
            found = True
            yield AT, entry
        else:
            yield AFTER, entry


def latest(point: Point | None, limit: int) -> Selection:
    """The last C{limit} entries, after C{point} if one is given."""

    def select(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
        chosen: list[HistoryEntry] = []
        if point is None:
            sides: Iterable[tuple[int, HistoryEntry]] = (
                (AFTER, entry) for entry in entries
            )
        else:
            sides = _sides(entries, point)
        for side, entry in sides:
            if side != AFTER:
                return chosen[::-1]
            chosen.append(entry)
            if len(chosen) >= limit:  # the point is further back, or unknown
                return chosen[::-1]
        if point is None or point.is_time:
            return chosen[::-1]
        return []  # a message id never found

    return select


def before(point: Point, limit: int) -> Selection:
    """The last C{limit} entries before C{point}."""

    def select(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
        chosen: list[HistoryEntry] = []
        for side, entry in _sides(entries, point):
            if side == BEFORE:
                chosen.append(entry)
                if len(chosen) >= limit:
                    break
        return chosen[::-1]

    return select


def after(point: Point, limit: int) -> Selection:
    """The first C{limit} entries after C{point}."""

    def select(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
        # Newest first: the last ones kept are the first after the point.
        kept: deque[HistoryEntry] = deque(maxlen=limit)
        for side, entry in _sides(entries, point):
            if side != AFTER:
                return list(kept)[::-1]
            kept.append(entry)
        return list(kept)[::-1] if point.is_time else []

    return select


def around(point: Point, limit: int) -> Selection:
    """
    About C{limit} entries around C{point}: the message itself with half of
    the rest on each side, or the same number after (a time equal to the
    moment's included) as before.
    """

    def select(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
        # A moment: half from it on, one more when odd; a message: itself,
        # and the rest shared, one more before it when odd.
        shared = limit if point.is_time else limit - 1
        n_before = shared // 2 if point.is_time else shared - shared // 2
        n_after = shared - n_before
        later: deque[HistoryEntry] = deque(maxlen=n_after)
        middle: list[HistoryEntry] = []
        earlier: list[HistoryEntry] = []
        for side, entry in _sides(entries, point):
            if side == AT and not point.is_time:
                middle.append(entry)
            elif side in (AFTER, AT):
                later.append(entry)
            elif len(earlier) < n_before:
                earlier.append(entry)
            else:
                break
        if not point.is_time and not middle:
            return []
        return [*earlier[::-1], *middle, *list(later)[::-1]]

    return select


def between(first: Point, second: Point, limit: int) -> Selection:
    """
    C{limit} entries strictly between C{first} and C{second}: from C{first}
    on (the oldest ones when C{first} is the earlier point, the newest ones
    when it is the later), oldest first either way.
    """

    def reaches(point: Point, entry: HistoryEntry) -> bool:
        if point.is_time:
            return milliseconds(entry) <= point.ms
        return entry.id == point.msgid

    def newest_first(kept: deque[HistoryEntry]) -> list[HistoryEntry]:
        return list(kept)[:limit][::-1]

    def select(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
        # Newest first: the later point is met first, then the earlier one.
        later: Point | None = None
        kept: deque[HistoryEntry] = deque()
        for count, entry in enumerate(entries):
            if count >= MAX_SCAN:
                return []
            if later is None:
                if reaches(first, entry) and reaches(second, entry):
                    return []  # nothing lies between
                if reaches(first, entry):
                    later = first  # from the later point back: the newest
                    kept = deque()
                elif reaches(second, entry):
                    later = second  # from the earlier point on: the oldest
                    kept = deque(maxlen=limit)
                else:
                    continue
                if later.is_time and milliseconds(entry) < later.ms:
                    kept.append(entry)  # past the moment already: between
                continue
            earlier = second if later is first else first
            if reaches(earlier, entry):
                return newest_first(kept)
            kept.append(entry)
            if later is first and len(kept) >= limit:
                return newest_first(kept)
        if later is None:
            return []
        earlier = second if later is first else first
        return newest_first(kept) if earlier.is_time else []

    return select
