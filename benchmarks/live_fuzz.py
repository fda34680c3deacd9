"""
Live fuzz run: random and mutated input against a real server, while two users chat.

What it checks: that no input on any front (line, framed, IRC) crashes the
server, makes it log a traceback, or disturbs other users. For each front in
turn, C{--connections} raw TCP connections send C{--inputs} inputs in all (or
stop after C{--seconds}): random bytes, random printable lines, and mutations of
valid commands or frames (bit flips, truncation, duplication, huge lengths,
invalid UTF-8, control characters, CR/LF injection, very long lines; for the
framed front also wrong and huge length prefixes and garbage types). A
connection the server closes is counted and replaced: closing is allowed. All
along, one well-behaved line-front user and one well-behaved IRC user chat in
#general, one numbered message each way every C{--interval} seconds, and each
checks that it receives every one of the other's messages, in order.

How: the server is the real C{twistd -n twistedchat} of L{tests.processes}
(source tree on C{PYTHONPATH}, ephemeral ports, log captured from its stdout),
started with C{--flood-rate 0 --max-per-address 0} so that the fuzzers are not
throttled into silence. Everything on this side is plain blocking sockets in
threads. At the end the report gives, per front, inputs sent, connections the
server closed and time taken; the chat's sent/received/lost/out-of-order counts
and p99 latency; whether the server is alive (process running and answering
NAMES on a fresh connection); its RSS before and after and its peak (VmHWM); and
the tracebacks or "Unhandled" lines in its log, with the inputs sent just before
the first one. Exit status 0 only with no loss, a live server and a clean log.
Linux only (C{/proc}). Usage: C{python benchmarks/live_fuzz.py --help}.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import select
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent  # the source tree under test
sys.path.insert(0, str(ROOT))

from tests.processes import ServerProcess  # noqa: E402
from twistedchat import codec  # noqa: E402

HOST = "127.0.0.1"
ROOM = "general"
FRONTS = ("line", "framed", "irc")
PROBLEM = re.compile(r"Traceback|Unhandled")
MIB = 1024 * 1024
SECOND_NS = 1_000_000_000


# Inputs


LINE_COMMANDS = [
    b"HELP",
    b"NICK fuzzer",
    b"MSG hello there",
    b"MSG #general hi all",
    b"MSG #other text",
    b"NAMES",
    b"NAMES #general",
    b"JOIN #fuzz",
    b"JOIN #general",
    b"PART bye",
    b"LIST",
    b"KICK somebody because",
    b"OPER admin secret",
    b"KILL somebody go away",
    b"QUIT leaving",
    b"Hello|fuzzer",
]

IRC_COMMANDS = [
    b"NICK fuzzer",
    b"USER fuzz 0 * :Fuzz Er",
    b"PASS secret",
    b"CAP LS 302",
    b"CAP REQ :multi-prefix",
    b"CAP END",
    b"JOIN #general",
    b"JOIN #fuzz,#other key1,key2",
    b"JOIN 0",
    b"PART #general :bye",
    b"PRIVMSG #general :hello",
    b"PRIVMSG #general :\x01ACTION waves\x01",
    b"NOTICE #general :note",
    b"PRIVMSG somebody :psst",
    b"NAMES #general",
    b"LIST",
    b"TOPIC #general :a topic",
    b"MODE #general +o somebody",
    b"MODE #general +mnt",
    b"MODE fuzzer +i",
    b"KICK #general somebody :out",
    b"INVITE somebody #fuzz",
    b"WHO #general",
    b"WHOIS somebody",
    b"AWAY :gone",
    b"ISON a b c",
    b"USERHOST a b",
    b"OPER admin secret",
    b"KILL somebody :bye",
    b"PING :123",
    b"PONG :123",
    b"LUSERS",
    b"MOTD",
    b"QUIT :leaving",
    b"@tag=value;other :prefix!u@h PRIVMSG #general :tagged",
]

INVALID_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]
CONTROLS = bytes(range(32)) + b"\x7f"


def framed_samples() -> list[codec.Frame]:
    """Valid client frames, to be sent as they are or mutated."""
    return [
        codec.Hello(codec.PROTOCOL_VERSION, "fuzzer", "", "en", ("general",)),
        codec.Hello(codec.PROTOCOL_VERSION, "fz", "sometoken", "", ("general", "fuzz")),
        codec.Say(ROOM, "hello from the framed fuzzer"),
        codec.Say("nowhere", "hi"),
        codec.Whisper("somebody", "psst"),
        codec.Join("fuzz"),
        codec.Part("fuzz", "bye"),
        codec.ChangeNick("fuzzer2"),
        codec.ListRooms(),
        codec.ListNames(ROOM),
        codec.ShowImage(ROOM, "#####\n#   #\n#####"),
        codec.Kick(ROOM, "somebody", "out"),
        codec.Ping(7),
        codec.Pong(7),
        codec.Goodbye("bye"),
    ]


class Mutator:
    """Random inputs and mutations of valid ones, from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def random_bytes(self) -> bytes:
        return self.rng.randbytes(self.rng.choice([1, 8, 64, 512, 4096]))

    def printable_line(self) -> bytes:
        size = self.rng.choice([0, 1, 10, 80, 400])
        text = "".join(chr(self.rng.randrange(32, 127)) for _ in range(size))
        return text.encode("ascii")

    def mutate(self, data: bytes) -> bytes:
        """One or a few mutations of C{data}."""
        for _ in range(self.rng.choice([1, 1, 2, 3])):
            data = self.rng.choice(self.MUTATIONS)(self, data)
        return data

    def _flip(self, data: bytes) -> bytes:
        if not data:
            return b"\x80"
        buffer = bytearray(data)
        for _ in range(self.rng.randint(1, 4)):
            i = self.rng.randrange(len(buffer))
            buffer[i] ^= 1 << self.rng.randrange(8)
        return bytes(buffer)

    def _truncate(self, data: bytes) -> bytes:
        return data[: self.rng.randrange(len(data) + 1)]

    def _duplicate(self, data: bytes) -> bytes:
        if not data:
            return data
        start = self.rng.randrange(len(data))
        end = self.rng.randrange(start, len(data) + 1)
        return data[:end] + data[start:end] * self.rng.randint(1, 50) + data[end:]

    def _insert(self, data: bytes, what: bytes) -> bytes:
        i = self.rng.randrange(len(data) + 1)
        return data[:i] + what + data[i:]

    def _invalid_utf8(self, data: bytes) -> bytes:
        return self._insert(data, self.rng.choice(INVALID_UTF8))

    def _control(self, data: bytes) -> bytes:
        return self._insert(data, bytes([self.rng.choice(CONTROLS)]))

    def _crlf(self, data: bytes) -> bytes:
        return self._insert(data, self.rng.choice([b"\r", b"\n", b"\r\n", b"\n\r"]))

    def _long(self, data: bytes) -> bytes:
        size = self.rng.choice([600, 5000, 70_000, 300_000])
        return self._insert(data, self.rng.choice([b"A", b"\xe9", b"x "]) * size)

    def _huge_number(self, data: bytes) -> bytes:
        number = str(self.rng.choice([2**31, 2**64, 10**30, -1]))
        return self._insert(data, number.encode())

    MUTATIONS: ClassVar[list[Callable[[Mutator, bytes], bytes]]] = [
        _flip,
        _truncate,
        _duplicate,
        _invalid_utf8,
        _control,
        _crlf,
        _long,
        _huge_number,
    ]

    # Per front

    def line_input(self, commands: list[bytes], ending: bytes) -> bytes:
        roll = self.rng.random()
        if roll < 0.1:
            return self.random_bytes()
        if roll < 0.2:
            return self.printable_line() + ending
        command = self.rng.choice(commands)
        if roll < 0.35:
            return command + ending
        return self.mutate(command + ending)

    def framed_input(self, samples: list[codec.Frame]) -> bytes:
        roll = self.rng.random()
        valid = codec.frame_bytes(self.rng.choice(samples))
        if roll < 0.1:
            return self.random_bytes()
        if roll < 0.25:
            return valid
        if roll < 0.4:  # a wrong length prefix, sometimes huge
            length = self.rng.choice(
                [0, 1, len(valid) - 5, len(valid) + 3, 65_537, 2**31, 2**32 - 1]
            )
            return struct.pack(">I", max(0, length)) + valid[4:]
        if roll < 0.5:  # a garbage type byte
            payload = bytes([self.rng.randrange(256)]) + self.rng.randbytes(
                self.rng.randrange(40)
            )
            return struct.pack(">I", len(payload)) + payload
        if roll < 0.75:  # mutated payload, correct length
            payload = self.mutate(valid[4:])[:65_000]
            return struct.pack(">I", len(payload)) + payload
        return self.mutate(valid)  # mutated anywhere, prefix included


