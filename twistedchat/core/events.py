"""
Events: the immutable records the core hands to every session it concerns.

An event carries structured data and the server time at which it happened;
it knows nothing of how a front will show it. Each front renders an event into
its own wire format once, then writes the same bytes to every member it serves.
A L{User} is a snapshot of who acted: a nick change makes a new one, so an
event keeps the nick its author had when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypedDict


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


@dataclass(frozen=True, slots=True)
class Action(Message):
    """C{user} did C{text} in C{room} (IRC's C{/me}): shown as "* toto waves"."""

    action: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class OperatorsMessage(Message):
    """
    C{user} said C{text} in C{room} to its operators alone (IRC's
    C{PRIVMSG @#room}); other fronts show it as a message of the room.
    """


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """C{user} said C{text} to the user called C{to} alone."""

    action: ClassVar[bool] = False

    time: float
    user: User
    to: str
    text: str
    notice: bool = False


@dataclass(frozen=True, slots=True)
class PrivateAction(PrivateMessage):
    """C{user} did C{text}, for the user called C{to} alone."""

    action: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Wallops(PrivateMessage):
    """
    A server operator, C{user}, said C{text} to every other server operator
    (IRC's WALLOPS; C{to} is empty); other fronts show it as private.
    """


@dataclass(frozen=True, slots=True)
class Image:
    """C{user} showed a picture, as lines of plain-text C{art}, in C{room}."""

    time: float
    room: str
    user: User
    art: str


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


Event = (
    Message
    | PrivateMessage
    | Image
    | Joined
    | Parted
    | Quit
    | NickChanged
    | Kicked
    | Killed
    | TopicChanged
    | ModeChanged
    | Invited
)
