"""
LIST's filters (ISUPPORT C{ELIST=MNU}): which channels a C{LIST} shows.

C{LIST #a,*an*}: the channels matching any of these masks (C{*} and C{?},
in any case; a name without wildcards is that channel); C{LIST !*an1}: those
matching none of such masks; C{LIST >3} or C{<10}: those with more or fewer
members. Filters are separated by commas and all hold at once. Creation and
topic times (C{C}, C{T}) are not filtered on.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase

from ...core.names import fold_room
from ...core.views import RoomSummary
from .render import channel

Filter = Callable[[RoomSummary], bool]


def room_filter(text: str) -> Filter | None:
    """What C{LIST text} keeps; None for every channel (no filter)."""
    masks: list[str] = []
    tests: list[Filter] = []
    for word in text.split(","):
        if not word:
            continue
        if word[0] in "<>" and word[1:].isdigit():
            tests.append(_members(word[0], int(word[1:])))
        elif word[0] == "!" and len(word) > 1:
            tests.append(_unmatched(word[1:]))
        else:
            masks.append(fold_room(word))
    if masks:
        tests.append(_matched(masks))
    if not tests:
        return None
    return lambda room: all(test(room) for test in tests)


def _members(sign: str, count: int) -> Filter:
    if sign == ">":
        return lambda room: room.members > count
    return lambda room: room.members < count


def _matched(masks: list[str]) -> Filter:
    return lambda room: any(
        fnmatchcase(fold_room(channel(room.name)), mask) for mask in masks
    )


def _unmatched(mask: str) -> Filter:
    folded = fold_room(mask)
    return lambda room: not fnmatchcase(fold_room(channel(room.name)), folded)
