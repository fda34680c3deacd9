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
from typing import ClassVar, NamedTuple, TypedDict

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


# What is said (messages, actions, private ones, pictures) is made once per
# message, on the hot path: these are named tuples, several times cheaper to
# make than a frozen dataclass (which sets each field through
# object.__setattr__), as immutable, and read as fast.


class _SameTypeEquality:
    """Equal only to an event of the same type: a tuple's equality alone
    would not tell an Action from the Message with the same fields."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)  # type: ignore[operator]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__


class _MessageFields(NamedTuple):
    time: float
    room: str
    user: User
    text: str
    notice: bool = False
    msgid: str = ""  # see twistedchat.core.msgids; empty only in tests' events
    tags: Tags = ()  # its client's tags for the others (see Tags)


class Message(_SameTypeEquality, _MessageFields):
    """
    C{user} said C{text} in C{room}. A C{notice} (IRC's NOTICE) is a message
    that automatic clients must never answer. An L{Action} is a message too.
    C{msgid}: the id the core gave it (L{twistedchat.core.msgids}).
    """

    __slots__ = ()
    action: ClassVar[bool] = False  # not a field: free to make and to read


class Action(Message):
    """C{user} did C{text} in C{room} (IRC's C{/me}): shown as "* toto waves"."""

    __slots__ = ()
    action: ClassVar[bool] = True


class OperatorsMessage(Message):
    """
    C{user} said C{text} in C{room} to its operators alone (IRC's
    C{PRIVMSG @#room}); other fronts show it as a message of the room.
    """

    __slots__ = ()


class _PrivateFields(NamedTuple):
    time: float
    user: User
    to: str
    text: str
    notice: bool = False
    msgid: str = ""
    tags: Tags = ()


class PrivateMessage(_SameTypeEquality, _PrivateFields):
    """C{user} said C{text} to the user called C{to} alone."""

    __slots__ = ()
    action: ClassVar[bool] = False


class PrivateAction(PrivateMessage):
    """C{user} did C{text}, for the user called C{to} alone."""

    __slots__ = ()
    action: ClassVar[bool] = True


class Wallops(PrivateMessage):
    """
    A server operator, C{user}, said C{text} to every other server operator
    (IRC's WALLOPS; C{to} is empty); other fronts show it as private.
    """

    __slots__ = ()


class _ImageFields(NamedTuple):
    time: float
    room: str
    user: User
    art: str
    msgid: str = ""
    picture: str = ""  # its name in the server's media store; "" if art alone


class Image(_SameTypeEquality, _ImageFields):
    """
    C{user} showed a picture, as lines of plain-text C{art}, in C{room}; a
    picture sent from a web page is kept too, as C{picture} (a name in the
    media store, see L{twistedchat.core.history.is_picture_name}), which
    the web front links to.
    """

    __slots__ = ()


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
