"""
Presence: one user, several sessions.

An identity (a resume token's user) may be connected from several clients at
once, as Ergo's multiclient or Matrix's devices: they are one user with one
nick, present once in the state (in a room's members, NAMES, WHO, LUSERS).
L{Presence} keeps, for this process, which sessions each user is connected
through and which of them hear each room, and keeps the state's membership in
step: a user is in a room while at least one of its sessions is (the room
sees it join with the first and leave with the last), and each session hears
only the rooms it entered. The service decides who is told what; the
delivery (L{IDelivery}) still works per session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.logger import Logger

from .delivery import NOBODY, IDelivery
from .events import Event, User
from .names import fold_nick, fold_room
from .session import Session
from .state import IChatState, RoomRecord, UserRecord
from .watch import Watch
from .whowas import Whowas


class Presence:
    """This process's sessions, by user, and which of them hear which room."""

    log = Logger()

    def __init__(
        self,
        state: IChatState,
        delivery: IDelivery,
        left: Callable[[Session, str], None] | None = None,
        whowas: Whowas | None = None,
        watch: Watch | None = None,
    ) -> None:
        """
        C{left(session, room_key)} is told each time a session leaves a room;
        C{whowas} who gives up a nick, leaving or renamed; C{watch} that too,
        and who takes a nick, connecting or renamed.
        """
        self.state = state
        self.whowas = whowas
        self.watch = watch
        self.delivery = delivery
        self._left = left
        self._by_user: dict[str, tuple[Session, ...]] = {}

    def sessions(self, user_id: str) -> tuple[Session, ...]:
        """The sessions of user C{user_id}, oldest first (none if not here)."""
        return self._by_user.get(user_id, ())

    def arrive(self, session: Session, record: UserRecord | None) -> None:
        """
        C{session} is connected: the first of a user arriving as C{record},
        or (None) one more of a user already here.
        """
        if record is not None:
            self.state.add_user(record)
        user_id = session.user.id
        self._by_user[user_id] = (*self.sessions(user_id), session)
        if record is not None and self.watch is not None:
            self.watch.taken(record.user)

    def depart(self, session: Session) -> None:
        """C{session} is gone, out of its rooms; its user too if it was the last."""
        for name in session.rooms:
            room = self.state.room(fold_room(name))
            if room is not None:
                self.leave(session, room)
        user_id = session.user.id
        others = tuple(s for s in self.sessions(user_id) if s is not session)
        if self.watch is not None:
            self.watch.clear(session)
        if others:
            self._by_user[user_id] = others
        else:
            self._by_user.pop(user_id, None)
            self._note_departure(user_id, session.host)
            self.state.remove_user(user_id)
            if self.watch is not None:
                self.watch.given_up(session.user.nick)
        session.connected = False

    def rename(self, user_id: str, user: User) -> None:
        """Every session of the user is now C{user} (a new nick)."""
        sessions = self.sessions(user_id)
        old = sessions[0].user.nick if sessions else ""
        self._note_departure(user_id, sessions[0].host if sessions else "")
        self.state.rename(user_id, user)
        for session in self.sessions(user_id):
            session.user = user
        if self.watch is not None and fold_nick(old) != fold_nick(user.nick):
            if old:
                self.watch.given_up(old)
            self.watch.taken(user)

    def _note_departure(self, user_id: str, host: str) -> None:
        """The user gives up its nick: WHOWAS remembers who had it."""
        record = self.state.user(user_id)
        if self.whowas is not None and record is not None:
            self.whowas.record(record, host)

    def enter(self, session: Session, room: RoomRecord) -> None:
        """C{session} now hears C{room}; its user is in it."""
        if session.user.id not in room.members:
            self.state.add_member(room.key, session.user.id)
        session.rooms = (*session.rooms, room.name)
        self.delivery.enter(room.key, session)

    def leave(self, session: Session, room: RoomRecord) -> None:
        """C{session} no longer hears C{room}; its user leaves it with the last."""
        key = room.key
        session.rooms = tuple(r for r in session.rooms if fold_room(r) != key)
        self.delivery.leave(key, session)
        if self._left is not None:
            self._left(session, key)
        if self.hearing(session.user.id, key):
            return
        if self.state.remove_member(key, session.user.id):
            self.log.info("room {room} is empty and closed", room=room.name)

    def hearing(self, user_id: str, key: str) -> list[Session]:
        """The sessions of user C{user_id} that hear room C{key}."""
        return [s for s in self.sessions(user_id) if hears(s, key)]

    def alone_in(self, session: Session) -> list[str]:
        """The rooms C{session} hears and no other session of its user does."""
        user_id = session.user.id
        return [
            name
            for name in session.rooms
            if len(self.hearing(user_id, fold_room(name))) == 1
        ]

    def roomless(self, user_id: str, exclude: Session | None) -> list[Session]:
        """The user's sessions but C{exclude} that hear no room at all."""
        return [s for s in self.sessions(user_id) if not s.rooms and s is not exclude]

    # Who gets an event

    def to_self(self, session: Session, event: Event) -> Sequence[Session]:
        """C{event} to C{session} alone, if its client echoes actions."""
        if not session.echo_actions:
            return NOBODY
        return self.delivery.to_sessions([session], event)

    def to_room_and_author(
        self, event: Event, room: RoomRecord, author: Session, echo: bool
    ) -> Sequence[Session]:
        """
        Hand C{event} to the sessions hearing C{room}; to its C{author} too if
        C{echo}, hearing it or not (a server operator kicking from outside the
        room, say).
        """
        if not echo:
            return self.delivery.to_room(room.key, event, author)
        if room.name in author.rooms:
            return self.delivery.to_room(room.key, event, None)
        return [
            *self.delivery.to_room(room.key, event, author),
            *self.delivery.to_sessions([author], event),
        ]


def hears(session: Session, key: str) -> bool:
    """Whether C{session} entered room C{key} (a folded name)."""
    return any(fold_room(name) == key for name in session.rooms)
