"""
Server operators: OPER, whose password check answers later (the core hashes
in a thread), and KILL. That only operators may KILL is the core's rule, and
what the victim is told is its own front's business.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure
from twisted.words.protocols import irc

from ...core import errors
from .numerics import ERR_UNKNOWNERROR
from .protocol import IRCProtocol
from .render import prefix


def irc_OPER(client: IRCProtocol, params: list[str]) -> Deferred[None]:
    """
    381 and, for one who was not an operator yet, the user mode C{+o}, as
    a MODE line; the connection's next commands wait for the answer.
    """
    session = client.registered_session()
    was = client.is_server_operator()
    checking = client.factory.service.oper(session, params[0], params[1])

    def granted(operator: str) -> None:
        client.reply(irc.RPL_YOUREOPER, "You are now an IRC operator")
        if not was and session.connected:
            client.send(prefix(session.user), "MODE", session.nick, "+o")

    def refused(failure: Failure) -> None:
        if failure.check(errors.ChatError):
            client.reply(irc.ERR_PASSWDMISMATCH, "Password incorrect")
        else:
            client.log.failure("OPER check failed", failure)
            client.reply(ERR_UNKNOWNERROR, "OPER", "Internal error, try again later")

    return checking.addCallbacks(granted, refused)


async def irc_KILL(client: IRCProtocol, params: list[str]) -> None:
    message = params[1] if len(params) > 1 else "Killed by an operator"
    # The victim's own front says its farewell (IRCProtocol.deliver, here).
    service = client.factory.service
    await maybeDeferred(service.kill, client.registered_session(), params[0], message)
