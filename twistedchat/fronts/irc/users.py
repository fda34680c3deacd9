"""
Who is who: WHO, WHOIS, WHOWAS, ISON and USERHOST, and AWAY, answered from
the core's views of its users. A user of another front has its nick as real
name, and the start of its id as user name.
"""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.words.protocols import irc

from ...core import errors
from ...core.views import UserView
from .numerics import room_name
from .protocol import IRCProtocol
from .render import HOST, channel, member_prefix
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
    flags += member_prefix(room in target.operates, room in target.voiced)
    client.reply(
        irc.RPL_WHOREPLY,
        channel(room) if room else "*",
        user_name(target),
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
        user_name(target),
        HOST,
        "*",
        target.realname,
    )
    rooms = [
        member_prefix(room in target.operates, room in target.voiced) + channel(room)
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


def irc_WHOWAS(client: IRCProtocol, params: list[str]) -> None:
    """Who had a nick: newest first, C{count} at most (all if not positive)."""
    nick = params[0]
    try:
        count = int(params[1]) if len(params) > 1 else 0
    except ValueError:
        count = 0  # not a number: a full search, as for a non-positive one
    found = client.factory.service.whowas.lookup(nick, count)
    if not found:
        client.reply(irc.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
    for departed in found:
        client.reply(
            irc.RPL_WHOWASUSER,
            departed.nick,
            departed.username or departed.user_id[:10],
            HOST,
            "*",
            departed.realname,
        )
        client.reply(
            irc.RPL_WHOISSERVER, departed.nick, client.server_name, left(departed.time)
        )
    client.reply(irc.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")


def left(time: float) -> str:
    """When someone gave up a nick, as ircds tell it in WHOWAS's 312."""
    return datetime.fromtimestamp(time, UTC).strftime("%a %b %d %H:%M:%S %Y UTC")


def user_name(target: UserView) -> str:
    """The user name IRC shows: the one its client gave, else the start of its id."""
    return target.username or target.user.id[:10]


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
        found.append(f"{target.nick}{star}={away}{user_name(target)}@{HOST}")
    client.reply(irc.RPL_USERHOST, " ".join(found))
