"""
The framed wire format, as pure functions: frames in, bytes out, and back.

Spoken by the framed front and the terminal client over Twisted's
C{Int32StringReceiver}: each frame is a 4-byte big-endian length, then a
payload whose first byte is the frame type and whose fields follow in a fixed
order. Strings are UTF-8 with a length prefix (2 bytes for names, 4 for texts);
numbers are big-endian. docs/PROTOCOL.md is the reference for other clients;
this module is its executable form and does no I/O.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from .core.events import User

PROTOCOL_VERSION = 3
DEFAULT_MAX_FRAME = 64 * 1024
ROOM_LIST_MAX = 1000  # rooms a Welcome or RoomList holds, the first by name


class CodecError(ValueError):
    """A payload that is not a valid frame; C{str()} says what is wrong."""


class UnknownFrameType(CodecError):
    def __init__(self, frame_type: int) -> None:
        super().__init__(f"unknown frame type 0x{frame_type:02x}")
        self.frame_type = frame_type


class MalformedFrame(CodecError):
    pass


class ErrorCode(IntEnum):
    """The C{code} of an L{Error} frame (docs/PROTOCOL.md lists their meaning)."""

    MALFORMED = 1
    UNKNOWN_TYPE = 2
    TOO_LARGE = 3
    INCOMPATIBLE_VERSION = 4
    NOT_REGISTERED = 5
    ALREADY_REGISTERED = 6
    NICK_IN_USE = 10
    INVALID_NICK = 11
    INVALID_ROOM = 12
    NO_SUCH_ROOM = 13
    NO_SUCH_NICK = 14
    NOT_IN_ROOM = 15
    ALREADY_IN_ROOM = 16
    USER_NOT_IN_ROOM = 17
    NOT_ROOM_OPERATOR = 18
    NOT_SERVER_OPERATOR = 19
    EMPTY_MESSAGE = 20
    TOKEN_REFUSED = 21
    FLOODING = 22
    LIMIT = 23
    TOO_MANY_ROOMS = 24
    NICK_RESERVED = 25
    CANNOT_SEND = 26
    BAD_ROOM_KEY = 40
    ROOM_FULL = 41
    INVITE_ONLY = 42
    BANNED = 43
    BAD_HISTORY_COUNT = 30
    NO_HISTORY = 31
    INTERNAL = 99


# Field types: each packs a value into bytes, and unpacks one from a payload
# at an offset, returning the value and the next offset. They are on the path of
# every message, so they leave the checks struct does to struct: a number out of
# range or a payload that ends early raises struct.error, which encode() and
# decode() report as a CodecError.


class Field:
    def pack(self, value: Any) -> bytes:
        raise NotImplementedError

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        raise NotImplementedError


class _Number(Field):
    def __init__(self, fmt: str) -> None:
        self.packer = struct.Struct(">" + fmt)

    def pack(self, value: Any) -> bytes:
        return self.packer.pack(value)

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        return self.packer.unpack_from(data, offset)[0], offset + self.packer.size


class _Bool(_Number):
    def __init__(self) -> None:
        super().__init__("B")

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        value, offset = super().unpack(data, offset)
        if value > 1:
            raise MalformedFrame(f"boolean field holds {value}")
        return bool(value), offset


class _String(Field):
    def __init__(self, length_format: str) -> None:
        self.length = struct.Struct(">" + length_format)

    def pack(self, value: Any) -> bytes:
        # A lone surrogate (from undecodable terminal input) becomes "?".
        encoded: bytes = value.encode("utf-8", "replace")
        return self.length.pack(len(encoded)) + encoded

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        (size,) = self.length.unpack_from(data, offset)
        offset += self.length.size
        end = offset + size
        if end > len(data):
            raise struct.error("string ends early")
        try:
            return data[offset:end].decode("utf-8"), end
        except UnicodeDecodeError:
            raise MalformedFrame("text is not valid UTF-8") from None


class _Record(Field):
    """Several fields in a row, unpacked into C{make(*values)}."""

    def __init__(self, make: Callable[..., Any], *parts: tuple[str, Field]) -> None:
        self.make = make
        self.parts = parts

    def pack(self, value: Any) -> bytes:
        return b"".join([part.pack(getattr(value, name)) for name, part in self.parts])

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        values = []
        for _, part in self.parts:
            value, offset = part.unpack(data, offset)
            values.append(value)
        return self.make(*values), offset


class _Recurring(Field):
    """
    A field whose values come back again and again (the author of each
    message): their bytes are kept for the next time.
    """

    def __init__(self, field: Field, size: int = 4096) -> None:
        self.field = field
        self._pack = functools.lru_cache(maxsize=size)(field.pack)

    def pack(self, value: Any) -> bytes:
        return self._pack(value)

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        return self.field.unpack(data, offset)


class _Trailing(Field):
    """
    A last field that may be left out: a peer that does not know it sends a
    frame without it, or reads one that does not carry it (its empty value).
    """

    def __init__(self, field: Field, empty: Any) -> None:
        self.field = field
        self.empty = empty

    def pack(self, value: Any) -> bytes:
        return b"" if value == self.empty else self.field.pack(value)

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        if offset == len(data):
            return self.empty, offset
        return self.field.unpack(data, offset)


class _List(Field):
    """A 2-byte count, then that many items."""

    def __init__(self, item: Field) -> None:
        self.item = item
        self.count = _Number("H")

    def pack(self, value: Any) -> bytes:
        return self.count.pack(len(value)) + b"".join(
            [self.item.pack(item) for item in value]
        )

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        count, offset = self.count.unpack(data, offset)
        items = []
        for _ in range(count):
            item, offset = self.item.unpack(data, offset)
            items.append(item)
        return tuple(items), offset


@dataclass(frozen=True, slots=True)
class RoomInfo:
    name: str
    members: int


U16 = _Number("H")
U32 = _Number("I")
TIME = _Number("q")  # milliseconds since the Unix epoch
BOOL = _Bool()
STR = _String("H")  # names, tokens: up to 65,535 bytes
TEXT = _String("I")  # messages, art, JSON
USER = _Recurring(_Record(User, ("id", STR), ("nick", STR), ("colour", _Number("B"))))
ROOM_INFO = _Record(RoomInfo, ("name", STR), ("members", U32))


class Frame:
    """
    Base of all frames; subclasses are declared with L{frame}.

    Frames are not frozen dataclasses, unlike the core's events: a frame lives
    from its decoding to its handling, or from its making to its encoding, and
    nothing shares it; two are made for each chat message, and a frozen one
    costs three times as much to make (one C{object.__setattr__} per field).
    """

    TYPE: ClassVar[int]
    FIELDS: ClassVar[tuple[tuple[str, Field], ...]]


_FRAMES: dict[int, type[Frame]] = {}
F = TypeVar("F", bound=type[Frame])


def frame(frame_type: int, *spec: tuple[str, Field]) -> Callable[[F], F]:
    """Declare a frame class: its type byte and its fields' wire types, in order."""

    def declare(cls: F) -> F:
        names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        if names != tuple(name for name, _ in spec):
            raise TypeError(f"{cls.__name__}: fields {names} do not match its spec")
        if frame_type in _FRAMES:
            raise TypeError(f"frame type 0x{frame_type:02x} declared twice")
        cls.TYPE, cls.FIELDS = frame_type, spec
        _FRAMES[frame_type] = cls
        return cls

    return declare


