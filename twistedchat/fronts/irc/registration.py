"""
How an IRC client becomes a chat session, and leaves: PASS, CAP, NICK, USER,
QUIT, and the welcome (001 to 005, LUSERS, MOTD).

A client registers once it has given a nick and a user name and is not in
the middle of a capability negotiation (CAP LS or REQ, until CAP END); only
then does the core connect a session for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import maybeDeferred
from twisted.words.protocols import irc

from ... import __version__
from ...core import errors
from ...core.names import is_valid_nick
from ..fanout import Fanout
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

CAPABILITIES = ("server-time",)


def irc_PASS(client: IRCProtocol, params: list[str]) -> None:
    pass  # No server password: a PASS before registering is accepted and unused.


async def irc_CAP(client: IRCProtocol, params: list[str]) -> None:
    sub = params[0].upper()
    if sub == "LS":
        if client.session is None:
            client.negotiating = True
        client.send(
            client.server_name, "CAP", client.nick, "LS", " ".join(CAPABILITIES)
        )
    elif sub == "LIST":
        client.send(
            client.server_name,
            "CAP",
            client.nick,
            "LIST",
            "server-time" if client.tagged else "",
        )
    elif sub == "REQ":
        if client.session is None:
            client.negotiating = True
        wanted = (params[1] if len(params) > 1 else "").split()
        if all(cap.lstrip("-") in CAPABILITIES for cap in wanted):
            for cap in wanted:
                client.tagged = not cap.startswith("-")
            delivery = client.factory.service.delivery
            if client.session is not None and isinstance(delivery, Fanout):
                delivery.regroup(client.session)  # its rooms follow
            client.send(client.server_name, "CAP", client.nick, "ACK", " ".join(wanted))
        else:
            client.send(client.server_name, "CAP", client.nick, "NAK", " ".join(wanted))
    elif sub == "END":
        client.negotiating = False
        await register(client)
    else:
        client.reply(ERR_INVALIDCAPCMD, sub, "Invalid CAP command")


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
        "o",
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
