"""
The fan-out benchmark's clients: one kind per front, and how they count.

A chat client (L{LineChatClient}, L{FramedChatClient}, L{IrcChatClient},
L{WebChatClient}) registers as C{b<kkkk>} (its index in hex), is in #general, can ask who is
there, sends the benchmark's messages and counts what it receives. An idle
client (L{LineIdleClient}...) registers as C{i<kkkkk>}, leaves or never enters
a room, answers the server's pings and does nothing else.

Every message's text is C{<sender>:<seq>:<sent>}, fixed width in lowercase hex
(4, 8 and 16 digits: 30 characters), C{<sent>} being the sender's
C{time.perf_counter_ns()} when it wrote the message. So each front's rendering
of a message (a line, a PRIVMSG, a Said frame) has one size in a run, and a
receiver can count a chunk of them without looking at each one:

 - C{dataReceived} takes one timestamp per chunk read. While counting, the
   run of whole records of that size at the start of the buffer is checked at
   once: a few bytes every message record has at known offsets (a line's
   first bytes and its end, a frame's length, type and nick), read across all
   the records with one strided slice each; the run ends at the first record
   that lacks one. Its messages are counted: how many, the last seq from each
   sender whose window this process keeps (one C{rfind} each), and the bytes
   are kept with their arrival time. Nothing is parsed per message.
   The web front's said events have two sizes (an author's colour has two
   or three digits): there the run is found by walking the WebSocket frame
   headers, a few byte reads per message, and counted as above.
 - The record after the run (of another size or kind: a ping, a notice, or
   every record before the size is known) goes alone through the front's own
   parsing: pings are answered, error replies kept, a message counted by
   itself. Then the next run.
 - After the send phase, L{ChatClient.settle} parses what was kept: each
   message is checked (the nick it came from is its sender's, the sender and
   seq exist), duplicates found, and its latency (arrival - sent) taken.

A sender's own messages are not counted as deliveries: framed and web
clients get their own message back (the echo), the other fronts should not
send it at all.
"""

from __future__ import annotations

import json
import struct
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import BenchmarkFailed
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ITCPTransport, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from websocket_wire import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    Upgrade,
    client_frame,
    frame_payload,
)
from websocket_wire import frame_end as websocket_frame_end

from twistedchat import codec

ROOM = "general"
TEXT_SIZE = 30  # b"%04x:%08x:%016x"
SEQ_AT = 5  # offset of the seq in the text
STAMP_AT = 14  # offset of the send time in the text
MAX_RECORD = 1 << 20  # a line or frame longer than this: the stream is garbled
MARKER_SIZE = 7  # two bytes before the text, the sender, a colon
SEQ_TABLE = 1 << 16  # seqs looked up in a table rather than parsed


def chat_nick(index: int) -> str:
    return f"b{index:04x}"


def idle_nick(index: int) -> str:
    return f"i{index:05x}"


def message_text(sender: int, seq: int) -> bytes:
    return b"%04x:%08x:%016x" % (sender, seq, time.perf_counter_ns())


def parse_text(text: bytes) -> tuple[int, int, int] | None:
    """Sender, seq and send time of a benchmark message's text, or None."""
    if len(text) != TEXT_SIZE or text[4:5] != b":" or text[13:14] != b":":
        return None
    try:
        return int(text[:4], 16), int(text[SEQ_AT:13], 16), int(text[STAMP_AT:], 16)
    except ValueError:
        return None


def reached_beyond(seq: bytes, messages: int) -> int:
    """How many messages a sender has sent up to C{seq} (hex), or 0 if garbled."""
    try:
        upto = int(seq, 16) + 1
    except ValueError:
        return 0
    return upto if SEQ_TABLE < upto <= messages else 0


# Framing: where the record starting at pos ends, or -1 if it is incomplete.


def line_end(buffer: bytes, pos: int) -> int:
    newline = buffer.find(b"\n", pos)
    return newline + 1 if newline >= 0 else -1


def frame_end(buffer: bytes, pos: int) -> int:
    if len(buffer) - pos < 4:
        return -1
    end = pos + 4 + int.from_bytes(buffer[pos : pos + 4], "big")
    return end if end <= len(buffer) else -1


# What one process counts


@dataclass(frozen=True)
class Shape:
    """Where things are in a message record of one front, once its size is known."""

    size: int
    text_at: int  # offset of the text
    nick_at: int  # offset of the four hex digits after the sender nick's "b"
    before_text: bytes  # the two bytes in front of the text
    # (offset, byte) that every message record has and a record of another
    # kind, or one out of step, would lack: checked for a whole chunk at once.
    marks: tuple[tuple[int, bytes], ...]
    fields: struct.Struct = field(init=False)  # nick digits, sender:seq, send time

    def __post_init__(self) -> None:
        gap = self.text_at - self.nick_at - 4
        tail = self.size - self.text_at - TEXT_SIZE
        fmt = f"{self.nick_at}x4s{gap}x13s1x16s{tail}x"
        object.__setattr__(self, "fields", struct.Struct(fmt))

    def fits(self, record: bytes) -> bool:
        return len(record) == self.size and all(
            record[offset : offset + 1] == byte for offset, byte in self.marks
        )

    def marker(self, sender_hex: bytes) -> bytes:
        """Bytes found only where a message of that sender starts its text."""
        return self.before_text + sender_hex + b":"


