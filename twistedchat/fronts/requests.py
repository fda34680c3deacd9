"""
The requests of the framed protocol, whatever carries them: the framed front's
binary frames, or the web front's JSON messages (the same frames, spelt in
JSON: L{twistedchat.fronts.web.messages}).

L{FrameRequests} is the part of a front's connection that acts on a decoded
request frame: each C{handle_<Frame>} method calls the core, and answers with
frames through the front's own C{send}; a refusal of the core becomes an
C{Error} frame with its code (L{ERROR_CODES}) and the JSON of what it names.
Taking a nick and joining rooms are awaited: with a shared state they would be
answered later, and the requests after them wait.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from twisted.internet.defer import maybeDeferred

from .. import codec
from ..codec import ErrorCode, Frame, RoomInfo, milliseconds
from ..core import errors
from ..core.events import Joined
from ..core.history import HistoryEntry
from ..core.reading import HistoryCountInvalid, HistoryUnavailable
from ..core.session import Session
from .base import FrontProtocol

# The error code each refusal of the core is reported with.
ERROR_CODES: dict[type[errors.ChatError], ErrorCode] = {
    errors.NickInUse: ErrorCode.NICK_IN_USE,
    errors.InvalidNick: ErrorCode.INVALID_NICK,
    errors.InvalidRoomName: ErrorCode.INVALID_ROOM,
    errors.NoSuchRoom: ErrorCode.NO_SUCH_ROOM,
    errors.NoSuchNick: ErrorCode.NO_SUCH_NICK,
    errors.NotInRoom: ErrorCode.NOT_IN_ROOM,
    errors.AlreadyInRoom: ErrorCode.ALREADY_IN_ROOM,
    errors.UserNotInRoom: ErrorCode.USER_NOT_IN_ROOM,
    errors.NotRoomOperator: ErrorCode.NOT_ROOM_OPERATOR,
    errors.NotServerOperator: ErrorCode.NOT_SERVER_OPERATOR,
    errors.EmptyMessage: ErrorCode.EMPTY_MESSAGE,
    errors.CannotSendToRoom: ErrorCode.CANNOT_SEND,
    errors.TooManyRooms: ErrorCode.TOO_MANY_ROOMS,
    errors.BadRoomKey: ErrorCode.BAD_ROOM_KEY,
    errors.RoomFull: ErrorCode.ROOM_FULL,
    errors.InviteOnlyRoom: ErrorCode.INVITE_ONLY,
    errors.BannedFromRoom: ErrorCode.BANNED,
    HistoryCountInvalid: ErrorCode.BAD_HISTORY_COUNT,
    HistoryUnavailable: ErrorCode.NO_HISTORY,
    errors.NotAPicture: ErrorCode.MALFORMED,
    errors.PictureTooLarge: ErrorCode.TOO_LARGE,
    errors.PicturesBusy: ErrorCode.LIMIT,
    errors.LogUnavailable: ErrorCode.LIMIT,
}

# What a client may send before its Hello is answered (a tuple: the union
# C{Hello | Ping} would be made anew for each frame).
BEFORE_HELLO = (codec.Hello, codec.Ping)


class FrameRequests(FrontProtocol):
    """Acting on request frames; the front says how frames go out."""

    needs_registration = True
    # The clients show their user's own words and doings as the server tells
    # them, with the server's time, in order with the rest.
    echo_messages = True
    echo_actions = True

    def act_on(self, frame: Frame) -> None:
        """Dispatch C{frame} to its C{handle_<Frame>} method."""
        handler: Callable[[Frame], object] | None = getattr(
            self, "handle_" + type(frame).__name__, None
        )
        if handler is None:
            self.fail(
                ErrorCode.UNKNOWN_TYPE, f"{type(frame).__name__} is not a request"
            )
        elif self.session is None and not isinstance(frame, BEFORE_HELLO):
            self.fail(ErrorCode.NOT_REGISTERED, "send Hello first")
        else:
            self.perform(type(frame).__name__, handler, frame)

    def send(self, frame: Frame) -> None:
        """Send C{frame} to the peer, in the front's wire format."""
        raise NotImplementedError

    def _close(self) -> None:
        """Close the connection after what was sent (a fatal error, Goodbye)."""
        raise NotImplementedError

    def refused(self, error: errors.ChatError) -> None:
        code = ERROR_CODES.get(type(error), ErrorCode.INTERNAL)
        if isinstance(error, errors.InvalidNick) and error.reserved:
            code = ErrorCode.NICK_RESERVED
        self.send(codec.Error(code, str(error), details=error_details(error)))

    def internal_error(self, command: str) -> None:
        self.fail(ErrorCode.INTERNAL, "internal error, nothing was done")

    def fail(self, code: ErrorCode, text: str, fatal: bool = False) -> None:
        self.send(codec.Error(code, text, fatal))
        if fatal:
            self._close()

    def _session(self) -> Session:
        assert self.session is not None  # the front checked registration
        return self.session

    # Requests: handle_<Frame>(frame)

    async def handle_Hello(self, frame: codec.Hello) -> None:
        if self.session is not None:
            self.fail(ErrorCode.ALREADY_REGISTERED, "you already said Hello")
            return
        if frame.version != codec.PROTOCOL_VERSION:
            self.fail(
                ErrorCode.INCOMPATIBLE_VERSION,
                f"this server speaks protocol version {codec.PROTOCOL_VERSION}, "
                f"not {frame.version}: please update your client",
                fatal=True,
            )
            return
        service = self.factory.service
        session = await maybeDeferred(
            service.connect, self, frame.nick, token=frame.token, host=self.host
        )
        if not self.adopt(session):
            return
        self.registered()
        self.log.info('client "{peer}" => "{nick}"', peer=self.peer, nick=session.nick)
        rooms = tuple(
            RoomInfo(room.name, room.members)
            for room in service.list_rooms(count=codec.ROOM_LIST_MAX, viewer=session)
        )
        self.send(
            codec.Welcome(
                codec.PROTOCOL_VERSION,
                session.user,
                service.token(session),
                session.resumed,
                rooms,
            )
        )
        if frame.token and not session.resumed:
            self.fail(
                ErrorCode.TOKEN_REFUSED,
                "resume token not recognised: you have a new identity",
            )
        for room in self.each(frame.rooms):
            try:
                self.entered(
                    await maybeDeferred(
                        service.join, session, room, returning=session.resumed
                    )
                )
            except errors.ChatError as e:
                self.refused(e)

    def entered(self, joined: Joined) -> None:
        """
        Tell the joiner (after its Joined) the room's topic and what was said
        there lately: a newcomer the last entries, a returning identity what
        it missed.
        """
        room = self.factory.service.room(joined.room)
        if room.topic:
            self.send(
                codec.Topic(
                    room.name, room.topic, room.topic_by, milliseconds(room.topic_time)
                )
            )
        replay = self.factory.service.reading.replay(
            self._session(), joined.room, lasting=True
        )
        if replay.since_left:
            if replay.entries or replay.skipped:
                entries = json_array(replay.entries)
                self.send(codec.Missed(joined.room, replay.skipped, entries))
        elif replay.entries:
            self.send(codec.History(joined.room, json_array(replay.entries)))

    async def handle_Join(self, frame: codec.Join) -> None:
        service = self.factory.service
        self.entered(await maybeDeferred(service.join, self._session(), frame.room))

    async def handle_JoinWithKey(self, frame: codec.JoinWithKey) -> None:
        service = self.factory.service
        joining = maybeDeferred(
            service.join, self._session(), frame.room, join_key=frame.key
        )
        self.entered(await joining)

    def handle_Part(self, frame: codec.Part) -> None:
        self.factory.service.part(self._session(), frame.room, frame.reason)

    def handle_Say(self, frame: codec.Say) -> None:
        self.factory.service.say(self._session(), frame.room, frame.text)

    def handle_Whisper(self, frame: codec.Whisper) -> None:
        self.factory.service.whisper(self._session(), frame.nick, frame.text)
        self.tell_away(frame.nick)

    def handle_Act(self, frame: codec.Act) -> None:
        self.factory.service.say(self._session(), frame.room, frame.text, action=True)

    def handle_ActPrivately(self, frame: codec.ActPrivately) -> None:
        service = self.factory.service
        service.whisper(self._session(), frame.nick, frame.text, action=True)
        self.tell_away(frame.nick)

    def tell_away(self, nick: str) -> None:
        """After a private message: say so if its recipient is away (IRC's 301)."""
        for user in self.factory.service.present([nick]):
            if user.away:
                self.send(codec.Away(user.nick, user.away))

    async def handle_SetTopic(self, frame: codec.SetTopic) -> None:
        service = self.factory.service
        await maybeDeferred(service.set_topic, self._session(), frame.room, frame.topic)

    def handle_SetAway(self, frame: codec.SetAway) -> None:
        self.factory.service.set_away(self._session(), frame.message or None)
        self.send(codec.AwaySet(frame.message))

    def handle_ShowImage(self, frame: codec.ShowImage) -> None:
        self.factory.service.show_image(self._session(), frame.room, frame.art)

    async def handle_ChangeNick(self, frame: codec.ChangeNick) -> None:
        await maybeDeferred(
            self.factory.service.change_nick, self._session(), frame.nick
        )

    async def handle_Kick(self, frame: codec.Kick) -> None:
        service, session = self.factory.service, self._session()
        await maybeDeferred(service.kick, session, frame.room, frame.nick, frame.reason)

    def handle_ListRooms(self, frame: codec.ListRooms) -> None:
        rooms = self.factory.service.list_rooms(
            count=codec.ROOM_LIST_MAX, viewer=self._session()
        )
        self.send(codec.RoomList(tuple(RoomInfo(r.name, r.members) for r in rooms)))

    def handle_ListNames(self, frame: codec.ListNames) -> None:
        users = self.factory.service.room(frame.room, self._session()).members
        self.send(codec.NameList(frame.room, users))

    async def handle_FetchHistory(self, frame: codec.FetchHistory) -> None:
        reading = self.factory.service.reading
        page = await reading.older(self._session(), frame.room, frame.count)
        self.send(codec.Older(frame.room, page.more, json_array(page.entries)))

    def handle_Goodbye(self, frame: codec.Goodbye) -> None:
        self.factory.service.disconnect(self._session(), frame.message)
        self.session = None
        self._close()

    def handle_Ping(self, frame: codec.Ping) -> None:
        self.send(codec.Pong(frame.token))

    def handle_Pong(self, frame: codec.Pong) -> None:
        pass


def json_array(entries: Sequence[HistoryEntry]) -> str:
    return "[" + ",".join(entry.to_json() for entry in entries) + "]"


def error_details(error: errors.ChatError) -> str:
    """What C{error} names (a room, a nick...), as the JSON of an Error frame."""
    if not dataclasses.is_dataclass(error):
        return ""
    return json.dumps(dataclasses.asdict(error), separators=(",", ":"))
