"""
The IRC front: real IRC clients (irssi, WeeChat, HexChat) in the same rooms.

Built on C{twisted.words.protocols.irc.IRC} for parsing and sending, with our
own framing of the byte stream: Twisted's decodes each TCP chunk as UTF-8, so a
character split across two reads would fail; here bytes are cut into complete
lines (512 bytes at most, RFC 1459) before decoding, and invalid UTF-8 is
replaced. Channel C{#name} is the room C{name} of the other fronts. Commands
dispatch to C{irc_<COMMAND>} methods; a core refusal becomes the matching
numeric reply.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import ClassVar

from twisted.internet.protocol import Factory
from twisted.python.failure import Failure
from twisted.words.protocols import irc

from .. import __version__
from ..core import errors
from ..core.events import (
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
from ..core.names import fold_nick, is_valid_nick
from ..core.service import ChatService
from ..core.session import Session
from ..core.views import RoomView, UserView
from .base import ConnectionCounter, Front, Limits, SessionProtocol
from .fanout import Broadcaster, Fanout, Outbox, RenderOnce

SERVER = "twistedchat"
MAX_LINE = 512  # bytes, CRLF included (RFC 1459)
CAPABILITIES = ("server-time",)
# Lengths announced in 005 (ISUPPORT), and kept to: longer ones are cut.
TOPICLEN, KICKLEN, AWAYLEN = 390, 390, 200
ERR_INPUTTOOLONG = "417"  # newer than twisted.words' list of numerics
ERR_INVALIDCAPCMD = "410"
# Controls that would end or corrupt an IRC line; IRC's own formatting codes
# (bold, colours, italics, underline, reset...) and CTCP's \x01 pass through.
_UNSAFE = {
    code: "\N{REPLACEMENT CHARACTER}"
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]
    if code not in (0x01, 0x02, 0x03, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F)
}


def clean(text: str) -> str:
    # Most text holds no control character: isprintable() tells so many times
    # faster than translate() copies it, character by character.
    if text.isprintable():
        return text
    return text.translate(_UNSAFE)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def rows(text: str) -> list[str]:
    """
    The lines of C{text}, cut at CR and LF only: C{str.splitlines} also cuts
    at C{\\x1d} and C{\\x1e}, IRC's italics and strikethrough codes.
    """
    if "\n" not in text and "\r" not in text:
        return [text] if text else []
    lines = _LINE_BREAK.split(text)
    if not lines[-1]:
        lines.pop()
    return lines


def prefix(user: User, nick: str | None = None) -> str:
    """C{nick!user@host} for C{user}: the id stands for the user name."""
    return f"{clean(nick or user.nick).replace(' ', '_')}!{user.id[:10]}@{SERVER}"


def channel(room: str) -> str:
    return f"#{room}"


def _line(source: str, command: str, *params: str) -> str:
    """One IRC line; every parameter is cleaned, the last one made trailing if need be."""
    cleaned = [clean(param) for param in params]
    if cleaned:
        cleaned[-1] = _trailing(cleaned[-1])
    return " ".join([f":{source}", command, *cleaned])


def _trailing(param: str) -> str:
    """C{param} as the last parameter of a line: after a colon if need be."""
    if not param or " " in param or param[0] == ":":
        return ":" + param
    return param


def fit(source: str, command: str, target: str, text: str) -> list[str]:
    """
    C{text} as one or more C{command} lines from C{source} to C{target}, each
    within the 512 bytes of RFC 1459 (CRLF included): other fronts accept
    longer messages than IRC does. Cuts fall between characters, not inside.
    """
    head = f":{source} {command} {clean(target)} "
    budget = MAX_LINE - 2 - len(head.encode()) - 1  # 1: the colon of the text
    lines = []
    for row in rows(text) or [""]:
        row = clean(row)
        while len(encoded := row.encode()) > budget:
            cut = len(encoded[:budget].decode("utf-8", "ignore"))
            lines.append(head + _trailing(row[:cut]))
            row = row[cut:]
        lines.append(head + _trailing(row))
    return lines


def render_lines(event: Event) -> list[str]:
    """The IRC lines (no tags, no CRLF) that tell a client about C{event}."""
    match event:
        case Message(user=user):
            command = "NOTICE" if event.notice else "PRIVMSG"
            return fit(prefix(user), command, channel(event.room), event.text)
        case PrivateMessage(user=user):
            command = "NOTICE" if event.notice else "PRIVMSG"
            return fit(prefix(user), command, event.to, event.text)
        case Image(user=user):
            room = channel(event.room)
            heading = _line(
                prefix(user), "PRIVMSG", room, "\x01ACTION shows a picture:\x01"
            )
            return [heading] + [
                _line(prefix(user), "PRIVMSG", room, clean(row) or " ")
                for row in rows(event.art)
            ]
        case Joined(user=user):
            return [_line(prefix(user), "JOIN", channel(event.room))]
        case Parted(user=user):
            reason = [clean(event.reason)] if event.reason else []
            return [_line(prefix(user), "PART", channel(event.room), *reason)]
        case Quit(user=user):
            return [_line(prefix(user), "QUIT", clean(event.message) or "Client Quit")]
        case NickChanged(user=user):
            return [_line(prefix(user, event.old), "NICK", user.nick)]
        case Kicked(user=user, by=by):
            return [
                _line(
                    prefix(by),
                    "KICK",
                    channel(event.room),
                    user.nick,
                    clean(event.reason) or by.nick,
                )
            ]
        case Killed(user=user, by=by):
            why = f"Killed ({by.nick} ({clean(event.message)}))"
            return [_line(prefix(user), "QUIT", why)]
        case TopicChanged(user=user):
            return [
                _line(prefix(user), "TOPIC", channel(event.room), clean(event.topic))
            ]
        case ModeChanged(user=user):
            letters = "".join(mode for mode, _ in event.changes)
            arguments = [argument for _, argument in event.changes if argument]
            return [
                " ".join(
                    [
                        f":{prefix(user)}",
                        "MODE",
                        channel(event.room),
                        letters,
                        *arguments,
                    ]
                )
            ]
        case Invited(user=user):
            return [_line(prefix(user), "INVITE", event.to, channel(event.room))]


def _encode(lines: Iterable[str], tags: str = "") -> bytes:
    return "".join([f"{tags}{line}\r\n" for line in lines]).encode()


def render_plain(event: Event) -> bytes:
    return _encode(render_lines(event))


def render_tagged(event: Event) -> bytes:
    """The lines with IRCv3 C{server-time}, for clients that asked for it."""
    return _encode(render_lines(event), f"@time={server_time(event.time)} ")


def server_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class NotAChannel(errors.ChatError):
    """A target that names no channel (no C{#}): answered with the name as given."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return "No such channel"


# Which numeric answers which refusal of the core.
NUMERICS: dict[type[errors.ChatError], str] = {
    errors.NickInUse: irc.ERR_NICKNAMEINUSE,
    errors.InvalidNick: irc.ERR_ERRONEUSNICKNAME,
    errors.NoSuchNick: irc.ERR_NOSUCHNICK,
    errors.InvalidRoomName: irc.ERR_NOSUCHCHANNEL,
    errors.NoSuchRoom: irc.ERR_NOSUCHCHANNEL,
    NotAChannel: irc.ERR_NOSUCHCHANNEL,
    errors.NotInRoom: irc.ERR_NOTONCHANNEL,
    errors.UserNotInRoom: irc.ERR_USERNOTINCHANNEL,
    errors.UserAlreadyInRoom: irc.ERR_USERONCHANNEL,
    errors.NotRoomOperator: irc.ERR_CHANOPRIVSNEEDED,
    errors.NotServerOperator: irc.ERR_NOPRIVILEGES,
    errors.CannotSendToRoom: irc.ERR_CANNOTSENDTOCHAN,
    errors.EmptyMessage: irc.ERR_NOTEXTTOSEND,
    errors.InvalidCredentials: irc.ERR_PASSWDMISMATCH,
    errors.OperThrottled: irc.ERR_PASSWDMISMATCH,
    errors.NoOperators: irc.ERR_NOOPERHOST,
    errors.UnknownMode: irc.ERR_UNKNOWNMODE,
    errors.MissingModeArgument: irc.ERR_NEEDMOREPARAMS,
}


def _target(error: errors.ChatError) -> str:
    """
    The parameter a numeric names: the nick or channel at fault; none for
    refusals about no one (412, 481, 491 have no such parameter).
    """
    if isinstance(error, NotAChannel):
        return error.name or "*"
    room = getattr(error, "room", None)
    nick = getattr(error, "nick", None)
    if isinstance(error, errors.UserNotInRoom | errors.UserAlreadyInRoom):
        return f"{nick} #{room}"
    if room is not None:
        return channel(room)
    if nick is not None:
        return str(nick)
    return getattr(error, "mode", "")


class NeedMoreParams(Exception):
    """A command came without the parameters it needs."""


class IRCProtocol(SessionProtocol, irc.IRC):
    """One IRC client connection."""

    # Before registration, only these are understood.
    REGISTRATION: ClassVar[frozenset[str]] = frozenset(
        {"PASS", "NICK", "USER", "CAP", "PING", "PONG", "QUIT"}
    )

    factory: IRCFront
    nick = "*"  # what numerics address the client as
    username = ""
    realname = ""
    _buffer = b""
    _discarding = False
    _negotiating = False  # between CAP LS/REQ and CAP END
    _tagged = False  # asked for server-time
    _closing = False

    needs_registration = True
    # IRC clients learn of their own joins, parts, nick changes... from the
    # server, not of their own messages (no echo-message capability yet).
    echo_messages = False
    echo_actions = True

    def connectionMade(self) -> None:
        # Not irc.IRC's: it looks the host name up, which may block.
        super().connectionMade()
        if self.admitted:
            self.log.info('client connected "{peer}" (irc)', peer=self.peer)

    # Framing: complete lines of bytes, then text

    def dataReceived(self, data: bytes) -> None:
        if self.dropped or self._closing:
            return
        self.heard()
        *lines, buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            if self._discarding:
                self._discarding = False
                continue
            if len(line) + 1 > MAX_LINE:
                self.reply(ERR_INPUTTOOLONG, "Input line was too long")
                continue
            self.lineReceived(line.rstrip(b"\r").decode("utf-8", "replace"))
            if self._closing:
                return
        if len(buffer) >= MAX_LINE:
            if not self._discarding:
                self.reply(ERR_INPUTTOOLONG, "Input line was too long")
            self._discarding = True
            buffer = b""
        self._buffer = buffer

    def lineReceived(self, line: str) -> None:
        if not line.strip() or self.dropped or not self.allow():
            return
        try:
            source, command, params = irc.parsemsg(line)
        except (IndexError, ValueError):
            self.reply(irc.ERR_UNKNOWNCOMMAND, "*", "Malformed line")
            return
        self.handleCommand(command.upper(), source, params)

    def handleCommand(self, command: str, prefix: str, params: list[str]) -> None:
        if self.session is None and command not in self.REGISTRATION:
            self.reply(irc.ERR_NOTREGISTERED, "You have not registered")
            return
        method: Callable[[str, list[str]], None] | None = getattr(
            self, "irc_" + command, None
        )
        if method is None:
            self.irc_unknown(prefix, command, params)
            return
        try:
            method(prefix, params)
        except NeedMoreParams:
            self.reply(irc.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
        except errors.ChatError as e:
            self.refused(e)
        except Exception:
            self.log.failure(
                "{command} from {peer} failed", command=command, peer=self.peer
            )
            self.reply("400", command, "Internal error, nothing was done")

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        self.reply(irc.ERR_UNKNOWNCOMMAND, command, "Unknown command")

    # Replies

    def send_line(self, line: str) -> None:
        self.write(line.encode("utf-8") + b"\r\n")

    def disconnect(self) -> None:
        self._closing = True
        self.transport.loseConnection()

    def reply(self, numeric: str, *params: str) -> None:
        """A numeric from the server to this client."""
        self.send_line(_line(SERVER, numeric, self.nick, *params))

    def send(self, source: str, command: str, *params: str) -> None:
        self.send_line(_line(source, command, *params))

    def refused(self, error: errors.ChatError) -> None:
        target = _target(error)
        params = [target, str(error)] if target else [str(error)]
        self.reply(NUMERICS.get(type(error), "400"), *params)

    @property
    def broadcaster(self) -> Broadcaster:
        return self.factory.tagged if self._tagged else self.factory.broadcaster

    def refuse(self, why: str) -> None:
        self.send_line(f"ERROR :Closing Link: {self.peer} ({clean(why)})")

    def flooded(self) -> None:
        self.send(
            SERVER, "NOTICE", self.nick, "Slow down: line ignored (flood control)"
        )

    def send_ping(self) -> bool:
        self.send_line(f"PING :{SERVER}")
        return True

    def _session(self) -> Session:
        assert self.session is not None  # handleCommand checked registration
        return self.session

    @staticmethod
    def _need(params: list[str], count: int) -> None:
        if len(params) < count or not all(params[:count]):
            raise NeedMoreParams()

    # Registration

    def irc_PASS(self, prefix: str, params: list[str]) -> None:
        if self.session is not None:
            self.reply(irc.ERR_ALREADYREGISTRED, "You may not reregister")
        # No server password: a PASS before registering is accepted and unused.

    def irc_CAP(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        sub = params[0].upper()
        if sub == "LS":
            if self.session is None:
                self._negotiating = True
            self.send(SERVER, "CAP", self.nick, "LS", " ".join(CAPABILITIES))
        elif sub == "LIST":
            self.send(
                SERVER, "CAP", self.nick, "LIST", "server-time" if self._tagged else ""
            )
        elif sub == "REQ":
            if self.session is None:
                self._negotiating = True
            wanted = (params[1] if len(params) > 1 else "").split()
            if all(cap.lstrip("-") in CAPABILITIES for cap in wanted):
                for cap in wanted:
                    self._tagged = not cap.startswith("-")
                delivery = self.factory.service.delivery
                if self.session is not None and isinstance(delivery, Fanout):
                    delivery.regroup(self.session)
                self.send(SERVER, "CAP", self.nick, "ACK", " ".join(wanted))
            else:
                self.send(SERVER, "CAP", self.nick, "NAK", " ".join(wanted))
        elif sub == "END":
            self._negotiating = False
            self._register()
        else:
            self.reply(ERR_INVALIDCAPCMD, sub, "Invalid CAP command")

    def irc_NICK(self, prefix: str, params: list[str]) -> None:
        if not params or not params[0]:
            self.reply(irc.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        if self.session is not None:
            self.factory.service.change_nick(self.session, params[0])
            self.nick = self.session.nick
            return
        wanted = params[0]
        service = self.factory.service
        if not is_valid_nick(wanted):
            self.reply(irc.ERR_ERRONEUSNICKNAME, wanted, "Erroneous nickname")
        elif service.nick_taken(wanted):
            self.reply(irc.ERR_NICKNAMEINUSE, wanted, "Nickname is already in use")
        else:
            self.nick = wanted
            self._register()

    def irc_USER(self, prefix: str, params: list[str]) -> None:
        if self.session is not None:
            self.reply(irc.ERR_ALREADYREGISTRED, "You may not reregister")
            return
        self._need(params, 4)
        self.username = params[0][:10]
        self.realname = params[3]
        self._register()

    def _register(self) -> None:
        if self.session is not None or self._negotiating:
            return
        if self.nick == "*" or not self.username:
            return
        try:
            self.session = self.factory.service.connect(
                self, self.nick, realname=self.realname
            )
        except errors.ChatError as e:
            self.refused(e)
            self.nick = "*"
            return
        self.registered()
        self.log.info('client "{peer}" => "{nick}"', peer=self.peer, nick=self.nick)
        self.welcome()

    def welcome(self) -> None:
        self.reply(
            irc.RPL_WELCOME, f"Welcome to the twistedchat IRC network, {self.nick}"
        )
        self.reply(
            irc.RPL_YOURHOST,
            f"Your host is {SERVER}, running twistedchat {__version__}",
        )
        self.reply(irc.RPL_CREATED, f"This server was created {self.factory.started}")
        self.reply(irc.RPL_MYINFO, SERVER, __version__, "o", "mnot")
        self.reply(
            irc.RPL_ISUPPORT,
            "CASEMAPPING=rfc1459",
            "CHANTYPES=#",
            "CHANMODES=,,,mnt",
            "PREFIX=(o)@",
            "NICKLEN=30",
            "CHANNELLEN=51",
            f"TOPICLEN={TOPICLEN}",
            f"KICKLEN={KICKLEN}",
            f"AWAYLEN={AWAYLEN}",
            "MODES=4",
            "NETWORK=twistedchat",
            "are supported by this server",
        )
        self.irc_LUSERS("", [])
        self.irc_MOTD("", [])

    # Queries about the server

    def irc_LUSERS(self, prefix: str, params: list[str]) -> None:
        counts = self.factory.service.counts()
        self.reply(
            irc.RPL_LUSERCLIENT,
            f"There are {counts.users} users and 0 invisible on 1 server",
        )
        self.reply(irc.RPL_LUSEROP, str(counts.operators), "operator(s) online")
        self.reply(irc.RPL_LUSERCHANNELS, str(counts.rooms), "channels formed")
        self.reply(irc.RPL_LUSERME, f"I have {counts.users} clients and 0 servers")

    def irc_MOTD(self, prefix: str, params: list[str]) -> None:
        self.reply(irc.RPL_MOTDSTART, f"- {SERVER} Message of the day -")
        for text in self.factory.motd:
            self.reply(irc.RPL_MOTD, f"- {text}")
        self.reply(irc.RPL_ENDOFMOTD, "End of /MOTD command.")

    def irc_PING(self, prefix: str, params: list[str]) -> None:
        if not params:
            self.reply(irc.ERR_NOORIGIN, "No origin specified")
            return
        self.send(SERVER, "PONG", SERVER, params[0])

    def irc_PONG(self, prefix: str, params: list[str]) -> None:
        pass  # any traffic shows the client is alive

    def irc_QUIT(self, prefix: str, params: list[str]) -> None:
        message = params[0] if params else ""
        if self.session is not None:
            self.factory.service.disconnect(self.session, message)
            self.session = None
        self.send_line(f"ERROR :Closing Link: {self.peer} (Quit: {clean(message)})")
        self.disconnect()

    # Channels

    def irc_JOIN(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        session = self._session()
        if params[0] == "0":
            for name in session.rooms:
                self.factory.service.part(session, name, "Left all channels")
            return
        for name in params[0].split(","):
            try:
                self.join(session, self._room_name(name))
            except errors.AlreadyInRoom:
                pass  # as IRC servers do: joining a channel you are on is a no-op
            except errors.ChatError as e:
                self.refused(e)

    def join(self, session: Session, name: str) -> None:
        service = self.factory.service
        service.join(session, name)
        room = service.room(name)
        if room.topic:
            self._topic(room)
        self._names(room)
        self._replay(room)

    def _replay(self, room: RoomView) -> None:
        """Recent history, as NOTICEs (with their time when the client asked)."""
        entries = self.factory.service.recent(room.name)
        for entry in entries:
            source = f"{clean(entry.nick)}!history@{SERVER}"
            lines = rows(entry.text) or [""]
            if entry.kind == "image":
                lines = ["shows a picture:", *lines]
            for row in lines:
                if self._tagged:
                    tags = f"@time={server_time(entry.time)} "
                    self.send_line(
                        tags
                        + _line(
                            source, "PRIVMSG", channel(room.name), clean(row) or " "
                        )
                    )
                else:
                    stamp = time.strftime("%H:%M", time.localtime(entry.time))
                    self.send_line(
                        _line(
                            SERVER,
                            "NOTICE",
                            channel(room.name),
                            f"[{stamp}] <{entry.nick}> {clean(row)}",
                        )
                    )

    def irc_PART(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        reason = params[1] if len(params) > 1 else ""
        for name in params[0].split(","):
            try:
                self.factory.service.part(
                    self._session(), self._room_name(name), reason
                )
            except errors.ChatError as e:
                self.refused(e)

    def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
        self._message(params, notice=False)

    def irc_NOTICE(self, prefix: str, params: list[str]) -> None:
        self._message(params, notice=True)

    def _message(self, params: list[str], notice: bool) -> None:
        if not params or not params[0]:
            if not notice:
                self.reply(irc.ERR_NORECIPIENT, "No recipient given (PRIVMSG)")
            return
        if len(params) < 2 or not params[1]:
            if not notice:
                self.reply(irc.ERR_NOTEXTTOSEND, "No text to send")
            return
        service = self.factory.service
        session = self._session()
        for target in params[0].split(","):
            try:
                if target.startswith("#"):
                    service.say(
                        session, self._room_name(target), params[1], notice=notice
                    )
                else:
                    recipient = service.user(target)
                    service.whisper(session, target, params[1], notice=notice)
                    if recipient.away and not notice:
                        self.reply(irc.RPL_AWAY, recipient.nick, recipient.away)
            except errors.ChatError as e:
                if not notice:  # RFC 1459: never an automatic reply to a NOTICE
                    self.refused(e)

    def irc_NAMES(self, prefix: str, params: list[str]) -> None:
        service = self.factory.service
        if not params or not params[0]:
            self.reply(irc.RPL_ENDOFNAMES, "*", "End of /NAMES list.")
            return
        for name in params[0].split(","):
            try:
                self._names(service.room(self._room_name(name)))
            except errors.ChatError:
                self.reply(irc.RPL_ENDOFNAMES, name, "End of /NAMES list.")

    def _names(self, room: RoomView) -> None:
        names = [("@" if room.is_operator(u) else "") + u.nick for u in room.members]
        line: list[str] = []
        for name in names:
            line.append(name)
            if len(" ".join(line)) > 400:
                self.reply(irc.RPL_NAMREPLY, "=", channel(room.name), " ".join(line))
                line = []
        if line:
            self.reply(irc.RPL_NAMREPLY, "=", channel(room.name), " ".join(line))
        self.reply(irc.RPL_ENDOFNAMES, channel(room.name), "End of /NAMES list.")

    def irc_LIST(self, prefix: str, params: list[str]) -> None:
        service = self.factory.service
        self.reply(irc.RPL_LISTSTART, "Channel", "Users  Name")
        for room in service.list_rooms():
            self.reply(
                irc.RPL_LIST, channel(room.name), str(room.members), clean(room.topic)
            )
        self.reply(irc.RPL_LISTEND, "End of /LIST")

    def irc_TOPIC(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        service = self.factory.service
        name = self._room_name(params[0])
        if len(params) > 1:
            topic = params[1][:TOPICLEN]
            service.set_topic(self._session(), name, topic)
            return
        room = service.room(name)
        if room.topic:
            self._topic(room)
        else:
            self.reply(irc.RPL_NOTOPIC, channel(room.name), "No topic is set")

    def _topic(self, room: RoomView) -> None:
        self.reply(irc.RPL_TOPIC, channel(room.name), clean(room.topic))
        self.reply("333", channel(room.name), room.topic_by, str(int(room.topic_time)))

    def irc_MODE(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        service = self.factory.service
        session = self._session()
        target = params[0]
        if not target.startswith("#"):
            if fold_nick(target) != fold_nick(session.nick):
                self.reply(irc.ERR_USERSDONTMATCH, "Cannot change mode for other users")
            elif len(params) > 1 and params[1].strip("+-i"):
                self.reply(irc.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
            else:
                operator = service.user_of(session).operator
                self.reply(irc.RPL_UMODEIS, "+o" if operator else "+")
            return
        room = service.room(self._room_name(target))
        if len(params) == 1:
            self.reply(
                irc.RPL_CHANNELMODEIS,
                channel(room.name),
                "+" + "".join(sorted(room.modes)),
            )
            self.reply("329", channel(room.name), str(int(room.created)))
            return
        if params[1] in ("b", "+b") and len(params) == 2:
            # The ban list, which clients ask for on join: there are no bans.
            self.reply(
                irc.RPL_ENDOFBANLIST, channel(room.name), "End of channel ban list"
            )
            return
        changes = parse_modes(params[1], params[2:])
        service.change_modes(session, room.name, changes)

    def irc_KICK(self, prefix: str, params: list[str]) -> None:
        self._need(params, 2)
        reason = params[2][:KICKLEN] if len(params) > 2 else ""
        room = self._room_name(params[0])
        for nick in params[1].split(","):
            try:
                self.factory.service.kick(self._session(), room, nick, reason)
            except errors.ChatError as e:
                self.refused(e)

    def irc_INVITE(self, prefix: str, params: list[str]) -> None:
        self._need(params, 2)
        event = self.factory.service.invite(
            self._session(), params[0], self._room_name(params[1])
        )
        self.reply(irc.RPL_INVITING, event.to, channel(event.room))

    # Users

    def irc_WHO(self, prefix: str, params: list[str]) -> None:
        service = self.factory.service
        mask = params[0] if params else "*"
        users: list[tuple[str, UserView]] = []
        try:
            if mask.startswith("#"):
                room = service.room(self._room_name(mask)).name
                users = [(room, user) for user in service.users_in(room)]
            else:
                target = service.user(mask)
                users = [(next(iter(target.rooms), ""), target)]
        except errors.ChatError:
            pass
        for room, target in users:
            flags = ("G" if target.away else "H") + ("*" if target.operator else "")
            if room in target.operates:
                flags += "@"
            where = channel(room) if room else "*"
            self.reply(
                irc.RPL_WHOREPLY,
                where,
                target.user.id[:10],
                SERVER,
                SERVER,
                target.nick,
                flags,
                "0 " + target.realname,
            )
        self.reply(irc.RPL_ENDOFWHO, mask, "End of /WHO list.")

    def irc_WHOIS(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        service = self.factory.service
        nick = params[-1]
        try:
            target = service.user(nick)
        except errors.NoSuchNick:
            self.reply(irc.ERR_NOSUCHNICK, nick, "No such nick/channel")
            self.reply(irc.RPL_ENDOFWHOIS, nick, "End of /WHOIS list.")
            return
        self.reply(
            irc.RPL_WHOISUSER,
            target.nick,
            target.user.id[:10],
            SERVER,
            "*",
            target.realname,
        )
        rooms = [
            ("@" if room in target.operates else "") + channel(room)
            for room in target.rooms
        ]
        if rooms:
            self.reply(irc.RPL_WHOISCHANNELS, target.nick, " ".join(rooms))
        self.reply(irc.RPL_WHOISSERVER, target.nick, SERVER, "twistedchat")
        if target.operator:
            self.reply(irc.RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
        if target.away:
            self.reply(irc.RPL_AWAY, target.nick, target.away)
        self.reply(irc.RPL_ENDOFWHOIS, target.nick, "End of /WHOIS list.")

    def irc_AWAY(self, prefix: str, params: list[str]) -> None:
        message = params[0][:AWAYLEN] if params else ""
        self.factory.service.set_away(self._session(), message or None)
        if message:
            self.reply(irc.RPL_NOWAWAY, "You have been marked as being away")
        else:
            self.reply(irc.RPL_UNAWAY, "You are no longer marked as being away")

    def irc_ISON(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        present = [
            user.nick for user in self.factory.service.present(" ".join(params).split())
        ]
        self.reply(irc.RPL_ISON, " ".join(present))

    def irc_USERHOST(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        found = []
        for target in self.factory.service.present(" ".join(params).split()[:5]):
            star = "*" if target.operator else ""
            away = "-" if target.away else "+"
            found.append(f"{target.nick}{star}={away}{target.user.id[:10]}@{SERVER}")
        self.reply(irc.RPL_USERHOST, " ".join(found))

    # Server operators

    def irc_OPER(self, prefix: str, params: list[str]) -> None:
        self._need(params, 2)
        checking = self.factory.service.oper(self._session(), params[0], params[1])

        def granted(operator: str) -> None:
            self.reply(irc.RPL_YOUREOPER, "You are now an IRC operator")

        def refused(failure: Failure) -> None:
            if failure.check(errors.ChatError):
                self.reply(irc.ERR_PASSWDMISMATCH, "Password incorrect")
            else:
                self.log.failure("OPER check failed", failure)
                self.reply("400", "OPER", "Internal error, try again later")

        checking.addCallbacks(granted, refused)

    def irc_KILL(self, prefix: str, params: list[str]) -> None:
        self._need(params, 1)
        message = params[1] if len(params) > 1 else "Killed by an operator"
        self.factory.service.kill(self._session(), params[0], message)

    def deliver(self, event: Event) -> None:
        super().deliver(event)
        if (
            isinstance(event, Killed)
            and self.session is not None
            and event.user.id == self.session.user.id
        ):
            why = f"Killed ({event.by.nick} ({clean(event.message)}))"
            self.send_line(f"ERROR :Closing Link: {self.peer} ({why})")

    # Helpers

    def _room_name(self, name: str) -> str:
        if not name.startswith("#") or len(name) < 2:
            raise NotAChannel(name)
        return name[1:]


def parse_modes(letters: str, arguments: list[str]) -> list[tuple[str, str]]:
    """C{"+o-t", ["toto"]} as C{[("+o", "toto"), ("-t", "")]}."""
    changes: list[tuple[str, str]] = []
    sign = "+"
    remaining = list(arguments)
    for letter in letters:
        if letter in "+-":
            sign = letter
            continue
        argument = remaining.pop(0) if letter == "o" and remaining else ""
        changes.append((sign + letter, argument))
    return changes


class IRCFront(Front, Factory[IRCProtocol]):
    """Builds an L{IRCProtocol} per connection; all share one L{ChatService}."""

    protocol = IRCProtocol

    def __init__(
        self,
        service: ChatService,
        motd: list[str] | None = None,
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
    ) -> None:
        self.service = service
        self.limits = limits or Limits()
        self.connections = connections or ConnectionCounter(self.limits)
        self.outbox = Outbox(service.clock)
        self.broadcaster = Broadcaster(RenderOnce(render_plain), self.outbox)
        # For clients that asked for server-time.
        self.tagged = Broadcaster(RenderOnce(render_tagged), self.outbox)
        self.started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.motd = motd or [
            "Welcome to twistedchat. Channels here are the rooms of every front:",
            "#general is the room netcat and twistedchat users land in.",
        ]