class SenderWindow:
    """
    One sender of this process: at most C{window} messages in flight.

    A message is in flight until every other client of this process has
    received it. Each of those clients receives a sender's messages in order,
    so the window only needs how many messages each has received:
    C{levels[x]} is how many of them have received exactly x, and C{floor} the
    fewest any of them has.
    """

    def __init__(
        self, client: ChatClient, receivers: int, messages: int, window: int
    ) -> None:
        self.client = client
        self.messages = messages
        self.window = window
        self.levels = [0] * (messages + 1)
        self.levels[0] = receivers
        self.floor = 0
        self.next_seq = 0

    def fill(self) -> None:
        while self.next_seq < self.messages and (
            self.next_seq - self.floor < self.window
        ):
            self.client.send_message(self.next_seq)
            self.next_seq += 1
            self.client.tally.sent += 1

    def moved(self, old: int, new: int) -> None:
        """One receiver went from C{old} messages received to C{new}."""
        levels = self.levels
        levels[old] -= 1
        levels[new] += 1
        if old == self.floor and not levels[old]:
            floor = old + 1
            while not levels[floor]:
                floor += 1
            self.floor = floor
            self.fill()


class Tally:
    """What this process's clients received, and its senders' windows."""

    def __init__(self, senders: int, messages: int, window: int) -> None:
        self.senders = senders
        self.messages = messages
        self.window = window
        self.shape: Shape | None = None
        self.windows: dict[bytes, SenderWindow] = {}  # by sender hex
        # A seq in hex -> how many messages a sender has sent up to it.
        self.reached = {
            b"%08x" % seq: seq + 1 for seq in range(min(messages, SEQ_TABLE))
        }
        self.receivers = 0  # clients still owed messages
        self.sent = 0
        self.first_send_ns = 0
        self.last_delivery_ns = 0
        self.slow_records = 0  # message records counted one by one
        self.unexpected = 0  # records that are neither messages nor known replies
        self.server_errors: list[str] = []
        self.dropped = 0  # connections lost before the end
        self.finished: Deferred[str] = Deferred()
        # Several nodes (benchmarks/cluster.py): client k is on node k mod
        # nodes; a latency between two nodes is kept apart. Keeping the order
        # of arrivals lets the coordinator compare receivers.
        self.nodes = 1
        self.keep_order = False

    def learn(self, shape: Shape) -> None:
        if self.shape is None:
            self.shape = shape

    def delivered(self, client: ChatClient, count: int, now: int) -> None:
        self.last_delivery_ns = now
        client.received += count
        if not client.complete and client.received >= client.expected:
            client.complete = True
            self.receivers -= 1
            if not self.receivers:
                self.finish("completed")

    def finish(self, outcome: str) -> None:
        if not self.finished.called:
            self.finished.callback(outcome)


@dataclass
class Settled:
    """One client's deliveries, checked after the send phase."""

    unique: int = 0
    duplicated: int = 0
    unexpected: int = 0
    echoes: int = 0
    latencies: array[int] = field(default_factory=lambda: array("q"))
    # From a sender on another node (Tally.nodes > 1); not in latencies.
    cross_latencies: array[int] = field(default_factory=lambda: array("q"))
    # With Tally.keep_order: every message once, echoes included, in the
    # order it arrived, as L{order_key}s.
    order: array[int] = field(default_factory=lambda: array("q"))
    reordered: int = 0  # messages received after a later one of their sender
    # Reads that brought messages (a run counted at once, or a message
    # counted alone): how many the server wrote in one piece, about.
    reads: int = 0


def order_key(sender: int, seq: int) -> int:
    """A message as one number: its sender and seq."""
    return sender << 32 | seq


# IRC, as every server speaks it

RPL_WELCOME = 1
RPL_NAMREPLY = 353
RPL_ENDOFNAMES = 366
ERR_NOMOTD = 422  # a server without a message of the day says so: no error
MEMBER_PREFIXES = "~&@%+"  # channel status in NAMES (PREFIX in 005)


def irc_registration(nick: str, realname: str) -> bytes:
    """NICK and USER: what an IRC client sends on connecting."""
    name = nick.encode()
    return b"NICK %s\r\nUSER %s 0 * :%s\r\n" % (name, name, realname.encode())


def irc_error(numeric: int) -> bool:
    """Whether a numeric reply is an error the benchmark must stop on."""
    return numeric >= 400 and numeric != ERR_NOMOTD


# Chat clients


