"""
What the core keeps of what was said, as the core sees it: the entries a
joiner is shown and the interface of whatever keeps them.

The core hands each room message or picture to an L{IHistory}'s C{record},
which must never wait for a disk, and asks it for a room's C{recent} entries
when someone joins. Where and how the entries are kept (JSON Lines files
written by a thread, see L{twistedchat.persistence}) is not the core's
business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring as _quote
from typing import NamedTuple

from zope.interface import Interface

from .events import Image, Message


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
