"""
The line front: plain text commands for netcat and telnet users.

Each line is C{<COMMAND> <argument>} (command case-insensitive), answered with
C{[server] ...} lines; messages from others arrive as C{[<nick>] <text>}. A
connection starts with its C{address:port} as nick, lands in the default room
if there is one, and is in at most one room at a time. This module only
translates: the rules live in L{ChatService}. Taking a nick and joining a
room are awaited (C{maybeDeferred}): with a shared state they would be
answered later, and the connection's input waits meanwhile (see
L{FrontProtocol.perform}).
"""

from __future__ import annotations

import time

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from ..core.errors import ChatError, excerpt
from ..core.events import (
    AwayChanged,
    Event,
    Image,
    Invited,
    InviteSeen,
    Joined,
    Kicked,
    Killed,
    Message,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RealnameChanged,
    Tagged,
    TopicChanged,
)
from ..core.history import HistoryEntry
from ..core.reading import DEFAULT_PAGE
from ..core.service import ChatService
from ..core.session import Session
from ..core.views import UserView
from ..text import action, is_ctcp, neutralise, readable
from .base import Front, FrontProtocol
from .policy import ConnectionCounter, Limits

CRLF = b"\r\n"
DEFAULT_MAX_LINE = 4096
LIST_MAX = 100  # rooms a LIST shows, first by name

HELP = [
    "commands (case-insensitive):",
    "  HELP                      this list",
    "  NICK <nick>               change your nick",
    "  MSG <message>             say something in your room",
    "  MSG #<room> <message>     say something in another room",
    "  ME <action>               say what you do (ME waves: * you waves)",
    "  NAMES [#<room>]           who is in your room (or another)",
    "  JOIN <room> [key]         go to a room (created if needed; key: if it has one)",
    "  PART [reason]             leave your room",
    "  LIST                      rooms and how many are in each",
    "  TOPIC [#<room>] [topic]   show or set the topic of your room (or another)",
    "  AWAY [message]            mark yourself away; without a message, back",
    "  HISTORY [#<room>] [count] older messages of your room (or another of yours)",
    "  KICK <nick> [reason]      remove someone from your room (room operators)",
    "  OPER <name> <password>    become a server operator",
    "  KILL <nick> [message]     disconnect someone (server operators)",
    "  QUIT [message]            say goodbye and leave",
]
STOPPING = "the server is stopping; goodbye"


def _line(text: str) -> bytes:
    return neutralise(text).encode("utf-8") + CRLF


def _server(text: str) -> bytes:
    return _line(f"[server] {text}")


def render_event(event: Event) -> bytes:
    """An event as the lines a netcat user reads."""
    match event:
        case Message(user=user):
            # The hot path: a nick holds no control character, the text is
            # made readable (and copied) only if it holds one.
            if event.action:
                return f"* {user.nick} {readable(event.text)}\r\n".encode()
            if is_ctcp(event.text):  # for IRC clients only, but a /me
                did = action(event.text)
                return b"" if did is None else _line(f"* {user.nick} {readable(did)}")
            return f"[{user.nick}] {readable(event.text)}\r\n".encode()
        case PrivateMessage(user=user):
            did = event.text if event.action else action(event.text)
            if did is not None:
                return _line(f"(private) * {user.nick} {readable(did)}")
            if is_ctcp(event.text):
                return b""
            return _line(f"[{user.nick}] (private) {readable(event.text)}")
        case Image(user=user):
            art = b"".join(_line(f"  {row}") for row in event.art.splitlines())
            return _line(f"[{user.nick}] shows a picture:") + art
        case Joined(user=user, arrival=True):
            return _server(f'client connected "{user.nick}"')
        case Joined(user=user, returning=True):
            return _server(f'"{user.nick}" is back in #{event.room}')
        case Joined(user=user):
            return _server(f'"{user.nick}" joined #{event.room}')
        case Parted(user=user):
            return _server(f'"{user.nick}" left #{event.room}{_reason(event.reason)}')
        case Quit(user=user):
            farewell = (
                _line(f"[{user.nick}] {readable(event.message)}")
                if event.message
                else b""
            )
            return farewell + _server(f'client disconnected "{user.nick}"')
        case NickChanged(user=user):
            return _server(f'client "{event.old}" => "{user.nick}"')
        case Kicked(user=user, by=by):
            return _server(
                f'"{user.nick}" was kicked from #{event.room} by "{by.nick}"'
                + _reason(event.reason)
            )
        case Killed(user=user, by=by):
            return _line(f"[{by.nick}] {readable(event.message)}") + _server(
                f'"{user.nick}" was disconnected by "{by.nick}"'
            )
        case TopicChanged(user=user) if not event.topic:
            return _server(f'"{user.nick}" cleared the topic of #{event.room}')
        case TopicChanged(user=user):
            return _server(
                f'"{user.nick}" set the topic of #{event.room}: {readable(event.topic)}'
            )
        case ModeChanged(user=user):
            changes = ", ".join(_mode_words(mode, arg) for mode, arg in event.changes)
            return _server(f'"{user.nick}" changed #{event.room}: {changes}')
        case Invited(user=user):
            return _server(f'"{user.nick}" invites you to #{event.room}')
        case Tagged() | AwayChanged() | RealnameChanged() | InviteSeen():
            return b""  # for IRC clients only


