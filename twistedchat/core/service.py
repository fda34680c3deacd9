"""
The chat itself: sessions, nicks, rooms and who may do what.

L{ChatService} is shared by every front. A front registers each connection as
a L{Session} with an L{IChatClient} (its way to hand events to the wire), then
turns its commands into calls here. A call either raises a L{ChatError} and
changes nothing, or changes the state, delivers the resulting event to every
other session concerned and returns that event so the front can answer its own
user. The core never sees bytes, sockets or wire formats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NoReturn

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface

from .errors import (
    AlreadyInRoom,
    CannotSendToRoom,
    EmptyMessage,
    InvalidCredentials,
    InvalidNick,
    InvalidRoomName,
    MissingModeArgument,
    NickInUse,
    NoOperators,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
    NotRoomOperator,
    NotServerOperator,
    OperThrottled,
    UnknownMode,
    UserAlreadyInRoom,
    UserNotInRoom,
)
from .events import (
    Event,
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
from .names import fold_nick, fold_room, is_valid_nick, is_valid_room

Deliver = Callable[[Event], None]


OPER_FREE_ATTEMPTS = 3  # failed OPERs before attempts are spaced out
OPER_MAX_DELAY = 300.0  # seconds


class DeliveryRefused(Exception):
    """
    Raised by a client's C{deliver} when its connection is being dropped
    (e.g. a peer that reads too slowly): the fan-out then forgets the session
    after its loop, logging the reason rather than a traceback.
    """


class IChatClient(Interface):
    """The front's side of a session: how the core reaches the connection."""

    broadcaster = Attribute(
        "The IBroadcaster that hands room events to this client together with "
        "others of its kind, or None to have them delivered one by one."
    )

    def deliver(event: Event) -> None:
        """
        Render C{event} for this connection. Called on the fan-out path: it
        must not block nor call back into the service, and should only render
        (once per front) and write.
        """

    def disconnect() -> None:
        """Close the connection once what was already delivered is written."""


# A room's members that share one broadcaster, each with its client. The core
# never changes such a mapping once made: it makes a new one when members come
# or go, so a broadcaster may keep one until it has written an event.
Group = Mapping["Session", IChatClient]


class IBroadcaster(Interface):
    """
    A front's way to hand one room event to many of its connections at once.

    The core groups each room's members by their client's broadcaster and
    calls each broadcaster once per event, so the front renders the event once
    and may write it later (say a millisecond later, with the other events of
    that millisecond), as long as each connection gets its events in order
    with whatever else the front writes to it.
    """

    def broadcast(event: Event, group: Group, exclude: Session | None) -> None:
        """
        Hand C{event} to every session of C{group} but C{exclude}. On the
        fan-out path: it must not block, raise nor call back into the service.
        """


class Session:
    """One connected user, whatever front it came through."""

    __slots__ = (
        "away",
        "broadcaster",
        "client",
        "connected",
        "deliver",
        "key",
        "oper_blocked_until",
        "oper_failures",
        "operator",
        "resumed",
        "rooms",
        "user",
    )

    def __init__(self, client: IChatClient, user: User, resumed: bool) -> None:
        self.client = client
        self.deliver: Deliver = client.deliver
        self.broadcaster: IBroadcaster | None = client.broadcaster
        self.user = user
        self.key = fold_nick(user.nick)
        self.resumed = resumed  # came back with a resume token
        self.rooms: dict[str, Room] = {}
        self.operator: str | None = None
        self.away: str | None = None  # why the user is away, if they are
        self.oper_failures = 0
        self.oper_blocked_until = 0.0
        self.connected = True

    @property
    def nick(self) -> str:
        return self.user.nick

    def __repr__(self) -> str:
        return f"<Session {self.nick!r}>"