# Client to server.


@frame(
    0x01,
    ("version", U16),
    ("nick", STR),
    ("token", STR),
    ("lang", STR),
    ("rooms", _List(STR)),
)
@dataclass(slots=True)
class Hello(Frame):
    version: int
    nick: str
    token: str = ""
    lang: str = ""
    rooms: tuple[str, ...] = ()


@frame(0x02, ("room", STR), ("text", TEXT))
@dataclass(slots=True)
class Say(Frame):
    room: str
    text: str


@frame(0x03, ("nick", STR), ("text", TEXT))
@dataclass(slots=True)
class Whisper(Frame):
    nick: str
    text: str


@frame(0x04, ("room", STR))
@dataclass(slots=True)
class Join(Frame):
    room: str


@frame(0x05, ("room", STR), ("reason", TEXT))
@dataclass(slots=True)
class Part(Frame):
    room: str
    reason: str = ""


@frame(0x06, ("nick", STR))
@dataclass(slots=True)
class ChangeNick(Frame):
    nick: str


@frame(0x07)
@dataclass(slots=True)
class ListRooms(Frame):
    pass


@frame(0x08, ("room", STR))
@dataclass(slots=True)
class ListNames(Frame):
    room: str


@frame(0x09, ("room", STR), ("art", TEXT))
@dataclass(slots=True)
class ShowImage(Frame):
    room: str
    art: str