class ChatClient(Protocol):
    """A member of #general that sends and counts benchmark messages."""

    record_end = staticmethod(line_end)
    echoes_own = False  # whether the front sends a sender its own messages back
    wire: ITransport
    _buffer = b""
    _names: Deferred[set[str]] | None = None
    _asked: set[str] | None = None

    def __init__(self, index: int, tally: Tally) -> None:
        self.index = index
        self.tally = tally
        self.nick = chat_nick(index)
        self.hex = b"%04x" % index
        self.ready: Deferred[None] = Deferred()  # registered and in the room
        self.is_ready = False
        self.gone: Deferred[None] = Deferred()
        self.closing = False
        self.counting = False
        self.is_sender = False
        self.received = 0
        self.expected = 0
        self.complete = False
        self.regions: list[tuple[int, bytes]] = []  # (arrival, whole records)
        # (arrival, nick, text, how many regions came before it)
        self.singles: list[tuple[int, bytes, bytes, int]] = []
        self.progress: list[int] = []  # messages received from each watched sender
        self.watched: list[tuple[bytes, SenderWindow]] = []  # (marker, window)
        self._own_marker = b""
        self._shape: Shape | None = None

    # What each front says in its own words

    def greeting(self) -> bytes:
        """What to send on connecting: register, and enter #general."""
        raise NotImplementedError

    def names_request(self) -> bytes:
        raise NotImplementedError

    def message_bytes(self, text: bytes) -> bytes:
        raise NotImplementedError

    def setup_record(self, record: bytes) -> None:
        """A record before counting starts: registration and names."""
        raise NotImplementedError

    def message_of(self, record: bytes) -> tuple[bytes, bytes] | None:
        """The sender's nick digits and the text, if C{record} is a room message."""
        raise NotImplementedError

    def other_record(self, record: bytes) -> None:
        """While counting, a record that is not a message: pings, errors."""
        raise NotImplementedError

    def shape_of(self, record: bytes) -> Shape | None:
        """The shape of every message record like C{record}, if it has the usual one."""
        raise NotImplementedError

    # Connection

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.wire = self.transport
        if ITCPTransport.providedBy(self.wire):
            self.wire.setTcpNoDelay(True)
        self.wire.write(self.greeting())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.closing:
            self.tally.dropped += 1
        lost = BenchmarkFailed(f"{self.nick}: connection lost")
        self.fail(lost)
        if self._names is not None and not self._names.called:
            self._names.errback(lost)
        self.gone.callback(None)

    def fail(self, why: BenchmarkFailed) -> None:
        if not self.ready.called:
            self.ready.errback(why)

    def registered(self) -> None:
        self.is_ready = True
        if not self.ready.called:
            self.ready.callback(None)

    def server_error(self, text: str) -> None:
        self.tally.server_errors.append(f"{self.nick}: {text}")
        self.fail(BenchmarkFailed(f"{self.nick}: {text}"))

    def ask_names(self) -> Deferred[set[str]]:
        """Who is in #general, as this client hears it after everything before."""
        self._names = Deferred()
        self._asked = set()
        self.wire.write(self.names_request())
        return self._names

    def answer_names(self, nicks: set[str]) -> None:
        if self._names is not None and not self._names.called:
            self._names.callback(nicks)

    # Counting

    def start_counting(self, windows: dict[bytes, SenderWindow]) -> None:
        tally = self.tally
        self.is_sender = self.index < tally.senders
        self.expected = tally.senders * tally.messages
        if self.is_sender:
            self.expected -= tally.messages
        self.watched = [
            (b"", window) for key, window in windows.items() if key != self.hex
        ]
        self.progress = [0] * len(self.watched)
        self.counting = True

    def send_message(self, seq: int) -> None:
        self.wire.write(self.message_bytes(message_text(self.index, seq)))

    def dataReceived(self, data: bytes) -> None:
        # Everything in a chunk arrived at once: one clock read per chunk.
        now = time.perf_counter_ns()
        buffer = self._buffer + data if self._buffer else data
        pos = 0
        end_of = self.record_end
        while True:
            if self.counting:
                pos = self.count_run(buffer, pos, now)
            end = end_of(buffer, pos)
            if end < 0:
                break
            record = buffer[pos:end]
            pos = end
            if self.counting:
                self.count_record(record, now)
            else:
                self.setup_record(record)
        self._buffer = buffer[pos:] if pos else buffer
        if len(self._buffer) > MAX_RECORD:
            self.tally.unexpected += 1
            self._buffer = b""
            self.wire.loseConnection()

    def count_run(self, buffer: bytes, pos: int, now: int) -> int:
        """
        Count the message records at C{pos} all at once, up to the first record
        that is not one (or an incomplete one); return where they end.
        """
        shape = self.tally.shape
        if shape is None:
            return pos
        if shape is not self._shape:
            self._fit(shape)
        size = shape.size
        count = (len(buffer) - pos) // size
        # How many records in a row have each mark: the run is the shortest.
        for offset, byte in shape.marks:
            if not count:
                return pos
            column = buffer[pos + offset : pos + count * size : size]
            count = len(column) - len(column.lstrip(byte))
        if not count:
            return pos
        end = pos + count * size
        # The last message of each watched sender: how many it has reached.
        progress = self.progress
        reached = self.tally.reached
        first = pos + shape.text_at - len(shape.before_text)
        moves = []
        for slot, (marker, window) in enumerate(self.watched):
            at = buffer.rfind(marker, pos, end)
            if at < 0:
                continue
            seq = buffer[at + MARKER_SIZE : at + MARKER_SIZE + 8]
            upto = reached.get(seq) or reached_beyond(seq, self.tally.messages)
            if not upto or (at - first) % size:
                return pos
            if upto > progress[slot]:
                moves.append((slot, window, upto))
        for slot, window, upto in moves:
            window.moved(progress[slot], upto)
            progress[slot] = upto
        # Only a sender can find its own messages here (framed: the echoes).
        own = buffer.count(self._own_marker, pos, end) if self.is_sender else 0
        whole = pos == 0 and end == len(buffer)
        self.regions.append((now, buffer if whole else buffer[pos:end]))
        self.tally.delivered(self, count - own, now)
        return end

    def _fit(self, shape: Shape) -> None:
        self._shape = shape
        self._own_marker = shape.marker(self.hex)
        self.watched = [
            (shape.marker(window.client.hex), window) for _, window in self.watched
        ]

    def _advance(self, slot: int, upto: int) -> None:
        old = self.progress[slot]
        if old < upto <= self.tally.messages:
            self.progress[slot] = upto
            self.watched[slot][1].moved(old, upto)

    def count_record(self, record: bytes, now: int) -> None:
        """One record, while counting: a message counted alone, or anything else."""
        message = self.message_of(record)
        if message is None:
            self.other_record(record)
            return
        tally = self.tally
        tally.slow_records += 1
        if tally.shape is None:
            shape = self.shape_of(record)
            if shape is not None:
                tally.learn(shape)
        nick, text = message
        self.singles.append((now, nick, text, len(self.regions)))
        sender = text[:4]
        if sender == self.hex:
            return  # an echo (or unexpected; settle tells)
        for slot, (_, window) in enumerate(self.watched):
            if window.client.hex == sender:
                parsed = parse_text(text)
                if parsed is not None:
                    self._advance(slot, parsed[1] + 1)
                break
        tally.delivered(self, 1, now)

    def settle(self) -> Settled:
        """
        Check every message kept while counting, in the order it arrived;
        count duplicates, latencies, messages out of their sender's order.
        """
        tally = self.tally
        settled = Settled()
        seen: set[bytes] = set()
        senders = {b"%04x" % index for index in range(tally.senders)}
        messages = tally.messages
        nodes = tally.nodes
        mine = self.index % nodes
        latencies, cross = settled.latencies, settled.cross_latencies
        order = settled.order if tally.keep_order else None
        last_seq: dict[bytes, int] = {}

        def one(now: int, nick: bytes, key: bytes, stamp: bytes) -> None:
            sender = key[:4]
            try:
                seq = int(key[SEQ_AT:], 16)
                sent = int(stamp, 16)
            except ValueError:
                settled.unexpected += 1
                return
            if (
                nick != sender
                or sender not in senders
                or key[4:5] != b":"
                or not 0 <= seq < messages
            ):
                settled.unexpected += 1
                return
            if sender == self.hex and not self.echoes_own:
                settled.unexpected += 1
                return
            if key in seen:
                settled.duplicated += 1
                return
            seen.add(key)
            if seq < last_seq.get(sender, -1):
                settled.reordered += 1
            else:
                last_seq[sender] = seq
            if order is not None:
                order.append(order_key(int(sender, 16), seq))
            if sender == self.hex:
                settled.echoes += 1
                return
            settled.unique += 1
            if nodes > 1 and int(sender, 16) % nodes != mine:
                cross.append(now - sent)
            else:
                latencies.append(now - sent)

        for now, nick, key, stamp in self.arrivals():
            one(now, nick, key, stamp)
        settled.reads = len(self.regions) + len(self.singles)
        self.regions, self.singles = [], []
        return settled

    def arrivals(self) -> Iterator[tuple[int, bytes, bytes, bytes]]:
        """
        Every message kept while counting, in the order it arrived: its
        arrival time, the sender's nick digits, C{<sender>:<seq>} and the
        send time (a garbled one: empty or unparsable fields).
        """
        singles = iter(self.singles)
        single = next(singles, None)
        for number, (now, region) in enumerate(self.regions):
            while single is not None and single[3] <= number:
                yield self._single(single)
                single = next(singles, None)
            for nick, key, stamp in self.region_records(region):
                yield now, nick, key, stamp
        while single is not None:
            yield self._single(single)
            single = next(singles, None)

    @staticmethod
    def _single(
        single: tuple[int, bytes, bytes, int],
    ) -> tuple[int, bytes, bytes, bytes]:
        now, nick, text, _ = single
        if parse_text(text) is None:
            return now, nick, b"", b""
        return now, nick, text[:13], text[STAMP_AT:]

    def region_records(self, region: bytes) -> Iterable[tuple[bytes, bytes, bytes]]:
        """
        Each message record of a run kept by L{count_run}: the sender's nick
        digits, the text's C{<sender>:<seq>} and its send time.
        """
        shape = self.tally.shape
        assert shape is not None  # a run is counted only once the shape is known
        return shape.fields.iter_unpack(region)


