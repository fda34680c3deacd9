"""
Tags sent alone (IRC's TAGMSG): a reaction, a typing notice, attached to no
text. A command of the core like C{say} and C{whisper}, with their rules (a
room's C{+n} and C{+m}, the echo rule, a message id), kept out of
C{service.py} to keep that module within its size; it is part of the
service, and uses its parts as the service's own methods do.

Nothing of it is kept in the history: only clients that asked for message
tags show it, and only while it happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import access
from .events import Tagged, Tags

if TYPE_CHECKING:
    from .service import ChatService
    from .session import Session


def tag_room(service: ChatService, session: Session, name: str, tags: Tags) -> Tagged:
    """Send C{tags} to room C{name}, under the rules of C{say}."""
    room = service._existing_room(name)
    if room.guarded:  # +n, +m or bans: rules to check
        access.check_may_speak(room, service._record(session))
    now, msgid = service.clock.seconds(), next(service._msgids)
    event = Tagged(now, session.user, room.name, "", tags, msgid)
    service._drop(
        service._to_room_and_author(event, room, session, session.echo_messages)
    )
    return event


def tag_user(service: ChatService, session: Session, nick: str, tags: Tags) -> Tagged:
    """Send C{tags} to the user called C{nick}, under the rules of C{whisper}."""
    targets = service._find(nick)
    now, msgid = service.clock.seconds(), next(service._msgids)
    event = Tagged(now, session.user, "", targets[0].nick, tags, msgid)
    recipients = dict.fromkeys(targets)
    for own in service._presence.sessions(session.user.id):
        if own is not session or session.echo_messages:
            recipients[own] = None
    service._drop(service.delivery.to_sessions(recipients, event))
    return event