def render_history(entry: HistoryEntry) -> bytes:
    """A past message, marked as history, with the server's local time."""
    mark = f"[history {time.strftime('%H:%M', time.localtime(entry.time))}]"
    if entry.kind == "image":
        art = b"".join(_line(f"  {row}") for row in entry.text.splitlines())
        return _line(f"{mark} [{entry.nick}] shows a picture:") + art
    did = entry.text if entry.kind == "action" else action(entry.text)
    if did is not None:
        return _line(f"{mark} * {entry.nick} {readable(did)}")
    if is_ctcp(entry.text):  # a CTCP request an IRC client sent the room
        return b""
    return _line(f"{mark} [{entry.nick}] {readable(entry.text)}")


# What each room mode change does, in words ({arg}: its argument).
MODE_WORDS = {
    "+o": 'made "{arg}" an operator',
    "-o": 'took the operator rights of "{arg}"',
    "+v": 'gave "{arg}" a voice',
    "-v": 'took the voice of "{arg}"',
    "+k": "set the key to {arg} (JOIN <room> <key>)",
    "-k": "removed the key",
    "+l": "limited it to {arg} members",
    "-l": "removed its member limit",
    "+b": "banned {arg}",
    "-b": "lifted the ban on {arg}",
    "+e": "exempted {arg} from its bans",
    "-e": "removed the ban exception of {arg}",
    "+I": "let {arg} in without an invitation",
    "-I": "removed the invite exception of {arg}",
    "+i": "made it invite only",
    "-i": "opened it to everyone (no invitation needed)",
    "+s": "made it secret (not listed)",
    "-s": "made it public (listed)",
    "+m": "made it moderated (only operators and voiced members speak)",
    "-m": "ended its moderation",
    "+n": "closed it to messages from outside",
    "-n": "opened it to messages from outside",
    "+t": "let only operators set the topic",
    "-t": "let every member set the topic",
}


def _mode_words(mode: str, arg: str) -> str:
    words = MODE_WORDS.get(mode)
    return words.format(arg=arg) if words else f"{mode} {arg}".strip()


def _reason(reason: str) -> str:
    return f": {readable(reason)}" if reason else ""


