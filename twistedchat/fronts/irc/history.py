"""
IRCv3 C{draft/chathistory}: C{CHATHISTORY} pages through a room's history,
the JSON Lines files of every front's messages, by message id (C{msgid=})
or time (C{timestamp=}).

C{LATEST}, C{BEFORE}, C{AFTER}, C{AROUND} and C{BETWEEN} name a channel the
client is in and answer with a C{chathistory} batch of C{PRIVMSG}s (a
C{/me} as a CTCP ACTION, a picture as its heading and art), each with its
C{time} (for C{server-time}) and C{msgid} (for C{message-tags} or
C{draft/chathistory}: what the next request names). The
entries are found by the core (L{twistedchat.core.search}), off the
reactor thread; the client's next command waits for the answer. Private
messages are not kept in history: a nick as target answers with an empty
batch. C{TARGETS} lists the client's channels whose last message lies
between two times. What is wrong in a request is answered with C{FAIL
CHATHISTORY} and its code, as the specification says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...core import errors
from ...core.events import User
from ...core.history import HistoryEntry
from ...core.reading import HistoryUnavailable
from ...core.search import (
    MAX_LIMIT,
    Point,
    Selection,
    after,
    around,
    before,
    between,
    latest,
    milliseconds,
    parse_time,
)
from .batches import batch, tagged
from .numerics import room_name
from .render import channel, fit, prefix, server_time

if TYPE_CHECKING:
    from .protocol import IRCProtocol

# For ISUPPORT: the most entries one request gets, and how a point is named.
ISUPPORT = (f"CHATHISTORY={MAX_LIMIT}", "MSGREFTYPES=msgid,timestamp")


class Invalid(Exception):
    """A request the specification answers with C{FAIL CHATHISTORY <code>}."""

    def __init__(self, code: str, *context: str) -> None:
        super().__init__(code)
        self.code = code
        self.context = context


def point(text: str) -> Point:
    """C{msgid=...} or C{timestamp=...}."""
    kind, _, value = text.partition("=")
    if kind == "msgid" and value:
        return Point(msgid=value)
    if kind == "timestamp" and (ms := parse_time(value)) is not None:
        return Point(ms=ms)
    raise Invalid("INVALID_PARAMS", text)


def limit(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise Invalid("INVALID_PARAMS", text)
    return min(int(text), MAX_LIMIT)


def _latest(params: list[str]) -> Selection:
    return latest(None if params[0] == "*" else point(params[0]), limit(params[1]))


def _one_point(
    select: Callable[[Point, int], Selection],
) -> Callable[[list[str]], Selection]:
    return lambda params: select(point(params[0]), limit(params[1]))


def _between(params: list[str]) -> Selection:
    return between(point(params[0]), point(params[1]), limit(params[2]))


# Each subcommand: how many parameters follow its target, and its selection.
SELECTIONS: Mapping[str, tuple[int, Callable[[list[str]], Selection]]] = {
    "LATEST": (2, _latest),
    "BEFORE": (2, _one_point(before)),
    "AFTER": (2, _one_point(after)),
    "AROUND": (2, _one_point(around)),
    "BETWEEN": (3, _between),
}


async def irc_CHATHISTORY(client: IRCProtocol, params: list[str]) -> None:
    sub = params[0].upper()
    try:
        if sub == "TARGETS":
            targets(client, params[1:])
            return
        if sub not in SELECTIONS:
            raise Invalid("INVALID_PARAMS", sub)
        count, selection = SELECTIONS[sub]
        if len(params) < 2 + count:
            raise Invalid("NEED_MORE_PARAMS")
        target = params[1]
        select = selection(params[2 : 2 + count])
        if not target.startswith("#"):
            send_batch(client, target, [])  # private messages are not kept
            return
        try:
            session = client.registered_session()
            found = await client.factory.service.reading.search(
                session, room_name(target), select
            )
        except HistoryUnavailable:
            raise Invalid("MESSAGE_ERROR", target) from None
        except errors.ChatError:
            raise Invalid("INVALID_TARGET", target) from None
    except Invalid as e:
        fail(client, sub, e)
        return
    send_batch(client, target, found)


def fail(client: IRCProtocol, sub: str, error: Invalid) -> None:
    text = {
        "NEED_MORE_PARAMS": "Insufficient parameters",
        "INVALID_PARAMS": "Invalid parameters",
        "INVALID_TARGET": "Messages could not be retrieved",
        "MESSAGE_ERROR": "Messages could not be retrieved",
    }[error.code]
    client.send(
        client.server_name, "FAIL", "CHATHISTORY", error.code, sub, *error.context, text
    )


def send_batch(client: IRCProtocol, target: str, entries: list[HistoryEntry]) -> None:
    """C{entries} as the client sees messages, in a C{chathistory} batch."""
    lines = [line for entry in entries for line in entry_lines(client, entry)]
    if "batch" not in client.caps:
        client.write(b"".join(lines))
        return
    reference = client.batches.new()
    client.write(
        b"".join(batch(client.server_name, reference, "chathistory", lines, target))
    )


def entry_lines(client: IRCProtocol, entry: HistoryEntry) -> list[bytes]:
    """One entry as the lines of a live message, with its time and id."""
    source = prefix(User(entry.user_id, entry.nick, 0))
    room = channel(entry.room)
    if entry.kind == "image":
        lines = fit(source, "PRIVMSG", room, "shows a picture:", "ACTION")
        lines += fit(source, "PRIVMSG", room, entry.text)
    else:
        ctcp = "ACTION" if entry.kind == "action" else ""
        lines = fit(source, "PRIVMSG", room, entry.text, ctcp)
    tags = []
    if "server-time" in client.caps:
        tags.append(f"time={server_time(entry.time)}")
    if "message-tags" in client.caps or "draft/chathistory" in client.caps:
        tags.append(f"msgid={entry.id}")  # what a next request names
    if not tags:
        return [f"{line}\r\n".encode() for line in lines]
    joined = ";".join(tags)
    return [tagged(f"{line}\r\n".encode(), joined) for line in lines]


def targets(client: IRCProtocol, params: list[str]) -> None:
    """
    C{TARGETS <timestamp=> <timestamp=> <limit>}: the client's channels
    whose last message came between the two times, the earliest first.
    """
    if len(params) < 3:
        raise Invalid("NEED_MORE_PARAMS")
    first, second, most = point(params[0]), point(params[1]), limit(params[2])
    if not first.is_time or not second.is_time:
        raise Invalid("INVALID_PARAMS", params[0])
    low, high = sorted([first.ms, second.ms])
    service = client.factory.service
    last: list[tuple[int, str]] = []
    for room in client.registered_session().rooms:
        recent = service.recent(room)
        if recent and low < (ms := milliseconds(recent[-1])) < high:
            last.append((ms, room))
    last.sort()
    lines = [
        f":{client.server_name} CHATHISTORY TARGETS {channel(room)} "
        f"{server_time(ms / 1000)}\r\n".encode()
        for ms, room in last[:most]
    ]
    if "batch" in client.caps:
        reference = client.batches.new()
        lines = batch(client.server_name, reference, "draft/chathistory-targets", lines)
    client.write(b"".join(lines))
