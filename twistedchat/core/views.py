"""
Views: what the core answers to a front's questions.

A front never holds the core's state; it asks (L{ChatService.room},
L{ChatService.user}, L{ChatService.list_rooms}...) and gets one of these
immutable snapshots, true at the moment it was made. That is what lets the
state live elsewhere (in another process, in Redis) without any front
noticing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import User


@dataclass(frozen=True, slots=True)
class RoomView:
    """A room: its settings and who is in it, in the order they joined."""

    name: str
    created: float
    topic: str
    topic_by: str
    topic_time: float
    modes: frozenset[str]
    members: tuple[User, ...]
    operators: frozenset[str]  # user ids of the room's operators

    def is_operator(self, user: User) -> bool:
        return user.id in self.operators

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
    rooms: tuple[str, ...]  # in the order they joined them
    operates: frozenset[str]  # those of their rooms they are an operator of

    @property
    def nick(self) -> str:
        return self.user.nick


@dataclass(frozen=True, slots=True)
class ServerCounts:
    """How big the chat is (IRC's LUSERS)."""

    users: int
    operators: int
    rooms: int