@frame(0x0A, ("message", TEXT))
@dataclass(slots=True)
class Goodbye(Frame):
    message: str = ""


@frame(0x0B, ("room", STR), ("nick", STR), ("reason", TEXT))
@dataclass(slots=True)
class Kick(Frame):
    room: str
    nick: str
    reason: str = ""


@frame(0x0C, ("room", STR), ("count", U16))
@dataclass(slots=True)
class FetchHistory(Frame):
    """Older entries of a room: before the oldest this session was shown."""

    room: str
    count: int = 20


@frame(0x0D, ("room", STR), ("text", TEXT))
@dataclass(slots=True)
class Act(Frame):
    """Say what one does in C{room} (C{/me waves}: C{text} is C{"waves"})."""

    room: str
    text: str


@frame(0x0E, ("nick", STR), ("text", TEXT))
@dataclass(slots=True)
class ActPrivately(Frame):
    nick: str
    text: str


@frame(0x12, ("room", STR), ("topic", TEXT))
@dataclass(slots=True)
class SetTopic(Frame):
    """Set the topic of C{room}; an empty C{topic} clears it."""

    room: str
    topic: str


@frame(0x13, ("message", TEXT))
@dataclass(slots=True)
class SetAway(Frame):
    """Be marked away with C{message}; an empty one: back."""

    message: str = ""


# Either way.


@frame(0x14, ("room", STR), ("key", STR))
@dataclass(slots=True)
class JoinWithKey(Frame):
    """Join with the key a room with one (mode C{+k}) needs."""

    room: str
    key: str


@frame(0x10, ("token", U32))
@dataclass(slots=True)
class Ping(Frame):
    token: int


@frame(0x11, ("token", U32))
@dataclass(slots=True)
class Pong(Frame):
    token: int


# Server to client.


@frame(
    0x81,
    ("version", U16),
    ("user", USER),
    ("token", STR),
    ("resumed", BOOL),
    ("rooms", _List(ROOM_INFO)),
)
@dataclass(slots=True)
class Welcome(Frame):
    version: int
    user: User
    token: str
    resumed: bool
    rooms: tuple[RoomInfo, ...] = ()


@frame(0x82, ("time", TIME), ("room", STR), ("user", USER), ("text", TEXT))
@dataclass(slots=True)
class Said(Frame):
    time: int
    room: str
    user: User
    text: str


@frame(0x83, ("time", TIME), ("user", USER), ("to", STR), ("text", TEXT))
@dataclass(slots=True)
class Whispered(Frame):
    time: int
    user: User
    to: str
    text: str


@frame(0x84, ("time", TIME), ("room", STR), ("user", USER), ("art", TEXT))
@dataclass(slots=True)
class ImageShown(Frame):
    time: int
    room: str
    user: User
    art: str


@frame(
    0x85,
    ("time", TIME),
    ("room", STR),
    ("user", USER),
    ("arrival", BOOL),
    ("returning", BOOL),
)
@dataclass(slots=True)
class Entered(Frame):
    time: int
    room: str
    user: User
    arrival: bool = False
    returning: bool = False


