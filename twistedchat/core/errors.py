"""
Domain errors of the core.

The core raises these when a request cannot be carried out; nothing has changed
when one is raised. Each front turns them into its own error reply (a
C{[server] error: ...} line, an IRC numeric, an error frame), so every error
keeps its structured fields and also reads as a plain English sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import (
    NICK_MAX_LENGTH,
    NICK_SPECIALS,
    RESERVED_NICKS,
    ROOM_MAX_LENGTH,
    ROOM_SPECIALS,
    fold_nick,
)

EXCERPT = 40  # characters of a refused name an error message quotes


def excerpt(text: str) -> str:
    """
    At most L{EXCERPT} characters of C{text}, something a user sent: an error
    message names what it refuses without echoing a flood back.
    """
    return (
        text
        if len(text) <= EXCERPT
        else text[: EXCERPT - 1] + "\N{HORIZONTAL ELLIPSIS}"
    )


class ChatError(Exception):
    """A request the core refused; C{str(error)} explains why."""


@dataclass(eq=False)  # exceptions stay hashable, equal only to themselves
class InvalidNick(ChatError):
    nick: str
    why: str = ""

    @property
    def reserved(self) -> bool:
        """Whether the nick is one the server keeps for itself ("server")."""
        return fold_nick(self.nick) in RESERVED_NICKS

    def __str__(self) -> str:
        if self.why:
            return f'invalid nick "{excerpt(self.nick)}": {self.why}'
        if self.reserved:
            return f'the nick "{self.nick}" is reserved: choose another one'
        return (
            f'invalid nick "{excerpt(self.nick)}": use 1 to {NICK_MAX_LENGTH} letters, '
            f"digits or {NICK_SPECIALS}"
        )


@dataclass(eq=False)
class NickInUse(ChatError):
    nick: str

    def __str__(self) -> str:
        return f'nick "{excerpt(self.nick)}" is already in use'


@dataclass(eq=False)
class NoSuchNick(ChatError):
    nick: str

    def __str__(self) -> str:
        return f'no user is called "{excerpt(self.nick)}"'


@dataclass(eq=False)
class InvalidRoomName(ChatError):
    room: str

    def __str__(self) -> str:
        return (
            f'invalid room name "{excerpt(self.room)}": use 1 to {ROOM_MAX_LENGTH} '
            f"letters, digits or {ROOM_SPECIALS}"
        )


@dataclass(eq=False)
class NoSuchRoom(ChatError):
    room: str

    def __str__(self) -> str:
        return f"there is no room #{excerpt(self.room)}"


@dataclass(eq=False)
class NotInRoom(ChatError):
    """The acting user is not a member of the room."""

    room: str

    def __str__(self) -> str:
        return f"you are not in #{excerpt(self.room)}"


@dataclass(eq=False)
class TooManyRooms(ChatError):
    """The user is in as many rooms as one user may be."""

    room: str  # the one they asked to join
    limit: int

    def __str__(self) -> str:
        return f"cannot join #{excerpt(self.room)}: you are in {self.limit} rooms, the most one may be in"


@dataclass(eq=False)
class AlreadyInRoom(ChatError):
    room: str

    def __str__(self) -> str:
        return f"you are already in #{excerpt(self.room)}"


@dataclass(eq=False)
class UserNotInRoom(ChatError):
    """Another user, the target of a request, is not a member of the room."""

    nick: str
    room: str

    def __str__(self) -> str:
        return f'"{excerpt(self.nick)}" is not in #{excerpt(self.room)}'


@dataclass(eq=False)
class NotRoomOperator(ChatError):
    room: str

    def __str__(self) -> str:
        return f"you are not an operator of #{excerpt(self.room)}"


class NotServerOperator(ChatError):
    def __str__(self) -> str:
        return "you are not a server operator (use OPER first)"


class EmptyMessage(ChatError):
    def __str__(self) -> str:
        return "empty message, nothing sent"


@dataclass(eq=False)
class InvalidRealname(ChatError):
    """A real name that is empty or too long (IRC's SETNAME)."""

    realname: str

    def __str__(self) -> str:
        return "a real name must be 1 to 390 characters"


class InvalidCredentials(ChatError):
    def __str__(self) -> str:
        return "wrong operator name or password"


class NoOperators(ChatError):
    def __str__(self) -> str:
        return "this server has no operators configured"


@dataclass(eq=False)
class UnknownUserMode(ChatError):
    mode: str

    def __str__(self) -> str:
        return f'unknown user mode "{excerpt(self.mode)}" (known: i, B, o)'


@dataclass(eq=False)
class CannotSendToRoom(ChatError):
    """The room is moderated, or closed to those outside it."""

    room: str
    why: str

    def __str__(self) -> str:
        return f"cannot send to #{excerpt(self.room)}: {self.why}"


@dataclass(eq=False)
class UnknownMode(ChatError):
    mode: str

    def __str__(self) -> str:
        return (
            f'unknown room mode "{excerpt(self.mode)}" '
            "(known: o, v, t, n, m, i, s, k, l, b, e, I)"
        )


@dataclass(eq=False)
class MissingModeArgument(ChatError):
    mode: str

    def __str__(self) -> str:
        what = "a nick" if self.mode[1:] in ("o", "v") else "an argument"
        return f'room mode "{excerpt(self.mode)}" needs {what}'


@dataclass(eq=False)
class UserAlreadyInRoom(ChatError):
    nick: str
    room: str

    def __str__(self) -> str:
        return f'"{excerpt(self.nick)}" is already in #{excerpt(self.room)}'


class OperBusy(ChatError):
    """An OPER from the same address is being checked: one at a time."""

    def __str__(self) -> str:
        return "an OPER from your address is being checked: wait for its answer"


@dataclass(eq=False)
class OperThrottled(ChatError):
    """Too many wrong OPER attempts: the next one must wait."""

    seconds: float

    def __str__(self) -> str:
        return f"too many failed attempts: try again in {self.seconds:.0f} s"


@dataclass(eq=False)
class BadRoomKey(ChatError):
    """The room has a key (C{+k}) and the joiner gave another one, or none."""

    room: str

    def __str__(self) -> str:
        return f"cannot join #{excerpt(self.room)}: it needs a key, and not that one"


@dataclass(eq=False)
class RoomFull(ChatError):
    """The room has as many members as its limit (C{+l}) allows."""

    room: str
    limit: int

    def __str__(self) -> str:
        return f"cannot join #{excerpt(self.room)}: it is full ({self.limit} members)"


@dataclass(eq=False)
class InviteOnlyRoom(ChatError):
    """The room is invite only (C{+i}) and the joiner was not invited."""

    room: str

    def __str__(self) -> str:
        return f"cannot join #{excerpt(self.room)}: it is invite only"


@dataclass(eq=False)
class BannedFromRoom(ChatError):
    """A ban of the room (C{+b}) holds for the joiner."""

    room: str

    def __str__(self) -> str:
        return f"cannot join #{excerpt(self.room)}: you are banned from it"


@dataclass(eq=False)
class InvalidModeArgument(ChatError):
    """A room mode given an argument it cannot take (a key with a space...)."""

    room: str
    mode: str  # the signed letter, e.g. "+l"
    argument: str
    why: str

    def __str__(self) -> str:
        return f'room mode "{excerpt(self.mode)}" of #{excerpt(self.room)}: {self.why}'


@dataclass(eq=False)
class MaskListFull(ChatError):
    """A room's list of bans or exceptions holds as many masks as it may."""

    room: str
    mode: str
    limit: int

    def __str__(self) -> str:
        return (
            f'the "{excerpt(self.mode)}" list of #{excerpt(self.room)} is full '
            f"({self.limit} masks)"
        )


# Why a picture is not one, in the terminal client's words (its French
# catalogue has them): by the C{why} of L{NotAPicture}.
PICTURE_REASONS = {
    "not_base64": "its data is not base64",
    "not_an_image": "not a picture (or in a format we cannot read)",
    "damaged": "the picture is damaged",
    "empty": "the picture is empty",
    "blank": "the picture comes out blank (all dark)",
}


@dataclass(eq=False)
class NotAPicture(ChatError):
    """
    What a web user sent cannot be shown as a picture (the web front's
    pictures, twistedchat.fronts.web.media): C{why} is one of L{PICTURE_REASONS}.
    """

    why: str

    def __str__(self) -> str:
        return f"cannot show that picture: {PICTURE_REASONS[self.why]}"


@dataclass(eq=False)
class PictureTooLarge(ChatError):
    """A picture over a limit: C{limit} C{unit}s (C{"bytes"} or C{"pixels"})."""

    unit: str
    limit: int

    def __str__(self) -> str:
        return (
            "cannot show that picture: the picture is too large "
            f"({self.limit} {self.unit} at most)"
        )


class PicturesBusy(ChatError):
    """As many pictures as the server takes at once are being worked on."""

    def __str__(self) -> str:
        return "cannot show that picture now: the server is busy with others, try again"


class LogUnavailable(ChatError):
    """
    The cluster's shared log (Redis) is out of reach and as many commands as
    may wait for it already wait: this one is refused, not dropped later.
    """

    def __str__(self) -> str:
        return "the chat is reconnecting to its shared log and cannot take more now: try again in a moment"
