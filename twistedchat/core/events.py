"""
Events: the immutable records the core hands to every session it concerns.

An event carries structured data and the server time at which it happened;
it knows nothing of how a front will show it. Each front renders an event into
its own wire format once, then writes the same bytes to every member it serves.
A L{User} is a snapshot of who acted: a nick change makes a new one, so an
event keeps the nick its author had when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, TypedDict, TypeVar

# Tags a client attached to its message for the other clients (IRCv3's
# client-only tags, C{+name=value}): pairs of a name and a value, relayed to
# the IRC clients that asked for message tags, ignored by every other front.
Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class User:
    """Who someone is: a stable id, the current nick, a stable colour (xterm-256 index)."""

    id: str
    nick: str
    colour: int


class Style(TypedDict, total=False):
    """
    How a message is said, as L{ChatService.whisper} takes it (C{say}, on
    the hot path, spells it out: a call with C{**} costs twice as much).
    """

    notice: bool
    action: bool
    tags: Tags


@dataclass(frozen=True, slots=True)
class Message:
    """
    C{user} said C{text} in C{room}. A C{notice} (IRC's NOTICE) is a message
    that automatic clients must never answer. An L{Action} is a message too.
    """

    # A class attribute, not a field: a field more costs every message made
    # about 1,300 CPU instructions (a frozen dataclass sets each one through
    # object.__setattr__), reading either costs the same.
    action: ClassVar[bool] = False

    time: float
    room: str
    user: User
    text: str
    notice: bool = False
    msgid: str = ""  # see core.msgids; empty only in events made by tests


@dataclass(frozen=True, slots=True)
class Action(Message):
    """C{user} did C{text} in C{room} (IRC's C{/me}): shown as "* toto waves"."""

    action: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """C{user} said C{text} to the user called C{to} alone."""

    action: ClassVar[bool] = False

    time: float
    user: User
    to: str
    text: str
    notice: bool = False
    msgid: str = ""


@dataclass(frozen=True, slots=True)
class PrivateAction(PrivateMessage):
    """C{user} did C{text}, for the user called C{to} alone."""

    action: ClassVar[bool] = True


# A message, action or private one, with the tags its client attached (see
# Tags): its kind's tagged twin, made by with_tags, so that the messages
# without tags (most) pay nothing for them (each field costs every message).


@dataclass(frozen=True, slots=True)
class TaggedMessage(Message):
    tags: Tags = ()


@dataclass(frozen=True, slots=True)
class TaggedAction(Action):
    tags: Tags = ()


@dataclass(frozen=True, slots=True)
class TaggedPrivateMessage(PrivateMessage):
    tags: Tags = ()


@dataclass(frozen=True, slots=True)
class TaggedPrivateAction(PrivateAction):
    tags: Tags = ()


_TAGGED: dict[type, type] = {
    Message: TaggedMessage,
    Action: TaggedAction,
    PrivateMessage: TaggedPrivateMessage,
    PrivateAction: TaggedPrivateAction,
}
M = TypeVar("M", Message, PrivateMessage)


def with_tags(event: M, tags: Tags) -> M:
    """C{event} (a message, action or private one) with C{tags}."""
    values = [getattr(event, field.name) for field in fields(event)]
    tagged: M = _TAGGED[type(event)](*values, tags)
    return tagged


@dataclass(frozen=True, slots=True)
class Image:
    """C{user} showed a picture, as lines of plain-text C{art}, in C{room}."""

    time: float
    room: str
    user: User
    art: str
    msgid: str = ""


@dataclass(frozen=True, slots=True)
class Tagged:
    """
    C{user} sent C{tags} alone, no text (IRC's TAGMSG: a reaction, a typing
    notice...), to C{room}, or to the user called C{to} when C{room} is
    empty. Only IRC clients that asked for message tags show it.
    """

    time: float
    user: User
    room: str
    to: str
    tags: Tags
    msgid: str = ""


@dataclass(frozen=True, slots=True)
class Joined:
    """
    C{user} entered C{room}.

    C{arrival}: the session's landing in the default room at connection time.
    C{returning}: a known user who came back (resumed identity) re-entering.
    """

    time: float
    room: str
    user: User
    arrival: bool = False
    returning: bool = False
    away: str = ""  # the joiner's away message, if away (IRC's away-notify)


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """C{user} is away, saying C{message}; back if C{message} is empty."""

    time: float
    user: User
    message: str


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    """C{user} now gives C{realname} as its real name (IRC's SETNAME)."""

    time: float
    user: User
    realname: str


@dataclass(frozen=True, slots=True)
class Parted:
    """C{user} left C{room} but stays connected."""

    time: float
    room: str
    user: User
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quit:
    """C{user} disconnected, saying C{message} (may be empty) as a farewell."""

    time: float
    user: User
    message: str = ""


@dataclass(frozen=True, slots=True)
class NickChanged:
    """The user known as C{old} is now C{user}."""

    time: float
    old: str
    user: User


@dataclass(frozen=True, slots=True)
class Kicked:
    """C{by} removed C{user} from C{room}; C{user} stays connected."""

    time: float
    room: str
    user: User
    by: User
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Killed:
    """A server operator, C{by}, disconnected C{user} with C{message}."""

    time: float
    user: User
    by: User
    message: str


@dataclass(frozen=True, slots=True)
class TopicChanged:
    """C{user} set the topic of C{room} to C{topic} (empty: no topic)."""

    time: float
    room: str
    user: User
    topic: str


@dataclass(frozen=True, slots=True)
class ModeChanged:
    """
    C{user} changed the modes of C{room}: C{changes} are IRC-style pairs of a
    signed letter and its argument, e.g. C{("+o", "toto")} or C{("-m", "")}.
    """

    time: float
    room: str
    user: User
    changes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Invited:
    """C{user} invites the user called C{to} into C{room}."""

    time: float
    user: User
    to: str
    room: str


@dataclass(frozen=True, slots=True)
class InviteSeen:
    """
    An operator of C{room} is told that C{user} invited the user called
    C{to} there (IRC's invite-notify).
    """

    time: float
    user: User
    to: str
    room: str


Event = (
    Message
    | PrivateMessage
    | Image
    | Tagged
    | AwayChanged
    | RealnameChanged
    | Joined
    | Parted
    | Quit
    | NickChanged
    | Kicked
    | Killed
    | TopicChanged
    | ModeChanged
    | Invited
    | InviteSeen
)
