"""
Room modes, as IRC names them: what a list of changes does to a room.

Flags: C{t} only operators set the topic (on by default); C{n} no messages
from outside the room; C{m} moderated, only operators and voiced members
speak; C{i} invite only; C{s} secret, hidden from the listings of those not
in it. Settings: C{k <key>} joining needs the key; C{l <count>} at most that
many members. Members: C{o <nick>} an operator of the room, C{v <nick>} a
voice in it. Lists of masks (L{twistedchat.core.masks}): C{b} bans, C{e}
exceptions to the bans, C{I} those who may join past C{+i}. L{plan} works out
what C{changes} would do, without changing anything; L{apply} then has the
state make them all (the service calls it only if none was refused).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import masks
from .errors import (
    InvalidModeArgument,
    MaskListFull,
    MissingModeArgument,
    UnknownMode,
    UserNotInRoom,
)
from .masks import MaskEntry
from .state import IChatState, RoomRecord, UserRecord

FLAGS = "tnmis"
RANKS = "ov"  # a member's: operator, voice
LISTS = "beI"
SETTINGS = "kl"
LETTERS = FLAGS + RANKS + LISTS + SETTINGS
KEY_MAX_LENGTH = 23  # RFC 2812's
LIMIT_MAX = 1_000_000
LIST_MAX = 100  # masks on each of a room's lists (IRC's MAXLIST)


@dataclass(frozen=True)
class ModePlan:
    """
    What a list of changes does: the room's flags and settings after, who
    gains or loses a rank, which masks go on or off which list, and the
    changes that change something (the event's).
    """

    modes: frozenset[str]
    join_key: str
    limit: int
    ranks: dict[tuple[str, str], bool]  # (o or v, user id) -> on after
    lists: tuple[tuple[str, bool, MaskEntry], ...]  # (b, e or I; on; entry)
    made: tuple[tuple[str, str], ...]


def plan(
    room: RoomRecord,
    changes: Sequence[tuple[str, str]],
    find: Callable[[str], UserRecord],
    by: str = "",
    when: float = 0.0,
) -> ModePlan:
    """
    What IRC-style C{changes} (C{("+o", nick)}, C{("-t", "")}, C{("+l",
    "5")}...) do to C{room}, with C{find(nick)} for the users named; C{by}
    (a mask) and C{when} are kept with the masks put on a list. Raises a
    L{ChatError} for the first change that cannot be made.
    """
    modes = set(room.modes)
    join_key, limit = room.join_key, room.limit
    ranks: dict[tuple[str, str], bool] = {}
    lists: dict[tuple[str, str], tuple[bool, MaskEntry]] = {}
    made: list[tuple[str, str]] = []
    for signed, argument in changes:
        sign, letter = signed[:1], signed[1:]
        if sign not in "+-" or len(signed) != 2 or letter not in LETTERS:
            raise UnknownMode(signed)
        on = sign == "+"
        if letter in RANKS:
            if not argument:
                raise MissingModeArgument(signed)
            target = find(argument).user
            if target.id not in room.members:
                raise UserNotInRoom(target.nick, room.name)
            holders = room.operators if letter == "o" else room.voiced
            if ranks.get((letter, target.id), target.id in holders) != on:
                ranks[letter, target.id] = on
                made.append((signed, target.nick))
        elif letter == "k":
            if not on:
                if join_key:
                    join_key = ""
                    made.append((signed, "*"))
            elif _key(room, argument) != join_key:
                join_key = argument
                made.append((signed, join_key))
        elif letter == "l":
            if not on:
                if limit:
                    limit = 0
                    made.append((signed, ""))
            elif (wanted := _limit(room, argument)) != limit:
                limit = wanted
                made.append((signed, str(limit)))
        elif letter in LISTS:
            entry = _list_change(room, signed, argument, by, when, lists)
            if entry is not None:
                lists[letter, masks.fold(entry.mask)] = (on, entry)
                made.append((signed, entry.mask))
        elif (letter in modes) != on:
            (modes.add if on else modes.discard)(letter)
            made.append((signed, ""))
    return ModePlan(
        frozenset(modes),
        join_key,
        limit,
        ranks,
        tuple((letter, on, entry) for (letter, _), (on, entry) in lists.items()),
        tuple(made),
    )


def apply(state: IChatState, room: RoomRecord, change: ModePlan) -> None:
    """Have C{state} make the changes C{change} plans for C{room}."""
    key = room.key
    if change.modes != room.modes:
        state.set_modes(key, change.modes)
    if change.join_key != room.join_key:
        state.set_join_key(key, change.join_key)
    if change.limit != room.limit:
        state.set_limit(key, change.limit)
    for (letter, user_id), on in change.ranks.items():
        if letter == "o":
            state.set_room_operator(key, user_id, on)
        else:
            state.set_voice(key, user_id, on)
    for letter, on, entry in change.lists:
        if on:
            state.add_mask(key, letter, entry)
        else:
            state.remove_mask(key, letter, entry.mask)


def _key(room: RoomRecord, key: str) -> str:
    if (
        not 0 < len(key) <= KEY_MAX_LENGTH
        or not key.isascii()
        or not key.isprintable()
        or " " in key
        or "," in key
    ):
        raise InvalidModeArgument(
            room.name,
            "+k",
            "*",  # a key is not repeated back
            f"a key is 1 to {KEY_MAX_LENGTH} characters, with no space nor comma",
        )
    return key


def _limit(room: RoomRecord, argument: str) -> int:
    try:
        limit = int(argument) if argument.isdigit() else 0
    except ValueError:
        limit = 0
    if not 0 < limit <= LIMIT_MAX:
        raise InvalidModeArgument(
            room.name,
            "+l",
            argument,
            f"a limit is a number of members, from 1 to {LIMIT_MAX}",
        )
    return limit


def _list_change(
    room: RoomRecord,
    signed: str,
    argument: str,
    by: str,
    when: float,
    planned: dict[tuple[str, str], tuple[bool, MaskEntry]],
) -> MaskEntry | None:
    """The entry a change puts on (or takes off) a list; None if it is a no-op."""
    if not argument:
        raise MissingModeArgument(signed)
    letter, on = signed[1], signed[0] == "+"
    mask = masks.normalise(argument)
    if not masks.is_valid(mask):
        raise InvalidModeArgument(
            room.name, signed, argument, "a mask is nick!user@host, with * and ?"
        )
    folded = masks.fold(mask)
    listed = room.masks[letter]
    was_on, entry = planned.get((letter, folded), (folded in listed, None))
    if was_on == on:
        return None
    if on:
        added = sum(
            1 for (kind, _), (yes, _) in planned.items() if kind == letter and yes
        )
        if len(listed) + added >= LIST_MAX:
            raise MaskListFull(room.name, signed, LIST_MAX)
        return MaskEntry(mask, by, when)
    return entry or listed[folded]