class Room:
    """
    A named room; its creator is its first operator.

    Modes, as IRC names them: C{t} only operators set the topic (on by
    default), C{n} no messages from outside the room, C{m} moderated: only
    operators speak.
    """

    __slots__ = (
        "created",
        "groups",
        "key",
        "members",
        "modes",
        "name",
        "operators",
        "topic",
        "topic_by",
        "topic_time",
    )

    def __init__(self, name: str, created: float) -> None:
        self.name = name
        self.key = fold_room(name)
        self.created = created
        # An ordered set: insertion order is join order.
        self.members: dict[Session, None] = {}
        # The same members by broadcaster (see Group: replaced, never changed).
        self.groups: dict[IBroadcaster | None, Group] = {}
        self.operators: set[Session] = set()
        self.modes: set[str] = {"t"}
        self.topic = ""
        self.topic_by = ""
        self.topic_time = 0.0

    def __repr__(self) -> str:
        return f"<Room {self.name!r} ({len(self.members)} members)>"

    def add(self, session: Session) -> None:
        self.members[session] = None
        self.group(session, session.broadcaster)

    def remove(self, session: Session) -> None:
        del self.members[session]
        self.operators.discard(session)
        self.ungroup(session, session.broadcaster)

    def group(self, session: Session, broadcaster: IBroadcaster | None) -> None:
        group = dict(self.groups.get(broadcaster, {}))
        group[session] = session.client
        self.groups[broadcaster] = group

    def ungroup(self, session: Session, broadcaster: IBroadcaster | None) -> None:
        group = dict(self.groups[broadcaster])
        del group[session]
        if group:
            self.groups[broadcaster] = group
        else:
            del self.groups[broadcaster]


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
        log_messages: bool = False,
    ) -> None:
        """
        Without C{identities}, a secret is made up for this run: resume
        tokens then last until the server stops. With C{log_messages}, the
        text of each room message is logged too (by default only the history
        keeps it: formatting a log line for each message would cost as much
        as relaying it to a whole room).
        """
        if default_room is not None and not is_valid_room(default_room):
            raise InvalidRoomName(default_room)
        self.clock = clock
        self.default_room = default_room
        self.operators = operators
        self.identities = identities or Identities(Identities.new_secret())
        self.history = history
        self.log_messages = log_messages
        self.sessions: dict[str, Session] = {}  # by folded nick
        self.by_id: dict[str, Session] = {}  # by user id
        self.rooms: dict[str, Room] = {}

    # Sessions

    def connect(
        self,
        client: IChatClient,
        nick: str,
        *,
        provisional: bool = False,
        token: str = "",
    ) -> Session:
        """
        Register a new connection under C{nick}.

        A C{provisional} nick is one the server picked (a line-front client's
        C{address:port}); it skips the rules for nicks users choose, which
        keeps the two sets of names apart.

        With a resume C{token} of ours, the session keeps the identity (id and
        colour) the token was made for, and C{session.resumed} is true; a
        session still holding that identity is disconnected (its user came
        back from elsewhere). Any other token gets a fresh identity.
        """
        if not provisional and not is_valid_nick(nick):
            raise InvalidNick(nick)
        user_id = self.identities.resume(token) if token else None
        previous = self.by_id.get(user_id) if user_id else None
        key = fold_nick(nick)
        holder = self.sessions.get(key)
        if holder is not None and holder is not previous:
            raise NickInUse(nick)
        if previous is not None:
            self.disconnect(previous, "reconnected")
            previous.client.disconnect()
        if token and user_id is None:
            self.log.warn("unrecognised resume token from {nick}", nick=nick)
        resumed = user_id is not None
        user_id = user_id or self.identities.new_id()
        user = User(user_id, nick, self.identities.colour(user_id))
        session = Session(client, user, resumed)
        self.sessions[key] = self.by_id[user_id] = session
        return session

    def token(self, session: Session) -> str:
        """The token with which C{session}'s user can come back as themselves."""
        return self.identities.token(session.user.id)

    def disconnect(self, session: Session, message: str = "") -> Quit | None:
        """
        Forget C{session}, telling its peers it left with C{message}.

        Calling it again for the same session does nothing, so a front may
        call it both on QUIT and when the connection is lost.
        """
        if not session.connected:
            return None
        event = Quit(self.clock.seconds(), session.user, message)
        peers = self._peer_groups(session)
        self._forget(session)
        self._broadcast(event, peers, exclude=session)
        self.log.info(
            'client disconnected "{nick}" ({message})',
            nick=session.nick,
            message=message,
        )
        return event

    def change_nick(self, session: Session, nick: str) -> NickChanged:
        if not is_valid_nick(nick):
            raise InvalidNick(nick)
        old = session.nick
        if nick == old:
            return NickChanged(self.clock.seconds(), old, session.user)
        key = fold_nick(nick)
        holder = self.sessions.get(key)
        if holder is not None and holder is not session:
            raise NickInUse(nick)
        del self.sessions[session.key]
        session.user = replace(session.user, nick=nick)
        session.key = key
        self.sessions[key] = session
        event = NickChanged(self.clock.seconds(), old, session.user)
        self._broadcast(event, self._peer_groups(session), exclude=session)
        self.log.info('client "{old}" => "{new}"', old=event.old, new=nick)
        return event

    def regroup(self, session: Session) -> None:
        """
        C{session}'s client changed broadcasters (an IRC client that asked
        for server-time after registering): its rooms follow.
        """
        old, new = session.broadcaster, session.client.broadcaster
        for room in session.rooms.values():
            room.ungroup(session, old)
            room.group(session, new)
        session.broadcaster = new

    def find(self, nick: str) -> Session:
        """The session called C{nick}, or L{NoSuchNick}."""
        session = self.sessions.get(fold_nick(nick))
        if session is None:
            raise NoSuchNick(nick)
        return session

    # Rooms

    def join(
        self,
        session: Session,
        name: str,
        *,
        arrival: bool = False,
        returning: bool = False,
    ) -> Joined:
        """
        Put C{session} in room C{name}, creating it (with C{session} as its
        operator). C{arrival} and C{returning} are passed on in the event.
        """
        key = self._room_key(name)
        if key in session.rooms:
            raise AlreadyInRoom(session.rooms[key].name)
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = Room(name, self.clock.seconds())
            room.operators.add(session)
            self.log.info("{nick} created room {room}", nick=session.nick, room=name)
        event = Joined(
            self.clock.seconds(), room.name, session.user, arrival, returning
        )
        room.add(session)
        session.rooms[key] = room
        self._broadcast(event, room, exclude=session)
        self.log.info("{nick} joined {room}", nick=session.nick, room=room.name)
        return event

    def part(self, session: Session, name: str, reason: str = "") -> Parted:
        room = self._membership(session, name)
        event = Parted(self.clock.seconds(), room.name, session.user, reason)
        self._leave(session, room)
        self._broadcast(event, room, exclude=session)
        self.log.info("{nick} left {room}", nick=session.nick, room=room.name)
        return event

    def say(
        self,
        session: Session,
        name: str,
        text: str,
        *,
        notice: bool = False,
        echo: bool = False,
    ) -> Message:
        """
        Relay C{text} from C{session} to every other member of room C{name},
        and with C{echo} to C{session} too, in order with the room's other
        events (framed clients show their own words with the server's time).

        The sender need not be a member, unless the room has mode C{n}; in a
        moderated room (C{m}) only its operators speak.
        """
        room = self._existing_room(name)
        if not text.strip():
            raise EmptyMessage()
        if "n" in room.modes and session not in room.members:
            raise CannotSendToRoom(room.name, "only its members may speak (+n)")
        if "m" in room.modes and not self._operates(session, room):
            raise CannotSendToRoom(room.name, "it is moderated (+m)")
        event = Message(self.clock.seconds(), room.name, session.user, text, notice)
        if self.history is not None:
            self.history.record(event)
        count = self._relay(event, room, session, echo)
        if self.log_messages:
            self.log.info(
                "message from {nick} in {room} relayed to {count} members: {text}",
                nick=session.nick,
                room=room.name,
                count=count,
                text=text,
            )
        return event

    def whisper(
        self, session: Session, nick: str, text: str, *, notice: bool = False
    ) -> PrivateMessage:
        """Deliver C{text} from C{session} to the user called C{nick} alone."""
        target = self.find(nick)
        if not text.strip():
            raise EmptyMessage()
        event = PrivateMessage(
            self.clock.seconds(), session.user, target.nick, text, notice
        )
        self._fan_out(event, [target], exclude=None)
        self.log.info(
            "private message from {nick} to {to}", nick=session.nick, to=target.nick
        )
        return event

    def show_image(
        self, session: Session, name: str, art: str, *, echo: bool = False
    ) -> Image:
        """
        Relay a picture, already turned into plain-text C{art}, to room
        C{name}; C{echo} as for L{say}.
        """
        room = self._existing_room(name)
        if not art.strip():
            raise EmptyMessage()
        event = Image(self.clock.seconds(), room.name, session.user, art)
        if self.history is not None:
            self.history.record(event)
        count = self._relay(event, room, session, echo)
        self.log.info(
            "image from {nick} in {room} ({lines} lines) relayed to {count} members",
            nick=session.nick,
            room=room.name,
            lines=art.count("\n") + 1,
            count=count,
        )
        return event

    def recent(self, name: str) -> Sequence[HistoryEntry]:
        """What was said lately in room C{name}, oldest first (for a joiner)."""
        if self.history is None:
            return ()
        return self.history.recent(name)

    def members(self, name: str) -> list[User]:
        """Who is in room C{name}, in the order they joined."""
        return [member.user for member in self._existing_room(name).members]

    def names(self, name: str) -> list[str]:
        """The nicks in room C{name}, in the order they joined."""
        return [user.nick for user in self.members(name)]

    def list_rooms(self) -> list[tuple[str, int]]:
        """Each room's name and member count, sorted by name."""
        return sorted(
            ((room.name, len(room.members)) for room in self.rooms.values()),
            key=lambda pair: fold_room(pair[0]),
        )

    def is_room_operator(self, session: Session, name: str) -> bool:
        room = self.rooms.get(fold_room(name))
        return room is not None and session in room.operators

    def room(self, name: str) -> Room:
        """The room called C{name} (read it, do not change it), or L{NoSuchRoom}."""
        return self._existing_room(name)

    def set_topic(self, session: Session, name: str, topic: str) -> TopicChanged:
        """Set the topic of room C{name}; with mode C{t}, operators only."""
        room = self._membership(session, name)
        if "t" in room.modes and not self._operates(session, room):
            raise NotRoomOperator(room.name)
        event = TopicChanged(self.clock.seconds(), room.name, session.user, topic)
        room.topic, room.topic_by, room.topic_time = topic, session.nick, event.time
        self._broadcast(event, room, exclude=session)
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
        C{name}; room or server operators only. Changes that change nothing
        are dropped; the event lists those made.
        """
        room = self._existing_room(name)
        if not self._operates(session, room):
            raise NotRoomOperator(room.name)
        made: list[tuple[str, str]] = []
        for signed, argument in changes:
            sign, letter = signed[:1], signed[1:]
            if sign not in "+-" or len(signed) != 2 or letter not in "otnm":
                raise UnknownMode(signed)
            if letter == "o":
                if not argument:
                    raise MissingModeArgument(signed)
                target = self.find(argument)
                if target not in room.members:
                    raise UserNotInRoom(target.nick, room.name)
                if (target in room.operators) != (sign == "+"):
                    if sign == "+":
                        room.operators.add(target)
                    else:
                        room.operators.discard(target)
                    made.append((signed, target.nick))
            elif (letter in room.modes) != (sign == "+"):
                if sign == "+":
                    room.modes.add(letter)
                else:
                    room.modes.discard(letter)
                made.append((signed, ""))
        event = ModeChanged(self.clock.seconds(), room.name, session.user, tuple(made))
        if made:
            self._broadcast(event, room, exclude=session)
            self.log.info(
                "{nick} changed the modes of {room}: {changes}",
                nick=session.nick,
                room=room.name,
                changes=made,
            )
        return event

    def set_away(self, session: Session, message: str | None) -> None:
        """Mark C{session} away with C{message}, or back with None."""
        session.away = message or None

    def invite(self, session: Session, nick: str, name: str) -> Invited:
        """Tell the user called C{nick} that C{session} invites them to a room it is in."""
        room = self._membership(session, name)
        target = self.find(nick)
        if target in room.members:
            raise UserAlreadyInRoom(target.nick, room.name)
        event = Invited(self.clock.seconds(), session.user, target.nick, room.name)
        self._fan_out(event, [target], exclude=None)
        return event

    def _operates(self, session: Session, room: Room) -> bool:
        return session in room.operators or session.operator is not None

    # Privileges

    def kick(self, actor: Session, name: str, nick: str, reason: str = "") -> Kicked:
        """Remove C{nick} from room C{name}; C{actor} must operate the room or the server."""
        room = self._existing_room(name)
        if not self._operates(actor, room):
            raise NotRoomOperator(room.name)
        target = self.find(nick)
        if target not in room.members:
            raise UserNotInRoom(target.nick, room.name)
        event = Kicked(self.clock.seconds(), room.name, target.user, actor.user, reason)
        groups = tuple(room.groups.items())  # the target among them
        self._leave(target, room)
        self._broadcast(event, groups, exclude=actor)
        self.log.info(
            "{by} kicked {nick} from {room} ({reason})",
            by=actor.nick,
            nick=target.nick,
            room=room.name,
            reason=reason,
        )
        return event

    def kill(self, actor: Session, nick: str, message: str) -> Killed:
        """Disconnect C{nick}; C{actor} must be a server operator."""
        if actor.operator is None:
            raise NotServerOperator()
        target = self.find(nick)
        event = Killed(self.clock.seconds(), target.user, actor.user, message)
        recipients = dict.fromkeys(self._peers(target))
        recipients[target] = None
        self._forget(target)
        self._fan_out(event, recipients, exclude=actor)
        target.client.disconnect()
        self.log.info(
            "{by} killed {nick} ({message})",
            by=actor.nick,
            nick=target.nick,
            message=message,
        )
        return event

    def oper(self, session: Session, name: str, password: str) -> Deferred[str]:
        """
        Make C{session} a server operator if C{name} and C{password} match
        the operators' credentials. Fires with the operator name, or fails
        with L{InvalidCredentials}.
        """
        if self.operators is None:
            raise NoOperators()
        wait = session.oper_blocked_until - self.clock.seconds()
        if wait > 0:
            raise OperThrottled(wait)
        credentials = UsernamePassword(name.encode("utf-8"), password.encode("utf-8"))
        checking: Deferred[Any] = maybeDeferred(
            self.operators.requestAvatarId, credentials
        )

        def granted(avatar_id: bytes | str) -> str:
            operator = (
                avatar_id.decode("utf-8") if isinstance(avatar_id, bytes) else avatar_id
            )
            if session.connected:
                session.operator = operator
                self.log.info(
                    "{nick} is now server operator {operator}",
                    nick=session.nick,
                    operator=operator,
                )
            return operator

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

    # Internals

    def _room_key(self, name: str) -> str:
        if not is_valid_room(name):
            raise InvalidRoomName(name)
        return fold_room(name)

    def _existing_room(self, name: str) -> Room:
        # Every message names its room: a room found needs no checking.
        room = self.rooms.get(fold_room(name))
        if room is None:
            self._room_key(name)  # InvalidRoomName, if it is that
            raise NoSuchRoom(name)
        return room

    def _membership(self, session: Session, name: str) -> Room:
        room = session.rooms.get(self._room_key(name))
        if room is None:
            raise NotInRoom(name)
        return room

    def _leave(self, session: Session, room: Room) -> None:
        room.remove(session)
        del session.rooms[room.key]
        if not room.members:
            del self.rooms[room.key]
            self.log.info("room {room} is empty and closed", room=room.name)

    def _forget(self, session: Session) -> None:
        for room in list(session.rooms.values()):
            self._leave(session, room)
        del self.sessions[session.key]
        del self.by_id[session.user.id]
        session.connected = False

    def _peers(self, session: Session) -> Iterable[Session]:
        """Every session sharing a room with C{session}, once each (itself included)."""
        return {peer: None for _, group in self._peer_groups(session) for peer in group}

    def _peer_groups(
        self, session: Session
    ) -> Iterable[tuple[IBroadcaster | None, Group]]:
        """
        Everyone sharing a room with C{session} (itself included), once each
        however many rooms they share, grouped by broadcaster.
        """
        rooms = list(session.rooms.values())
        if len(rooms) == 1:
            return tuple(rooms[0].groups.items())
        merged: dict[IBroadcaster | None, dict[Session, IChatClient]] = {}
        for room in rooms:
            for broadcaster, group in room.groups.items():
                merged.setdefault(broadcaster, {}).update(group)
        return tuple(merged.items())

    def _relay(self, event: Event, room: Room, sender: Session, echo: bool) -> int:
        """Broadcast what C{sender} said; return to how many others."""
        if not echo:
            self._broadcast(event, room, exclude=sender)
        elif sender in room.members:
            self._broadcast(event, room, exclude=None)
        else:
            self._broadcast(event, room, exclude=sender)
            self._fan_out(event, [sender], exclude=None)
        return len(room.members) - (sender in room.members)

    def _broadcast(
        self,
        event: Event,
        room: Room | Iterable[tuple[IBroadcaster | None, Group]],
        exclude: Session | None,
    ) -> None:
        """
        Hand a room's event to the room's members but C{exclude}: to each
        group's broadcaster, or one by one to members without one. C{room} may
        be groups as they were before a change (a kick, a departure).
        """
        groups = tuple(room.groups.items()) if isinstance(room, Room) else room
        for broadcaster, group in groups:
            if broadcaster is None:
                self._fan_out(event, group, exclude)
                continue
            try:
                broadcaster.broadcast(event, group, exclude)
            except Exception:
                self.log.failure("broadcasting {event!r} failed", event=event)

    def _fan_out(
        self, event: Event, recipients: Iterable[Session], exclude: Session | None
    ) -> None:
        """
        Deliver C{event} to each recipient but C{exclude}, one by one.

        Callers change the state first and fan out last, so that the state is
        whole when a recipient whose delivery raises is dropped; that happens
        after the loop, so one broken connection never stops a broadcast.
        """
        broken: list[Session] = []
        for session in recipients:
            if session is exclude:
                continue
            try:
                session.deliver(event)
            except DeliveryRefused as e:
                self.log.info("dropping {nick}: {why}", nick=session.nick, why=str(e))
                broken.append(session)
            except Exception:
                self.log.failure(
                    "delivering {event!r} to {nick} failed",
                    event=event,
                    nick=session.nick,
                )
                broken.append(session)
        for session in broken:
            if session.connected:
                self.disconnect(session, "delivery failed")
                session.client.disconnect()
