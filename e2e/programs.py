"""
Real programs for the end-to-end run, driven from pytest-twisted's reactor.

L{ChatServer} is C{twistd -n twistedchat} on loopback ports the system picks;
L{TerminalProgram} is any program (irssi, WeeChat...) on a real
pseudo-terminal, whose screen a terminal emulator (pyte) draws as a person
would see it, or on pipes as a script runs it; L{TerminalClient} is the
C{twistedchat} client run so; L{NetcatUser} is a plain TCP connection to the
line front, as C{nc} would make. Every wait is bounded and fails with what
was seen so far; nothing sleeps.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import signal
import struct
import sys
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

import pyte
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    connectProtocol,
)
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from tests.processes import FRONTS, LISTENING, server_command, server_environment

reactor: Any = _reactor
T = TypeVar("T")


class WaitTimedOut(AssertionError):
    """What a test waited for did not come in time."""


@dataclass
class _Wait:
    check: Callable[[], Any]
    deferred: Deferred[Any]
    timer: IDelayedCall


@dataclass
class Waits:
    """
    Conditions on something that changes as data arrives: each wait fires
    with the first true value of its check, or fails after its timeout with
    C{describe()}, the state it gave up on.
    """

    describe: Callable[[], str]
    clock: IReactorTime = field(default_factory=lambda: reactor)
    _pending: list[_Wait] = field(default_factory=list)
    ended: bool = False

    def until(
        self, check: Callable[[], T | None], timeout: float, what: str
    ) -> Deferred[T]:
        deferred: Deferred[T] = Deferred()
        value = check()
        if value:
            deferred.callback(value)
            return deferred
        if self.ended:
            deferred.errback(WaitTimedOut(f"{what}: already ended; {self.describe()}"))
            return deferred

        def expired() -> None:
            self._pending.remove(wait)
            deferred.errback(
                WaitTimedOut(f"{what}: not within {timeout} s; {self.describe()}")
            )

        wait = _Wait(check, deferred, self.clock.callLater(timeout, expired))
        self._pending.append(wait)
        return deferred

    def changed(self) -> None:
        for wait in list(self._pending):
            value = wait.check()
            if value:
                self._pending.remove(wait)
                wait.timer.cancel()
                wait.deferred.callback(value)

    def end(self) -> None:
        """Nothing will change any more: what still waits fails now."""
        self.changed()
        self.ended = True
        for wait in list(self._pending):
            self._pending.remove(wait)
            wait.timer.cancel()
            wait.deferred.errback(WaitTimedOut(f"ended; {self.describe()}"))


class _Process(ProcessProtocol):
    """A child process whose end can be awaited and which can be stopped."""

    def __init__(self) -> None:
        self.exited: Deferred[int | None] = Deferred()
        self.status: int | None = None

    def processEnded(self, reason: Failure) -> None:
        self.status = (
            0 if reason.check(ProcessDone) else getattr(reason.value, "exitCode", None)
        )
        self.exited.callback(self.status)

    @property
    def running(self) -> bool:
        return not self.exited.called

    def signal(self, name: str) -> None:
        """Send the signal C{name} ("TERM", "STOP", "CONT"…), if still running."""
        number = getattr(signal, f"SIG{name}")  # Twisted knows only five by name
        with contextlib.suppress(ProcessExitedAlready):  # it ended meanwhile
            self.transport.signalProcess(number)  # type: ignore[union-attr]

    async def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it does not end within C{timeout}."""
        if self.running:
            self.signal("TERM")
            killer = reactor.callLater(timeout, self.signal, "KILL")
            await self.exited
            if killer.active():
                killer.cancel()
        return self.status

    def wait_exit(self, timeout: float = 15) -> Deferred[int | None]:
        """The exit status, once the process has ended on its own."""
        waits = Waits(lambda: "still running")

        def ended(status: int | None) -> int | None:
            waits.end()
            return status

        self.exited.addCallback(ended)
        return waits.until(
            lambda: (True, self.status) if not self.running else None,
            timeout,
            "exit",
        ).addCallback(lambda found: found[1])