class LineChatClient(ChatClient):
    """A netcat user: NICK, then lands in the default room (#general)."""

    def __init__(self, index: int, tally: Tally) -> None:
        super().__init__(index, tally)
        self._confirmation = f'[server] you are now known as "{self.nick}"'.encode()

    def greeting(self) -> bytes:
        return f"NICK {self.nick}\n".encode()

    def names_request(self) -> bytes:
        return b"NAMES\n"

    def message_bytes(self, text: bytes) -> bytes:
        return b"MSG " + text + b"\n"

    def setup_record(self, record: bytes) -> None:
        line = record.rstrip(b"\r\n")
        if line == self._confirmation:
            self.registered()
        elif line.startswith(b"[server] error: "):
            self.server_error(line[9:].decode("utf-8", "replace"))
        elif (
            self._asked is not None
            and line.startswith(b"[server] ")
            and b'"' not in line
            and not line.startswith(b"[server] you are")
        ):
            # Once every client is named, the only quote-free server line
            # (besides "you are in #general") is the NAMES answer.
            self.answer_names(set(line[9:].decode().split()))

    def message_of(self, record: bytes) -> tuple[bytes, bytes] | None:
        if not record.startswith(b"[b"):
            return None
        close = record.find(b"] ")
        if close < 0:
            return None
        return record[2:close], record[close + 2 :].rstrip(b"\r\n")

    def other_record(self, record: bytes) -> None:
        line = record.rstrip(b"\r\n")
        if line.startswith(b"[server] error: "):
            self.server_error(line[9:].decode("utf-8", "replace"))
        elif not line.startswith(b"[server] "):
            self.tally.unexpected += 1

    def shape_of(self, record: bytes) -> Shape | None:
        # [bkkkk] <text>\r\n
        return _text_line_shape(record, b"[")


