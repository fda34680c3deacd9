"""
Server operators: OPER, whose password check answers later (the core hashes
in a thread), and KILL. That only operators may KILL is the core's rule.
"""

from __future__ import annotations

from twisted.python.failure import Failure
from twisted.words.protocols import irc

from ...core import errors
from .numerics import ERR_UNKNOWNERROR
from .protocol import IRCProtocol
from .render import clean


def irc_OPER(client: IRCProtocol, params: list[str]) -> None:
    checking = client.factory.service.oper(
        client.registered_session(), params[0], params[1]
    )

    def granted(operator: str) -> None:
        client.reply(irc.RPL_YOUREOPER, "You are now an IRC operator")

    def refused(failure: Failure) -> None:
        if failure.check(errors.ChatError):
            client.reply(irc.ERR_PASSWDMISMATCH, "Password incorrect")
        else:
            client.log.failure("OPER check failed", failure)
            client.reply(ERR_UNKNOWNERROR, "OPER", "Internal error, try again later")

    checking.addCallbacks(granted, refused)


def irc_KILL(client: IRCProtocol, params: list[str]) -> None:
    message = params[1] if len(params) > 1 else "Killed by an operator"
    victim = client.factory.service.find(params[0])
    session = client.registered_session()
    shared = not victim.rooms.keys().isdisjoint(session.rooms)
    event = client.factory.service.kill(session, victim.nick, message)
    if shared:  # the fan-out leaves the actor out; its channels must update
        client.deliver(event)
    if isinstance(victim.client, IRCProtocol):
        why = f"Killed ({event.by.nick} ({clean(message)}))"
        victim.client.send_line(f"ERROR :Closing Link: {victim.client.peer} ({why})")
