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

from .errors import InvalidCredentials, NoOperators, OperBusy, OperThrottled
from .session import Session

OPER_FREE_ATTEMPTS = 3  # failed OPERs before attempts are spaced out
OPER_MAX_DELAY = 300.0  # seconds
MAX_REMEMBERED = 100_000  # addresses and names whose misses are counted


class OperCheck:
    """
    Checks OPER attempts against the operators' credentials, throttled per
    source address and per operator name, whatever the connection: three
    misses are free, then each attempt waits 10 s, doubling up to
    L{OPER_MAX_DELAY}; and one address has at most one check under way, so
    attempts sent at once cost one password hash, not one each.
    """

    log = Logger()

    def __init__(self, checker: ICredentialsChecker | None, clock: IReactorTime):
        self.checker = checker
        self.clock = clock
        # ("address", host) or ("name", name) -> (misses, blocked until)
        self._misses: dict[tuple[str, str], tuple[int, float]] = {}
        self._checking: set[str] = set()  # addresses with a check under way

    def check(self, session: Session, name: str, password: str) -> Deferred[str]:
        """
        Fires with the operator name if C{name} and C{password} are an
        operator's, or fails with L{InvalidCredentials}. Raises
        L{NoOperators}, L{OperThrottled} after too many misses, or
        L{OperBusy} while another check from the same address is under way.
        """
        if self.checker is None:
            raise NoOperators()
        now = self.clock.seconds()
        keys = [("address", session.host), ("name", name)]
        wait = max(self._misses.get(key, (0, 0.0))[1] - now for key in keys)
        if wait > 0:
            raise OperThrottled(wait)
        if session.host in self._checking:
            raise OperBusy()
        self._checking.add(session.host)
        credentials = UsernamePassword(name.encode("utf-8"), password.encode("utf-8"))
        checking: Deferred[Any] = maybeDeferred(
            self.checker.requestAvatarId, credentials
        )

        def checked(result: object) -> object:
            self._checking.discard(session.host)
            return result

        def granted(avatar_id: bytes | str) -> str:
            for key in keys:
                self._misses.pop(key, None)
            if isinstance(avatar_id, bytes):
                return avatar_id.decode("utf-8")
            return avatar_id

        def refused(failure: Failure) -> NoReturn:
            failure.trap(UnauthorizedLogin)
            self.log.warn(
                "failed OPER attempt by {nick} from {host} as {name}",
                nick=session.nick,
                host=session.host,
                name=name,
            )
            for key in keys:
                self._missed(key)
            raise InvalidCredentials()

        return checking.addBoth(checked).addCallbacks(granted, refused)

    def _missed(self, key: tuple[str, str]) -> None:
        """One more miss for C{key}: past the free ones, each waits longer."""
        now = self.clock.seconds()
        if len(self._misses) >= MAX_REMEMBERED:
            self._forget_old(now)
        misses = self._misses.get(key, (0, 0.0))[0] + 1
        blocked_until = 0.0
        if misses >= OPER_FREE_ATTEMPTS:
            delay = min(OPER_MAX_DELAY, 10 * 2 ** (misses - OPER_FREE_ATTEMPTS))
            blocked_until = now + delay
        self._misses[key] = misses, blocked_until

    def _forget_old(self, now: float) -> None:
        """Forget the keys no longer blocked (the memory stays bounded)."""
        for key, (_, blocked_until) in list(self._misses.items()):
            if blocked_until < now:
                del self._misses[key]