class IrcChatClient(ChatClient):
    """
    An IRC user: NICK and USER, JOIN #general once welcomed (001); ready at
    the end of NAMES (366).

    Written for any IRC server, ours or a reference one (L{reference_irc}):
    JOIN waits for the welcome because a server may finish registering later
    than it reads USER (InspIRCd does, on its once-a-second pass, and answers
    an early JOIN with 451); a missing MOTD (422) is no error; the server's
    pings are answered whenever they come.
    """

    def greeting(self) -> bytes:
        return irc_registration(self.nick, "fanout benchmark")

    def names_request(self) -> bytes:
        return b"NAMES #%s\r\n" % ROOM.encode()

    def message_bytes(self, text: bytes) -> bytes:
        return b"PRIVMSG #%s :%s\r\n" % (ROOM.encode(), text)

    def _pong(self, line: bytes) -> bool:
        if line.startswith(b"PING "):
            self.wire.write(b"PONG " + line[5:] + b"\r\n")
            return True
        return False

    def setup_record(self, record: bytes) -> None:
        line = record.rstrip(b"\r\n")
        if self._pong(line):
            return
        parts = line.split(b" ", 3)
        if len(parts) < 3 or not parts[1].isdigit():
            if parts[0] == b"ERROR":
                self.server_error(line.decode("utf-8", "replace"))
            return
        numeric = int(parts[1])
        if numeric == RPL_WELCOME:
            self.wire.write(b"JOIN #%s\r\n" % ROOM.encode())
        elif numeric == RPL_ENDOFNAMES:  # after the JOIN, and after asking
            if not self.is_ready:
                self.registered()
            elif self._asked is not None:
                self.answer_names(self._asked)
        elif numeric == RPL_NAMREPLY and self._asked is not None and self.is_ready:
            names = line.rpartition(b" :")[2].decode().split()
            self._asked.update(name.lstrip(MEMBER_PREFIXES) for name in names)
        elif irc_error(numeric):
            self.server_error(line.decode("utf-8", "replace"))

    def message_of(self, record: bytes) -> tuple[bytes, bytes] | None:
        # :bkkkk!<user>@<host> PRIVMSG #general [:]<text>\r\n (one size in a run)
        if not record.startswith(b":b"):
            return None
        command = b" PRIVMSG #%s " % ROOM.encode()
        at = record.find(command)
        bang = record.find(b"!")
        if at < 0 or bang < 0:
            return None
        text = record[at + len(command) :].rstrip(b"\r\n")
        return record[2:bang], text.removeprefix(b":")

    def other_record(self, record: bytes) -> None:
        line = record.rstrip(b"\r\n")
        if self._pong(line):
            return
        parts = line.split(b" ", 2)
        if parts[0] == b"ERROR" or (
            len(parts) > 1 and parts[1].isdigit() and irc_error(int(parts[1]))
        ):
            self.server_error(line.decode("utf-8", "replace"))

    def shape_of(self, record: bytes) -> Shape | None:
        # :bkkkk!<user>@<host> PRIVMSG #general [:]<text>\r\n
        return _text_line_shape(record, b":")