class LineProtocol(LineReceiver, FrontProtocol):
    """One netcat or telnet connection."""

    delimiter = b"\n"  # netcat sends LF, telnet CRLF: a trailing CR is dropped

    factory: LineFront
    _discarding = False
    _pending = b""

    # Connection

    def connectionMade(self) -> None:
        super().connectionMade()
        if not self.admitted:
            return
        self.MAX_LENGTH = self.factory.max_line
        self.factory.connected.add(self)
        nick = self.peer or self.factory.guest_nick()
        self.log.info('client connected "{peer}"', peer=nick)
        self.perform("connect", self.arrive, nick)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.factory.connected.discard(self)
        super().connectionLost(reason)

    async def arrive(self, nick: str) -> None:
        """Take C{nick} and, if there is one, land in the default room."""
        service = self.factory.service
        session = await maybeDeferred(
            service.connect, self, nick, provisional=True, host=self.host
        )
        if not self.adopt(session):
            return
        self.reply(f'welcome, you are "{nick}"; type HELP for the commands')
        if service.default_room is None:
            self.reply("JOIN a room to start chatting")
            return
        try:
            await maybeDeferred(
                service.join, session, service.default_room, arrival=True
            )
        except ChatError as e:  # the room's rules keep this user out
            self.refused(e)
            self.reply("JOIN a room to start chatting")
            return
        self.reply(f"you are in #{service.default_room}")
        self.show_topic(service.default_room)
        self.replay(service.default_room)

    # Reading lines

    def dataReceived(self, data: bytes) -> None:
        if self.dropped:
            return
        if data:
            self.policy.heard()
        # LineReceiver drops the connection on an overlong line; we answer with
        # an error instead, skip to the next newline and go on reading.
        if self._discarding:
            _, newline, data = data.partition(self.delimiter)
            if not newline:
                return
            self._discarding = False
        while True:  # b"" too: LineReceiver.resumeProducing reads what it holds
            super().dataReceived(data)  # type: ignore[no-untyped-call]
            data, self._pending = self._pending, b""
            if not data:
                break

    def lineLengthExceeded(self, line: bytes) -> None:
        self.error(f"line too long (over {self.MAX_LENGTH} bytes), ignored")
        _, newline, rest = line.partition(self.delimiter)
        if newline:
            self._pending = rest  # read by dataReceived once we return
        else:
            self._discarding = True

    def lineReceived(self, line: bytes) -> None:
        text = line.removesuffix(b"\r").decode("utf-8", "replace").strip()
        if not text or self.session is None or not self.policy.allow():
            return
        command, _, argument = text.partition(" ")
        head, bar, nick = text.partition("|")
        if bar and head.lower() == "hello":  # the old clients' "Hello|<nick>"
            command, argument = "NICK", nick
        handler = getattr(self, "line_" + command.upper(), None)
        if handler is None:
            self.error(
                f'unknown command "{excerpt(command)}"; type HELP for the commands'
            )
            return
        self.perform(command, handler, self.session, argument.strip())

    def hold_input(self) -> None:
        # LineReceiver's own pause: it keeps the lines that come meanwhile.
        self.pauseProducing()  # type: ignore[no-untyped-call]

    def release_input(self) -> None:
        self.resumeProducing()  # type: ignore[no-untyped-call]

    # Answers

    def reply(self, text: str) -> None:
        self.write(_server(text))

    def error(self, text: str) -> None:
        self.reply(f"error: {text}")

    def refused(self, error: ChatError) -> None:
        self.error(str(error))

    def internal_error(self, command: str) -> None:
        self.error("internal error, nothing was done")

    def refuse(self, why: str) -> None:
        self.error(f"{why}; disconnecting")

    def flooded(self) -> None:
        self.error("slow down: line ignored (flood control)")

    def show_topic(self, room: str) -> None:
        """Tell a joiner the room's topic, if it has one."""
        view = self.factory.service.room(room)
        if view.topic:
            self.reply(f"topic of #{view.name}: {readable(view.topic)}")

    def replay(self, room: str) -> None:
        """Show a joiner what was said lately, before anything new."""
        session = self.session
        assert session is not None
        for entry in self.factory.service.reading.replay(session, room).entries:
            self.write(render_history(entry))

    def current_room(self, session: Session) -> str | None:
        # The room joined last: in a cluster, the part from the previous room
        # is applied later than the join (from the log), and until then the
        # user is in both.
        return session.rooms[-1] if session.rooms else None

    def _room_or_fail(self, session: Session) -> str:
        room = self.current_room(session)
        if room is None:
            raise _Usage("you are not in a room; JOIN one first")
        return room

    # Commands: line_<COMMAND>(session, argument)

    def line_HELP(self, session: Session, argument: str) -> None:
        for text in HELP:
            self.reply(text)

    async def line_NICK(self, session: Session, argument: str) -> None:
        if not argument:
            raise _Usage("usage: NICK <nick>")
        await maybeDeferred(self.factory.service.change_nick, session, argument)
        self.reply(f'you are now known as "{session.nick}"')

    def line_MSG(self, session: Session, argument: str) -> None:
        if argument.startswith("#"):
            room, _, text = argument[1:].partition(" ")
        else:
            room, text = self._room_or_fail(session), argument
        if not text.strip():
            raise _Usage("usage: MSG <message> or MSG #<room> <message>")
        self.factory.service.say(session, room, text)

    def line_ME(self, session: Session, argument: str) -> None:
        if not argument:
            raise _Usage("usage: ME <action> (ME waves: * you waves)")
        self.factory.service.say(
            session, self._room_or_fail(session), argument, action=True
        )

    def line_NAMES(self, session: Session, argument: str) -> None:
        room = argument.removeprefix("#") if argument else self._room_or_fail(session)
        service = self.factory.service
        users = service.present(service.room(room, session).names)
        self.reply(" ".join(_named(user) for user in users))

    async def line_TOPIC(self, session: Session, argument: str) -> None:
        if argument.startswith("#"):
            room, _, topic = argument[1:].partition(" ")
        else:
            room, topic = self._room_or_fail(session), argument
        topic = topic.strip()
        service = self.factory.service
        if not topic:
            view = service.room(room)
            if view.topic:
                self.reply(
                    f'topic of #{view.name}: {readable(view.topic)} (set by "{view.topic_by}")'
                )
            else:
                self.reply(f"#{view.name} has no topic; TOPIC <topic> sets one")
            return
        event = await maybeDeferred(service.set_topic, session, room, topic)
        self.reply(f"you set the topic of #{event.room}: {readable(event.topic)}")

    def line_AWAY(self, session: Session, argument: str) -> None:
        self.factory.service.set_away(session, argument or None)
        if argument:
            self.reply(f"you are marked as away: {argument}")
        else:
            self.reply("you are back (no longer marked as away)")

    async def line_JOIN(self, session: Session, argument: str) -> None:
        room, _, key = argument.removeprefix("#").partition(" ")
        if not room or " " in key.strip():
            raise _Usage("usage: JOIN <room> [key]")
        service = self.factory.service
        previous = self.current_room(session)
        await maybeDeferred(service.join, session, room, join_key=key.strip())
        if previous is not None:
            service.part(session, previous)
        members = len(service.names(room))
        self.reply(f"you are in #{self.current_room(session)} ({_count(members)})")
        self.show_topic(room)
        self.replay(room)

    def line_PART(self, session: Session, argument: str) -> None:
        room = self._room_or_fail(session)
        self.factory.service.part(session, room, argument)
        self.reply(f"you left #{room}; JOIN a room to chat")

    def line_LIST(self, session: Session, argument: str) -> None:
        service = self.factory.service
        rooms = service.list_rooms(count=LIST_MAX, viewer=session)
        if not rooms:
            self.reply("no rooms yet; JOIN <room> creates one")
            return
        listed = ", ".join(f"#{room.name} ({_count(room.members)})" for room in rooms)
        # Secret rooms are not shown, but counted among the more, if any.
        more = service.counts().rooms - len(rooms) if len(rooms) == LIST_MAX else 0
        if more > 0:  # one line for a person to read, not thousands of rooms
            listed += f" and {more} more (JOIN one by its name)"
        self.reply("rooms: " + listed)

    async def line_HISTORY(self, session: Session, argument: str) -> None:
        words = argument.split()
        room = words.pop(0)[1:] if words and words[0].startswith("#") else None
        if len(words) > 1 or room == "" or not all(map(_is_number, words)):
            raise _Usage("usage: HISTORY [#<room>] [count]")
        room = room or self._room_or_fail(session)
        count = int(words[0]) if words else DEFAULT_PAGE
        page = await self.factory.service.reading.older(session, room, count)
        if not page.entries:
            self.reply(f"no older messages in #{room}")
            return
        self.reply(f"{_messages(len(page.entries))} before those shown, in #{room}:")
        for entry in page.entries:
            self.write(render_history(entry))
        if page.more:
            self.reply(f"end of these; HISTORY #{room} shows older ones")
        else:
            self.reply(f"that is the start of #{room}'s history")

    async def line_KICK(self, session: Session, argument: str) -> None:
        nick, _, reason = argument.partition(" ")
        if not nick:
            raise _Usage("usage: KICK <nick> [reason]")
        room = self._room_or_fail(session)
        kicking = maybeDeferred(
            self.factory.service.kick, session, room, nick, reason.strip()
        )
        event = await kicking
        self.reply(
            f'"{event.user.nick}" was kicked from #{event.room}{_reason(event.reason)}'
        )

    def line_OPER(self, session: Session, argument: str) -> Deferred[None]:
        name, _, password = argument.partition(" ")
        if not name or not password:
            raise _Usage("usage: OPER <name> <password>")
        checking = self.factory.service.oper(session, name, password)
        return checking.addCallback(self._opered)  # a refusal: see perform()

    def _opered(self, operator: str) -> None:
        self.reply(f'you are now a server operator ("{operator}")')

    async def line_KILL(self, session: Session, argument: str) -> None:
        nick, _, message = argument.partition(" ")
        if not nick:
            raise _Usage("usage: KILL <nick> [message]")
        event = await maybeDeferred(
            self.factory.service.kill,
            session,
            nick,
            message.strip() or "you have been disconnected by an operator",
        )
        self.reply(f'"{event.user.nick}" was disconnected')

    def line_QUIT(self, session: Session, argument: str) -> None:
        self.factory.service.disconnect(session, argument)
        self.reply("goodbye")
        self.transport.loseConnection()

    # Farewells

    def deliver(self, event: Event) -> None:
        super().deliver(event)
        if (
            isinstance(event, Killed)
            and self.session is not None
            and event.user.id == self.session.user.id
        ):
            # After what the room sees, our own farewell; the core then closes.
            self.reply(
                f'you were disconnected by "{event.by.nick}": '
                f"{readable(event.message)}; goodbye"
            )

    def stopping(self) -> None:
        """The server is stopping: say so, then close."""
        if self.session is not None and not self.dropped:
            self.reply(STOPPING)
            self.transport.loseConnection()