class ChatServer(_Process):
    """C{twistd -n twistedchat} in C{folder}, every front on a free port."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.log = ""
        self.ports: dict[str, int] = {}
        self.waits = Waits(lambda: f"server log:\n{self.log[-4000:]}")

    @classmethod
    async def start(
        cls, folder: Path, *arguments: str, timeout: float = 30
    ) -> ChatServer:
        folder.mkdir(parents=True, exist_ok=True)
        server = cls(folder)
        command = server_command(*arguments)
        process_reactor: IReactorProcess = reactor
        process_reactor.spawnProcess(
            server, command[0], command, env=server_environment(), path=str(folder)
        )
        await server.waits.until(
            lambda: set(server.ports) >= set(FRONTS), timeout, "every front listening"
        )
        return server

    def outReceived(self, data: bytes) -> None:
        self.log += data.decode("utf-8", "replace")
        for match in LISTENING.finditer(self.log):
            self.ports[match.group(1)] = int(match.group(3))
        self.waits.changed()

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        super().processEnded(reason)
        self.waits.end()

    def wait_for_log(self, pattern: str, timeout: float = 10) -> Deferred[str]:
        """The first log line matching C{pattern} (a regular expression)."""
        regex = re.compile(pattern)

        def found() -> str | None:
            match = regex.search(self.log)
            return match.group(0) if match else None

        return self.waits.until(found, timeout, f"log line {pattern!r}")


class NetcatUser(LineReceiver):
    """A person on the line front with C{nc 127.0.0.1 PORT}."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.closed = False
        self.waits = Waits(lambda: f"netcat user saw: {self.lines[-40:]}")

    @classmethod
    async def connect(cls, port: int, nick: str | None = None) -> NetcatUser:
        user = cls()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), user)
        if nick is not None:
            user.send(f"NICK {nick}")
            await user.wait_for(nick)
        return user

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line.decode("utf-8", "replace").rstrip("\r"))
        self.waits.changed()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.closed = True
        self.waits.end()

    def send(self, line: str) -> None:
        self.transport.write(line.encode("utf-8") + b"\n")  # type: ignore[union-attr]

    def wait_for(self, text: str, timeout: float = 10, after: int = 0) -> Deferred[str]:
        """The first line from index C{after} on that contains C{text}."""

        def found() -> str | None:
            return next((line for line in self.lines[after:] if text in line), None)

        return self.waits.until(found, timeout, f"a line with {text!r}")

    def close(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]


class Relayed(NamedTuple):
    """A line the proxy relayed: when (seconds since it started), which way."""

    at: float
    direction: str  # ">": the program to the server; "<": back
    line: str


class _ProxySide(Protocol):
    """One connection of the proxy: what it receives goes to its peer."""

    def __init__(self, proxy: RecordingProxy, direction: str) -> None:
        self.proxy = proxy
        self.direction = direction
        self.peer: _ProxySide | None = None
        self.pending = b""  # what arrived before the peer connected

    def dataReceived(self, data: bytes) -> None:
        self.proxy.record(self.direction, data)
        if self.peer is None:
            self.pending += data
        else:
            self.peer.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.proxy.connections.discard(self)
        if self.peer is not None:
            self.peer.transport.loseConnection()  # type: ignore[union-attr]
        self.proxy.waits.changed()


class _ClientSide(_ProxySide):
    """The program's connection: joined to a new one to the server."""

    def connectionMade(self) -> None:
        self.proxy.connections.add(self)
        self.proxy.accepted += 1
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.proxy.target)
        server_side = _ProxySide(self.proxy, "<")
        connecting = connectProtocol(endpoint, server_side)
        connecting.addCallbacks(self.joined, self.refused)

    def joined(self, server_side: _ProxySide) -> None:
        self.proxy.connections.add(server_side)
        server_side.peer, self.peer = self, server_side
        if self.transport is None or not self.transport.connected:  # type: ignore[attr-defined]
            server_side.transport.loseConnection()  # type: ignore[union-attr]
        elif self.pending:
            server_side.transport.write(self.pending)  # type: ignore[union-attr]
            self.pending = b""

    def refused(self, reason: Failure) -> None:
        self.proxy.record("!", f"server refused: {reason.value}\n".encode())
        self.transport.loseConnection()  # type: ignore[union-attr]


