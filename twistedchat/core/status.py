"""
What users say of themselves that those sharing a room with them are told:
being away (and back), and their real name (IRC's SETNAME). Commands of the
core, part of the service (they use its parts as its own methods do), kept
out of C{service.py} to keep that module within its size.

Each change is an event for the rooms the user is in; fronts show it or not
(IRC clients that asked for C{away-notify} or C{setname}; the others not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import InvalidRealname
from .events import AwayChanged, RealnameChanged

if TYPE_CHECKING:
    from .service import ChatService
    from .session import Session

REALNAME_LENGTH = 390  # characters a real name may have


def set_away(service: ChatService, session: Session, message: str | None) -> None:
    """Mark C{session}'s user away with C{message}, or back with None."""
    service._state.set_away(session.user.id, message or None)
    event = AwayChanged(service.clock.seconds(), session.user, message or "")
    rooms = service._rooms_of(session)
    if rooms:
        service._drop(service.delivery.to_rooms(rooms, event, session))


def set_realname(
    service: ChatService, session: Session, realname: str
) -> RealnameChanged:
    """
    C{session}'s user gives C{realname} as its real name from now on (one
    that is not empty, of L{REALNAME_LENGTH} characters at most, or
    L{InvalidRealname}); its rooms are told, and the user too if it echoes
    what it does.
    """
    if not realname.strip() or len(realname) > REALNAME_LENGTH:
        raise InvalidRealname(realname)
    service._state.set_realname(session.user.id, realname)
    event = RealnameChanged(service.clock.seconds(), session.user, realname)
    rooms = service._rooms_of(session)
    broken: Sequence[Session] = ()
    if rooms:
        broken = service.delivery.to_rooms(rooms, event, session)
    if session.echo_actions:
        broken = [*broken, *service.delivery.to_sessions([session], event)]
    service._drop(broken)
    return event
