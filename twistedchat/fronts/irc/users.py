"""
Who is who: WHO, WHOIS, ISON and USERHOST, and AWAY, answered from the core's
views of its users. A user of another front has its nick as real name.
"""

from __future__ import annotations

from twisted.words.protocols import irc

from ...core import errors
from ...core.views import UserView
from .numerics import room_name
from .protocol import IRCProtocol
from .render import HOST, channel
from .server import AWAYLEN

WHO_PAGE = 100  # members described between two turns of the reactor


async def irc_WHO(client: IRCProtocol, params: list[str]) -> None:
    """Who is in a channel (a page at a time, paced), or who a nick is."""
    service = client.factory.service
    mask = params[0] if params else "*"
    try:
        if mask.startswith("#"):
            room = service.room(room_name(mask))
            members = [user.nick for user in room.members]
            for start in range(0, len(members), WHO_PAGE):
                page = service.present(members[start : start + WHO_PAGE])
                for target in page:
                    send_who(client, room.name, target)
                if start + WHO_PAGE < len(members):
                    await client.pace(len(page))
                    if client.gone:
                        return
        else:
            target = service.user(mask)
            send_who(client, next(iter(target.rooms), ""), target)
    except errors.ChatError:
        pass  # nobody: just the end of the list
    client.reply(irc.RPL_ENDOFWHO, mask, "End of /WHO list.")


def send_who(client: IRCProtocol, room: str, target: UserView) -> None:
    """One WHO line: C{target}, seen in C{room} (or in none)."""
    flags = ("G" if target.away else "H") + ("*" if target.operator else "")
    if room in target.operates:
        flags += "@"
    client.reply(
        irc.RPL_WHOREPLY,
        channel(room) if room else "*",
        target.user.id[:10],
        HOST,
        client.server_name,
        target.nick,
        flags,
        "0 " + target.realname,
    )


def irc_WHOIS(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    nick = params[-1]
    try:
        target = service.user(nick)
    except errors.NoSuchNick:
        client.reply(irc.ERR_NOSUCHNICK, nick, "No such nick/channel")
        client.reply(irc.RPL_ENDOFWHOIS, nick, "End of /WHOIS list.")
        return
    client.reply(
        irc.RPL_WHOISUSER,
        target.nick,
        target.user.id[:10],
        HOST,
        "*",
        target.realname,
    )
    rooms = [
        ("@" if room in target.operates else "") + channel(room)
        for room in target.rooms
    ]
    if rooms:
        client.reply(irc.RPL_WHOISCHANNELS, target.nick, " ".join(rooms))
    client.reply(irc.RPL_WHOISSERVER, target.nick, client.server_name, "twistedchat")
    if target.operator:
        client.reply(irc.RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
    if target.away:
        client.reply(irc.RPL_AWAY, target.nick, target.away)
    client.reply(irc.RPL_ENDOFWHOIS, target.nick, "End of /WHOIS list.")


def irc_AWAY(client: IRCProtocol, params: list[str]) -> None:
    message = params[0][:AWAYLEN] if params else ""
    client.factory.service.set_away(client.registered_session(), message or None)
    if message:
        client.reply(irc.RPL_NOWAWAY, "You have been marked as being away")
    else:
        client.reply(irc.RPL_UNAWAY, "You are no longer marked as being away")


def irc_ISON(client: IRCProtocol, params: list[str]) -> None:
    present = client.factory.service.present(" ".join(params).split())
    client.reply(irc.RPL_ISON, " ".join(user.nick for user in present))


def irc_USERHOST(client: IRCProtocol, params: list[str]) -> None:
    found = []
    for target in client.factory.service.present(" ".join(params).split()[:5]):
        star = "*" if target.operator else ""
        away = "-" if target.away else "+"
        found.append(f"{target.nick}{star}={away}{target.user.id[:10]}@{HOST}")
    client.reply(irc.RPL_USERHOST, " ".join(found))