class FramedChatClient(ChatClient):
    """A twistedchat client: Hello with #general, ready on its own Entered frame."""

    record_end = staticmethod(frame_end)
    echoes_own = True
    # A Say of a 30-byte text, all but the text: the same for every message.
    SAY_HEAD = codec.frame_bytes(codec.Say(ROOM, "0" * TEXT_SIZE))[:-TEXT_SIZE]

    def greeting(self) -> bytes:
        return codec.frame_bytes(
            codec.Hello(codec.PROTOCOL_VERSION, self.nick, rooms=(ROOM,))
        )

    def names_request(self) -> bytes:
        return codec.frame_bytes(codec.ListNames(ROOM))

    def message_bytes(self, text: bytes) -> bytes:
        return self.SAY_HEAD + text

    def _decode(self, record: bytes) -> codec.Frame | None:
        try:
            return codec.decode(record[4:])
        except codec.CodecError:
            self.tally.unexpected += 1
            return None

    def _common(self, frame: codec.Frame | None) -> bool:
        """Pings and errors, whenever they come; True if C{frame} was one."""
        if isinstance(frame, codec.Ping):
            self.wire.write(codec.frame_bytes(codec.Pong(frame.token)))
            return True
        if isinstance(frame, codec.Error):
            self.server_error(f"error {frame.code}: {frame.text}")
            return True
        return frame is None

    def setup_record(self, record: bytes) -> None:
        frame = self._decode(record)
        if self._common(frame):
            return
        if isinstance(frame, codec.Entered) and frame.user.nick == self.nick:
            self.registered()
        elif isinstance(frame, codec.NameList):
            self.answer_names({user.nick for user in frame.users})

    def message_of(self, record: bytes) -> tuple[bytes, bytes] | None:
        if len(record) < 5 or record[4] != codec.Said.TYPE:
            return None
        frame = self._decode(record)
        if not isinstance(frame, codec.Said):
            return None
        return frame.user.nick.encode()[1:], frame.text.encode()

    def other_record(self, record: bytes) -> None:
        self._common(self._decode(record))

    def shape_of(self, record: bytes) -> Shape | None:
        # length, 0x82, time, room, user (id, nick "bkkkk", colour), text length, text
        size = len(record)
        text_at = size - TEXT_SIZE
        nick_at = text_at - 4 - 1 - 4
        length = (size - 4).to_bytes(4, "big")
        marks = (
            (2, length[2:3]),
            (3, length[3:4]),
            (4, bytes((codec.Said.TYPE,))),
            (nick_at - 1, b"b"),
        )
        return _checked(
            Shape(size, text_at, nick_at, record[text_at - 2 : text_at], marks), record
        )


# The web front: JSON messages over a WebSocket (websocket_wire)

SAID = b'{"type":"said",'  # how every said event's JSON starts (type first)
SAY_HEAD = b'{"type":"say","room":"%s","text":"' % ROOM.encode()
GARBLED = (b"", b"", b"")  # a record of a run that is no message: unexpected


def web_request(message: dict[str, Any]) -> bytes:
    """A request of the web front's JSON protocol, in a masked WebSocket frame."""
    return client_frame(json.dumps(message, separators=(",", ":")).encode())


def web_upgrade(transport: ITransport) -> Upgrade:
    """The opening handshake for the server at the other end of C{transport}."""
    peer = transport.getPeer()
    assert isinstance(peer, IPv4Address | IPv6Address)
    return Upgrade(peer.host, peer.port)


def web_message(record: bytes) -> dict[str, Any] | None:
    """The JSON object in a text frame, or None."""
    opcode, payload = frame_payload(record)
    if opcode != TEXT:
        return None
    try:
        message = json.loads(payload)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def web_said(record: bytes) -> tuple[bytes, bytes] | None:
    """The author's nick digits and the text of a said event in #general, or None."""
    opcode, payload = frame_payload(record)
    if opcode != TEXT or not payload.startswith(SAID):
        return None
    message = web_message(record)
    if message is None or message.get("room") != ROOM:
        return None
    user, text = message.get("user"), message.get("text")
    nick = user.get("nick") if isinstance(user, dict) else None
    if (
        not isinstance(nick, str)
        or not nick.startswith("b")
        or not isinstance(text, str)
    ):
        return None
    return nick[1:].encode(), text.encode()


def web_control(transport: ITransport, record: bytes) -> str | None:
    """
    Answer a control frame (a ping with its pong); what went wrong if the
    record is a close or a message to stop on (an error), else None.
    """
    opcode, payload = frame_payload(record)
    if opcode == PING:
        transport.write(client_frame(payload, PONG))
    elif opcode == CLOSE:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8", "replace")
        return f"the server closed the WebSocket ({code}: {reason})"
    elif opcode == TEXT:
        message = web_message(record)
        if message is None:
            return "a frame that is no JSON object"
        kind = message.get("type")
        if kind == "ping":
            transport.write(
                web_request({"type": "pong", "token": message.get("token")})
            )
        elif kind == "error":
            return f"error {message.get('code')}: {message.get('text')}"
    return None