class _Usage(ChatError):
    """A command was given the wrong arguments; the text says how to use it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def _is_number(word: str) -> bool:
    return word.isascii() and word.isdigit()


def _messages(count: int) -> str:
    return "1 message" if count == 1 else f"{count} messages"


def _named(user: UserView) -> str:
    """A nick as NAMES shows it: marked if its user is away."""
    return f"{user.nick} (away)" if user.away else user.nick


def _count(members: int) -> str:
    return f"{members} member" if members == 1 else f"{members} members"


class LineFront(Front[LineProtocol]):
    """Builds a L{LineProtocol} per connection; all share one L{ChatService}."""

    protocol = LineProtocol

    def __init__(
        self,
        service: ChatService,
        max_line: int = DEFAULT_MAX_LINE,
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
    ) -> None:
        super().__init__(service, render_event, limits, connections)
        self.max_line = max_line
        self._guests = 0
        self.connected: set[LineProtocol] = set()

    def stopFactory(self) -> None:
        # Every user is told, in order after what the broadcasts owe them.
        for protocol in list(self.connected):
            protocol.stopping()
        super().stopFactory()

    def guest_nick(self) -> str:
        """A provisional nick for a peer with no IP address (a UNIX socket)."""
        self._guests += 1
        return f"guest:{self._guests}"
