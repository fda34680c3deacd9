"""
Watching nicks (IRC's MONITOR): who wants to be told when a nick comes or goes.

A session may watch up to L{Watch.limit} nicks, taken or not; each time a
nick is taken (its user connects, or renames to it) or given up (its user's
last session leaves, or renames away from it), the sessions watching it are
told through the listener they gave, a plain callable, whatever front the
user who took or gave up the nick came through. L{Presence} tells the watch
of those moments; a nick's watchers are found in a dict, so connecting,
leaving and renaming cost one lookup each, never a walk of the sessions. A
change of case only is no news (the nick stays its user's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.logger import Logger

from . import errors
from .events import User
from .names import fold_nick, is_valid_nick
from .session import Session

DEFAULT_LIMIT = 100  # nicks one session may watch (ISUPPORT's MONITOR=100)

# A listener is told a nick's news: C{(nick, user)} when C{user} took it,
# C{(nick, None)} when nobody has it any more (C{nick} as it was spelt).
Listener = Callable[[str, User | None], None]


class Watch:
    """The nicks each session watches, and the sessions watching each nick."""

    log = Logger()

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._watchers: dict[str, dict[Session, Listener]] = {}
        self._watched: dict[Session, dict[str, str]] = {}  # folded -> as given

    def add(self, session: Session, nick: str, listener: Listener) -> bool:
        """
        C{session} watches C{nick}, its news told to C{listener}: False, and
        nothing done, if it watches L{limit} nicks already;
        L{errors.InvalidNick} for what cannot be a nick (a mask, say).
        """
        if not is_valid_nick(nick):
            raise errors.InvalidNick(nick)
        key = fold_nick(nick)
        watched = self._watched.get(session, {})
        if key not in watched:
            if len(watched) >= self.limit:
                return False
            watched[key] = nick
            self._watched[session] = watched
        self._watchers.setdefault(key, {})[session] = listener
        return True

    def remove(self, session: Session, nicks: Iterable[str]) -> None:
        """C{session} no longer watches C{nicks} (those it did not, it still does not)."""
        watched = self._watched.get(session)
        if watched is None:
            return
        for nick in nicks:
            key = fold_nick(nick)
            if watched.pop(key, None) is not None:
                self._unwatch(key, session)
        if not watched:
            del self._watched[session]

    def clear(self, session: Session) -> None:
        """C{session} watches nothing any more (it left, or asked)."""
        for key in self._watched.pop(session, {}):
            self._unwatch(key, session)

    def watched(self, session: Session) -> list[str]:
        """The nicks C{session} watches, spelt as it gave them, in that order."""
        return list(self._watched.get(session, {}).values())

    def taken(self, user: User) -> None:
        """C{user} now has its nick: its watchers are told."""
        self._tell(user.nick, user)

    def given_up(self, nick: str) -> None:
        """Nobody has C{nick} any more: its watchers are told."""
        self._tell(nick, None)

    def _tell(self, nick: str, user: User | None) -> None:
        watchers = self._watchers.get(fold_nick(nick))
        if not watchers:
            return
        for session, listener in list(watchers.items()):
            try:
                listener(nick, user)
            except Exception:
                # One broken watcher never keeps the others from hearing.
                self.log.failure(
                    "telling {watcher} about {nick} failed",
                    watcher=session.nick,
                    nick=nick,
                )

    def _unwatch(self, key: str, session: Session) -> None:
        watchers = self._watchers[key]
        del watchers[session]
        if not watchers:
            del self._watchers[key]
