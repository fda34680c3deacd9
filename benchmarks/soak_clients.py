"""
The soak benchmark's connections: one kind per front that a member of the
chat holds, and the hostile ones.

A L{SoakConnection} speaks its front's wire (register, join, part, change
nick, say, quit) and tells its L{Observer} what it hears: room messages, and
the server's confirmation of its own doings (registered, joined, parted,
renamed), which it can also be asked to wait for. It answers pings. Well-
behaved members and slow readers alike are made of one (L{soak} decides what
they do); a slow reader's connection asks for a small receive buffer.

The hostile connections (L{Flooder} on the line front, L{Lister} on IRC,
L{Fuzzer} on the framed front) each act on a timer until the server closes
them, counting what they did in a shared dict.

Every message a member sends has the text C{soak <m|t> <sender> <seq> <t>}
(hex; C{m}: measured, C{t}: sent after the measured time; C{t}: the
sender's C{perf_counter_ns}).
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from fanout_clients import frame_end, irc_error, irc_registration, line_end
from harness import BenchmarkFailed
from live_fuzz import Mutator, framed_samples
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, ITCPTransport
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from twistedchat import codec

MEASURED, TAIL = b"m", b"t"
MAX_RECORD = 1 << 20  # a line or frame longer than this: the stream is garbled
SLOW_RECEIVE_BUFFER = 4096  # bytes: a slow reader's socket holds little


def message_text(kind: bytes, sender: int, seq: int) -> bytes:
    return b"soak %s %04x %x %x" % (kind, sender, seq, time.perf_counter_ns())


def parse_text(text: bytes) -> tuple[bytes, int, int, int] | None:
    """Kind, sender, seq and send time of a member's message; None if not one."""
    parts = text.split(b" ")
    if len(parts) != 5 or parts[0] != b"soak":
        return None
    try:
        return parts[1], int(parts[2], 16), int(parts[3], 16), int(parts[4], 16)
    except ValueError:
        return None


class Observer(Protocol):
    """Who a connection reports to."""

    def heard(self, room: str | None, nick: str, text: bytes, now: int) -> None:
        """A room message (C{room} None: the line front's one room)."""

    def confirmed(self, kind: str, value: str) -> None:
        """The server confirmed C{kind} (registered, joined, parted, nick)."""

    def refused(self, text: str) -> None:
        """An error reply."""


