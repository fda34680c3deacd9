"""
How an IRC client becomes a chat session, and leaves: PASS, CAP, NICK, USER,
QUIT, and the welcome (001 to 005, LUSERS, MOTD).

A client registers once it has given a nick and a user name and is not in
the middle of a capability negotiation (CAP LS or REQ, until CAP END); only
then does the core connect a session for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from twisted.internet.defer import maybeDeferred
from twisted.words.protocols import irc

from ... import __version__
from ...core import errors
from ...core.names import is_valid_nick
from .capabilities import advertised, requested, split_lines
from .numerics import ERR_INVALIDCAPCMD
from .render import clean
from .server import (
    ARGUMENT_MODES,
    CHANNEL_MODES,
    irc_LUSERS,
    irc_MOTD,
    send_isupport,
)

if TYPE_CHECKING:
    from .protocol import IRCProtocol


def irc_PASS(client: IRCProtocol, params: list[str]) -> None:
    pass  # No server password: a PASS before registering is accepted and unused.


async def irc_CAP(client: IRCProtocol, params: list[str]) -> None:
    sub = params[0].upper()
    reply = CAP_REPLIES.get(sub)
    if reply is None:
        client.reply(ERR_INVALIDCAPCMD, sub, "Invalid CAP command")
        return
    reply(client, params[1:])
    if sub == "END":
        client.negotiating = False
        await register(client)


def cap_LS(client: IRCProtocol, params: list[str]) -> None:
    """
    The capabilities offered; to a client of CAP 302 and later, with their
    values, over several lines if need be, and cap-notify held from then on.
    """
    if client.session is None:
        client.negotiating = True
    try:
        version = int(params[0]) if params else 0
    except ValueError:
        version = 0
    if version >= 302:
        client.cap_version = max(client.cap_version, version)
        client.hold(client.caps | {"cap-notify"})
    send_cap_list(client, "LS", advertised(client.cap_version))


def cap_LIST(client: IRCProtocol, params: list[str]) -> None:
    send_cap_list(client, "LIST", sorted(client.caps))


def send_cap_list(client: IRCProtocol, sub: str, names: list[str]) -> None:
    """C{names} in one CAP line, or, for CAP 302 clients, several: C{*} but on the last."""
    lines = split_lines(names) if client.cap_version >= 302 else [" ".join(names)]
    for index, line in enumerate(lines):
        more = ["*"] if index < len(lines) - 1 else []
        client.send(client.server_name, "CAP", client.nick, sub, *more, line)


def cap_REQ(client: IRCProtocol, params: list[str]) -> None:
    """All the capabilities asked for (C{-name}: one given up), or none of them."""
    if client.session is None:
        client.negotiating = True
    request = params[0] if params else ""
    caps = requested(client.caps, request)
    if caps is None:
        client.send(client.server_name, "CAP", client.nick, "NAK", request)
        return
    # Acknowledged before the first event rendered anew.
    client.send(client.server_name, "CAP", client.nick, "ACK", request)
    client.hold(caps)


def cap_END(client: IRCProtocol, params: list[str]) -> None:
    pass  # irc_CAP registers the client, if it had said enough


CAP_REPLIES: Mapping[str, Callable[[IRCProtocol, list[str]], None]] = {
    "LS": cap_LS,
    "LIST": cap_LIST,
    "REQ": cap_REQ,
    "END": cap_END,
}


async def irc_NICK(client: IRCProtocol, params: list[str]) -> None:
    if not params or not params[0]:
        client.reply(irc.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    if client.session is not None:
        session = client.session
        await maybeDeferred(client.factory.service.change_nick, session, params[0])
        client.nick = session.nick
        return
    wanted = params[0]
    if not is_valid_nick(wanted):
        client.reply(irc.ERR_ERRONEUSNICKNAME, wanted, "Erroneous nickname")
    elif client.factory.service.nick_taken(wanted):
        client.reply(irc.ERR_NICKNAMEINUSE, wanted, "Nickname is already in use")
    else:
        client.nick = wanted
        await register(client)


async def irc_USER(client: IRCProtocol, params: list[str]) -> None:
    client.username = params[0][:10]
    client.realname = params[3]
    await register(client)


async def register(client: IRCProtocol) -> None:
    """
    Connect the client's session, once it has said all it had to. The nick
    claim is awaited: with a shared state it would be answered later (the
    client's next lines wait meanwhile).
    """
    if client.session is not None or client.negotiating:
        return
    if client.nick == "*" or not client.username:
        return
    service = client.factory.service
    try:
        session = await maybeDeferred(
            service.connect,
            client,
            client.nick,
            realname=client.realname,
            username=client.username,
            host=client.host,
        )
    except errors.ChatError as e:
        client.refused(e)
        client.nick = "*"
        return
    if not client.adopt(session):
        return
    client.registered()
    client.log.info('client "{peer}" => "{nick}"', peer=client.peer, nick=client.nick)
    welcome(client)


def welcome(client: IRCProtocol) -> None:
    client.reply(
        irc.RPL_WELCOME, f"Welcome to the twistedchat IRC network, {client.nick}"
    )
    client.reply(
        irc.RPL_YOURHOST,
        f"Your host is {client.server_name}, running twistedchat {__version__}",
    )
    client.reply(irc.RPL_CREATED, f"This server was created {client.factory.started}")
    client.reply(
        irc.RPL_MYINFO,
        client.server_name,
        __version__,
        "Bio",
        CHANNEL_MODES,
        ARGUMENT_MODES,
    )
    send_isupport(client)
    irc_LUSERS(client, [])
    irc_MOTD(client, [])


def irc_QUIT(client: IRCProtocol, params: list[str]) -> None:
    message = params[0] if params else ""
    if client.session is not None:
        client.factory.service.disconnect(client.session, message)
        client.session = None
    # As ircd-hybrid, ratbox and solanum say it: without a message, "Client Quit".
    why = f"Quit: {clean(message)}" if message else "Client Quit"
    client.send_line(f"ERROR :Closing Link: {client.peer} ({why})")
    client.disconnect()