class WebChatClient(ChatClient):
    """
    A browser's page: the WebSocket upgrade of /ws, then hello with #general;
    ready on its own entered event. It gets its own messages back, as the
    page shows them (the echo, not counted).

    A said event's size depends on its author's colour (two or three
    digits), so a run of them has no one size to check with strides:
    L{count_run} walks the frames' headers (a few byte reads per message,
    no decoding) while they hold said events; the window and the echoes are
    then counted over the whole run at once, as on the other fronts.
    """

    record_end = staticmethod(websocket_frame_end)
    echoes_own = True
    upgrade: Upgrade | None = None  # until the server has answered it

    def greeting(self) -> bytes:
        self.upgrade = web_upgrade(self.wire)
        return self.upgrade.request

    def hello(self) -> bytes:
        return web_request(
            {
                "type": "hello",
                "version": codec.PROTOCOL_VERSION,
                "nick": self.nick,
                "rooms": [ROOM],
            }
        )

    def dataReceived(self, data: bytes) -> None:
        if self.upgrade is not None:
            try:
                rest = self.upgrade.read(data)
            except BenchmarkFailed as e:
                self.server_error(str(e))
                self.wire.loseConnection()
                return
            if rest is None:
                return
            self.upgrade = None
            self.wire.write(self.hello())
            if not rest:
                return
            data = rest
        super().dataReceived(data)

    def names_request(self) -> bytes:
        return web_request({"type": "list_names", "room": ROOM})

    def message_bytes(self, text: bytes) -> bytes:
        return client_frame(SAY_HEAD + text + b'"}')

    def _other(self, record: bytes) -> dict[str, Any] | None:
        """Pings and errors, whenever they come; else the JSON message, if any."""
        trouble = web_control(self.wire, record)
        if trouble is not None:
            self.server_error(trouble)
            return None
        message = web_message(record)
        if message is None or message.get("type") in ("ping", "error"):
            return None
        return message

    def setup_record(self, record: bytes) -> None:
        message = self._other(record)
        if message is None:
            return
        kind = message.get("type")
        if kind == "entered" and message["user"]["nick"] == self.nick:
            self.registered()
        elif kind == "name_list":
            self.answer_names({user["nick"] for user in message["users"]})

    def message_of(self, record: bytes) -> tuple[bytes, bytes] | None:
        return web_said(record)

    def other_record(self, record: bytes) -> None:
        self._other(record)

    def shape_of(self, record: bytes) -> Shape | None:
        return None  # no one size: see count_run

    def start_counting(self, windows: dict[bytes, SenderWindow]) -> None:
        super().start_counting(windows)
        self.watched = [
            (self.marker(window.client.hex), window) for _, window in self.watched
        ]
        self._own_marker = self.marker(self.hex)

    @staticmethod
    def marker(sender_hex: bytes) -> bytes:
        """Bytes found only where a said event of that sender has its text."""
        return b'"text":"' + sender_hex + b":"

    def count_run(self, buffer: bytes, pos: int, now: int) -> int:
        # Said events in a row from pos: each a text frame with a 2-byte size
        # (0x81, 126, size) whose JSON starts as a said event's does.
        size = len(buffer)
        end = pos
        count = 0
        starts = buffer.startswith
        while end + 4 <= size and buffer[end] == 0x81 and buffer[end + 1] == 126:
            stop = end + 4 + (buffer[end + 2] << 8 | buffer[end + 3])
            if stop > size or not starts(SAID, end + 4):
                break
            end = stop
            count += 1
        if not count:
            return pos
        # The last message of each watched sender: how many it has reached.
        progress = self.progress
        tally = self.tally
        reached = tally.reached
        moves = []
        for slot, (marker, window) in enumerate(self.watched):
            at = buffer.rfind(marker, pos, end)
            if at < 0:
                continue
            seq = buffer[at + len(marker) : at + len(marker) + 8]
            upto = reached.get(seq) or reached_beyond(seq, tally.messages)
            if not upto:
                return pos
            if upto > progress[slot]:
                moves.append((slot, window, upto))
        for slot, window, upto in moves:
            window.moved(progress[slot], upto)
            progress[slot] = upto
        own = buffer.count(self._own_marker, pos, end) if self.is_sender else 0
        whole = pos == 0 and end == size
        self.regions.append((now, buffer if whole else buffer[pos:end]))
        tally.delivered(self, count - own, now)
        return end

    def region_records(self, region: bytes) -> Iterable[tuple[bytes, bytes, bytes]]:
        pos = 0
        while pos < len(region):
            end = websocket_frame_end(region, pos)
            if end < 0:
                yield GARBLED
                return
            said = web_said(region[pos:end])
            if said is None or parse_text(said[1]) is None:
                yield GARBLED
            else:
                nick, text = said
                yield nick, text[:13], text[STAMP_AT:]
            pos = end


def _text_line_shape(record: bytes, opener: bytes) -> Shape | None:
    """
    The shape of a text line (line and IRC fronts): C{opener}, then the
    sender's nick, the text last before CRLF.
    """
    size = len(record)
    text_at = size - 2 - TEXT_SIZE
    marks = ((0, opener), (1, b"b"), (size - 1, b"\n"))
    return _checked(
        Shape(size, text_at, 2, record[text_at - 2 : text_at], marks), record
    )


def _checked(shape: Shape, record: bytes) -> Shape | None:
    """
    C{shape}, if the record it was made from fits it: its marks, a benchmark
    text, the sender's nick where the shape says.
    """
    text_at, nick_at = shape.text_at, shape.nick_at
    if not shape.fits(record) or text_at < nick_at + 4 or len(shape.before_text) != 2:
        return None
    if parse_text(record[text_at : text_at + TEXT_SIZE]) is None:
        return None
    if record[nick_at : nick_at + 4] != record[text_at : text_at + 4]:
        return None
    return shape


