"""
How the IRC front writes: core events as IRC lines, and the pieces every line
is made of. Text is cleaned of the controls that would end or corrupt a line,
and cut so that each line keeps within the 512 bytes of RFC 1459. Channel
C{#name} is the room C{name} of the other fronts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from ...core.events import (
    Event,
    Image,
    Invited,
    Joined,
    Kicked,
    Killed,
    Message,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    TopicChanged,
    User,
)

# The host part of every user's mask (C{nick!id@twistedchat}): users' real
# addresses are not shown. The server's own name is a setting, L{ServerName}.
HOST = "twistedchat"
MAX_LINE = 512  # bytes, CRLF included (RFC 1459)
# Controls that would end or corrupt an IRC line; IRC's own formatting codes
# (bold, colours, italics, underline, reset...) and CTCP's \x01 pass through.
_UNSAFE = {
    code: "\N{REPLACEMENT CHARACTER}"
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]
    if code not in (0x01, 0x02, 0x03, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F)
}


def clean(text: str) -> str:
    # Most text holds no control character: isprintable() tells so many times
    # faster than translate() copies it, character by character.
    if text.isprintable():
        return text
    return text.translate(_UNSAFE)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def rows(text: str) -> list[str]:
    """
    The lines of C{text}, cut at CR and LF only: C{str.splitlines} also cuts
    at C{\\x1d} and C{\\x1e}, IRC's italics and strikethrough codes.
    """
    if "\n" not in text and "\r" not in text:
        return [text] if text else []
    lines = _LINE_BREAK.split(text)
    if not lines[-1]:
        lines.pop()
    return lines


def prefix(user: User, nick: str | None = None) -> str:
    """C{nick!user@host} for C{user}: the id stands for the user name."""
    return f"{clean(nick or user.nick).replace(' ', '_')}!{user.id[:10]}@{HOST}"


# A member's ranks in a channel, highest first, with their NAMES/WHO prefixes
# (ISUPPORT's PREFIX=(ov)@+).
PREFIXES = (("o", "@"), ("v", "+"))


def member_prefix(operator: bool, voiced: bool, every: bool = False) -> str:
    """
    What NAMES and WHO put before a member's nick: its highest rank's
    prefix, or, with C{every} (IRCv3's multi-prefix), all of them (C{"@+"}).
    """
    held = {"o": operator, "v": voiced}
    prefixes = [prefix for letter, prefix in PREFIXES if held[letter]]
    return "".join(prefixes) if every else "".join(prefixes[:1])


def channel(room: str) -> str:
    return f"#{room}"


def compose(source: str, command: str, *params: str) -> str:
    """One IRC line; every parameter is cleaned, the last one made trailing if need be."""
    cleaned = [clean(param) for param in params]
    if cleaned:
        cleaned[-1] = _trailing(cleaned[-1])
    return " ".join([f":{source}", command, *cleaned])


def _trailing(param: str) -> str:
    """C{param} as the last parameter of a line: after a colon if need be."""
    if not param or " " in param or param[0] == ":":
        return ":" + param
    return param


def fit(source: str, command: str, target: str, text: str, ctcp: str = "") -> list[str]:
    """
    C{text} as one or more C{command} lines from C{source} to C{target}, each
    within the 512 bytes of RFC 1459 (CRLF included): other fronts accept
    longer messages than IRC does. Cuts fall between characters, not inside.
    With a C{ctcp} command (C{"ACTION"}), each line is one such request.
    """
    head = f":{source} {command} {clean(target)} "
    budget = MAX_LINE - 2 - len(head.encode()) - 1  # 1: the colon of the text
    if ctcp:
        budget -= len(ctcp) + 3  # \x01, a space, \x01
    lines = []
    for row in rows(text) or [""]:
        row = clean(row)
        while len(encoded := row.encode()) > budget:
            cut = len(encoded[:budget].decode("utf-8", "ignore"))
            piece = row[:cut]
            lines.append(head + _trailing(f"\x01{ctcp} {piece}\x01" if ctcp else piece))
            row = row[cut:]
        lines.append(head + _trailing(f"\x01{ctcp} {row}\x01" if ctcp else row))
    return lines


def render_lines(event: Event) -> list[str]:
    """The IRC lines (no tags, no CRLF) that tell a client about C{event}."""
    match event:
        case Message(user=user):
            command = "NOTICE" if event.notice else "PRIVMSG"
            if event.action:
                return fit(
                    prefix(user), command, channel(event.room), event.text, "ACTION"
                )
            return fit(prefix(user), command, channel(event.room), event.text)
        case PrivateMessage(user=user):
            command = "NOTICE" if event.notice else "PRIVMSG"
            ctcp = "ACTION" if event.action else ""
            return fit(prefix(user), command, event.to, event.text, ctcp)
        case Image(user=user):
            room = channel(event.room)
            heading = compose(
                prefix(user), "PRIVMSG", room, "\x01ACTION shows a picture:\x01"
            )
            return [heading] + [
                compose(prefix(user), "PRIVMSG", room, clean(row) or " ")
                for row in rows(event.art)
            ]
        case Joined(user=user):
            return [compose(prefix(user), "JOIN", channel(event.room))]
        case Parted(user=user):
            reason = [clean(event.reason)] if event.reason else []
            return [compose(prefix(user), "PART", channel(event.room), *reason)]
        case Quit(user=user):
            return [
                compose(prefix(user), "QUIT", clean(event.message) or "Client Quit")
            ]
        case NickChanged(user=user):
            return [compose(prefix(user, event.old), "NICK", user.nick)]
        case Kicked(user=user, by=by):
            return [
                compose(
                    prefix(by),
                    "KICK",
                    channel(event.room),
                    user.nick,
                    clean(event.reason) or by.nick,
                )
            ]
        case Killed(user=user, by=by):
            why = f"Killed ({by.nick} ({clean(event.message)}))"
            return [compose(prefix(user), "QUIT", why)]
        case TopicChanged(user=user):
            return [
                compose(prefix(user), "TOPIC", channel(event.room), clean(event.topic))
            ]
        case ModeChanged(user=user):
            letters = mode_letters(event.changes)
            arguments = [argument for _, argument in event.changes if argument]
            return [
                " ".join(
                    [
                        f":{prefix(user)}",
                        "MODE",
                        channel(event.room),
                        letters,
                        *arguments,
                    ]
                )
            ]
        case Invited(user=user):
            return [compose(prefix(user), "INVITE", event.to, channel(event.room))]


def mode_letters(changes: Iterable[tuple[str, str]]) -> str:
    """C{+i +n -t} as IRC writes them: C{+in-t}, each sign once per run."""
    letters = []
    sign = ""
    for signed, _ in changes:
        if signed[0] != sign:
            sign = signed[0]
            letters.append(sign)
        letters.append(signed[1:])
    return "".join(letters)


def _encode(lines: Iterable[str], tags: str = "") -> bytes:
    return "".join([f"{tags}{line}\r\n" for line in lines]).encode()


def render_plain(event: Event) -> bytes:
    return _encode(render_lines(event))


def render_tagged(event: Event) -> bytes:
    """The lines with IRCv3 C{server-time}, for clients that asked for it."""
    return _encode(render_lines(event), f"@time={server_time(event.time)} ")


def server_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
