"""
IRCv3 C{draft/read-marker}: C{MARKREAD} keeps, for a channel or a nick,
the time up to which the client has read, so that its other views (or
itself, rejoining) start there.

An IRC connection is a user of its own here: it has no account and no
resume token, so its identity ends with it (docs/IRC.md). Its read markers
live as long as the connection, in memory, one per target (channel or nick,
regardless of case); unlike the core's read markers of a twistedchat
client's identity (L{twistedchat.core.reading}), which outlive sessions,
nothing of them is written to disk. A marker only moves forward: an older
time leaves it where it is, and the answer says where it is. A client
holding the capability is told a channel's marker when it joins it, before
the end of the names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.search import parse_time
from .numerics import target_key
from .render import server_time

if TYPE_CHECKING:
    from .protocol import IRCProtocol

CAPABILITY = "draft/read-marker"
MAX_MARKERS = 1000  # targets one connection may keep a marker for


def irc_MARKREAD(client: IRCProtocol, params: list[str]) -> None:
    if not params or not params[0]:
        fail(client, "NEED_MORE_PARAMS", "Missing target")
        return
    target = params[0]
    if len(params) > 1:
        kind, _, value = params[1].partition("=")
        ms = parse_time(value) if kind == "timestamp" else None
        if ms is None:
            fail(client, "INVALID_PARAMS", target, "Invalid timestamp")
            return
        marks = client.read_marks
        key = target_key(target)
        if key not in marks and len(marks) >= MAX_MARKERS:
            fail(client, "INTERNAL_ERROR", target, "Too many read markers")
            return
        marks[key] = max(ms, marks.get(key, ms))
    send_marker(client, target)


def send_marker(client: IRCProtocol, target: str) -> None:
    """Where the client has read C{target} up to, or C{*} if it never said."""
    ms = client.read_marks.get(target_key(target))
    mark = "*" if ms is None else f"timestamp={server_time(ms / 1000)}"
    client.send(client.server_name, "MARKREAD", target, mark)


def fail(client: IRCProtocol, code: str, *context: str) -> None:
    client.send(client.server_name, "FAIL", "MARKREAD", code, *context)