@frame(0x86, ("time", TIME), ("room", STR), ("user", USER), ("reason", TEXT))
@dataclass(slots=True)
class Left(Frame):
    time: int
    room: str
    user: User
    reason: str = ""


@frame(0x87, ("time", TIME), ("user", USER), ("message", TEXT))
@dataclass(slots=True)
class Gone(Frame):
    time: int
    user: User
    message: str = ""


@frame(0x88, ("time", TIME), ("old", STR), ("user", USER))
@dataclass(slots=True)
class Renamed(Frame):
    time: int
    old: str
    user: User


@frame(
    0x89, ("time", TIME), ("room", STR), ("user", USER), ("by", USER), ("reason", TEXT)
)
@dataclass(slots=True)
class KickedOut(Frame):
    time: int
    room: str
    user: User
    by: User
    reason: str = ""


@frame(0x8A, ("time", TIME), ("user", USER), ("by", USER), ("message", TEXT))
@dataclass(slots=True)
class KilledOff(Frame):
    time: int
    user: User
    by: User
    message: str


@frame(0x8B, ("rooms", _List(ROOM_INFO)))
@dataclass(slots=True)
class RoomList(Frame):
    rooms: tuple[RoomInfo, ...]


@frame(0x8C, ("room", STR), ("users", _List(USER)))
@dataclass(slots=True)
class NameList(Frame):
    room: str
    users: tuple[User, ...]


@frame(0x8D, ("room", STR), ("entries", TEXT))
@dataclass(slots=True)
class History(Frame):
    """C{entries}: a JSON array of the room's recent events, oldest first."""

    room: str
    entries: str


@frame(
    0x8E,
    ("code", U16),
    ("text", TEXT),
    ("fatal", BOOL),
    ("details", _Trailing(TEXT, "")),
)
@dataclass(slots=True)
class Error(Frame):
    """
    C{text}: the server's English; C{details}: a JSON object of what the
    error names (C{{"room": "nosuch"}}), for a client to say it in its
    reader's language. A frame without details ends after C{fatal}.
    """

    code: int
    text: str
    fatal: bool = False
    details: str = ""


@frame(0x8F, ("time", TIME), ("room", STR), ("user", USER), ("topic", TEXT))
@dataclass(slots=True)
class TopicSet(Frame):
    time: int
    room: str
    user: User
    topic: str


@frame(0x90, ("time", TIME), ("room", STR), ("user", USER), ("changes", TEXT))
@dataclass(slots=True)
class ModesSet(Frame):
    """C{changes}: IRC-style, space-separated, e.g. C{"+o toto -t"}."""

    time: int
    room: str
    user: User
    changes: str


@frame(0x91, ("time", TIME), ("user", USER), ("room", STR))
@dataclass(slots=True)
class Invitation(Frame):
    time: int
    user: User
    room: str


@frame(0x92, ("room", STR), ("skipped", U32), ("entries", TEXT))
@dataclass(slots=True)
class Missed(Frame):
    """
    What a returning identity missed in a room since it left: C{entries} as
    in L{History}, and how many more came before them (C{skipped}).
    """

    room: str
    skipped: int
    entries: str


@frame(0x93, ("room", STR), ("more", BOOL), ("entries", TEXT))
@dataclass(slots=True)
class Older(Frame):
    """The answer to L{FetchHistory}: C{entries} as in L{History}."""

    room: str
    more: bool
    entries: str


@frame(0x96, ("time", TIME), ("room", STR), ("user", USER), ("text", TEXT))
@dataclass(slots=True)
class Acted(Frame):
    """C{user} did C{text} in C{room} ("* toto waves")."""

    time: int
    room: str
    user: User
    text: str


@frame(0x97, ("time", TIME), ("user", USER), ("to", STR), ("text", TEXT))
@dataclass(slots=True)
class ActedPrivately(Frame):
    time: int
    user: User
    to: str
    text: str


@frame(0x98, ("room", STR), ("topic", TEXT), ("by", STR), ("time", TIME))
@dataclass(slots=True)
class Topic(Frame):
    """The topic of a room one enters, who set it and when."""

    room: str
    topic: str
    by: str
    time: int


