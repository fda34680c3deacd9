"""
The JSON protocol of the web front: codec's frames spelt in JSON.

There is one definition of the chat's messages, the framed protocol's frame
classes (L{twistedchat.codec}); this module derives their JSON from them. A
frame is a JSON object whose C{"type"} is its class name in snake_case
(C{JoinWithKey} is C{"join_with_key"}) and whose other keys are its fields
by their codec names: a user is C{{"id", "nick", "colour"}}, a room of a list
C{{"name", "members"}}, times are milliseconds since the epoch, and the
fields that codec carries as JSON text (history C{entries}, an error's
C{details}) are the JSON values themselves. docs/WEB.md is the reference.

L{request} reads a client's message into the frame it stands for, or raises
L{BadMessage} with the error code and text to answer; L{websocket_frame}
makes the complete bytes of an unmasked WebSocket text frame, so that an
event is rendered once and the same bytes go to every member.
"""

from __future__ import annotations

import functools
import json
import re
import struct
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, cast

from ... import codec
from ...codec import ErrorCode, Frame, RoomInfo
from ...core.events import User
from .media import SendPicture, link_pictures


class BadMessage(ValueError):
    """A client message that is no request; C{code} is the error to answer."""

    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(text)
        self.code = code


def type_name(cls: type[Frame]) -> str:
    """C{JoinWithKey} as the JSON protocol names it: C{join_with_key}."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


# Every frame class by its JSON name: the requests a client may send are those
# of codec's client-to-server frames (type bytes below 0x80).
REQUESTS: dict[str, type[Frame]] = {
    type_name(cls): cls for cls in codec._FRAMES.values() if cls.TYPE < 0x80
}
NAMES: dict[type[Frame], str] = {cls: type_name(cls) for cls in codec._FRAMES.values()}
# Fields codec carries as JSON text: here they are the JSON values themselves.
RAW_JSON = {
    (codec.History, "entries"),
    (codec.Missed, "entries"),
    (codec.Older, "entries"),
    (codec.Error, "details"),
}

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@functools.lru_cache(maxsize=4096)
def _user(user: User) -> str:
    # The author of each message: its JSON is kept for the next time.
    return (
        '{"id":'
        + _dumps(user.id)
        + ',"nick":'
        + _dumps(user.nick)
        + ',"colour":'
        + str(user.colour)
        + "}"
    )


def _room_info(room: RoomInfo) -> str:
    return '{"name":' + _dumps(room.name) + ',"members":' + str(room.members) + "}"


def _value(value: Any) -> str:
    if isinstance(value, User):
        return _user(value)
    if isinstance(value, RoomInfo):
        return _room_info(value)
    if isinstance(value, tuple):
        return "[" + ",".join([_value(item) for item in value]) + "]"
    return _dumps(value)


def _encoder(cls: type[Frame]) -> Callable[[Frame], str]:
    head = '{"type":"' + NAMES[cls] + '"'
    names = [
        (name, ',"' + name + '":', (cls, name) in RAW_JSON) for name, _ in cls.FIELDS
    ]
    empty = "{}" if cls is codec.Error else "[]"

    def encode(frame: Frame) -> str:
        parts = [head]
        for name, key, raw in names:
            value = getattr(frame, name)
            parts.append(key)
            parts.append(link_pictures(value or empty) if raw else _value(value))
        parts.append("}")
        return "".join(parts)

    return encode


_ENCODERS = {cls: _encoder(cls) for cls in codec._FRAMES.values()}


def _said(frame: Frame) -> str:
    # A room message, the hot path: its JSON in one expression, the same as
    # the generic encoder's (a test holds them equal), at half the cost.
    said = cast(codec.Said, frame)
    return (
        '{"type":"said","time":'
        + str(said.time)
        + ',"room":'
        + _dumps(said.room)
        + ',"user":'
        + _user(said.user)
        + ',"text":'
        + _dumps(said.text)
        + "}"
    )


GENERIC_SAID = _ENCODERS[codec.Said]
_ENCODERS[codec.Said] = _said


def to_json(frame: Frame) -> str:
    """C{frame} as the JSON text of one WebSocket message."""
    return _ENCODERS[type(frame)](frame)


_SHORT = struct.Struct(">BB")
_MEDIUM = struct.Struct(">BBH")
_LONG = struct.Struct(">BBQ")
TEXT_FRAME = 0x81  # FIN and the text opcode


def websocket_frame(text: str) -> bytes:
    """
    The whole of one unmasked WebSocket text frame holding C{text}, as a
    server sends it: the same bytes serve every member of a room.
    """
    payload = text.encode("utf-8", "replace")
    size = len(payload)
    if size < 126:
        return _SHORT.pack(TEXT_FRAME, size) + payload
    if size < 65536:
        return _MEDIUM.pack(TEXT_FRAME, 126, size) + payload
    return _LONG.pack(TEXT_FRAME, 127, size) + payload


def frame_message(frame: Frame) -> bytes:
    """C{frame} as the bytes of its WebSocket message."""
    return websocket_frame(to_json(frame))


# Reading requests: each field's codec type says what JSON value it takes.


def _string(limit: int) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise _wrong(name, "a string", value)
        if len(value) > limit:
            raise BadMessage(ErrorCode.MALFORMED, f"{name!r} is too long")
        return value

    return check


def _number(limit: int) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if type(value) is not int or not 0 <= value <= limit:
            raise _wrong(name, f"a whole number from 0 to {limit}", value)
        return value

    return check


def _strings(name: str, value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong(name, "a list of strings", value)
    return tuple(value)


def _wrong(name: str, wanted: str, value: Any) -> BadMessage:
    found = type(value).__name__ if value is not None else "null"
    if isinstance(value, bool):
        found = "boolean"
    return BadMessage(ErrorCode.MALFORMED, f"{name!r} must be {wanted}, not {found}")


_CHECKS: dict[int, Callable[[str, Any], Any]] = {
    id(codec.STR): _string(65535),
    id(codec.TEXT): _string(2**31),
    id(codec.U16): _number(0xFFFF),
    id(codec.U32): _number(0xFFFFFFFF),
}


def _check_for(field: codec.Field) -> Callable[[str, Any], Any]:
    if isinstance(field, codec._List):
        return _strings
    return _CHECKS[id(field)]


# And the web front's own requests: a picture (media.py).
ACCEPTED: dict[str, type[Frame]] = {**REQUESTS, "send_picture": SendPicture}
# For each request: its class and, per field, its check and default.
_READERS: dict[str, tuple[type[Frame], list[tuple[str, Any, Any]]]] = {
    name: (
        cls,
        [
            (
                spec[0],
                _check_for(spec[1]),
                field.default if field.default is not MISSING else MISSING,
            )
            for spec, field in zip(cls.FIELDS, fields(cls), strict=True)  # type: ignore[arg-type]
        ],
    )
    for name, cls in ACCEPTED.items()
}


def request(text: str) -> Frame:
    """The request frame in a client's JSON message C{text}; or L{BadMessage}."""
    try:
        message = json.loads(text)
    except ValueError as e:
        raise BadMessage(ErrorCode.MALFORMED, f"not JSON: {e}") from None
    if not isinstance(message, dict):
        raise BadMessage(ErrorCode.MALFORMED, "a message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise BadMessage(ErrorCode.MALFORMED, 'a message needs a "type" string')
    reader = _READERS.get(kind)
    if reader is None:
        raise BadMessage(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")
    cls, specs = reader
    values = []
    for name, check, default in specs:
        if name in message:
            values.append(check(name, message[name]))
        elif default is not MISSING:
            values.append(default)
        else:
            raise BadMessage(ErrorCode.MALFORMED, f"{kind} needs {name!r}")
    return cls(*values)
