"""
One IRC client connection: bytes in, lines out.

Twisted's C{irc.IRC} decodes each TCP chunk as UTF-8, so a character split
across two reads would fail; here the bytes are cut into complete lines (512
bytes at most, RFC 1459) before decoding; a line that is not UTF-8 is
refused (the server announces C{UTF8ONLY}). Each line is parsed by
C{irc.parsemsg} and dispatched through the front's command table
(L{twistedchat.fronts.irc.commands}), which checks a command's rules
(registration, parameters) before its handler runs; a core refusal becomes
the matching numeric reply (L{twistedchat.fronts.irc.numerics}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from twisted.internet.interfaces import IPushProducer
from twisted.words.protocols import irc

from ...core import errors
from ...core.events import Event, Killed
from ...core.session import Session
from ..base import FrontProtocol
from ..fanout import Broadcaster
from .numerics import ERR_INPUTTOOLONG, ERR_UNKNOWNERROR, NUMERICS, error_target
from .render import MAX_LINE, clean, compose

if TYPE_CHECKING:
    from .front import IRCFront


class IRCProtocol(FrontProtocol):
    """One IRC client connection."""

    factory: IRCFront
    nick = "*"  # what numerics address the client as
    username = ""
    realname = ""
    negotiating = False  # between CAP LS/REQ and CAP END
    tagged = False  # asked for server-time
    _buffer = b""
    _discarding = False
    _closing = False
    _held = False

    needs_registration = True
    # IRC clients learn of their own joins, parts, nick changes... from the
    # server, not of their own messages (no echo-message capability yet).
    echo_messages = False
    echo_actions = True

    def connectionMade(self) -> None:
        super().connectionMade()
        if self.admitted:
            self.log.info('client connected "{peer}" (irc)', peer=self.peer)

    # Framing: complete lines of bytes, then text

    def dataReceived(self, data: bytes) -> None:
        if self.dropped or self._closing:
            return
        if data:
            self.policy.heard()
        *lines, buffer = (self._buffer + data).split(b"\n")
        for index, line in enumerate(lines):
            if self._discarding:
                self._discarding = False
                continue
            if len(line) + 1 > MAX_LINE:
                self.reply(ERR_INPUTTOOLONG, "Input line was too long")
                continue
            try:
                text = line.rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError:
                self.invalid_utf8(line)
                continue
            self.lineReceived(text)
            if self._closing:
                return
            if self._held:  # a command is pending: the rest waits for it
                self._buffer = b"\n".join([*lines[index + 1 :], buffer])
                return
        if len(buffer) >= MAX_LINE:
            if not self._discarding:
                self.reply(ERR_INPUTTOOLONG, "Input line was too long")
            self._discarding = True
            buffer = b""
        self._buffer = buffer

    def invalid_utf8(self, line: bytes) -> None:
        """
        A line that is not UTF-8 (we announce C{UTF8ONLY}) is refused whole,
        with IRCv3's C{FAIL <command> INVALID_UTF8}: nothing of it is relayed.
        """
        words = line.decode("utf-8", "replace").split()
        while words and words[0][0] in "@:":  # tags, a source
            words.pop(0)
        command = clean(words[0].upper()) if words else "*"
        self.send(
            self.server_name,
            "FAIL",
            command,
            "INVALID_UTF8",
            "Line refused: it holds bytes that are not UTF-8",
        )

    def hold_input(self) -> None:
        self._held = True
        cast(IPushProducer, self.transport).pauseProducing()

    def release_input(self) -> None:
        self._held = False
        cast(IPushProducer, self.transport).resumeProducing()
        self.dataReceived(b"")

    def lineReceived(self, line: str) -> None:
        if not line.strip() or self.dropped or not self.policy.allow():
            return
        try:
            _source, command, params = irc.parsemsg(line)
        except (IndexError, ValueError):
            self.reply(irc.ERR_UNKNOWNCOMMAND, "*", "Malformed line")
            return
        self.dispatch(command.upper(), params)

    # Dispatch: the command table's rules, then the handler

    def dispatch(self, name: str, params: list[str]) -> None:
        command = self.factory.commands.get(name)
        if self.session is None:
            if command is None or not command.registering:
                self.reply(irc.ERR_NOTREGISTERED, "You have not registered")
                return
        elif command is not None and not command.registered:
            self.reply(irc.ERR_ALREADYREGISTRED, "You may not reregister")
            return
        if command is None:
            self.reply(irc.ERR_UNKNOWNCOMMAND, name, "Unknown command")
            return
        needed = command.min_params
        if len(params) < needed or not all(params[:needed]):
            self.reply(irc.ERR_NEEDMOREPARAMS, name, "Not enough parameters")
            return
        if command.operator and not self.is_server_operator():
            self.refused(errors.NotServerOperator())
            return
        self.perform(name, command.handler, self, params)

    def internal_error(self, command: str) -> None:
        self.reply(ERR_UNKNOWNERROR, command, "Internal error, nothing was done")

    def is_server_operator(self) -> bool:
        session = self.session
        return session is not None and bool(
            self.factory.service.user_of(session).operator
        )

    def registered_session(self) -> Session:
        """The session of a registered client (the dispatcher checked)."""
        assert self.session is not None
        return self.session

    # Replies

    @property
    def server_name(self) -> str:
        """The name the server goes by (the C{SERVER_NAME} setting)."""
        return self.factory.server_name

    def send_line(self, line: str) -> None:
        self.write(line.encode("utf-8") + b"\r\n")

    def disconnect(self) -> None:
        self._closing = True
        self.transport.loseConnection()

    def reply(self, numeric: str, *params: str) -> None:
        """A numeric from the server to this client."""
        self.send_line(compose(self.server_name, numeric, self.nick, *params))

    def send(self, source: str, command: str, *params: str) -> None:
        self.send_line(compose(source, command, *params))

    def refused(self, error: errors.ChatError) -> None:
        target = error_target(error)
        params = [target, str(error)] if target else [str(error)]
        self.reply(NUMERICS.get(type(error), ERR_UNKNOWNERROR), *params)

    @property
    def broadcaster(self) -> Broadcaster:
        return self.factory.tagged if self.tagged else self.factory.broadcaster

    def deliver(self, event: Event) -> None:
        super().deliver(event)
        if (
            isinstance(event, Killed)
            and self.session is not None
            and event.user.id == self.session.user.id
        ):
            # Our user was killed: after the QUIT its channels see, the
            # farewell, then the core closes the connection.
            why = f"Killed ({event.by.nick} ({clean(event.message)}))"
            self.send_line(f"ERROR :Closing Link: {self.peer} ({why})")

    # What FrontProtocol and its policy ask of a front

    def refuse(self, why: str) -> None:
        self.send_line(f"ERROR :Closing Link: {self.peer} ({clean(why)})")

    def flooded(self) -> None:
        self.send(
            self.server_name,
            "NOTICE",
            self.nick,
            "Slow down: line ignored (flood control)",
        )

    def send_ping(self) -> bool:
        self.send_line(f"PING :{self.server_name}")
        return True
