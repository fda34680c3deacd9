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
from typing import Any, Self, TypeVar

import pyte
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from tests.processes import LISTENING, server_command, server_environment

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
            lambda: len(server.ports) == 3, timeout, "three fronts listening"
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


class TerminalProgram(_Process):
    """
    Any program as a person runs it: on a pseudo-terminal of C{columns} x
    C{rows} whose screen pyte keeps (the twistedchat client, irssi,
    WeeChat...), or (C{terminal=False}) on pipes, as a script runs it.
    """

    def __init__(self, columns: int, rows: int, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
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
