"""
Who is who: WHO, WHOIS, ISON and USERHOST, and AWAY. A user of another front
is shown with its nick as real name.
"""

from __future__ import annotations

from twisted.words.protocols import irc

from ...core import errors
from ...core.service import Session
from .numerics import room_name
from .protocol import IRCProtocol
from .queries import is_operator_of, rooms_of, session_named
from .registration import AWAYLEN
from .render import SERVER, channel


def irc_WHO(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    mask = params[0] if params else "*"
    sessions: list[tuple[str, Session]] = []
    if mask.startswith("#"):
        try:
            room = service.room(room_name(mask))
            sessions = [(channel(room.name), s) for s in room.members]
        except errors.ChatError:
            pass
    elif (named := session_named(service, mask)) is not None:
        where = next((channel(r.name) for r in rooms_of(named)), "*")
        sessions = [(where, named)]
    for where, target in sessions:
        flags = ("G" if target.away else "H") + ("*" if target.operator else "")
        if where != "*" and is_operator_of(service.room(where[1:]), target):
            flags += "@"
        client.reply(
            irc.RPL_WHOREPLY,
            where,
            target.user.id[:10],
            SERVER,
            SERVER,
            target.nick,
            flags,
            "0 " + realname(target),
        )
    client.reply(irc.RPL_ENDOFWHO, mask, "End of /WHO list.")


def irc_WHOIS(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    nick = params[-1]
    try:
        target = service.find(nick)
    except errors.NoSuchNick:
        client.reply(irc.ERR_NOSUCHNICK, nick, "No such nick/channel")
        client.reply(irc.RPL_ENDOFWHOIS, nick, "End of /WHOIS list.")
        return
    client.reply(
        irc.RPL_WHOISUSER,
        target.nick,
        target.user.id[:10],
        SERVER,
        "*",
        realname(target),
    )
    rooms = [
        ("@" if is_operator_of(room, target) else "") + channel(room.name)
        for room in rooms_of(target)
    ]
    if rooms:
        client.reply(irc.RPL_WHOISCHANNELS, target.nick, " ".join(rooms))
    client.reply(irc.RPL_WHOISSERVER, target.nick, SERVER, "twistedchat")
    if target.operator:
        client.reply(irc.RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
    if target.away:
        client.reply(irc.RPL_AWAY, target.nick, target.away)
    client.reply(irc.RPL_ENDOFWHOIS, target.nick, "End of /WHOIS list.")


def realname(session: Session) -> str:
    """The real name an IRC client gave; other fronts have none but the nick."""
    other = session.client
    if isinstance(other, IRCProtocol) and other.realname:
        return other.realname
    return session.nick


def irc_AWAY(client: IRCProtocol, params: list[str]) -> None:
    message = params[0][:AWAYLEN] if params else ""
    client.factory.service.set_away(client.registered_session(), message or None)
    if message:
        client.reply(irc.RPL_NOWAWAY, "You have been marked as being away")
    else:
        client.reply(irc.RPL_UNAWAY, "You are no longer marked as being away")


def irc_ISON(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    found = [session_named(service, nick) for nick in " ".join(params).split()]
    present = [session.nick for session in found if session is not None]
    client.reply(irc.RPL_ISON, " ".join(present))


def irc_USERHOST(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    found = []
    for nick in " ".join(params).split()[:5]:
        target = session_named(service, nick)
        if target is not None:
            star = "*" if target.operator else ""
            away = "-" if target.away else "+"
            found.append(f"{target.nick}{star}={away}{target.user.id[:10]}@{SERVER}")
    client.reply(irc.RPL_USERHOST, " ".join(found))