class SoakConnection(TwistedProtocol):
    """A registered connection in some rooms; its front's words in subclasses."""

    record_end = staticmethod(line_end)
    single_room = False  # the line front: one room at a time, JOIN moves
    _buffer = b""

    def __init__(
        self,
        nick: str,
        rooms: tuple[str, ...],
        observer: Observer,
        receive_buffer: int | None = None,
    ) -> None:
        self.nick = nick
        self.rooms = rooms
        self.observer = observer
        self.receive_buffer = receive_buffer
        self.ready: Deferred[None] = Deferred()  # registered and in its rooms
        self.is_ready = False
        self.gone: Deferred[None] = Deferred()
        self.closing = False
        self._registered = False
        self._joining = set(rooms)
        self._waiting: dict[tuple[str, str], Deferred[None]] = {}

    # What each front says in its own words

    def greeting(self) -> bytes:
        raise NotImplementedError

    def join_bytes(self, room: str) -> bytes:
        raise NotImplementedError

    def part_bytes(self, room: str) -> bytes:
        raise NotImplementedError

    def nick_bytes(self, nick: str) -> bytes:
        raise NotImplementedError

    def say_bytes(self, room: str, text: bytes) -> bytes:
        raise NotImplementedError

    def quit_bytes(self) -> bytes:
        raise NotImplementedError

    def on_record(self, record: bytes, now: int) -> None:
        raise NotImplementedError

    # The connection

    def connectionMade(self) -> None:
        assert self.transport is not None
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
            if self.receive_buffer is not None:
                handle = self.transport.getHandle()  # type: ignore[attr-defined]
                handle.setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer
                )
        self.transport.write(self.greeting())

    def dataReceived(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buffer = self._buffer + data if self._buffer else data
        pos = 0
        while (end := self.record_end(buffer, pos)) >= 0:
            self.on_record(buffer[pos:end], now)
            pos = end
        self._buffer = buffer[pos:]
        if len(self._buffer) > MAX_RECORD:
            self.observer.refused("garbled stream")
            self._buffer = b""
            self.abort()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        lost = BenchmarkFailed(f"{self.nick}: connection lost")
        waiting = [*self._waiting.values(), self.ready]
        self._waiting.clear()
        for waiter in waiting:
            if not waiter.called:
                waiter.errback(lost)
        self.gone.callback(None)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.gone.called:
            self.transport.write(data)

    # Confirmations

    def expect(self, kind: str, value: str) -> Deferred[None]:
        """Fires when the server confirms C{kind} C{value}; fails if the line goes."""
        waiter: Deferred[None] = Deferred()
        if self.gone.called:
            waiter.errback(BenchmarkFailed(f"{self.nick}: connection lost"))
        else:
            self._waiting[kind, value] = waiter
        return waiter

    def confirm(self, kind: str, value: str) -> None:
        if kind == "registered":
            self._registered = True
        elif kind == "joined":
            self._joining.discard(value)
        elif kind == "nick":
            self.nick = value
        self.observer.confirmed(kind, value)
        waiter = self._waiting.pop((kind, value), None)
        if waiter is not None:
            waiter.callback(None)
        if self._registered and not self._joining and not self.ready.called:
            self.is_ready = True
            self.ready.callback(None)


class LineConnection(SoakConnection):
    """A netcat user: NICK, then JOIN its one room (leaving the default one)."""

    single_room = True

    def greeting(self) -> bytes:
        return b"NICK %s\nJOIN %s\n" % (self.nick.encode(), self.rooms[0].encode())

    def join_bytes(self, room: str) -> bytes:
        return b"JOIN %s\n" % room.encode()

    def part_bytes(self, room: str) -> bytes:
        return b"PART\n"

    def nick_bytes(self, nick: str) -> bytes:
        return b"NICK %s\n" % nick.encode()

    def say_bytes(self, room: str, text: bytes) -> bytes:
        return b"MSG #%s %s\n" % (room.encode(), text)

    def quit_bytes(self) -> bytes:
        return b"QUIT\n"

    def on_record(self, record: bytes, now: int) -> None:
        line = record.rstrip(b"\r\n")
        if line.startswith(b"[server] "):
            self.server_line(line[9:].decode("utf-8", "replace"))
        elif line.startswith(b"[") and not line.startswith(b"[history "):
            close = line.find(b"] ")
            if close > 0:
                nick = line[1:close].decode("utf-8", "replace")
                self.observer.heard(None, nick, line[close + 2 :], now)

    def server_line(self, text: str) -> None:
        if text.startswith('you are now known as "'):
            nick = text[22:-1]
            if not self._registered:
                self.confirm("registered", nick)
            self.confirm("nick", nick)
        elif text.startswith("you are in #"):
            self.confirm("joined", text[12:].partition(" ")[0])
        elif text.startswith("you left #"):
            self.confirm("parted", text[10:].partition(";")[0])
        elif text.startswith("error: "):
            self.observer.refused(text)


class IrcConnection(SoakConnection):
    """An IRC user: NICK, USER and JOIN of its rooms, in one go."""

    def greeting(self) -> bytes:
        joins = ",".join(f"#{room}" for room in self.rooms).encode()
        return irc_registration(self.nick, "soak") + (
            b"JOIN %s\r\n" % joins if joins else b""
        )

    def join_bytes(self, room: str) -> bytes:
        return b"JOIN #%s\r\n" % room.encode()

    def part_bytes(self, room: str) -> bytes:
        return b"PART #%s\r\n" % room.encode()

    def nick_bytes(self, nick: str) -> bytes:
        return b"NICK %s\r\n" % nick.encode()

    def say_bytes(self, room: str, text: bytes) -> bytes:
        return b"PRIVMSG #%s :%s\r\n" % (room.encode(), text)

    def quit_bytes(self) -> bytes:
        return b"QUIT :soak\r\n"

    def on_record(self, record: bytes, now: int) -> None:
        line = record.rstrip(b"\r\n")
        if line.startswith(b"PING "):
            self.send(b"PONG " + line[5:] + b"\r\n")
            return
        if not line.startswith(b":"):
            return
        prefix, _, rest = line[1:].partition(b" ")
        command, _, arguments = rest.partition(b" ")
        if command.isdigit():
            self.numeric(int(command), line)
            return
        source = prefix.partition(b"!")[0].decode("utf-8", "replace")
        if command == b"PRIVMSG":
            target, _, text = arguments.partition(b" ")
            room = target.decode("utf-8", "replace").removeprefix("#")
            self.observer.heard(room, source, text.removeprefix(b":"), now)
        elif source == self.nick:
            self.own_doing(command, arguments.decode("utf-8", "replace"))

    def numeric(self, number: int, line: bytes) -> None:
        if number == 1:
            self.confirm("registered", self.nick)
        elif irc_error(number):
            self.observer.refused(line.decode("utf-8", "replace"))

    def own_doing(self, command: bytes, arguments: str) -> None:
        first = arguments.partition(" ")[0].removeprefix(":")
        if command == b"JOIN":
            self.confirm("joined", first.removeprefix("#"))
        elif command == b"PART":
            self.confirm("parted", first.removeprefix("#"))
        elif command == b"NICK":
            self.confirm("nick", first)


class FramedConnection(SoakConnection):
    """A twistedchat client: Hello with its rooms."""

    record_end = staticmethod(frame_end)

    def greeting(self) -> bytes:
        hello = codec.Hello(codec.PROTOCOL_VERSION, self.nick, rooms=self.rooms)
        return codec.frame_bytes(hello)

    def join_bytes(self, room: str) -> bytes:
        return codec.frame_bytes(codec.Join(room))

    def part_bytes(self, room: str) -> bytes:
        return codec.frame_bytes(codec.Part(room))

    def nick_bytes(self, nick: str) -> bytes:
        return codec.frame_bytes(codec.ChangeNick(nick))

    def say_bytes(self, room: str, text: bytes) -> bytes:
        return codec.frame_bytes(codec.Say(room, text.decode()))

    def quit_bytes(self) -> bytes:
        return codec.frame_bytes(codec.Goodbye("soak"))

    def on_record(self, record: bytes, now: int) -> None:
        try:
            frame = codec.decode(record[4:])
        except codec.CodecError as e:
            self.observer.refused(f"undecodable frame: {e}")
            return
        match frame:
            case codec.Said():
                text = frame.text.encode()
                self.observer.heard(frame.room, frame.user.nick, text, now)
            case codec.Ping():
                self.send(codec.frame_bytes(codec.Pong(frame.token)))
            case codec.Error():
                self.observer.refused(f"error {frame.code}: {frame.text}")
            case codec.Welcome():
                self.confirm("registered", frame.user.nick)
            case codec.Entered() if frame.user.nick == self.nick:
                self.confirm("joined", frame.room)
            case codec.Left() if frame.user.nick == self.nick:
                self.confirm("parted", frame.room)
            case codec.Renamed() if frame.old == self.nick:
                self.confirm("nick", frame.user.nick)


CONNECTIONS: dict[str, type[SoakConnection]] = {
    "line": LineConnection,
    "framed": FramedConnection,
    "irc": IrcConnection,
}


class Deaf:
    """The observer of a slow reader: it hears nothing of interest."""

    def heard(self, room: str | None, nick: str, text: bytes, now: int) -> None:
        pass

    def confirmed(self, kind: str, value: str) -> None:
        pass

    def refused(self, text: str) -> None:
        pass


# Hostile connections


class Hostile(TwistedProtocol):
    """A connection that misbehaves every C{every} seconds until it is closed."""

    every = 0.05
    _timer: IDelayedCall | None = None

    def __init__(self, reactor: Any, counts: dict[str, int], number: int) -> None:
        self.reactor = reactor
        self.counts = counts
        self.number = number
        self.gone: Deferred[None] = Deferred()

    def count(self, what: str, amount: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + amount

    def greeting(self) -> bytes:
        return b""

    def act(self) -> bytes:
        raise NotImplementedError

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.count("connections")
        self.transport.write(self.greeting())
        self._timer = self.reactor.callLater(self.every, self._tick)

    def _tick(self) -> None:
        assert self.transport is not None
        self.transport.write(self.act())
        self._timer = self.reactor.callLater(self.every, self._tick)

    def dataReceived(self, data: bytes) -> None:
        self.count("bytes received", len(data))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self.gone.callback(None)


class Flooder(Hostile):
    """A netcat user in a room sending far more lines than flood control allows."""

    LINES = 100  # each turn: 2,000 lines a second
    TEXT = b"flood " + b"x" * 500

    def __init__(
        self, reactor: Any, counts: dict[str, int], number: int, room: str
    ) -> None:
        super().__init__(reactor, counts, number)
        self.room = room

    def greeting(self) -> bytes:
        return b"NICK flooder%d\nJOIN %s\n" % (self.number, self.room.encode())

    def act(self) -> bytes:
        self.count("lines sent", self.LINES)
        return b"MSG %s\n" % self.TEXT * self.LINES

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self.count("flood notices", data.count(b"[server] error: "))


class Lister(Hostile):
    """An IRC user asking for LIST and a crowded room's NAMES, over the rate."""

    every = 0.04  # 25 requests a second; the sustained rate allowed is 20

    def __init__(
        self, reactor: Any, counts: dict[str, int], number: int, rooms: tuple[str, ...]
    ) -> None:
        super().__init__(reactor, counts, number)
        self.rooms = rooms
        self.turn = 0

    def greeting(self) -> bytes:
        return irc_registration(f"lister{self.number}", "storm")

    def act(self) -> bytes:
        self.turn += 1
        self.count("requests")
        if self.turn % 2:
            return b"LIST\r\n"
        return b"NAMES #%s\r\n" % self.rooms[self.turn % len(self.rooms)].encode()

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self.count("channels listed", data.count(b" 322 "))
        self.count("name lines", data.count(b" 353 "))
        self.count("refusals", data.count(b"NOTICE"))
        if b"PING " in data:
            assert self.transport is not None
            for line in data.split(b"\r\n"):
                if line.startswith(b"PING "):
                    self.transport.write(b"PONG " + line[5:] + b"\r\n")


class Fuzzer(Hostile):
    """Random bytes and mangled frames on the framed front (see L{live_fuzz})."""

    every = 0.02

    def __init__(
        self, reactor: Any, counts: dict[str, int], number: int, rng: random.Random
    ) -> None:
        super().__init__(reactor, counts, number)
        self.mutator = Mutator(rng)
        self.samples = framed_samples()

    def act(self) -> bytes:
        self.count("inputs")
        return self.mutator.framed_input(self.samples)


HostileMaker = Callable[[Any, dict[str, int], int], Hostile]
