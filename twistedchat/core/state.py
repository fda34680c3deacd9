"""
The chat's state behind one interface: the nick registry, the users present,
room membership and room settings.

L{ChatService} holds the rules and asks an L{IChatState} to keep what they
decide; the sessions (this process's connections) and their delivery are not
state in this sense and stay with the service. L{MemoryState}, the default,
keeps everything in this process's memory. A second implementation (shared by
several nodes, e.g. over Redis) plugs in here without touching a front: see
docs/ARCHITECTURE.md for which of these calls would then have to complete
later, as Deferreds.

Records are plain objects that only the state changes; the service reads them
and turns them into immutable views (L{twistedchat.core.views}) for the
fronts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

from zope.interface import Interface, implementer

from .events import User
from .masks import MaskEntry
from .names import fold_nick

DEFAULT_MODES = frozenset({"t"})
GUARDING = frozenset({"n", "m"})  # modes under which a message is checked


class UserRecord:
    """A user present in the chat."""

    __slots__ = (
        "away",
        "invited",
        "modes",
        "operator",
        "realname",
        "rooms",
        "user",
        "username",
    )

    def __init__(self, user: User, realname: str = "", username: str = "") -> None:
        self.user = user
        self.realname = realname
        self.username = username  # what an IRC client gave as its user name
        self.away: str | None = None
        self.operator: str | None = None  # server operator name
        self.modes: frozenset[str] = frozenset()  # its own modes (core/directory.py)
        self.rooms: dict[str, None] = {}  # room keys, in join order
        self.invited: dict[str, str] = {}  # room key -> name: each joined once


class RoomRecord:
    """
    A named room; its creator is its first operator.

    Modes, as IRC names them (L{twistedchat.core.modes}): C{t} only
    operators set the topic (on by default), C{n} no messages from outside the
    room, C{m} moderated: only operators and voiced members speak, C{i} invite
    only, C{s} secret; C{join_key} (C{k}) and C{limit} (C{l}, 0: none) are
    settings of their own, C{masks} the lists of bans (C{b}), ban exceptions
    (C{e}) and invite exceptions (C{I}). C{guarded} says whether a message
    needs checking at all (C{n}, C{m} or a ban): the message path reads that
    one attribute.
    """

    __slots__ = (
        "created",
        "guarded",
        "join_key",
        "key",
        "limit",
        "masks",
        "members",
        "modes",
        "name",
        "operators",
        "topic",
        "topic_by",
        "topic_time",
        "voiced",
    )

    def __init__(self, key: str, name: str, created: float) -> None:
        self.key = key
        self.name = name
        self.created = created
        self.members: dict[str, User] = {}  # by user id, in join order
        self.operators: set[str] = set()  # user ids
        self.voiced: set[str] = set()  # user ids
        self.modes: frozenset[str] = DEFAULT_MODES
        self.join_key = ""
        self.limit = 0
        # list letter -> the list's entries, by mask as nicks compare
        self.masks: dict[str, dict[str, MaskEntry]] = {"b": {}, "e": {}, "I": {}}
        self.guarded = False
        self.topic = ""
        self.topic_by = ""
        self.topic_time = 0.0

    def settle(self) -> None:
        """Work out C{guarded} again, after a change of modes or bans."""
        self.guarded = bool(GUARDING & self.modes) or bool(self.masks["b"])


class IChatState(Interface):
    """
    Who is present under which nick, and who is in which room. Keys are
    folded names (L{twistedchat.core.names}); the service checks the rules
    before it calls a change, which always succeeds.
    """

    # Users and the nick registry

    def user(user_id: str) -> UserRecord | None:
        """The user with id C{user_id}, if present."""

    def holder(nick_key: str) -> UserRecord | None:
        """The user holding the nick whose folded form is C{nick_key}."""

    def users() -> Iterable[UserRecord]:
        """Every user present."""

    def add_user(record: UserRecord) -> None:
        """C{record}'s user is present, holding its nick."""

    def rename(user_id: str, user: User) -> None:
        """The user C{user_id} is now C{user} (a new nick): it holds that one."""

    def set_away(user_id: str, message: str | None) -> None:
        """The user is away with C{message}, or back with None."""

    def set_realname(user_id: str, realname: str) -> None:
        """The user now gives C{realname} as its real name."""

    def set_operator(user_id: str, name: str | None) -> None:
        """The user is server operator C{name}, or no longer one (None)."""

    def set_user_modes(user_id: str, modes: frozenset[str]) -> None:
        """The user's own modes (letters among C{i}, C{B})."""

    def remove_user(user_id: str) -> None:
        """The user left the chat (it is in no room any more)."""

    # Rooms

    def room(key: str) -> RoomRecord | None:
        """The room with folded name C{key}, if it is open."""

    def rooms() -> Iterable[RoomRecord]:
        """Every open room."""

    def rooms_after(key: str, count: int) -> list[RoomRecord]:
        """
        Up to C{count} open rooms whose folded names come after C{key}, in
        that order (C{""}: from the first): a listing, page by page.
        """

    def room_count() -> int:
        """How many rooms are open."""

    def open_room(key: str, name: str, created: float, founder: str) -> RoomRecord:
        """Open room C{name}, with user C{founder} as its operator."""

    def add_member(key: str, user_id: str) -> None:
        """The user is now in the room (last in join order)."""

    def remove_member(key: str, user_id: str) -> bool:
        """The user left the room; True if that closed it (it was the last)."""

    def set_topic(key: str, topic: str, by: str, when: float) -> None:
        """The room's topic, who set it and when."""

    def set_modes(key: str, modes: frozenset[str]) -> None:
        """The room's modes (letters among C{t}, C{n}, C{m}, C{i}, C{s})."""

    def set_join_key(key: str, join_key: str) -> None:
        """The key joining the room needs (C{""}: none)."""

    def set_limit(key: str, limit: int) -> None:
        """How many members the room takes (0: no limit)."""

    def set_room_operator(key: str, user_id: str, operator: bool) -> None:
        """Make the member an operator of the room, or no longer one."""

    def set_voice(key: str, user_id: str, voiced: bool) -> None:
        """Give the member a voice in the room (C{+v}), or take it back."""

    def add_mask(key: str, kind: str, entry: MaskEntry) -> None:
        """Put C{entry} on the room's list C{kind} (C{b}, C{e} or C{I})."""

    def remove_mask(key: str, kind: str, mask: str) -> None:
        """Take C{mask} (as L{twistedchat.core.masks.fold} compares) off a list."""

    def invite(user_id: str, key: str, name: str) -> None:
        """The user may join room C{name} once, past C{+i}, C{+l} and bans."""

    def use_invitation(user_id: str, key: str) -> None:
        """The user joined the room: its invitation to it is spent."""


