"""
One IRC client connection: bytes in, lines out.

Twisted's C{irc.IRC} decodes each TCP chunk as UTF-8, so a character split
across two reads would fail; here the bytes are cut into complete lines (512
bytes at most, RFC 1459, after up to 4096 bytes of IRCv3 tags) before
decoding; a line that is not UTF-8 is refused (the server announces
C{UTF8ONLY}). A line's tags are kept for its handler (L{IRCProtocol.tags});
the rest is parsed by C{irc.parsemsg} and dispatched through the front's
command table (L{twistedchat.fronts.irc.commands}), which checks a command's
rules (registration, parameters) before its handler runs; a core refusal
becomes the matching numeric reply (L{twistedchat.fronts.irc.numerics}).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from twisted.internet.interfaces import IPushProducer
from twisted.words.protocols import irc

from ...core import errors
from ...core.events import Event, Killed, PrivateMessage, Tagged
from ...core.names import fold_nick
from ...core.session import Session
from ..base import FrontProtocol
from ..fanout import Broadcaster
from .batches import Batches, Labeled
from .capabilities import RENDERING
from .numerics import ERR_INPUTTOOLONG, ERR_UNKNOWNERROR, NUMERICS, error_target
from .render import MAX_LINE, clean, compose
from .tags import MAX_TAGS, NO_TAGS, parse_tags, tags_too_long

if TYPE_CHECKING:
    from .front import IRCFront


class IRCProtocol(FrontProtocol):
    """One IRC client connection."""

    factory: IRCFront
    nick = "*"  # what numerics address the client as
    username = ""
    realname = ""
    negotiating = False  # between CAP LS/REQ and CAP END
    caps: frozenset[str] = frozenset()  # the capabilities it holds (CAP REQ)
    cap_version = 0  # the CAP version it said it speaks (CAP LS 302), 0 if none
    _broadcaster: Broadcaster | None = None  # that of its rendering variant
    # The message tags of the line being handled (IRCv3), for its handler.
    tags: Mapping[str, str] = NO_TAGS
    bot = False  # user mode +B: its messages carry IRCv3's bot tag
    _buffer = b""
    _discarding = False
    _closing = False
    _held = False
    _labeled: Labeled | None = None  # the answer of the labeled command running
    _batches: Batches | None = None
    _read_marks: dict[str, int] | None = None

    needs_registration = True
    # IRC clients learn of their own joins, parts, nick changes... from the
    # server; of their own messages only with the echo-message capability.
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
            if len(line) + 1 > MAX_LINE and tags_too_long(line, MAX_LINE):
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
        if len(buffer) >= MAX_LINE and (
            buffer[:1] != b"@" or len(buffer) >= MAX_TAGS + MAX_LINE
        ):
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
        if self._labeled is not None:  # the labeled command is over
            self._answer_labeled()
        self._held = False
        cast(IPushProducer, self.transport).resumeProducing()
        self.dataReceived(b"")

    def lineReceived(self, line: str) -> None:
        if not line.strip() or self.dropped or not self.policy.allow():
            return
        label = None
        if line[0] == "@":
            section, _, line = line.partition(" ")
            self.tags = parse_tags(section[1:])
            if not line.strip():
                return
            if "labeled-response" in self.caps:
                label = self.tags.get("label")
        elif self.tags:
            self.tags = NO_TAGS
        try:
            _source, command, params = irc.parsemsg(line)
        except (IndexError, ValueError):
            command, params = "", []
        if label is not None:
            self._dispatch_labeled(label, command.upper(), params)
        elif command:
            self.dispatch(command.upper(), params)
        else:
            self.reply(irc.ERR_UNKNOWNCOMMAND, "*", "Malformed line")

    def _dispatch_labeled(self, label: str, name: str, params: list[str]) -> None:
        """
        Dispatch a labeled command, gathering what it makes the server send
        this client (see L{batches}): the events of its own doing come
        through the front's outbox while it runs, its replies through
        L{write} until it is over (now, or when it releases the input).
        """
        self._own_events()  # what came before is no part of the answer
        labeled = self._labeled = Labeled(label)
        self.transmit = labeled.take
        try:
            if name:
                self.dispatch(name, params)
            else:
                self.reply(irc.ERR_UNKNOWNCOMMAND, "*", "Malformed line")
            self._own_events()
        finally:
            self.transmit = self.output.transmit
        if not self._held:
            self._answer_labeled()

    def _own_events(self) -> None:
        """Let the front's outbox hand over what it owes this connection."""
        outbox = self.factory.outbox
        session = self.session
        if outbox.pending and session is not None and outbox.owes(session):
            outbox.flush()

    def _answer_labeled(self) -> None:
        labeled, self._labeled = self._labeled, None
        if labeled is not None and not self.output.closed:
            batches = self.batches if "batch" in self.caps else None
            self.write(labeled.answer(self.server_name, self.nick, batches))

    @property
    def read_marks(self) -> dict[str, int]:
        """Its read markers (MARKREAD): milliseconds, by folded target."""
        if self._read_marks is None:
            self._read_marks = {}
        return self._read_marks

    @property
    def batches(self) -> Batches:
        """This connection's batch references."""
        if self._batches is None:
            self._batches = Batches()
        return self._batches

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

    def write(self, data: bytes) -> None:
        labeled = self._labeled
        if labeled is None:
            self.output.write(data, self.session)
        else:  # part of a labeled command's answer, after what came before
            self._own_events()
            labeled.take(data)

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
        return self._broadcaster or self.factory.broadcaster

    def hold(self, caps: frozenset[str]) -> None:
        """
        Hold C{caps} from now on: events come rendered for its variant (its
        rooms follow, through the fan-out), its own messages back to it with
        C{echo-message}.
        """
        self.caps = caps
        self.echo_messages = "echo-message" in caps
        if self.session is not None:
            self.session.echo_messages = self.echo_messages
        broadcaster = self.factory.broadcaster_of(caps & RENDERING)
        if broadcaster is self.broadcaster:
            return
        self._broadcaster = broadcaster
        session = self.session
        if session is not None:
            # The fan-out's (a cluster's node wraps it: LocalDelivery).
            regroup = getattr(self.factory.service.delivery, "regroup", None)
            if regroup is not None:
                regroup(session)

    def deliver(self, event: Event) -> None:
        super().deliver(event)
        if (
            self.echo_messages
            and isinstance(event, PrivateMessage | Tagged)
            and to_oneself(event)
        ):
            # With echo-message, a message to oneself is both the echo (the
            # copy above, which a labeled command's answer takes) and the
            # delivery, as IRC servers send it.
            self.output.write(self.render(event), self.session)
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


def to_oneself(event: PrivateMessage | Tagged) -> bool:
    """Whether C{event} is a private message (or tags alone) its author sent to itself."""
    if isinstance(event, Tagged) and event.room:
        return False
    return fold_nick(event.to) == fold_nick(event.user.nick)
