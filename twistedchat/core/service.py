"""
The chat itself: sessions, nicks, rooms and who may do what.

L{ChatService} is shared by every front. A front registers each connection
(L{connect}) and turns its commands into calls here. A command either raises
a L{ChatError} and changes nothing, or changes the state, hands the resulting
event to everyone it concerns and returns it. Whether the acting user also
receives their own event is the user's client's declaration
(L{IChatClient.echo_messages}, L{IChatClient.echo_actions}), applied here,
never re-delivered by a front. Queries answer with immutable views
(L{twistedchat.core.views}). The state sits behind L{IChatState}, delivery
behind L{IDelivery}; no bytes, sockets or wire formats here. A user may have
several sessions (L{twistedchat.core.presence}). Several nodes run the same
commands in one order (L{twistedchat.cluster.replica}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar, Unpack

from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from . import access, directory, errors, events, invites, modes, status, watch
from .delivery import Direct, IDelivery
from .events import (
    Image,
    Invited,
    Joined,
    Kicked,
    Killed,
    Message,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    TopicChanged,
    User,
)
from .history import HistoryEntry, IHistory
from .identity import Identities
from .msgids import message_ids
from .names import fold_nick, fold_room, is_valid_nick, is_valid_room
from .presence import Presence, hears
from .privileges import OperCheck
from .reading import IReadMarkers, Reading
from .session import IChatClient, Session
from .state import IChatState, MemoryState, RoomRecord, UserRecord
from .views import RoomSummary, RoomView, ServerCounts, UserView, room_view, user_view
from .whowas import Whowas

__all__ = ["ChatService", "IChatClient", "Session"]

DEFAULT_MAX_ROOMS = 100  # rooms one user may be in at once
R = TypeVar("R")


class ChatService:
    """Rooms, sessions and the nick registry shared by every front."""

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        default_room: str | None = "general",
        operators: ICredentialsChecker | None = None,
        identities: Identities | None = None,
        history: IHistory | None = None,
        *,
        state: IChatState | None = None,
        delivery: IDelivery | None = None,
        max_rooms: int = DEFAULT_MAX_ROOMS,
        log_messages: bool = False,
        markers: IReadMarkers | None = None,
    ) -> None:
        """
        Without C{identities}, resume tokens last until the server stops;
        without C{state}, it is in this process's memory; without
        C{delivery}, events go to each client one by one (a server passes its
        fronts' L{twistedchat.fronts.fanout.Fanout}). A user may be in
        C{max_rooms} rooms at once (0: no limit). With C{log_messages},
        each room message's text is logged (formatting a log line costs as
        much as relaying a message to a whole room).
        """
        if default_room is not None and not is_valid_room(default_room):
            raise errors.InvalidRoomName(default_room)
        self.clock = clock
        self._msgids = message_ids(clock)  # each message's id
        self.default_room = default_room
        self._oper_check = OperCheck(operators, clock)
        self.identities = identities or Identities(Identities.new_secret())
        self.history = history
        self.reading = Reading(history, markers)  # what each one was shown
        self.delivery: IDelivery = delivery or Direct()
        self.max_rooms = max_rooms
        self.log_messages = log_messages
        self._state: IChatState = state or MemoryState()
        self.whowas = Whowas(clock)  # who had which nick
        self.directory = directory.Directory(self._state)  # searches, user modes
        self.watch = watch.Watch()  # who is told when a nick comes and goes (MONITOR)
        self._presence = Presence(  # our sessions
            self._state, self.delivery, self.reading.left, self.whowas, self.watch
        )
        self._to_room_and_author = self._presence.to_room_and_author

    # Sessions

    def connect(
        self,
        client: IChatClient,
        nick: str,
        *,
        provisional: bool = False,
        token: str = "",
        realname: str = "",
        username: str = "",
        host: str = "",
    ) -> Session:
        """
        Register a new connection under C{nick}.

        A C{provisional} nick is one the server picked (a line-front client's
        C{address:port}); it skips the rules for nicks users choose, which
        keeps the two sets of names apart.

        With a resume C{token} of ours, the session keeps the identity (id and
        colour) the token was made for, and C{session.resumed} is true. If
        that identity is connected, the session is one more of that user's
        (the token wins: it has the user's nick, whatever C{nick} it asked,
        and the rooms see nobody arrive); otherwise it takes C{nick}. Any
        other token gets a fresh identity. C{host}: where the user came from
        (OPER attempts are counted by it); C{username}, C{realname}: what an
        IRC client said of itself.
        """
        user_id = self.identities.resume(token) if token else None
        if token and user_id is None:
            self.log.warn("unrecognised resume token from {nick}", nick=nick)
        others = self._presence.sessions(user_id) if user_id else ()
        if others:
            session = Session(client, others[0].user, True, host)
            self._presence.arrive(session, None)
            self.log.info('"{nick}" connected one more client', nick=session.nick)
            return session
        if not provisional and not is_valid_nick(nick):
            raise errors.InvalidNick(nick)
        if self._state.holder(fold_nick(nick)) is not None:
            raise errors.NickInUse(nick)
        resumed = user_id is not None
        user_id = user_id or self.identities.new_id()
        user = User(user_id, nick, self.identities.colour(user_id))
        session = Session(client, user, resumed, host)
        self._presence.arrive(session, UserRecord(user, realname, username))
        return session

    def token(self, session: Session) -> str:
        """The token with which C{session}'s user can come back as themselves."""
        return self.identities.token(session.user.id)

    def disconnect(self, session: Session, message: str = "") -> Quit | None:
        """
        Forget C{session}, telling its peers it left with C{message}: a quit if
        it was its user's last session, else a part (C{message} its reason)
        from each room no other session of the user is in. Calling it again
        does nothing: a front may call it on QUIT and when the connection ends.
        """
        if not session.connected:
            return None
        event = Quit(self.clock.seconds(), session.user, message)
        others = len(self._presence.sessions(session.user.id)) - 1
        if not others:
            broken = self.delivery.to_rooms(self._rooms_of(session), event, session)
        else:
            broken = []
            for name in self._presence.alone_in(session):
                parted = Parted(event.time, name, session.user, message)
                broken += self.delivery.to_room(fold_room(name), parted, session)
        self._presence.depart(session)
        self.log.info(
            'client disconnected "{nick}" ({message}), {others} other client(s) stay',
            nick=session.nick,
            message=message,
            others=others,
        )
        self._drop(broken)
        return event

    def change_nick(self, session: Session, nick: str) -> NickChanged:
        if not is_valid_nick(nick):
            raise errors.InvalidNick(nick)
        old = session.nick
        if nick == old:
            return NickChanged(self.clock.seconds(), old, session.user)
        holder = self._state.holder(fold_nick(nick))
        if holder is not None and holder.user.id != session.user.id:
            raise errors.NickInUse(nick)
        user = replace(session.user, nick=nick)
        self._presence.rename(user.id, user)  # all the user's sessions
        event = NickChanged(self.clock.seconds(), old, user)
        exclude = None if session.echo_actions else session
        broken = [
            *self.delivery.to_rooms(self._rooms_of(session), event, exclude),
            *self.delivery.to_sessions(
                self._presence.roomless(user.id, exclude), event
            ),
        ]
        self.log.info('client "{old}" => "{new}"', old=old, new=nick)
        self._drop(broken)
        return event

    # Rooms

    def join(
        self,
        session: Session,
        name: str,
        *,
        arrival: bool = False,
        returning: bool = False,
        join_key: str = "",
    ) -> Joined:
        """
        Put C{session} in room C{name} if its rules let it in (L{access}), or
        create it (C{session} its operator). C{arrival}, C{returning}: for the event.
        """
        key = self._room_key(name)
        user_id = session.user.id
        room = self._state.room(key)
        if room is not None and hears(session, key):
            raise errors.AlreadyInRoom(room.name)
        present = room is not None and user_id in room.members  # another session
        record = self._record(session)
        if not present and self.max_rooms and len(record.rooms) >= self.max_rooms:
            raise errors.TooManyRooms(name, self.max_rooms)
        if room is not None and not present:
            access.admit(self._state, room, record, join_key)
        if room is None:
            room = self._state.open_room(key, name, self.clock.seconds(), user_id)
            self.log.info("{nick} created room {room}", nick=session.nick, room=name)
        # A user connected through other sessions never left: not "back".
        returning = returning and len(self._presence.sessions(user_id)) == 1
        away, now = self._record(session).away or "", self.clock.seconds()
        event = Joined(now, room.name, session.user, arrival, returning, away)
        self._presence.enter(session, room)
        if present:  # the room has the user already: only this session is told
            broken = self._presence.to_self(session, event)
        else:
            exclude = None if session.echo_actions else session
            broken = self.delivery.to_room(key, event, exclude)
        self.log.info("{nick} joined {room}", nick=session.nick, room=room.name)
        self._drop(broken)
        return event

    def part(self, session: Session, name: str, reason: str = "") -> Parted:
        room = self._membership(session, name)
        event = Parted(self.clock.seconds(), room.name, session.user, reason)
        if len(self._presence.hearing(session.user.id, room.key)) > 1:
            broken = self._presence.to_self(session, event)  # the user stays
        else:
            exclude = None if session.echo_actions else session
            broken = self.delivery.to_room(room.key, event, exclude)
        self._presence.leave(session, room)
        self.log.info("{nick} left {room}", nick=session.nick, room=room.name)
        self._drop(broken)
        return event

    def say(
        self,
        session: Session,
        name: str,
        text: str,
        *,
        notice: bool = False,
        action: bool = False,
        tags: events.Tags = (),
    ) -> Message:
        """
        Relay C{text} (what C{session} does, if an C{action}) to room C{name}'s
        members (and C{session}, if it echoes), if the room's rules let it
        speak (L{access.check_may_speak}).
        """
        # The hot path: each call saved here is a few percent of a message.
        room = self._state.room(fold_room(name)) or self._existing_room(name)
        if not text.strip():
            raise errors.EmptyMessage()
        if room.guarded:  # +n, +m or a ban
            access.check_may_speak(room, self._record(session))
        kind = events.Action if action else Message
        now, msgid = self.clock.seconds(), next(self._msgids)
        event = kind(now, room.name, session.user, text, notice, msgid, tags)
        if self.history is not None:
            self.history.record(event)
        if not session.echo_messages:
            broken = self.delivery.to_room(room.key, event, session)
        elif room.name in session.rooms:
            broken = self.delivery.to_room(room.key, event, None)
        else:
            broken = self._to_room_and_author(event, room, session, True)
        if broken:
            self._drop(broken)
        if self.log_messages:
            self.log.info(
                "message from {nick} in {room} relayed to {count} members: {text}",
                nick=session.nick,
                room=room.name,
                count=len(room.members) - (session.user.id in room.members),
                text=text,
            )
        return event

    def whisper(
        self, session: Session, nick: str, text: str, **style: Unpack[events.Style]
    ) -> PrivateMessage:
        """C{text} to the sessions of user C{nick}, and the sender's other ones."""
        targets = self._find(nick)
        if not text.strip():
            raise errors.EmptyMessage()
        to, msgid = targets[0].nick, next(self._msgids)
        kind = events.PrivateAction if style.get("action") else PrivateMessage
        notice, tags = style.get("notice", False), style.get("tags", ())
        event = kind(self.clock.seconds(), session.user, to, text, notice, msgid, tags)
        recipients = dict.fromkeys(targets)
        for own in self._presence.sessions(session.user.id):
            if own is not session or session.echo_messages:
                recipients[own] = None
        broken = self.delivery.to_sessions(recipients, event)
        self.log.info("private message from {nick} to {to}", nick=session.nick, to=to)
        self._drop(broken)
        return event

    def show_image(
        self, session: Session, name: str, art: str, picture: str = ""
    ) -> Image:
        """Relay a picture (plain-text C{art}, a stored C{picture}) to room C{name}."""
        room = self._existing_room(name)
        if not art.strip():
            raise errors.EmptyMessage()
        access.check_may_speak(room, self._record(session))
        user, msgid = session.user, next(self._msgids)
        event = Image(self.clock.seconds(), room.name, user, art, msgid, picture)
        if self.history is not None:
            self.history.record(event)
        self._drop(
            self._to_room_and_author(event, room, session, session.echo_messages)
        )
        self.log.info(
            "image from {nick} in {room} ({lines} lines)",
            nick=session.nick,
            room=room.name,
            lines=art.count("\n") + 1,
        )
        return event

    def set_topic(self, session: Session, name: str, topic: str) -> TopicChanged:
        """Set the topic of room C{name}; with mode C{t}, operators only."""
        room = self._membership(session, name)
        if "t" in room.modes and not self._operates(session, room):
            raise errors.NotRoomOperator(room.name)
        event = TopicChanged(self.clock.seconds(), room.name, session.user, topic)
        self._state.set_topic(room.key, topic, session.nick, event.time)
        self._drop(self._to_room_and_author(event, room, session, session.echo_actions))
        self.log.info(
            "{nick} set the topic of {room}: {topic}",
            nick=session.nick,
            room=room.name,
            topic=topic,
        )
        return event

    def change_modes(
        self, session: Session, name: str, changes: Sequence[tuple[str, str]]
    ) -> ModeChanged:
        """
        Apply IRC-style C{changes} (C{("+o", nick)}, C{("-t", "")}...) to room
        C{name}; room or server operators only. The event lists the changes
        that changed something (and goes to nobody if none did).
        """
        room = self._existing_room(name)
        if not self._operates(session, room):
            raise errors.NotRoomOperator(room.name)
        now, by = self.clock.seconds(), access.mask_of(self._record(session))
        change = modes.plan(room, changes, self._find_user, by, now)
        event = ModeChanged(now, room.name, session.user, change.made)
        if not change.made:
            return event
        modes.apply(self._state, room, change)
        self._drop(self._to_room_and_author(event, room, session, session.echo_actions))
        self.log.info(
            "{nick} changed the modes of {room}: {changes}",
            nick=session.nick,
            room=room.name,
            changes=change.made,
        )
        return event

    def set_away(self, session: Session, message: str | None) -> None:
        """Mark C{session} away with C{message}, or back with None; see status."""
        status.set_away(self, session, message)

    def act(self, command: Callable[..., R], session: Session, *args: object) -> R:
        """A command kept in a module of its own (L{status}, L{notices}...)."""
        return command(self, session, *args)

    def invite(self, session: Session, nick: str, name: str) -> Invited:
        """Invite C{nick} to a room C{session} is in: it may join once, past +i +l +b."""
        room = self._membership(session, name)
        targets = self._find(nick)
        target = targets[0].user
        if target.id in room.members:
            raise errors.UserAlreadyInRoom(target.nick, room.name)
        if "i" in room.modes and not self._operates(session, room):
            raise errors.NotRoomOperator(room.name)
        self._state.invite(target.id, room.key, room.name)
        event = Invited(self.clock.seconds(), session.user, target.nick, room.name)
        self._drop(invites.deliver(self, session, room, targets, event))
        return event

    # Privileges

    def kick(self, actor: Session, name: str, nick: str, reason: str = "") -> Kicked:
        """Remove C{nick} from room C{name}; C{actor} must operate the room or the server."""
        room = self._existing_room(name)
        if not self._operates(actor, room):
            raise errors.NotRoomOperator(room.name)
        target = self._find(nick)[0].user
        if target.id not in room.members:
            raise errors.UserNotInRoom(target.nick, room.name)
        event = Kicked(self.clock.seconds(), room.name, target, actor.user, reason)
        broken = self._to_room_and_author(event, room, actor, actor.echo_actions)
        for session in self._presence.hearing(target.id, room.key):
            self._presence.leave(session, room)
        self.log.info(
            "{by} kicked {nick} from {room} ({reason})",
            by=actor.nick,
            nick=target.nick,
            room=room.name,
            reason=reason,
        )
        self._drop(broken)
        return event

    def kill(self, actor: Session, nick: str, message: str) -> Killed:
        """
        Disconnect C{nick}, every session of theirs; C{actor} must be a server
        operator. Those sharing a room with the victim are told, and the
        victim is told last: its fronts say their farewell, then the
        connections close.
        """
        if not self._is_operator(actor):
            raise errors.NotServerOperator()
        targets = self._find(nick)
        victim = targets[0].user
        event = Killed(self.clock.seconds(), victim, actor.user, message)
        rooms = self._rooms_of(targets[0])
        for target in targets:
            self._presence.depart(target)  # so the rooms' delivery leaves it out
        exclude = None if actor.echo_actions else actor
        broken = [
            *self.delivery.to_rooms(rooms, event, exclude),
            *self.delivery.to_sessions(targets, event),
        ]
        for target in targets:
            target.client.disconnect()
        self.log.info(
            "{by} killed {nick} ({message})",
            by=actor.nick,
            nick=victim.nick,
            message=message,
        )
        self._drop(broken)
        return event

    def oper(self, session: Session, name: str, password: str) -> Deferred[str]:
        """
        Make C{session} a server operator if C{name} and C{password} match
        the operators' credentials. Fires with the operator name, or fails
        with L{InvalidCredentials}.
        """

        def granted(operator: str) -> str:
            if session.connected:
                self._state.set_operator(session.user.id, operator)
                self.log.info(
                    "{nick} is now server operator {operator}",
                    nick=session.nick,
                    operator=operator,
                )
            return operator

        return self._oper_check.check(session, name, password).addCallback(granted)

    # Queries: immutable views, never the state itself

    def recent(self, name: str) -> Sequence[HistoryEntry]:
        """What was said lately in room C{name}, oldest first (for a joiner)."""
        if self.history is None:
            return ()
        return self.history.recent(name)

    def room(self, name: str, viewer: Session | None = None) -> RoomView:
        """Room C{name} as it is now (if not secret to C{viewer}), or NoSuchRoom."""
        return room_view(access.seen(self._existing_room(name), viewer))

    def names(self, name: str) -> list[str]:
        """The nicks in room C{name}, in the order they joined."""
        return [user.nick for user in self._existing_room(name).members.values()]

    def list_rooms(
        self, after: str = "", count: int = 0, viewer: Session | None = None
    ) -> list[RoomSummary]:
        """
        Rooms sorted by name, with their member counts and topics: all, or a
        page of C{count} after the room called C{after} (so that a listing of
        thousands of rooms is never made whole); secret ones for members only.
        """
        rooms = access.listing(self._state, fold_room(after), count, viewer)
        return [RoomSummary(room.name, len(room.members), room.topic) for room in rooms]

    def nick_taken(self, nick: str) -> bool:  # as the chat compares nicks
        return self._state.holder(fold_nick(nick)) is not None

    def user(self, nick: str) -> UserView:
        """The user called C{nick}, or L{errors.NoSuchNick}."""
        return self._view(self._find_user(nick))

    def present(self, nicks: Iterable[str]) -> list[UserView]:
        """The users among C{nicks} who are connected, in that order."""
        records = (self._state.holder(fold_nick(nick)) for nick in nicks)
        return [self._view(record) for record in records if record is not None]

    def user_of(self, session: Session) -> UserView:  # the session's own user
        return self._view(self._record(session))

    def counts(self) -> ServerCounts:
        return self.directory.counts()  # users, rooms, operators

    # Internals

    def _view(self, record: UserRecord) -> UserView:
        return user_view(record, [self._state.room(key) for key in record.rooms])

    def _record(self, session: Session) -> UserRecord:
        record = self._state.user(session.user.id)
        assert record is not None, f"{session!r} is not connected"
        return record

    def _find_user(self, nick: str) -> UserRecord:
        record = self._state.holder(fold_nick(nick))
        if record is None:
            raise errors.NoSuchNick(nick)
        return record

    def _find(self, nick: str) -> tuple[Session, ...]:
        """The local sessions of the user called C{nick}, or L{errors.NoSuchNick}."""
        sessions = self._presence.sessions(self._find_user(nick).user.id)
        if not sessions:
            raise errors.NoSuchNick(nick)
        return sessions

    def _is_operator(self, session: Session) -> bool:
        return self._record(session).operator is not None

    def _operates(self, session: Session, room: RoomRecord) -> bool:
        return session.user.id in room.operators or self._is_operator(session)

    def _room_key(self, name: str) -> str:
        if not is_valid_room(name):
            raise errors.InvalidRoomName(name)
        return fold_room(name)

    def _existing_room(self, name: str) -> RoomRecord:
        # Every message names its room: a room found needs no checking.
        room = self._state.room(fold_room(name))
        if room is None:
            self._room_key(name)  # InvalidRoomName, if it is that
            raise errors.NoSuchRoom(name)
        return room

    def _membership(self, session: Session, name: str) -> RoomRecord:
        room = self._state.room(self._room_key(name))
        if room is None or not hears(session, room.key):
            raise errors.NotInRoom(name)
        return room

    def _rooms_of(self, session: Session) -> list[str]:
        """The keys of the rooms C{session} is in."""
        return list(self._record(session).rooms)

    def _drop(self, broken: Sequence[Session]) -> None:
        """Forget the sessions a delivery could not reach, once the event is
        out to everyone: one broken connection never stops a broadcast."""
        for session in broken:
            if session.connected:
                self.disconnect(session, "delivery failed")
                session.client.disconnect()