@implementer(IChatState)
class MemoryState:
    """The whole state in this process's memory: one server, nothing else."""

    def __init__(self) -> None:
        self._users: dict[str, UserRecord] = {}  # by user id
        self._nicks: dict[str, UserRecord] = {}  # by folded nick
        self._rooms: dict[str, RoomRecord] = {}  # by folded name
        self._order: list[str] = []  # the same folded names, sorted

    def user(self, user_id: str) -> UserRecord | None:
        return self._users.get(user_id)

    def holder(self, nick_key: str) -> UserRecord | None:
        return self._nicks.get(nick_key)

    def users(self) -> Iterable[UserRecord]:
        return self._users.values()

    def add_user(self, record: UserRecord) -> None:
        self._users[record.user.id] = record
        self._nicks[fold_nick(record.user.nick)] = record

    def rename(self, user_id: str, user: User) -> None:
        record = self._users[user_id]
        del self._nicks[fold_nick(record.user.nick)]
        record.user = user
        self._nicks[fold_nick(user.nick)] = record
        for key in record.rooms:
            members = self._rooms[key].members
            members[user_id] = user  # keeps its place in the join order

    def set_away(self, user_id: str, message: str | None) -> None:
        self._users[user_id].away = message

    def set_realname(self, user_id: str, realname: str) -> None:
        self._users[user_id].realname = realname

    def set_operator(self, user_id: str, name: str | None) -> None:
        self._users[user_id].operator = name

    def set_user_modes(self, user_id: str, modes: frozenset[str]) -> None:
        self._users[user_id].modes = modes

    def remove_user(self, user_id: str) -> None:
        record = self._users.pop(user_id)
        del self._nicks[fold_nick(record.user.nick)]

    def room(self, key: str) -> RoomRecord | None:
        return self._rooms.get(key)

    def rooms(self) -> Iterable[RoomRecord]:
        return self._rooms.values()

    def rooms_after(self, key: str, count: int) -> list[RoomRecord]:
        start = bisect_right(self._order, key)
        return [self._rooms[k] for k in self._order[start : start + count]]

    def room_count(self) -> int:
        return len(self._rooms)

    def open_room(
        self, key: str, name: str, created: float, founder: str
    ) -> RoomRecord:
        room = self._rooms[key] = RoomRecord(key, name, created)
        insort(self._order, key)
        room.operators.add(founder)
        return room

    def add_member(self, key: str, user_id: str) -> None:
        record = self._users[user_id]
        self._rooms[key].members[user_id] = record.user
        record.rooms[key] = None

    def remove_member(self, key: str, user_id: str) -> bool:
        room = self._rooms[key]
        del room.members[user_id]
        room.operators.discard(user_id)
        room.voiced.discard(user_id)
        del self._users[user_id].rooms[key]
        if room.members:
            return False
        del self._rooms[key]
        del self._order[bisect_left(self._order, key)]
        return True

    def set_topic(self, key: str, topic: str, by: str, when: float) -> None:
        room = self._rooms[key]
        room.topic, room.topic_by, room.topic_time = topic, by, when

    def set_modes(self, key: str, modes: frozenset[str]) -> None:
        room = self._rooms[key]
        room.modes = modes
        room.settle()

    def set_join_key(self, key: str, join_key: str) -> None:
        self._rooms[key].join_key = join_key

    def set_limit(self, key: str, limit: int) -> None:
        self._rooms[key].limit = limit

    def set_voice(self, key: str, user_id: str, voiced: bool) -> None:
        voices = self._rooms[key].voiced
        if voiced:
            voices.add(user_id)
        else:
            voices.discard(user_id)

    def add_mask(self, key: str, kind: str, entry: MaskEntry) -> None:
        room = self._rooms[key]
        room.masks[kind][fold_nick(entry.mask)] = entry
        room.settle()

    def remove_mask(self, key: str, kind: str, mask: str) -> None:
        room = self._rooms[key]
        room.masks[kind].pop(fold_nick(mask), None)
        room.settle()

    def invite(self, user_id: str, key: str, name: str) -> None:
        self._users[user_id].invited[key] = name

    def use_invitation(self, user_id: str, key: str) -> None:
        self._users[user_id].invited.pop(key, None)

    def set_room_operator(self, key: str, user_id: str, operator: bool) -> None:
        operators = self._rooms[key].operators
        if operator:
            operators.add(user_id)
        else:
            operators.discard(user_id)
