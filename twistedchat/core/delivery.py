"""
Delivery: how the core's events reach this process's sessions.

The core decides who is to hear an event (a room's members, everyone sharing
a room with someone, one user) and hands it to an L{IDelivery}, which keeps
which local session hears which room. L{Direct}, the default, hands each
event to each session's client one by one. The fronts' fan-out
(L{twistedchat.fronts.fanout.Fanout}) renders an event once per front and
writes each connection's share in one piece; with several nodes, a delivery
fed by the shared log of room events would sit here too.

A delivery never raises for a broken recipient: it returns the sessions whose
client refused or failed an event, and the core drops them once the event is
out to everyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from twisted.logger import Logger
from zope.interface import Interface, implementer

from .events import Event

if TYPE_CHECKING:
    from .service import Session

NOBODY: Sequence[Session] = ()


class DeliveryRefused(Exception):
    """
    Raised by a client's C{deliver} when its connection is being dropped
    (e.g. a peer that reads too slowly): the session is then forgotten after
    the fan-out, with the reason logged rather than a traceback.
    """


class IDelivery(Interface):
    """Which local session hears which room, and the way events reach them."""

    def enter(room: str, session: Session) -> None:
        """C{session} now hears the events of room C{room} (a folded name)."""

    def leave(room: str, session: Session) -> None:
        """C{session} no longer hears room C{room}."""

    def to_room(room: str, event: Event, exclude: Session | None) -> Sequence[Session]:
        """
        Hand C{event} to the sessions hearing C{room} but C{exclude}. On the
        hot path: must not block nor call back into the service. Returns the
        sessions that could not take it.
        """

    def to_rooms(
        rooms: Sequence[str], event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        """As L{to_room}, to the sessions hearing any of C{rooms}, once each."""

    def to_sessions(sessions: Iterable[Session], event: Event) -> Sequence[Session]:
        """Hand C{event} to each of C{sessions}, one by one."""


log = Logger()


def deliver_each(
    event: Event, sessions: Iterable[Session], exclude: Session | None = None
) -> Sequence[Session]:
    """Hand C{event} to each session's client but C{exclude}; return the broken."""
    broken: list[Session] = []
    for session in sessions:
        if session is exclude:
            continue
        try:
            session.client.deliver(event)
        except DeliveryRefused as e:
            log.info("dropping {nick}: {why}", nick=session.nick, why=str(e))
            broken.append(session)
        except Exception:
            log.failure(
                "delivering {event!r} to {nick} failed", event=event, nick=session.nick
            )
            broken.append(session)
    return broken or NOBODY


@implementer(IDelivery)
class Direct:
    """Each event to each session's client, one by one."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[Session, None]] = {}

    def enter(self, room: str, session: Session) -> None:
        self._rooms.setdefault(room, {})[session] = None

    def leave(self, room: str, session: Session) -> None:
        members = self._rooms[room]
        del members[session]
        if not members:
            del self._rooms[room]

    def to_room(
        self, room: str, event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        return deliver_each(event, tuple(self._rooms.get(room, ())), exclude)

    def to_rooms(
        self, rooms: Sequence[str], event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        sessions = {s: None for room in rooms for s in self._rooms.get(room, ())}
        return deliver_each(event, sessions, exclude)

    def to_sessions(
        self, sessions: Iterable[Session], event: Event
    ) -> Sequence[Session]:
        return deliver_each(event, sessions)
