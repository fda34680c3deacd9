"""
WHOWAS: who had a nick before, in a bounded memory.

Each time a user leaves the chat (its last session gone) or changes its nick,
the core notes who had the nick it gave up: the nick, the user name and real
name its client gave, the address it came from and when. The memory keeps
the last L{DEFAULT_SIZE} such departures (the oldest are forgotten first);
a question names a nick, in any case, and gets its holders newest first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from .names import fold_nick
from .state import UserRecord

DEFAULT_SIZE = 4096  # departures remembered


@dataclass(frozen=True, slots=True)
class Departed:
    """Someone who had a nick, and gave it up at C{time}."""

    nick: str
    user_id: str  # the identity that had it
    username: str  # what the client gave as its user name ("" if none)
    host: str  # the address it came from ("" if none)
    realname: str  # what the client gave as its real name, else the nick
    time: float


class Whowas:
    """The last departures, newest first when asked."""

    def __init__(self, clock: IReactorTime, size: int = DEFAULT_SIZE) -> None:
        self.clock = clock
        self._departed: deque[tuple[str, Departed]] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._departed)

    def record(self, record: UserRecord, host: str = "") -> None:
        """C{record}'s user gives up its current nick (leaving or renamed)."""
        nick = record.user.nick
        departed = Departed(
            nick,
            record.user.id,
            record.username,
            host,
            record.realname or nick,
            self.clock.seconds(),
        )
        self._departed.append((fold_nick(nick), departed))

    def lookup(self, nick: str, count: int = 0) -> list[Departed]:
        """
        Who had C{nick} (in any case), newest first: C{count} of them at
        most, all of them if C{count} is not positive.
        """
        key = fold_nick(nick)
        found = []
        for folded, departed in reversed(self._departed):
            if folded == key:
                found.append(departed)
                if len(found) == count:
                    break
        return found
