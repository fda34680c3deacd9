"""
Questions about the server itself, and keeping the connection alive: LUSERS,
MOTD, TIME, VERSION (with the ISUPPORT lines), INFO, ADMIN, LINKS, PING and
PONG.

TIME, VERSION, INFO and ADMIN may name a server: this one (its name, or a
mask matching it) or a user's nick (every user is on this server); any other
name is answered with 402, as there is no other server.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from twisted.words.protocols import irc

from ... import __version__
from ...core import errors
from ...core.modes import FLAGS, KEY_MAX_LENGTH, LETTERS, LIST_MAX, LISTS, RANKS
from . import history
from .numerics import RPL_GLOBALUSERS, RPL_LOCALUSERS

if TYPE_CHECKING:
    from .protocol import IRCProtocol

# Lengths announced in 005 (ISUPPORT), and kept to: longer ones are cut.
TOPICLEN, KICKLEN, AWAYLEN = 390, 390, 200
VERSION = f"twistedchat-{__version__}"
ISUPPORT_TOKENS = 13  # a 005 line's: with the nick and the text, 15 parameters
# The channel modes (the core's room modes), as 004 and CHANMODES tell them.
CHANNEL_MODES = "".join(sorted(LETTERS, key=str.lower))
ARGUMENT_MODES = "".join(sorted(LISTS + RANKS + "kl", key=str.lower))
CHANMODES = f"CHANMODES={LISTS},k,l,{''.join(sorted(FLAGS))}"


def irc_LUSERS(client: IRCProtocol, params: list[str]) -> None:
    counts = client.factory.service.counts()
    visible = counts.users - counts.invisible
    client.reply(
        irc.RPL_LUSERCLIENT,
        f"There are {visible} users and {counts.invisible} invisible on 1 server",
    )
    client.reply(irc.RPL_LUSEROP, str(counts.operators), "operator(s) online")
    client.reply(irc.RPL_LUSERCHANNELS, str(counts.rooms), "channels formed")
    client.reply(irc.RPL_LUSERME, f"I have {counts.users} clients and 0 servers")
    # Modern IRC's 265 and 266, in their short form (no peak is counted).
    client.reply(RPL_LOCALUSERS, f"Current local users: {counts.users}")
    client.reply(RPL_GLOBALUSERS, f"Current global users: {counts.users}")


def irc_MOTD(client: IRCProtocol, params: list[str]) -> None:
    client.reply(irc.RPL_MOTDSTART, f"- {client.server_name} Message of the day -")
    for text in client.factory.motd:
        client.reply(irc.RPL_MOTD, f"- {text}")
    client.reply(irc.RPL_ENDOFMOTD, "End of /MOTD command.")


def is_here(client: IRCProtocol, params: list[str]) -> bool:
    """
    Whether the server C{params} name, if any, is this one; 402 otherwise.
    Server names are matched without regard to case, masks allowed.
    """
    if not params or not params[0]:
        return True
    target = params[0]
    if fnmatchcase(client.server_name.lower(), target.lower()):
        return True
    try:
        client.factory.service.user(target)
    except errors.ChatError:
        client.reply(irc.ERR_NOSUCHSERVER, target, "No such server")
        return False
    return True


def irc_TIME(client: IRCProtocol, params: list[str]) -> None:
    if not is_here(client, params):
        return
    now = time.gmtime(client.factory.service.clock.seconds())
    stamp = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", now)
    client.reply(irc.RPL_TIME, client.server_name, stamp)


def irc_VERSION(client: IRCProtocol, params: list[str]) -> None:
    """The version (351), then the ISUPPORT lines, as Ergo and ngIRCd do."""
    if not is_here(client, params):
        return
    client.reply(
        irc.RPL_VERSION,
        VERSION,
        client.server_name,
        "a chat service built on Twisted",
    )
    send_isupport(client)


def irc_INFO(client: IRCProtocol, params: list[str]) -> None:
    if not is_here(client, params):
        return
    for text in (
        f"{VERSION}: a chat service built on Twisted.",
        "IRC, netcat and twistedchat users share the same rooms.",
        f"This server was started {client.factory.started}.",
    ):
        client.reply(irc.RPL_INFO, text)
    client.reply(irc.RPL_ENDOFINFO, "End of /INFO list.")


def irc_ADMIN(client: IRCProtocol, params: list[str]) -> None:
    if not is_here(client, params):
        return
    client.reply(irc.RPL_ADMINME, client.server_name, "Administrative info")
    client.reply(irc.RPL_ADMINLOC1, f"{client.server_name}, a twistedchat server")
    client.reply(irc.RPL_ADMINLOC2, "No administrator details are configured")
    client.reply(irc.RPL_ADMINEMAIL, "No contact address is configured")


def irc_LINKS(client: IRCProtocol, params: list[str]) -> None:
    """
    The servers linked: this one alone (364, no hop away, its description),
    if it matches the mask (the last parameter, if any); then 365.
    """
    mask = params[-1] if params and params[-1] else "*"
    if fnmatchcase(client.server_name.lower(), mask.lower()):
        name = client.server_name
        client.reply(irc.RPL_LINKS, name, name, f"0 {client.factory.server_info}")
    client.reply(irc.RPL_ENDOFLINKS, mask, "End of /LINKS list.")


def chanlimit(rooms: int) -> list[str]:
    """ISUPPORT's CHANLIMIT token: how many channels a client may join."""
    return [f"CHANLIMIT=#:{rooms}"] if rooms else []


def send_isupport(client: IRCProtocol) -> None:
    """
    The 005 (ISUPPORT) lines: what this server offers and its limits, at
    most L{ISUPPORT_TOKENS} tokens a line (15 parameters an IRC line).
    """
    service = client.factory.service
    tokens = [
        "CASEMAPPING=rfc1459",
        "CHANTYPES=#",
        *chanlimit(service.max_rooms),
        CHANMODES,
        "EXCEPTS=e",
        "INVEX=I",
        f"MAXLIST=beI:{LIST_MAX}",
        f"KEYLEN={KEY_MAX_LENGTH}",
        "PREFIX=(ov)@+",
        "NICKLEN=30",
        "CHANNELLEN=51",
        f"TOPICLEN={TOPICLEN}",
        f"KICKLEN={KICKLEN}",
        f"AWAYLEN={AWAYLEN}",
        "MODES=4",
        "NETWORK=twistedchat",
        "WHOX",
        "BOT=B",
        *history.ISUPPORT,
        f"MONITOR={service.watch.limit}",
        # Commands that take several targets, without a limit but the pace
        # of flood control (each one more is paid for as a command).
        "TARGMAX=JOIN:,KICK:,NAMES:,NOTICE:,PART:,PRIVMSG:",
        "UTF8ONLY",  # a line that is not UTF-8 is refused (FAIL INVALID_UTF8)
        "ELIST=MNU",  # LIST's filters: masks, masks not matched, member counts
        "STATUSMSG=@",  # PRIVMSG @#room: to the room's operators alone
    ]
    for start in range(0, len(tokens), ISUPPORT_TOKENS):
        chunk = tokens[start : start + ISUPPORT_TOKENS]
        client.reply(irc.RPL_ISUPPORT, *chunk, "are supported by this server")


def irc_PING(client: IRCProtocol, params: list[str]) -> None:
    if not params:
        client.reply(irc.ERR_NOORIGIN, "No origin specified")
        return
    client.send(client.server_name, "PONG", client.server_name, params[0])


def irc_PONG(client: IRCProtocol, params: list[str]) -> None:
    pass  # any traffic shows the client is alive
