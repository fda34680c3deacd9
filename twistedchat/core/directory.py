"""
The chat's users as a whole: who a search finds, each user's own modes, and
how many there are.

A search (IRC's C{WHO} with a mask) goes over every user present; a user
who made themselves invisible (mode C{i}) is found only by those sharing a
room with them, and by themselves. Their own modes, as IRC names them, are
the user's to set: C{i} invisible, C{B} a bot (what IRCv3's bot mode
shows), and C{o}, a server operator, which only OPER gives and which its
holder may give up. L{Directory} is the service's (C{service.directory}):
it reads and changes the state, never a session's connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .errors import UnknownUserMode
from .names import fold_nick, fold_room
from .session import Session
from .state import IChatState, UserRecord
from .views import ServerCounts, UserView, user_view

if TYPE_CHECKING:
    from .service import ChatService

USER_MODES = "iBo"  # the letters a user's own modes are made of
SETTABLE = frozenset("iB")  # those a user sets and unsets at will


def matcher(mask: str) -> Callable[[str], bool]:
    """
    Whether a text matches C{mask}, where C{*} stands for any characters and
    C{?} for any one, compared as nicks are (RFC 1459 case mapping).
    """
    pattern = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
        for ch in fold_nick(mask)
    )
    compiled = re.compile(pattern, re.DOTALL)
    return lambda text: compiled.fullmatch(fold_nick(text)) is not None


def is_mask(text: str) -> bool:
    """Whether C{text} holds a wildcard (C{*} or C{?})."""
    return "*" in text or "?" in text


class Directory:
    """Every user present, searched and counted; their own modes."""

    def __init__(self, state: IChatState) -> None:
        self._state = state

    def search(
        self, seeker: Session, mask: str, everyone: bool = False
    ) -> list[UserView]:
        """
        The users C{seeker} may find whose nick, user name or real name
        matches C{mask} (all of them if C{everyone}: the caller found that
        the mask matches what every user shares, such as the server's
        name), in no particular order. Invisible users are left out unless
        they share a room with C{seeker}, or are C{seeker}'s user.
        """
        match = matcher(mask)
        own = self._state.user(seeker.user.id)
        rooms = own.rooms.keys() if own is not None else {}.keys()
        found = []
        for record in list(self._state.users()):
            if (
                "i" in record.modes
                and record.user.id != seeker.user.id
                and rooms.isdisjoint(record.rooms)
            ):
                continue
            if everyone or any(
                match(text)
                for text in (record.user.nick, record.username, record.realname)
                if text
            ):
                found.append(self._view(record))
        return found

    def sees(self, seeker: Session, target: UserView) -> bool:
        """Whether C{seeker} may find C{target} other than by its nick."""
        if "i" not in target.modes or target.user.id == seeker.user.id:
            return True
        own = self._state.user(seeker.user.id)
        return own is not None and not own.rooms.keys().isdisjoint(
            fold_room(name) for name in target.rooms
        )

    def change_modes(self, session: Session, changes: Sequence[str]) -> tuple[str, ...]:
        """
        Apply C{changes} (C{"+i"}, C{"-B"}, C{"-o"}...) to C{session}'s user;
        the changes that changed something, in order. C{+o} changes nothing
        (only OPER makes an operator); any letter not in L{USER_MODES} is
        refused with L{UnknownUserMode} before anything changes.
        """
        for signed in changes:
            if len(signed) != 2 or signed[0] not in "+-" or signed[1] not in USER_MODES:
                raise UnknownUserMode(signed)
        record = self._record(session)
        modes = set(record.modes)
        operator = record.operator
        made: list[str] = []
        for signed in changes:
            on, letter = signed[0] == "+", signed[1]
            if letter == "o":
                if not on and operator is not None:
                    operator = None
                    made.append(signed)
            elif (letter in modes) != on:
                (modes.add if on else modes.discard)(letter)
                made.append(signed)
        if frozenset(modes) != record.modes:
            self._state.set_user_modes(record.user.id, frozenset(modes))
        if operator != record.operator:
            self._state.set_operator(record.user.id, operator)
        return tuple(made)

    def counts(self) -> ServerCounts:
        """How many users, operators, invisible users and rooms there are."""
        users = list(self._state.users())
        operators = sum(1 for record in users if record.operator)
        invisible = sum(1 for record in users if "i" in record.modes)
        return ServerCounts(len(users), operators, self._state.room_count(), invisible)

    def _record(self, session: Session) -> UserRecord:
        record = self._state.user(session.user.id)
        assert record is not None, f"{session!r} is not connected"
        return record

    def _view(self, record: UserRecord) -> UserView:
        return user_view(record, [self._state.room(key) for key in record.rooms])


def change_user_modes(
    service: ChatService, session: Session, changes: Sequence[str]
) -> tuple[str, ...]:
    """L{Directory.change_modes}, as a command of the service (its C{act})."""
    return service.directory.change_modes(session, changes)
