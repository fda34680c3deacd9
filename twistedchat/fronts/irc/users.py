"""
Who is who: WHO (with masks, and IRCv3's WHOX), WHOIS, WHOWAS, ISON and
USERHOST, AWAY and SETNAME, and a user's own modes (C{MODE nick}: invisible,
bot, giving up operator status), answered from the core's views of its users
and its L{twistedchat.core.directory.Directory}. A user of another front has
its nick as real name, and the start of its id as user name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from twisted.internet.defer import maybeDeferred
from twisted.words.protocols import irc

from ...core import errors
from ...core.directory import USER_MODES, change_user_modes, is_mask, matcher
from ...core.session import Session
from ...core.status import set_realname
from ...core.views import UserView
from .numerics import room_name
from .protocol import IRCProtocol
from .render import HOST, channel, member_prefix, prefix
from .server import AWAYLEN

WHO_PAGE = 100  # members described between two turns of the reactor
RPL_WHOSPCRPL = "354"  # WHOX's reply (IRCv3 whox), newer than twisted.words
RPL_WHOISBOT = "335"  # IRCv3 bot mode
# WHOX's fields, in the order a reply gives them whatever the order asked.
WHOX_FIELDS = "tcuihsnfdlaor"
HIDDEN_ADDRESS = "255.255.255.255"  # what WHOX's i says: addresses are not shown


@dataclass(frozen=True)
class WhoOptions:
    """What follows WHO's mask: C{o} (operators only), C{%fields,token}."""

    operators: bool = False
    fields: str = ""  # WHOX fields asked for ("": a classic 352 reply)
    token: str = "0"

    @classmethod
    def parse(cls, text: str) -> WhoOptions:
        flags, whox, rest = text.partition("%")
        fields, _, token = rest.partition(",")
        if not (token.isdigit() and len(token) <= 3):
            token = "0"
        known = "".join(field for field in WHOX_FIELDS if field in fields)
        return cls("o" in flags, known if whox else "", token)


async def irc_WHO(client: IRCProtocol, params: list[str]) -> None:
    """
    Who is in a channel, who a nick is, or who matches a mask (C{*} and
    C{?}, against nick, user name, host, server and real name), a page at a
    time, paced. Invisible users are found by nick, or by those who share a
    channel with them. C{WHO <mask> %<fields>[,<token>]} is WHOX (354).
    """
    service = client.factory.service
    session = client.registered_session()
    mask = params[0] if params and params[0] else "*"
    options = WhoOptions.parse(params[1] if len(params) > 1 else "")
    if mask.startswith("#"):
        try:
            room = service.room(room_name(mask))
        except errors.ChatError:
            room = None  # nobody: just the end of the list
        if room is not None:
            inside = room.name in session.rooms
            members = [user.nick for user in room.members]
            for start in range(0, len(members), WHO_PAGE):
                for target in service.present(members[start : start + WHO_PAGE]):
                    if inside or service.directory.sees(session, target):
                        send_who(client, room.name, target, options)
                if start + WHO_PAGE < len(members):
                    await client.pace(WHO_PAGE)
                    if client.gone:
                        return
    else:
        shared = set(service.user_of(session).rooms)
        found = []
        if is_mask(mask) or mask == "0":
            search = "*" if mask == "0" else mask
            matches = matcher(search)
            everyone = matches(HOST) or matches(client.server_name)
            found = service.directory.search(session, search, everyone)
        elif service.nick_taken(mask):
            found = [service.user(mask)]
        for start in range(0, len(found), WHO_PAGE):
            for target in found[start : start + WHO_PAGE]:
                send_who(client, seen_in(target, shared), target, options)
            if start + WHO_PAGE < len(found):
                await client.pace(WHO_PAGE)
                if client.gone:
                    return
    client.reply(irc.RPL_ENDOFWHO, mask, "End of /WHO list.")


def seen_in(target: UserView, shared: set[str]) -> str:
    """The channel a WHO by nick or mask shows: one both users are in, if any."""
    return next((room for room in target.rooms if room in shared), "")


def who_flags(room: str, target: UserView, every: bool = False) -> str:
    """
    H or G (here, gone), * a server operator, the room's prefix(es) of the
    member (C{every} one, for multi-prefix), B a bot.
    """
    flags = ("G" if target.away else "H") + ("*" if target.operator else "")
    flags += member_prefix(ranks(room, target), every)
    if "B" in target.modes:
        flags += "B"
    return flags