@frame(0x99, ("nick", STR), ("message", TEXT))
@dataclass(slots=True)
class Away(Frame):
    """The user one wrote to privately is away, saying C{message}."""

    nick: str
    message: str


@frame(0x9A, ("message", TEXT))
@dataclass(slots=True)
class AwaySet(Frame):
    """One's own away status changed: away with C{message}, or back (empty)."""

    message: str


_TYPE_BYTES = [bytes((frame_type,)) for frame_type in range(256)]


def encode(value: Frame) -> bytes:
    """The payload of C{value}: its type byte, then its fields."""
    fast = _FAST_ENCODERS.get(type(value))
    try:
        return _encode_fields(value) if fast is None else fast(value)
    except struct.error as e:
        raise CodecError(f"a field of {value!r} is out of range ({e})") from None


def _encode_fields(value: Frame) -> bytes:
    return _TYPE_BYTES[value.TYPE] + b"".join(
        [field.pack(getattr(value, name)) for name, field in value.FIELDS]
    )


def decode(payload: bytes) -> Frame:
    """The frame in C{payload}; L{CodecError} if it is not one."""
    if not payload:
        raise MalformedFrame("empty frame")
    fast = _FAST_DECODERS.get(payload[0])
    if fast is not None and (frame := fast(payload)) is not None:
        return frame
    cls = _FRAMES.get(payload[0])
    if cls is None:
        raise UnknownFrameType(payload[0])
    return _decode_fields(cls, payload)


def _decode_fields(cls: type[Frame], payload: bytes) -> Frame:
    values = []
    offset = 1
    try:
        for _, field in cls.FIELDS:
            value, offset = field.unpack(payload, offset)
            values.append(value)
    except struct.error:
        raise MalformedFrame(f"frame ends early ({len(payload)} bytes)") from None
    if offset != len(payload):
        raise MalformedFrame(
            f"{len(payload) - offset} unexpected bytes after the fields"
        )
    return cls(*values)


# The hot path. A chat message comes in as a Say and goes out as a Said: they
# are most of the traffic, and these coders spell out their layout, which
# encode() and decode() otherwise follow field by field (for up to twice the
# work). The tests hold both ways to the same bytes and frames; a payload that
# the fast decoder does not take whole goes to decode(), which says what is
# wrong with it.

_SAID_HEAD = struct.Struct(">BqH")  # type, time (TIME), the room's length (STR)


def _encode_said(value: Said) -> bytes:
    room = value.room.encode("utf-8", "replace")
    text = value.text.encode("utf-8", "replace")
    return b"".join(
        (
            _SAID_HEAD.pack(Said.TYPE, value.time, len(room)),
            room,
            USER.pack(value.user),
            TEXT.length.pack(len(text)),
            text,
        )
    )


def _decode_say(payload: bytes) -> Say | None:
    """The Say in C{payload}, if it is a whole and valid one."""
    try:
        (room_size,) = STR.length.unpack_from(payload, 1)
        room_end = 3 + room_size
        (text_size,) = TEXT.length.unpack_from(payload, room_end)
        if room_end + 4 + text_size != len(payload):
            return None
        room = payload[3:room_end].decode("utf-8")
        return Say(room, payload[room_end + 4 :].decode("utf-8"))
    except (struct.error, UnicodeDecodeError):
        return None


_FAST_ENCODERS: dict[type[Frame], Callable[[Any], bytes]] = {Said: _encode_said}
_FAST_DECODERS: dict[int, Callable[[bytes], Frame | None]] = {Say.TYPE: _decode_say}

_LENGTH = struct.Struct(">I")


def frame_bytes(value: Frame) -> bytes:
    """C{value} as it goes on the wire: length prefix and payload."""
    payload = encode(value)
    return _LENGTH.pack(len(payload)) + payload


def milliseconds(seconds: float) -> int:
    """A server time (seconds) as the wire's milliseconds."""
    return round(seconds * 1000)