@dataclass
class RecordingProxy:
    """
    A TCP proxy on 127.0.0.1 in front of the server's C{target} port that
    records every line each way, whatever program connects through it:
    C{transcript} holds each line the program sent (direction C{">"}) and
    each the server sent it (C{"<"}), in the order the proxy relayed them.
    """

    target: int
    port: int = 0
    transcript: list[Relayed] = field(default_factory=list)
    started: float = field(default_factory=lambda: float(reactor.seconds()))
    accepted: int = 0  # connections the program made
    connections: set[_ProxySide] = field(default_factory=set)
    _partial: dict[str, bytes] = field(default_factory=dict)
    _listening: Any = None

    def __post_init__(self) -> None:
        self.waits = Waits(self.describe)

    @classmethod
    async def start(cls, target: int) -> RecordingProxy:
        proxy = cls(target)
        factory = Factory.forProtocol(lambda: _ClientSide(proxy, ">"))
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        proxy._listening = await endpoint.listen(factory)
        proxy.port = proxy._listening.getHost().port
        return proxy

    def record(self, direction: str, data: bytes) -> None:
        *lines, self._partial[direction] = (
            self._partial.get(direction, b"") + data
        ).split(b"\n")
        for line in lines:
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            at = reactor.seconds() - self.started
            self.transcript.append(Relayed(at, direction, text))
        self.waits.changed()

    def sent(self) -> list[str]:
        """The lines the program sent to the server."""
        return [relayed.line for relayed in self.transcript if relayed.direction == ">"]

    def received(self) -> list[str]:
        """The lines the server sent to the program."""
        return [relayed.line for relayed in self.transcript if relayed.direction == "<"]

    def describe(self) -> str:
        return "transcript:\n" + "\n".join(
            f"{at:8.3f} {direction} {line}" for at, direction, line in self.transcript
        )

    def wait_for_received(
        self, pattern: str, timeout: float = 10, after: int = 0
    ) -> Deferred[str]:
        """The first line from the server (from index C{after} of
        L{received}) that matches C{pattern}, a regular expression."""
        regex = re.compile(pattern)

        def found() -> str | None:
            lines = self.received()[after:]
            return next((line for line in lines if regex.search(line)), None)

        return self.waits.until(found, timeout, f"a line matching {pattern!r}")

    def wait_for_sent(
        self, pattern: str, timeout: float = 10, after: int = 0
    ) -> Deferred[str]:
        """The first line the program sent (from index C{after} of L{sent})
        that matches C{pattern}, a regular expression."""
        regex = re.compile(pattern)

        def found() -> str | None:
            lines = self.sent()[after:]
            return next((line for line in lines if regex.search(line)), None)

        return self.waits.until(found, timeout, f"a sent line matching {pattern!r}")

    def wait_closed(self, timeout: float = 10) -> Deferred[bool]:
        """Once the program has connected and every connection has closed."""
        return self.waits.until(
            lambda: self.accepted > 0 and not self.connections,
            timeout,
            "the connection closed",
        )

    async def stop(self) -> None:
        """Listen no more, and close what is still open."""
        if self._listening is not None:
            await self._listening.stopListening()
            self._listening = None
        for side in list(self.connections):
            side.transport.abortConnection()  # type: ignore[union-attr]
        if self.accepted:
            await self.wait_closed(timeout=5)


def client_arguments(
    port: int,
    folder: Path,
    *more: str,
    nick: str | None = "tutu",
    room: str | None = "general",
    lang: str = "en",
) -> list[str]:
    """
    The client's command line for a test: the server on 127.0.0.1 C{port},
    C{nick} and C{room} given (None: asked), resume tokens and the
    conversation log in C{folder}/state, then C{more}.
    """
    given = [*(["--nick", nick] if nick else []), *(["--room", room] if room else [])]
    return [
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        *given,
        "--lang",
        lang,
        "--state-dir",
        str(folder / "state"),
        *more,
    ]


class _Screen(pyte.Screen):
    """
    pyte's screen, and three sequences of xterm's terminfo that curses
    programs (irssi, WeeChat) send and pyte 0.8 does not draw: scroll up
    (CSI n S), scroll down (CSI n T), repeat the last character (CSI n b).
    """

    _last = " "

    def draw(self, data: str) -> None:
        super().draw(data)
        if data:
            self._last = data[-1]

    def scroll_up(self, count: int | None = None, *more: int, **flags: bool) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        for _ in range(min(count or 1, bottom - top + 1)):
            for y in range(top, bottom):
                self.buffer[y] = self.buffer[y + 1]
            self.buffer.pop(bottom, None)
        self.dirty.update(range(self.lines))

    def scroll_down(self, count: int | None = None, *more: int, **flags: bool) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        for _ in range(min(count or 1, bottom - top + 1)):
            for y in range(bottom, top, -1):
                self.buffer[y] = self.buffer[y - 1]
            self.buffer.pop(top, None)
        self.dirty.update(range(self.lines))

    def repeat_character(
        self, count: int | None = None, *more: int, **flags: bool
    ) -> None:
        self.draw(self._last * (count or 1))


class _ByteStream(pyte.ByteStream):
    csi = {  # noqa: RUF012 (pyte's Stream declares it so)
        **pyte.ByteStream.csi,
        "S": "scroll_up",
        "T": "scroll_down",
        "b": "repeat_character",
    }


