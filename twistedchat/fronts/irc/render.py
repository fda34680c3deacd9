"""
How the IRC front writes: core events as IRC lines, and the pieces every line
is made of. Text is cleaned of the controls that would end or corrupt a line,
and cut so that each line keeps within the 512 bytes of RFC 1459. Channel
C{#name} is the room C{name} of the other fronts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from ...core.events import (
    AwayChanged,
    Event,
    Image,
    Invited,
    InviteSeen,
    Joined,
    Kicked,
    Killed,
    Message,
    ModeChanged,
    NickChanged,
    OperatorsMessage,
    Parted,
    PrivateMessage,
    Quit,
    RealnameChanged,
    Tagged,
    Tags,
    TopicChanged,
    User,
    Wallops,
)
from .tags import format_tags

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


def member_prefix(ranks: str, every: bool) -> str:
    """
    How NAMES, WHO and WHOIS mark a member's status in a channel: C{ranks},
    the prefixes it has, highest first (C{"@"} for an operator); the highest
    only, or C{every} one for clients holding C{multi-prefix}.
    """
    return ranks if every else ranks[:1]


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
        case OperatorsMessage(user=user):  # PRIVMSG @#room: its operators only
            command = "NOTICE" if event.notice else "PRIVMSG"
            return fit(prefix(user), command, "@" + channel(event.room), event.text)
        case Message(user=user):
            command = "NOTICE" if event.notice else "PRIVMSG"
            if event.action:
                return fit(
                    prefix(user), command, channel(event.room), event.text, "ACTION"
                )
            return fit(prefix(user), command, channel(event.room), event.text)
        case Wallops(user=user):
            return [compose(prefix(user), "WALLOPS", clean(event.text))]
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
        case Tagged() | AwayChanged() | RealnameChanged() | InviteSeen():
            return []  # for clients holding a capability: see ADDED_LINES


def _tagmsg_lines(event: Event) -> list[str]:
    if not isinstance(event, Tagged):
        return []
    target = channel(event.room) if event.room else event.to
    return [compose(prefix(event.user), "TAGMSG", target)]


def _away_lines(event: Event) -> list[str]:
    """AWAY when someone sharing a room goes away or comes back, or joins away."""
    match event:
        case AwayChanged(user=user, message=message) | Joined(user=user, away=message):
            if isinstance(event, Joined) and not message:
                return []
            return [
                compose(prefix(user), "AWAY", *([clean(message)] if message else []))
            ]
    return []


def _setname_lines(event: Event) -> list[str]:
    if not isinstance(event, RealnameChanged):
        return []
    return [compose(prefix(event.user), "SETNAME", clean(event.realname))]


def _invite_lines(event: Event) -> list[str]:
    if not isinstance(event, InviteSeen):
        return []
    return [compose(prefix(event.user), "INVITE", event.to, channel(event.room))]


# The lines each rendering capability adds to an event's (if any): events
# only its holders are told of, or told more of.
ADDED_LINES: dict[str, Callable[[Event], list[str]]] = {
    "away-notify": _away_lines,
    "invite-notify": _invite_lines,
    "message-tags": _tagmsg_lines,
    "setname": _setname_lines,
}


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


def _time_tag(event: Event) -> str:
    return f"time={server_time(event.time)}"


def _message_tags(event: Event) -> str:
    """A message's id, and the tags its sender attached for the others."""
    msgid: str = getattr(event, "msgid", "")
    if not msgid:
        return ""
    tags: Tags = getattr(event, "tags", ())
    if not tags:
        return f"msgid={msgid}"
    return f"msgid={msgid};{format_tags(tags)}"


# The message tags each rendering capability adds to an event's lines: a
# function of the event, saying "" when the event has none of it.
TAGGERS: dict[str, Callable[[Event], str]] = {
    "message-tags": _message_tags,
    "server-time": _time_tag,
}


def renderer(variant: frozenset[str]) -> Callable[[Event], bytes]:
    """
    How events are rendered for clients holding the rendering capabilities
    C{variant}: the plain lines, with the tags those capabilities add.
    """
    if not variant:
        return render_plain
    if variant == {"server-time"}:
        return render_tagged
    taggers = [TAGGERS[name] for name in sorted(variant) if name in TAGGERS]
    adders = [ADDED_LINES[name] for name in sorted(variant) if name in ADDED_LINES]

    def render(event: Event) -> bytes:
        lines = render_lines(event)
        for add in adders:
            lines += add(event)
        if not lines:
            return b""
        tags = ";".join([tag for tagger in taggers if (tag := tagger(event))])
        return _encode(lines, f"@{tags} " if tags else "")

    return render


def server_time(seconds: float) -> str:
    """
    C{seconds} as an IRCv3 time, to the nearest millisecond: as the history
    keeps it, so that a message's time is the same live and in CHATHISTORY.
    """
    ms = round(seconds * 1000)
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
