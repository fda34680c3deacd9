"""
What the core keeps of what was said, as the core sees it: the entries a
joiner is shown and the interface of whatever keeps them.

The core hands each room message or picture to an L{IHistory}'s C{record},
which must never wait for a disk, and asks it for a room's C{recent} entries
when someone joins. Each entry has a C{seq}: its position in its room (1, 2,
3...), to which what an identity was last shown is compared (see
L{twistedchat.core.reading}); entries written before positions existed have 0.
Where and how the entries are kept (JSON Lines files written by a thread, see
L{twistedchat.persistence}) is not the core's business. A picture sent from
a web page keeps the name the server gave its re-encoded file (its
C{picture}, see L{is_picture_name}) beside its art.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring as _quote
from typing import NamedTuple

from twisted.internet.defer import Deferred
from zope.interface import Interface

from ..text import action
from .events import Image, Message
from .names import is_valid_room

# An "action" is an IRC-style /me: its text follows the nick ("* toto waves").
KINDS = frozenset({"message", "action", "image"})
# The fields of an entry but its time, in the tuple's order.
_TEXT_FIELDS = ("id", "room", "user_id", "nick", "kind", "text")
# 9999-12-31T23:59:59.999Z: any later (or negative) time cannot be shown as a
# date by the fronts (time.localtime, datetime), so no entry may have it.
_LATEST_MILLISECONDS = 253_402_300_799_999
# The names the server gives the pictures it stores: the SHA-256 of the file
# it wrote, and the extension of its format. Nothing else is ever linked to.
_PICTURE_NAME = re.compile(r"[0-9a-f]{64}\.(?:png|jpg)")


def is_picture_name(name: str) -> bool:
    """Whether C{name} is one the server gives a stored picture."""
    return _PICTURE_NAME.fullmatch(name) is not None


class HistoryEntry(NamedTuple):
    """One line of a room's history (a tuple: cheap to make on the hot path)."""

    id: str
    time: float
    room: str
    user_id: str
    nick: str
    kind: str  # "message", "action" or "image"
    text: str
    seq: int = 0  # its position in its room; 0: written before positions existed
    picture: str = ""  # an image's stored picture (see is_picture_name), if any

    def to_json(self) -> str:
        line = json_line(
            self.id,
            self.seq,
            round(self.time * 1000),
            _quote(self.room),
            self.user_id,
            self.nick,
            self.kind,
            self.text,
        )
        return with_picture(line, self.picture) if self.picture else line

    @classmethod
    def from_json(cls, line: str) -> HistoryEntry:
        """
        The entry in C{line}; ValueError if it is not one, or if a field holds
        what the server never writes (a person may have edited the file): a
        replayed entry must never fail where it is shown. A message written
        before actions were a kind of their own, as the IRC client sent it
        (C{"\x01ACTION waves\x01"}), is read as the action it was.
        """
        try:
            fields = json.loads(line)
            milliseconds = fields["time"]
            texts = [fields[name] for name in _TEXT_FIELDS]
            seq = fields.get("seq", 0)
            picture = fields.get("picture", "")
        except (TypeError, KeyError, AttributeError, RecursionError) as e:
            raise ValueError(f"not a history entry ({e!r:.80})") from None
        # bool is an int to Python, not a time to us
        if type(milliseconds) not in (int, float) or not (
            0 <= milliseconds <= _LATEST_MILLISECONDS  # False for NaN
        ):
            raise ValueError(f"impossible time {milliseconds!r}")
        for name, value in zip(_TEXT_FIELDS, texts, strict=True):
            if type(value) is not str:
                raise ValueError(f"{name} is not a string ({value!r:.40})")
        if type(seq) is not int or seq < 0:
            raise ValueError(f"impossible position {seq!r:.40}")
        room, user_id, nick, kind, text = texts[1:]
        entry = cls(texts[0], milliseconds / 1000, room, user_id, nick, kind, text, seq)
        if entry.kind not in KINDS:
            raise ValueError(f"unknown kind {entry.kind!r:.40}")
        if picture != "":
            if kind != "image" or type(picture) is not str:
                raise ValueError(f"a picture where none can be ({picture!r:.40})")
            if not is_picture_name(picture):
                raise ValueError(f"not a picture's name {picture!r:.80}")
            entry = entry._replace(picture=picture)
        if not is_valid_room(entry.room):
            raise ValueError(f"invalid room name {entry.room!r:.60}")
        if entry.kind == "message" and (did := action(entry.text)) is not None:
            return entry._replace(kind="action", text=did)
        return entry


def json_line(
    entry_id: str,
    seq: int,
    milliseconds: int,
    quoted_room: str,
    user_id: str,
    nick: str,
    kind: str,
    text: str,
) -> str:
    """
    An entry as one JSON object (no newline): id, seq, time (ms), room,
    user_id, nick, kind, text. Written by hand with the C string encoder, as
    C{json.dumps} of a dict costs several times more on the hot path.
    """
    return (
        f'{{"id":{_quote(entry_id)},"seq":{seq},"time":{milliseconds},'
        f'"room":{quoted_room},'
        f'"user_id":{_quote(user_id)},"nick":{_quote(nick)},"kind":"{kind}",'
        f'"text":{_quote(text)}}}'
    )


def with_picture(line: str, picture: str) -> str:
    """The entry C{line} (from L{json_line}) with its C{picture}'s name added."""
    return f'{line[:-1]},"picture":{_quote(picture)}}}'


class IHistory(Interface):
    def record(event: Message | Image) -> None:
        """Keep C{event}; must not wait for the disk."""

    def recent(room: str) -> Sequence[HistoryEntry]:
        """The last entries of C{room}, oldest first."""

    def last_seq(room: str) -> int:
        """The position of C{room}'s last entry (0 if it has none)."""

    def older(room: str, below: int, count: int) -> Deferred[list[HistoryEntry]]:
        """
        The last C{count} entries of C{room} whose position is below
        C{below}, oldest first, read from the end of the room's files off
        the reactor thread.
        """

    def search(
        room: str, select: Callable[[Iterable[HistoryEntry]], list[HistoryEntry]]
    ) -> Deferred[list[HistoryEntry]]:
        """
        What C{select} picks among all the entries of C{room}, given newest
        first as they are read from the end of the room's files, off the
        reactor thread (see L{twistedchat.core.search}): C{select} runs on
        that thread, and stops the reading where it stops taking entries.
        """
