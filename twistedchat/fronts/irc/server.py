"""
Questions about the server itself, and keeping the connection alive: LUSERS,
MOTD, PING and PONG.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.words.protocols import irc

from .render import SERVER

if TYPE_CHECKING:
    from .protocol import IRCProtocol


def irc_LUSERS(client: IRCProtocol, params: list[str]) -> None:
    counts = client.factory.service.counts()
    client.reply(
        irc.RPL_LUSERCLIENT,
        f"There are {counts.users} users and 0 invisible on 1 server",
    )
    client.reply(irc.RPL_LUSEROP, str(counts.operators), "operator(s) online")
    client.reply(irc.RPL_LUSERCHANNELS, str(counts.rooms), "channels formed")
    client.reply(irc.RPL_LUSERME, f"I have {counts.users} clients and 0 servers")


def irc_MOTD(client: IRCProtocol, params: list[str]) -> None:
    client.reply(irc.RPL_MOTDSTART, f"- {SERVER} Message of the day -")
    for text in client.factory.motd:
        client.reply(irc.RPL_MOTD, f"- {text}")
    client.reply(irc.RPL_ENDOFMOTD, "End of /MOTD command.")


def irc_PING(client: IRCProtocol, params: list[str]) -> None:
    if not params:
        client.reply(irc.ERR_NOORIGIN, "No origin specified")
        return
    client.send(SERVER, "PONG", SERVER, params[0])


def irc_PONG(client: IRCProtocol, params: list[str]) -> None:
    pass  # any traffic shows the client is alive
