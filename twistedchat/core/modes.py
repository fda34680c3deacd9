"""
Room modes, as IRC names them: what a list of changes does to a room.

C{t}: only operators set the topic (on by default); C{n}: no messages from
outside the room; C{m}: moderated, only operators speak; C{o <nick>}: make a
member an operator of the room. L{plan} works out what C{changes} would do,
without changing anything: the service then has the state make them all, or
none if one is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import MissingModeArgument, UnknownMode, UserNotInRoom
from .state import RoomRecord, UserRecord

LETTERS = "otnm"


@dataclass(frozen=True)
class ModePlan:
    """What a list of changes does: the room's modes after, who gains or loses
    operator rights, and the changes that change something."""

    modes: frozenset[str]
    operators: dict[str, bool]  # user id -> operator after, for those changed
    made: tuple[tuple[str, str], ...]


def plan(
    room: RoomRecord,
    changes: Sequence[tuple[str, str]],
    find: Callable[[str], UserRecord],
) -> ModePlan:
    """
    What IRC-style C{changes} (C{("+o", nick)}, C{("-t", "")}...) do to
    C{room}, with C{find(nick)} for the users named; raises a L{ChatError}
    for the first change that cannot be made.
    """
    modes = set(room.modes)
    operators: dict[str, bool] = {}
    made: list[tuple[str, str]] = []
    for signed, argument in changes:
        sign, letter = signed[:1], signed[1:]
        if sign not in "+-" or len(signed) != 2 or letter not in LETTERS:
            raise UnknownMode(signed)
        on = sign == "+"
        if letter == "o":
            if not argument:
                raise MissingModeArgument(signed)
            target = find(argument).user
            if target.id not in room.members:
                raise UserNotInRoom(target.nick, room.name)
            if operators.get(target.id, target.id in room.operators) != on:
                operators[target.id] = on
                made.append((signed, target.nick))
        elif (letter in modes) != on:
            (modes.add if on else modes.discard)(letter)
            made.append((signed, ""))
    return ModePlan(frozenset(modes), operators, tuple(made))