class TerminalProgram(_Process):
    """
    Any program as a person runs it: on a pseudo-terminal of C{columns} x
    C{rows} whose screen pyte keeps (the twistedchat client, irssi,
    WeeChat...), or (C{terminal=False}) on pipes, as a script runs it.
    """

    def __init__(self, columns: int, rows: int, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal
        self.screen = _Screen(columns, rows)
        self.stream = _ByteStream(self.screen)
        self.output = b""  # everything the program wrote, as written
        self.waits = Waits(self.describe)

    @classmethod
    def spawn(
        cls,
        command: list[str],
        *,
        cwd: Path,
        columns: int = 80,
        rows: int = 24,
        terminal: bool = True,
        environment: dict[str, str] | None = None,
        then: str | None = None,
    ) -> Self:
        """
        Start C{command} (its program first) in C{cwd}, with this process's
        environment, C{TERM=xterm-256color}, C{LANG=C.UTF-8}, no C{NO_COLOR},
        then C{environment}.

        @param then: a shell command run on the same terminal once the program
            has ended (C{"stty -a"}: the terminal as the program left it); the
            exit status stays the program's.
        """
        program = cls(columns, rows, terminal)
        env = server_environment()
        env.update({"TERM": "xterm-256color", "LANG": "C.UTF-8"})
        env.pop("NO_COLOR", None)
        env.update(environment or {})
        if then is not None:
            script = f'"$@"; status=$?; {then}; exit $status'
            command = ["/bin/sh", "-c", script, "sh", *command]
        process_reactor: IReactorProcess = reactor
        transport = process_reactor.spawnProcess(
            program, command[0], command, env=env, path=str(cwd), usePTY=terminal
        )
        if terminal:
            # Before the program has even started in the child: its first look
            # at the terminal's size finds this one.
            size = struct.pack("HHHH", rows, columns, 0, 0)
            fcntl.ioctl(transport.fileno(), termios.TIOCSWINSZ, size)  # type: ignore[attr-defined]
        return program

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.output += data
        self.stream.feed(data)
        self.waits.changed()

    def processEnded(self, reason: Failure) -> None:
        super().processEnded(reason)
        self.waits.end()

    def display(self) -> list[str]:
        """The screen's rows, as a person sees them."""
        return [row.rstrip() for row in self.screen.display]

    def text(self) -> str:
        """Everything written, control sequences removed (for pipes mostly)."""
        plain = re.sub(
            rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]",
            b"",
            self.output,
        )
        return plain.decode("utf-8", "replace").replace("\r\n", "\n")

    def describe(self) -> str:
        if self.terminal:
            return "screen:\n" + "\n".join(f"|{row}" for row in self.display())
        return f"output:\n{self.text()[-4000:]}"

    def keys(self, data: bytes | str) -> None:
        """What a person types: text, Enter as \\r, arrows as their sequences."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.transport.write(data)  # type: ignore[union-attr]

    def line(self, text: str) -> None:
        """Type C{text} and Enter (a newline on pipes)."""
        self.keys(text + ("\r" if self.terminal else "\n"))

    def close_input(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def wait_for_screen(self, text: str, timeout: float = 10) -> Deferred[list[str]]:
        """The screen, once one of its rows shows C{text}."""

        def found() -> list[str] | None:
            rows = self.display()
            return rows if any(text in row for row in rows) else None

        return self.waits.until(found, timeout, f"{text!r} on the screen")

    def wait_for_output(self, text: str, timeout: float = 10) -> Deferred[str]:
        """Everything written so far, once it holds C{text}."""

        def found() -> str | None:
            written = self.text()
            return written if text in written else None

        return self.waits.until(found, timeout, f"{text!r} in the output")

    def resize(self, columns: int, rows: int) -> None:
        """The window resized: the terminal's new size (the kernel sends the
        program SIGWINCH) and pyte's screen alike."""
        size = struct.pack("HHHH", rows, columns, 0, 0)
        fcntl.ioctl(self.transport.fileno(), termios.TIOCSWINSZ, size)  # type: ignore[union-attr]
        self.screen.resize(rows, columns)

    def interrupt(self) -> None:
        """Ctrl+C, as the terminal turns it into SIGINT (or the key, on a pty)."""
        if self.terminal:
            self.keys(b"\x03")
        else:
            self.signal("INT")


class TerminalClient(TerminalProgram):
    """
    The C{twistedchat} client as a person runs it: on a pseudo-terminal of
    C{columns} x C{rows} whose screen pyte keeps, or (C{terminal=False}) on
    pipes, as a script runs it.
    """

    @classmethod
    def start(
        cls,
        *arguments: str,
        cwd: Path,
        columns: int = 80,
        rows: int = 24,
        terminal: bool = True,
        environment: dict[str, str] | None = None,
        then: str | None = None,
    ) -> TerminalClient:
        """
        C{twistedchat ARGUMENTS}, with this Python; see L{TerminalProgram.spawn}.
        """
        return cls.spawn(
            [sys.executable, "-m", "twistedchat.client.main", *arguments],
            cwd=cwd,
            columns=columns,
            rows=rows,
            terminal=terminal,
            environment=environment,
            then=then,
        )
