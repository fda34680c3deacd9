"""
Who hears of an invitation: the user invited (each of its sessions), and the
room's other operators (IRC's invite-notify: fronts that do not show it
render it as nothing). Part of the service's C{invite}, kept out of
C{service.py} to keep that module within its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .events import Invited, InviteSeen

if TYPE_CHECKING:
    from .service import ChatService
    from .session import Session
    from .state import RoomRecord


def deliver(
    service: ChatService,
    session: Session,
    room: RoomRecord,
    targets: Sequence[Session],
    event: Invited,
) -> Sequence[Session]:
    """Hand C{event} to C{targets}, and its notice to C{room}'s other operators."""
    broken = list(service.delivery.to_sessions(targets, event))
    watchers = [
        watcher
        for operator in room.operators
        if operator != session.user.id
        for watcher in service._presence.hearing(operator, room.key)
    ]
    if watchers:
        seen = InviteSeen(event.time, event.user, event.to, event.room)
        broken += service.delivery.to_sessions(watchers, seen)
    return broken
