"""
MONITOR (IRCv3): the nicks a client is told about when they come online
(730) or go offline (731), whoever takes or gives them up, through whatever
front. The list itself is the core's watch (L{twistedchat.core.watch}), at
most C{MONITOR=} nicks a connection (ISUPPORT); this module reads the
subcommands (C{+ - C L S}) and says the news as numerics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from twisted.words.protocols import irc

from ...core import errors
from ...core.events import User
from ...core.names import fold_nick
from .numerics import ERR_UNKNOWNERROR
from .render import prefix

if TYPE_CHECKING:
    from .protocol import IRCProtocol

RPL_MONONLINE = "730"
RPL_MONOFFLINE = "731"
RPL_MONLIST = "732"
RPL_ENDOFMONLIST = "733"
ERR_MONLISTFULL = "734"

LIST_WIDTH = 400  # characters of targets a numeric carries, at most


def irc_MONITOR(client: IRCProtocol, params: list[str]) -> None:
    subcommand = SUBCOMMANDS.get(params[0].upper())
    if subcommand is None:
        client.reply(
            ERR_UNKNOWNERROR, "MONITOR", params[0], "Unknown MONITOR subcommand"
        )
        return
    subcommand(client, params[1:])


def add(client: IRCProtocol, params: list[str]) -> None:
    """C{+ a,b}: watch them, and say at once which are online."""
    targets = _targets(client, params)
    service = client.factory.service
    session = client.registered_session()
    tell = partial(notify, client)
    added = []
    for index, nick in enumerate(targets):
        try:
            if not service.watch.add(session, nick, tell):
                client.reply(
                    ERR_MONLISTFULL,
                    str(service.watch.limit),
                    ",".join(targets[index:]),
                    "Monitor list is full.",
                )
                break
        except errors.InvalidNick as e:
            client.refused(e)
            continue
        added.append(nick)
    _status(client, added)


def remove(client: IRCProtocol, params: list[str]) -> None:
    """C{- a,b}: no longer watch them; no reply."""
    targets = _targets(client, params)
    client.factory.service.watch.remove(client.registered_session(), targets)


def clear(client: IRCProtocol, params: list[str]) -> None:
    """C{C}: watch nobody; no reply."""
    client.factory.service.watch.clear(client.registered_session())


def show_list(client: IRCProtocol, params: list[str]) -> None:
    """C{L}: the nicks watched (732), then 733."""
    watched = client.factory.service.watch.watched(client.registered_session())
    for chunk in _chunks(watched):
        client.reply(RPL_MONLIST, chunk)
    client.reply(RPL_ENDOFMONLIST, "End of MONITOR list")


def status(client: IRCProtocol, params: list[str]) -> None:
    """C{S}: which of the nicks watched are online (730), which not (731)."""
    _status(client, client.factory.service.watch.watched(client.registered_session()))


SUBCOMMANDS: dict[str, Callable[[IRCProtocol, list[str]], None]] = {
    "+": add,
    "-": remove,
    "C": clear,
    "L": show_list,
    "S": status,
}


def notify(client: IRCProtocol, nick: str, user: User | None) -> None:
    """The core's news of a nick C{client} watches."""
    if user is None:
        client.reply(RPL_MONOFFLINE, nick)
    else:
        client.reply(RPL_MONONLINE, prefix(user))


def _targets(client: IRCProtocol, params: list[str]) -> list[str]:
    """
    The nicks of C{+} or C{-}, each once (in any case); none (and 461 said)
    if there are none.
    """
    named: dict[str, str] = {}
    for nick in ",".join(params[:1]).split(","):
        if nick:
            named.setdefault(fold_nick(nick), nick)  # the first spelling
    targets = list(named.values())
    if not targets:
        client.reply(irc.ERR_NEEDMOREPARAMS, "MONITOR", "Not enough parameters")
    return targets


def _status(client: IRCProtocol, nicks: list[str]) -> None:
    present = client.factory.service.present(nicks)
    here = {fold_nick(user.nick) for user in present}
    online = [prefix(user.user) for user in present]
    offline = [nick for nick in nicks if fold_nick(nick) not in here]
    for chunk in _chunks(online):
        client.reply(RPL_MONONLINE, chunk)
    for chunk in _chunks(offline):
        client.reply(RPL_MONOFFLINE, chunk)


def _chunks(items: list[str]) -> Iterator[str]:
    """C{items} joined by commas, in pieces short enough for a line each."""
    chunk: list[str] = []
    width = 0
    for item in items:
        if chunk and width + len(item) + 1 > LIST_WIDTH:
            yield ",".join(chunk)
            chunk, width = [], 0
        chunk.append(item)
        width += len(item) + 1
    if chunk:
        yield ",".join(chunk)
