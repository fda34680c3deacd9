"""
Messages for operators alone: a server operator's word to the others (IRC's
WALLOPS), and a message to a room's operators (IRC's C{PRIVMSG @#room},
announced as C{STATUSMSG=@}).

Neither is recorded in a room's history (the room's other members never
see it) and neither is on the message path of the room's members: each goes
to the few sessions concerned, one by one. These are commands of the core
that live beside L{ChatService} (its module is kept short), reading its
state and sessions as its own methods do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import access, errors
from .events import OperatorsMessage, Wallops
from .session import Session

if TYPE_CHECKING:
    from .service import ChatService


def wallops(service: ChatService, session: Session, text: str) -> Wallops:
    """
    C{text} from C{session}, a server operator, to the sessions of every
    other server operator (not back to C{session}).
    """
    if service.user_of(session).operator is None:
        raise errors.NotServerOperator()
    if not text.strip():
        raise errors.EmptyMessage()
    now, msgid = service.clock.seconds(), next(service._msgids)
    event = Wallops(now, session.user, "", text, True, msgid)
    sessions = [
        other
        for record in service._state.users()
        if record.operator is not None
        for other in service._presence.sessions(record.user.id)
        if other is not session
    ]
    service._drop(service.delivery.to_sessions(sessions, event))
    service.log.info("wallops from {nick}: {text}", nick=session.nick, text=text)
    return event


def say_to_operators(
    service: ChatService, session: Session, name: str, text: str, notice: bool
) -> OperatorsMessage:
    """
    C{text} from C{session} to the operators of room C{name}, each session
    of theirs that hears the room (not back to C{session}); the room's rules
    for speaking (+n, +m) hold as for L{ChatService.say}.
    """
    room = service._existing_room(name)
    if not text.strip():
        raise errors.EmptyMessage()
    access.check_may_speak(room, service._record(session))
    now, msgid = service.clock.seconds(), next(service._msgids)
    event = OperatorsMessage(now, room.name, session.user, text, notice, msgid)
    sessions = [
        other
        for user_id in room.operators
        for other in service._presence.hearing(user_id, room.key)
        if other is not session
    ]
    service._drop(service.delivery.to_sessions(sessions, event))
    return event
