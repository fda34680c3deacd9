"""
Where a node is in the shared log: the id of the entry it is applying.

The applier sets L{LogPosition.current} around each entry it applies; what
must be the same on every node and depends on the entry (a message's id, the
history's record of how far it has written) reads it there.
"""

from __future__ import annotations


class LogPosition:
    """The entry being applied (C{""} between entries) and the last one applied."""

    __slots__ = ("applied", "current")

    def __init__(self) -> None:
        self.current = ""  # a Redis stream id, "<milliseconds>-<sequence>"
        self.applied = ""  # the last entry applied ("" before the first)


def entry_order(entry_id: str) -> tuple[int, int]:
    """A stream id as numbers, so that ids compare in the log's order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