def send_who(
    client: IRCProtocol,
    room: str,
    target: UserView,
    options: WhoOptions = WhoOptions(),
) -> None:
    """One WHO line: C{target}, seen in C{room} (or in none)."""
    if options.operators and not target.operator:
        return
    shown = channel(room) if room else "*"
    flags = who_flags(room, target, "multi-prefix" in client.caps)
    if not options.fields:
        client.reply(
            irc.RPL_WHOREPLY,
            shown,
            user_name(target),
            HOST,
            client.server_name,
            target.nick,
            flags,
            "0 " + target.realname,
        )
        return
    values = {
        "t": options.token,
        "c": shown,
        "u": user_name(target),
        "i": HIDDEN_ADDRESS,
        "h": HOST,
        "s": client.server_name,
        "n": target.nick,
        "f": flags,
        "d": "0",  # hops: one server
        "l": "0",  # idle time: not kept
        "a": "0",  # account: there are no accounts
        "o": "n/a",  # channel op level, as ircu says it
        "r": target.realname,
    }
    client.reply(RPL_WHOSPCRPL, *(values[field] for field in options.fields))


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
    every = "multi-prefix" in client.caps
    viewer = client.registered_session()
    rooms = [
        member_prefix(ranks(room, target), every) + channel(room)
        for room in target.rooms
        if may_see(client, room, viewer)  # a secret room: its members only
    ]
    if rooms:
        client.reply(irc.RPL_WHOISCHANNELS, target.nick, " ".join(rooms))
    client.reply(irc.RPL_WHOISSERVER, target.nick, client.server_name, "twistedchat")
    if target.operator:
        client.reply(irc.RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
    if "B" in target.modes:
        client.reply(RPL_WHOISBOT, target.nick, "is a bot")
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


def may_see(client: IRCProtocol, room: str, viewer: Session) -> bool:
    """Whether C{viewer} may see room C{room} (not a secret one it is not in)."""
    try:
        client.factory.service.room(room, viewer)
    except errors.NoSuchRoom:
        return False
    return True


def ranks(room: str, target: UserView) -> str:
    """The prefixes of C{target}'s status in C{room}, highest first."""
    return room_ranks(room in target.operates, room in target.voiced)


def room_ranks(operator: bool, voiced: bool) -> str:
    """The prefixes of a member's status (ISUPPORT's PREFIX=(ov)@+): C{"@+"}..."""
    return ("@" if operator else "") + ("+" if voiced else "")


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


async def irc_SETNAME(client: IRCProtocol, params: list[str]) -> None:
    """
    A new real name (IRCv3 setname): those sharing a room with you, and
    you, see SETNAME if they asked for it; WHOIS and WHO show it.
    """
    realname = params[0] if params else ""
    try:
        service, session = client.factory.service, client.registered_session()
        await maybeDeferred(service.act, set_realname, session, realname)
    except errors.InvalidRealname as e:
        client.send(client.server_name, "FAIL", "SETNAME", "INVALID_REALNAME", str(e))


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


async def irc_user_MODE(client: IRCProtocol, params: list[str]) -> None:
    """
    C{MODE <nick> [changes]}: your own modes (221), or changes to them,
    echoed as a MODE line when they change something. C{+o} is ignored
    (OPER makes operators), unknown letters get 501 (the known ones are
    applied), and another user's nick 502.
    """
    service = client.factory.service
    session = client.registered_session()
    target = params[0]
    if not service.nick_taken(target):
        client.reply(irc.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    if service.user(target).user.id != session.user.id:
        client.reply(irc.ERR_USERSDONTMATCH, "Cannot change mode for other users")
        return
    if len(params) == 1:
        client.reply(irc.RPL_UMODEIS, user_modes(service.user_of(session)))
        return
    changes, unknown = parse_user_modes(params[1])
    made = await maybeDeferred(service.act, change_user_modes, session, changes)
    if made:
        client.send(prefix(session.user), "MODE", session.nick, join_modes(made))
        # What its messages carry from now on (the bot tag): known here, as
        # only this connection changes its modes, not looked up per message.
        client.bot = "B" in service.user_of(session).modes
    if unknown:
        client.reply(irc.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")


def user_modes(target: UserView) -> str:
    """A user's modes as 221 gives them: C{+Bio}, or C{+} for none."""
    letters = set(target.modes) | ({"o"} if target.operator else set())
    return "+" + "".join(sorted(letters))


def parse_user_modes(text: str) -> tuple[list[str], bool]:
    """C{"+iB-x"} as C{["+i", "+B"]}, and whether an unknown letter was left out."""
    changes: list[str] = []
    unknown = False
    sign = "+"
    for letter in text:
        if letter in "+-":
            sign = letter
        elif letter in USER_MODES:
            changes.append(sign + letter)
        else:
            unknown = True
    return changes, unknown


def join_modes(changes: tuple[str, ...]) -> str:
    """C{("+i", "+B", "-o")} as C{"+iB-o"}."""
    text, sign = "", ""
    for change in changes:
        if change[0] != sign:
            sign = change[0]
            text += sign
        text += change[1]
    return text