# Fuzzing connections


@dataclass
class FrontResult:
    front: str
    inputs: int = 0
    bytes_sent: int = 0
    closed_by_server: int = 0
    connect_failures: int = 0
    seconds: float = 0.0
    time_cap_reached: bool = False


@dataclass
class SentInput:
    log_line: int  # how many server log lines existed when it was sent
    front: str
    connection: int
    length: int
    data: bytes  # the first bytes only: inputs can be hundreds of kilobytes


class FuzzRun:
    """C{connections} threads sending inputs to one front until a budget is spent."""

    def __init__(
        self,
        server: ServerProcess,
        front: str,
        inputs: int,
        seconds: float,
        connections: int,
        seed: int,
        journal: list[SentInput],
    ) -> None:
        self.server = server
        self.front = front
        self.budget = inputs
        self.deadline = 0.0
        self.seconds = seconds
        self.connections = connections
        self.seed = seed
        self.journal = journal
        self.result = FrontResult(front)
        self._lock = threading.Lock()

    def run(self) -> FrontResult:
        start = time.monotonic()
        self.deadline = start + self.seconds
        threads = [
            threading.Thread(target=self._fuzz, args=(i,), daemon=True)
            for i in range(self.connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.result.seconds = round(time.monotonic() - start, 2)
        self.result.time_cap_reached = self.result.inputs < self.budget
        return self.result

    def _take(self) -> bool:
        """Claim one input of the budget; False when the budget or time is spent."""
        with self._lock:
            if self.result.inputs >= self.budget or time.monotonic() > self.deadline:
                return False
            self.result.inputs += 1
            return True

    def _connect(self) -> socket.socket | None:
        port = self.server.ports[self.front]
        while time.monotonic() < self.deadline:
            try:
                connection = socket.create_connection((HOST, port), timeout=5)
            except OSError:
                with self._lock:
                    self.result.connect_failures += 1
                time.sleep(0.05)
                continue
            connection.setblocking(False)
            return connection
        return None

    def _fuzz(self, index: int) -> None:
        mutator = Mutator(random.Random(f"{self.seed}-{self.front}-{index}"))
        samples = framed_samples()
        nick = f"fz{index}".encode()
        connection = self._connect()
        while connection is not None and self._take():
            data = self._next_input(mutator, samples, nick)
            self.journal.append(
                SentInput(
                    len(self.server.output), self.front, index, len(data), data[:400]
                )
            )
            if not self._send(connection, data):
                with self._lock:
                    self.result.closed_by_server += 1
                connection.close()
                connection = self._connect()
        if connection is not None:
            self._finish(connection)

    def _finish(self, connection: socket.socket) -> None:
        """Half-close and read to the server's close: it has then handled all we sent."""
        try:
            connection.shutdown(socket.SHUT_WR)
            give_up = time.monotonic() + 30
            while time.monotonic() < give_up:
                select.select([connection], [], [], 0.5)
                if not self._drain(connection):
                    break
        except OSError:
            pass
        connection.close()

    def _next_input(
        self, mutator: Mutator, samples: list[codec.Frame], nick: bytes
    ) -> bytes:
        if self.front == "line":
            return mutator.line_input(LINE_COMMANDS, b"\n")
        if self.front == "irc":
            if mutator.rng.random() < 0.05:  # often registered, so commands count
                return b"NICK " + nick + b"\r\nUSER f 0 * :f\r\n"
            return mutator.line_input(IRC_COMMANDS, b"\r\n")
        if mutator.rng.random() < 0.05:
            hello = codec.Hello(codec.PROTOCOL_VERSION, nick.decode(), "", "", (ROOM,))
            return codec.frame_bytes(hello)
        return mutator.framed_input(samples)

    def _send(self, connection: socket.socket, data: bytes) -> bool:
        """Send C{data}, reading whatever comes back; False once the server closed."""
        view = memoryview(data)
        give_up = time.monotonic() + 10
        while True:
            if not self._drain(connection):
                return False
            if not view:
                return True
            if time.monotonic() > give_up:  # the server stopped reading us
                return False
            select.select([connection], [connection], [], 0.5)
            try:
                sent = connection.send(view)
            except BlockingIOError:
                continue
            except OSError:
                return False
            self.result.bytes_sent += sent
            view = view[sent:]

    @staticmethod
    def _drain(connection: socket.socket) -> bool:
        while True:
            try:
                data = connection.recv(65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False


# The well-behaved users


@dataclass
class ChatFigures:
    sent: int = 0
    received: int = 0
    lost: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    latencies_ns: list[int] = field(default_factory=list)


class ChatUser:
    """One well-behaved user on a blocking socket, driven from its own thread."""

    def __init__(self, port: int, nick: str, token: str) -> None:
        self.nick = nick
        self.token = token  # tells this run's messages from anything a fuzzer says
        self.socket = socket.create_connection((HOST, port), timeout=10)
        self.buffer = b""
        self.figures = ChatFigures()
        self.last_seq = -1
        self.seen: set[int] = set()
        self.error: str | None = None
        self.peer: ChatUser | None = None

    def read_line(self, timeout: float) -> bytes | None:
        """The next line (without CRLF), or None if none came within C{timeout}."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.socket.settimeout(left)
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                return None
            if not data:
                raise ConnectionError(f"{self.nick}: the server closed the connection")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def expect(self, pattern: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            line = self.read_line(left)
            if line is not None:
                self.handle(line)
                if re.search(pattern, line):
                    return line
        raise AssertionError(f"{self.nick}: no line matching {pattern!r}")

    def text(self, seq: int) -> str:
        return f"wb {self.token} {seq} {time.perf_counter_ns()}"

    def received(self, text: bytes) -> None:
        arrival = time.perf_counter_ns()
        parts = text.split(b" ")
        if len(parts) != 4 or parts[0] != b"wb" or parts[1] != self.token.encode():
            return
        seq, sent_ns = int(parts[2]), int(parts[3])
        if seq in self.seen:
            self.figures.duplicates += 1
            return
        self.seen.add(seq)
        if seq < self.last_seq:
            self.figures.out_of_order += 1
        self.last_seq = max(self.last_seq, seq)
        self.figures.received += 1
        self.figures.latencies_ns.append(arrival - sent_ns)

    def handle(self, line: bytes) -> None:
        raise NotImplementedError

    def say(self, text: str) -> None:
        raise NotImplementedError

    def chat(self, interval: float, stop: threading.Event, settle: float) -> None:
        """Send one message every C{interval} until C{stop}; read all along."""
        try:
            next_send = time.monotonic()
            while not stop.is_set() or self.figures.sent == 0:
                now = time.monotonic()
                if now >= next_send:
                    self.say(self.text(self.figures.sent))
                    self.figures.sent += 1
                    next_send += interval
                    if next_send < now:  # we fell behind: do not burst
                        next_send = now + interval
                line = self.read_line(max(0.0, next_send - time.monotonic()))
                if line is not None:
                    self.handle(line)
            # Read what the other still has in flight, then give up.
            deadline = time.monotonic() + settle
            assert self.peer is not None
            while (
                self.figures.received < self.peer.figures.sent
                and time.monotonic() < deadline
            ):
                line = self.read_line(0.1)
                if line is not None:
                    self.handle(line)
        except Exception as e:  # reported, and counted as loss
            self.error = f"{type(e).__name__}: {e}"


class LineChatUser(ChatUser):
    def register(self) -> None:
        self.expect(rb"^\[server\] welcome")
        self.socket.sendall(f"NICK {self.nick}\n".encode())
        self.expect(rb"you are now known as")

    def handle(self, line: bytes) -> None:
        assert self.peer is not None
        head = f"[{self.peer.nick}] ".encode()
        if line.startswith(head):
            self.received(line[len(head) :])

    def say(self, text: str) -> None:
        self.socket.sendall(f"MSG #{ROOM} {text}\n".encode())


class IRCChatUser(ChatUser):
    def register(self) -> None:
        self.socket.sendall(
            f"NICK {self.nick}\r\nUSER wb 0 * :well behaved\r\n".encode()
        )
        self.expect(rb"^:\S+ 001 ")
        self.socket.sendall(f"JOIN #{ROOM}\r\n".encode())
        self.expect(rb"^:\S+ 366 ")

    def handle(self, line: bytes) -> None:
        assert self.peer is not None
        if line.startswith(b"PING"):
            self.socket.sendall(b"PONG" + line[4:] + b"\r\n")
            return
        head = f":{self.peer.nick}!".encode()
        if not line.startswith(head):
            return
        parts = line.split(b" ", 3)
        if (
            len(parts) == 4
            and parts[1] == b"PRIVMSG"
            and parts[2] == f"#{ROOM}".encode()
        ):
            self.received(parts[3].removeprefix(b":"))

    def say(self, text: str) -> None:
        self.socket.sendall(f"PRIVMSG #{ROOM} :{text}\r\n".encode())


# The server's health


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of C{pid} in bytes (empty once the process is gone)."""
    figures = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0]) * 1024
    return figures


def answers_names(port: int, nick: str) -> bool:
    """True if a fresh line-front connection gets a NAMES answer naming C{nick}."""
    try:
        with socket.create_connection((HOST, port), timeout=10) as connection:
            connection.sendall(f"NAMES #{ROOM}\n".encode())
            deadline = time.monotonic() + 10
            buffer = b""
            while time.monotonic() < deadline:
                data = connection.recv(65536)
                if not data:
                    return False
                buffer += data
                for line in buffer.split(b"\r\n"):
                    if line.startswith(b"[server] ") and nick.encode() in line.split():
                        return True
    except OSError:
        return False
    return False


def percentile(values: list[int], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


def problems_and_suspects(
    output: list[str], journal: list[SentInput]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Log lines with tracebacks, and the inputs sent just before the first one."""
    first = next((i for i, line in enumerate(output) if PROBLEM.search(line)), None)
    if first is None:
        return [], []
    problems = [line.rstrip("\n") for line in output if PROBLEM.search(line)]
    excerpt = [line.rstrip("\n") for line in output[max(0, first - 3) : first + 40]]
    before = [sent for sent in journal if first - 30 <= sent.log_line <= first]
    suspects = [
        {
            "front": sent.front,
            "connection": sent.connection,
            "length": sent.length,
            "data": repr(sent.data),
        }
        for sent in before[-20:]
    ]
    return [*problems, "--- log around the first one ---", *excerpt], suspects


# The run


@dataclass
class Watched:
    """What was seen of the server around the fuzzing."""

    fronts: list[FrontResult]
    users: tuple[ChatUser, ChatUser]  # the line user, the IRC user
    memory_before: dict[str, int]
    memory_after: dict[str, int]
    running: bool
    alive: bool


@dataclass(frozen=True)
class Budget:
    """How much fuzzing per front, and how fast the users chat (see L{run})."""

    inputs: int
    seconds: float
    connections: int
    interval: float
    seed: int


def fuzz_while_chatting(
    server: ServerProcess, token: str, journal: list[SentInput], budget: Budget
) -> Watched:
    """Two users chat while each front in turn is fuzzed."""
    pid = server.process.pid
    line_user = LineChatUser(server.ports["line"], f"wbline{token[:4]}", token)
    irc_user = IRCChatUser(server.ports["irc"], f"wbirc{token[:4]}", token)
    line_user.peer, irc_user.peer = irc_user, line_user
    line_user.register()
    irc_user.register()
    memory_before = proc_status(pid)
    stop = threading.Event()
    chatters = [
        threading.Thread(target=user.chat, args=(budget.interval, stop, 10.0))
        for user in (line_user, irc_user)
    ]
    for thread in chatters:
        thread.start()
    fronts = [
        FuzzRun(
            server,
            front,
            budget.inputs,
            budget.seconds,
            budget.connections,
            budget.seed,
            journal,
        ).run()
        for front in FRONTS
    ]
    stop.set()
    for thread in chatters:
        thread.join()
    memory_after = proc_status(pid)
    running = server.process.poll() is None
    alive = running and answers_names(server.ports["line"], line_user.nick)
    for user in (line_user, irc_user):
        user.socket.close()
    users = (line_user, irc_user)
    return Watched(fronts, users, memory_before, memory_after, running, alive)


def chat_figures(user: ChatUser, front: str) -> dict[str, Any]:
    """What one well-behaved user sent and got."""
    assert user.peer is not None
    figures = user.figures
    latencies = figures.latencies_ns
    return {
        "front": front,
        "sent": figures.sent,
        "received": figures.received,
        "lost": user.peer.figures.sent - figures.received,
        "out_of_order": figures.out_of_order,
        "duplicates": figures.duplicates,
        "p99_latency_ms": percentile(latencies, 0.99),
        "max_latency_ms": (max(latencies) / 1e6) if latencies else None,
        "error": user.error,
    }


def run(
    inputs: int = 10_000,
    seconds: float = 60.0,
    connections: int = 8,
    interval: float = 0.02,
    seed: int = 1,
) -> dict[str, Any]:
    """Start a server, fuzz each front while two users chat; return the report."""
    token = f"{random.Random(seed).getrandbits(32):08x}"
    journal: list[SentInput] = []
    budget = Budget(inputs, seconds, connections, interval, seed)
    with tempfile.TemporaryDirectory(prefix="live-fuzz-") as folder:
        server = ServerProcess(folder, "--flood-rate", "0", "--max-per-address", "0")
        server.start()
        try:
            watched = fuzz_while_chatting(server, token, journal, budget)
        finally:
            server.stop()
    problems, suspects = problems_and_suspects(server.output, journal)
    line_user, irc_user = watched.users
    chat = {
        line_user.nick: chat_figures(line_user, "line"),
        irc_user.nick: chat_figures(irc_user, "irc"),
    }
    lost = sum(entry["lost"] for entry in chat.values())
    disorder = sum(entry["out_of_order"] for entry in chat.values())
    return {
        "fronts": {result.front: asdict(result) for result in watched.fronts},
        "chat": chat,
        "lost": lost,
        "out_of_order": disorder,
        "server_running": watched.running,
        "server_alive": watched.alive,
        "server_exit_status": server.process.returncode,
        "rss_before_bytes": watched.memory_before.get("VmRSS"),
        "rss_after_bytes": watched.memory_after.get("VmRSS"),
        "rss_peak_bytes": watched.memory_after.get("VmHWM"),
        "tracebacks": sum(1 for line in server.output if PROBLEM.search(line)),
        "log_lines": len(server.output),
        "problems": problems[:200],
        "suspect_inputs": suspects,
        "ok": lost == 0 and disorder == 0 and watched.alive and not problems,
    }


def _mib(value: int | None) -> str:
    return "?" if value is None else f"{value / MIB:.1f} MiB"


def print_report(report: dict[str, Any]) -> None:
    print("front    inputs  closed-by-server  seconds  (time cap reached)")
    for front, result in report["fronts"].items():
        print(
            f"{front:<7} {result['inputs']:>7} {result['closed_by_server']:>17}"
            f" {result['seconds']:>8}  {'yes' if result['time_cap_reached'] else 'no'}"
        )
    print()
    for nick, entry in report["chat"].items():
        p99 = entry["p99_latency_ms"]
        print(
            f"{nick} ({entry['front']}): sent {entry['sent']}, received"
            f" {entry['received']}, lost {entry['lost']}, out of order"
            f" {entry['out_of_order']}, duplicates {entry['duplicates']}, p99 latency"
            f" {'?' if p99 is None else f'{p99:.1f} ms'}"
            + (f", error: {entry['error']}" if entry["error"] else "")
        )
    print()
    print(
        f"server alive: {'yes' if report['server_alive'] else 'NO'}"
        f" (process running: {'yes' if report['server_running'] else 'no'},"
        f" exit status after SIGTERM {report['server_exit_status']})"
    )
    print(
        f"server RSS: before {_mib(report['rss_before_bytes'])}, after"
        f" {_mib(report['rss_after_bytes'])}, peak {_mib(report['rss_peak_bytes'])}"
    )
    print(
        f"tracebacks/Unhandled lines in the log: {report['tracebacks']}"
        f" (of {report['log_lines']} lines)"
    )
    for line in report["problems"]:
        print(f"  | {line}")
    if report["suspect_inputs"]:
        print("inputs sent just before the first traceback:")
        for suspect in report["suspect_inputs"]:
            print(
                f"  {suspect['front']}#{suspect['connection']}"
                f" ({suspect['length']} bytes): {suspect['data']}"
            )
    print("OK" if report["ok"] else "FAILED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Live fuzz run against a real server.")
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs per front")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="time cap per front"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent fuzzing connections"
    )
    parser.add_argument(
        "--interval", type=float, default=0.02, help="seconds between chat messages"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(argv)
    report = run(
        options.inputs,
        options.seconds,
        options.connections,
        options.interval,
        options.seed,
    )
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
