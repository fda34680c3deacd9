"""
Server operator credentials: who may become a server operator (OPER), with
wrong guesses spaced out.

The core asks an L{OperCheck} whether a name and password are an operator's;
the credentials themselves are a Twisted cred checker's business (the
server's is a file of hashed passwords, checked in a thread), so the answer
comes later, as a Deferred.
"""

from __future__ import annotations

from typing import Any, NoReturn

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from .errors import InvalidCredentials, NoOperators, OperThrottled
from .session import Session

OPER_FREE_ATTEMPTS = 3  # failed OPERs before attempts are spaced out
OPER_MAX_DELAY = 300.0  # seconds


class OperCheck:
    """Checks OPER attempts against the operators' credentials."""

    log = Logger()

    def __init__(self, checker: ICredentialsChecker | None, clock: IReactorTime):
        self.checker = checker
        self.clock = clock

    def check(self, session: Session, name: str, password: str) -> Deferred[str]:
        """
        Fires with the operator name if C{name} and C{password} are an
        operator's, or fails with L{InvalidCredentials}. Raises
        L{NoOperators} or, after too many misses, L{OperThrottled}.
        """
        if self.checker is None:
            raise NoOperators()
        wait = session.oper_blocked_until - self.clock.seconds()
        if wait > 0:
            raise OperThrottled(wait)
        credentials = UsernamePassword(name.encode("utf-8"), password.encode("utf-8"))
        checking: Deferred[Any] = maybeDeferred(
            self.checker.requestAvatarId, credentials
        )

        def granted(avatar_id: bytes | str) -> str:
            if isinstance(avatar_id, bytes):
                return avatar_id.decode("utf-8")
            return avatar_id

        def refused(failure: Failure) -> NoReturn:
            failure.trap(UnauthorizedLogin)
            self.log.warn(
                "failed OPER attempt by {nick} as {name}", nick=session.nick, name=name
            )
            # After a few misses, each attempt waits longer: no guessing race.
            session.oper_failures += 1
            if session.oper_failures >= OPER_FREE_ATTEMPTS:
                delay = min(
                    OPER_MAX_DELAY,
                    10 * 2 ** (session.oper_failures - OPER_FREE_ATTEMPTS),
                )
                session.oper_blocked_until = self.clock.seconds() + delay
            raise InvalidCredentials()

        return checking.addCallbacks(granted, refused)
