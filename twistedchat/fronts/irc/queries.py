"""
What the IRC front reads of the core's state beyond its commands and
queries, one function per kind of read that several handlers make: when the
core offers these as queries, they change here and nowhere else.
"""

from __future__ import annotations

from ...core.names import fold_nick
from ...core.service import ChatService, Room, Session


def session_named(service: ChatService, nick: str) -> Session | None:
    """The session called C{nick}, or None (L{ChatService.find} raises)."""
    return service.sessions.get(fold_nick(nick))


def rooms_of(session: Session) -> list[Room]:
    """The rooms C{session} is in."""
    return list(session.rooms.values())


def is_operator_of(room: Room, session: Session) -> bool:
    """Whether C{session} is an operator of C{room}."""
    return session in room.operators