CHAT_CLIENTS: dict[str, type[ChatClient]] = {
    "line": LineChatClient,
    "framed": FramedChatClient,
    "irc": IrcChatClient,
    "web": WebChatClient,
}


# Idle clients


class IdleClient(Protocol):
    """A registered user in no room: it only answers the server's pings."""

    record_end = staticmethod(line_end)
    _buffer = b""

    def __init__(self, index: int) -> None:
        self.nick = idle_nick(index)
        self.ready: Deferred[None] = Deferred()
        self.is_ready = False
        self.gone: Deferred[None] = Deferred()
        self.closing = False
        self.dropped = False

    def greeting(self) -> bytes:
        raise NotImplementedError

    def on_record(self, record: bytes) -> None:
        raise NotImplementedError

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.greeting())

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        pos = 0
        while (end := self.record_end(buffer, pos)) >= 0:
            self.on_record(buffer[pos:end])
            pos = end
        self._buffer = buffer[pos:]
        if len(self._buffer) > MAX_RECORD:
            self.fail("garbled input")

    def registered(self) -> None:
        self.is_ready = True
        if not self.ready.called:
            self.ready.callback(None)

    def fail(self, why: str) -> None:
        if not self.ready.called:
            self.ready.errback(BenchmarkFailed(f"{self.nick}: {why}"))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.dropped = not self.closing
        self.fail("connection lost")
        self.gone.callback(None)


class LineIdleClient(IdleClient):
    """Names itself, then leaves the default room: a netcat user in no room."""

    def greeting(self) -> bytes:
        return f"NICK {self.nick}\nPART\n".encode()

    def on_record(self, record: bytes) -> None:
        if record.startswith(b"[server] you left #") or record.startswith(
            b"[server] error: you are not in a room"
        ):
            self.registered()
        elif record.startswith(b"[server] error: "):
            self.fail(record.decode("utf-8", "replace").strip())


class IrcIdleClient(IdleClient):
    """NICK and USER, no JOIN; registered at the welcome (001)."""

    def greeting(self) -> bytes:
        return irc_registration(self.nick, "idle")

    def on_record(self, record: bytes) -> None:
        if record.startswith(b"PING "):
            assert self.transport is not None
            self.transport.write(b"PONG " + record[5:])
            return
        parts = record.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return
        numeric = int(parts[1])
        if numeric == RPL_WELCOME:
            self.registered()
        elif irc_error(numeric):
            self.fail(record.decode("utf-8", "replace").strip())


class FramedIdleClient(IdleClient):
    """Hello with no rooms; registered at the Welcome."""

    record_end = staticmethod(frame_end)

    def greeting(self) -> bytes:
        return codec.frame_bytes(codec.Hello(codec.PROTOCOL_VERSION, self.nick))

    def on_record(self, record: bytes) -> None:
        kind = record[4] if len(record) > 4 else 0
        if kind == codec.Welcome.TYPE:
            self.registered()
        elif kind == codec.Ping.TYPE:
            assert self.transport is not None
            token = codec.decode(record[4:])
            assert isinstance(token, codec.Ping)
            self.transport.write(codec.frame_bytes(codec.Pong(token.token)))
        elif kind == codec.Error.TYPE:
            self.fail(str(codec.decode(record[4:])))


class WebIdleClient(IdleClient):
    """The WebSocket upgrade, then hello with no rooms; registered at the welcome."""

    record_end = staticmethod(websocket_frame_end)
    upgrade: Upgrade | None = None  # until the server has answered it

    def greeting(self) -> bytes:
        assert self.transport is not None
        self.upgrade = web_upgrade(self.transport)
        return self.upgrade.request

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        if self.upgrade is not None:
            try:
                rest = self.upgrade.read(data)
            except BenchmarkFailed as e:
                self.fail(str(e))
                self.transport.loseConnection()
                return
            if rest is None:
                return
            self.upgrade = None
            hello = {
                "type": "hello",
                "version": codec.PROTOCOL_VERSION,
                "nick": self.nick,
            }
            self.transport.write(web_request(hello))
            data = rest
        super().dataReceived(data)

    def on_record(self, record: bytes) -> None:
        assert self.transport is not None
        trouble = web_control(self.transport, record)
        if trouble is not None:
            self.fail(trouble)
            return
        message = web_message(record)
        if message is not None and message.get("type") == "welcome":
            self.registered()


IDLE_CLIENTS: dict[str, type[IdleClient]] = {
    "line": LineIdleClient,
    "framed": FramedIdleClient,
    "irc": IrcIdleClient,
    "web": WebIdleClient,
}


def expected_nicks(clients: int) -> set[str]:
    return {chat_nick(index) for index in range(clients)}


def add_up(settled: Sequence[Settled]) -> Settled:
    out = Settled()
    for part in settled:
        out.unique += part.unique
        out.duplicated += part.duplicated
        out.unexpected += part.unexpected
        out.echoes += part.echoes
        out.latencies.extend(part.latencies)
        out.cross_latencies.extend(part.cross_latencies)
        out.reordered += part.reordered
        out.reads += part.reads
    return out
