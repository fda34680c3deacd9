"""
Views: what the core answers to a front's questions.

A front never holds the core's state; it asks (L{ChatService.room},
L{ChatService.user}, L{ChatService.list_rooms}...) and gets one of these
immutable snapshots, true at the moment it was made. That is what lets the
state live elsewhere (in another process, in Redis) without any front
noticing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .events import User
from .masks import MaskEntry
from .state import RoomRecord, UserRecord


@dataclass(frozen=True, slots=True)
class RoomView:
    """
    A room: its settings and who is in it, in the order they joined. Its
    C{modes} are its flags (L{twistedchat.core.modes.FLAGS}); its key and
    limit are settings of their own, C{masks} its lists, by letter.
    """

    name: str
    created: float
    topic: str
    topic_by: str
    topic_time: float
    modes: frozenset[str]
    members: tuple[User, ...]
    operators: frozenset[str]  # user ids of the room's operators
    voiced: frozenset[str] = frozenset()  # user ids of its voiced members
    join_key: str = ""  # what joining needs (C{+k}), "" if nothing
    limit: int = 0  # how many members it takes (C{+l}), 0: no limit
    masks: tuple[tuple[str, MaskEntry], ...] = ()  # (b, e or I; entry)

    def is_operator(self, user: User) -> bool:
        return user.id in self.operators

    def is_voiced(self, user: User) -> bool:
        return user.id in self.voiced

    def has_member(self, user: User) -> bool:
        return any(member.id == user.id for member in self.members)

    def listed(self, kind: str) -> list[MaskEntry]:
        """The entries of the list C{kind} (C{b}, C{e} or C{I}), oldest first."""
        return [entry for letter, entry in self.masks if letter == kind]

    @property
    def names(self) -> list[str]:
        return [user.nick for user in self.members]


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """A line of the room list."""

    name: str
    members: int
    topic: str


@dataclass(frozen=True, slots=True)
class UserView:
    """A connected user as the others may see them."""

    user: User
    away: str | None  # why they are away, if they are
    operator: str | None  # their server operator name, if they are one
    realname: str  # what an IRC client gave as its real name, else the nick
    username: str  # what an IRC client gave as its user name, else ""
    rooms: tuple[str, ...]  # in the order they joined them
    operates: frozenset[str]  # those of their rooms they are an operator of
    modes: frozenset[str] = frozenset()  # their own: i invisible, B a bot
    voiced: frozenset[str] = frozenset()  # those of their rooms they have a voice in
    invited: tuple[str, ...] = ()  # rooms they are invited to, not joined yet

    @property
    def nick(self) -> str:
        return self.user.nick


@dataclass(frozen=True, slots=True)
class ServerCounts:
    """How big the chat is (IRC's LUSERS)."""

    users: int
    operators: int
    rooms: int
    invisible: int = 0  # users with mode i


def room_view(room: RoomRecord) -> RoomView:
    return RoomView(
        room.name,
        room.created,
        room.topic,
        room.topic_by,
        room.topic_time,
        room.modes,
        tuple(room.members.values()),
        frozenset(room.operators),
        frozenset(room.voiced),
        room.join_key,
        room.limit,
        tuple(
            (letter, entry)
            for letter, entries in room.masks.items()
            for entry in entries.values()
        ),
    )


def user_view(record: UserRecord, rooms: Iterable[RoomRecord | None]) -> UserView:
    """C{record}'s user, who is in C{rooms} (those still open)."""
    present = [room for room in rooms if room is not None]
    user_id = record.user.id
    return UserView(
        record.user,
        record.away,
        record.operator,
        record.realname or record.user.nick,
        record.username,
        tuple(room.name for room in present),
        frozenset(room.name for room in present if user_id in room.operators),
        record.modes,
        frozenset(room.name for room in present if user_id in room.voiced),
        tuple(record.invited.values()),
    )
