"""
Real processes for end-to-end tests: the twistd server and raw TCP clients.

The server runs the source tree under test (PYTHONPATH points at it) on an
ephemeral loopback port, learned from its "listening on" log line. Every wait
is bounded; nothing sleeps.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
TWISTD = str(Path(sys.executable).parent / "twistd")
LISTENING = re.compile(r"(\w+) front listening on (\S+) port (\d+)")
FRONTS = ("line", "framed", "irc", "web")


def server_command(*arguments: str, log_file: Path | None = None) -> list[str]:
    """
    C{twistd -n twistedchat} on 127.0.0.1, every front on a port the system
    chooses, then C{arguments}; logging to C{log_file}, or to standard output.
    """
    logging = [] if log_file is None else [f"--logfile={log_file}"]
    return [
        TWISTD,
        "-n",
        "--pidfile=",
        *logging,
        "twistedchat",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--framed-port",
        "0",
        "--irc-port",
        "0",
        "--web-port",
        "0",
        *arguments,
    ]


def server_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def run_twistd(
    folder: str, *arguments: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run C{twistd -n twistedchat ARGUMENTS} to its end (for start-up failures)."""
    return subprocess.run(
        [TWISTD, "-n", "--pidfile=", "twistedchat", *arguments],
        cwd=folder,
        env=server_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_twistd_daemon(
    folder: str, *arguments: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """
    Run C{twistd twistedchat ARGUMENTS} as a daemon (pid and log files in
    C{folder}); returns when the parent exits, that is once the daemon has
    started or failed to. Stop a started one with L{stop_daemon}.
    """
    return subprocess.run(
        [
            TWISTD,
            f"--pidfile={os.path.join(folder, 'twistd.pid')}",
            f"--logfile={os.path.join(folder, 'twistd.log')}",
            "twistedchat",
            *arguments,
        ],
        cwd=folder,
        env=server_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def daemon_pid(folder: str) -> int | None:
    """The pid in the daemon's pid file in C{folder}, if there is one."""
    try:
        with open(os.path.join(folder, "twistd.pid")) as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


def is_running(pid: int) -> bool:
    """Whether process C{pid} runs (a zombie, dead but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_daemon(pid: int, timeout: float = 30) -> None:
    """SIGTERM to a daemon (not our child), then wait, bounded, for it to go."""
    if not is_running(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"daemon {pid} still running {timeout}s after SIGTERM")
        time.sleep(0.05)


class ServerProcess:
    """C{twistd -n twistedchat} on 127.0.0.1, port chosen by the system."""

    def __init__(self, folder: str, *arguments: str) -> None:
        self.folder = folder
        self.arguments = arguments
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.ports: dict[str, int] = {}

    def start(self, timeout: float = 30) -> ServerProcess:
        self.process = subprocess.Popen(
            server_command(*self.arguments),
            cwd=self.folder,
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        while len(self.ports) < len(FRONTS):
            self.wait_for(LISTENING, timeout)
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = 10) -> str:
        """The next log line matching C{pattern}."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no log line matching {regex.pattern!r} within {timeout}s; "
                    f"log so far:\n{''.join(self.output)}"
                ) from None
            if line is None:
                raise AssertionError(f"server exited; log:\n{''.join(self.output)}")
            match = regex.search(line)
            if match:
                if regex is LISTENING:
                    self.ports[match.group(1)] = int(match.group(3))
                return line

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout)  # so that self.output holds the last lines
        return self.process.returncode


class LineClient:
    """A netcat user: a blocking socket read line by line, with bounded waits."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self._buffer = b""
        self.closed = False

    def send(self, line: str) -> None:
        self.socket.sendall(line.encode("utf-8") + b"\n")

    def read_line(self) -> str | None:
        """The next line, or None once the server closed the connection."""
        deadline = time.monotonic() + self.timeout
        while b"\r\n" not in self._buffer:
            if self.closed:
                return None
            self.socket.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                raise AssertionError(
                    f"no complete line within {self.timeout}s"
                ) from None
            if not data:
                self.closed = True
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8")

    def expect(self, wanted: str) -> list[str]:
        """Read up to the line C{wanted}; return the lines before it."""
        seen: list[str] = []
        while True:
            line = self.read_line()
            if line is None:
                raise AssertionError(f"closed before {wanted!r}; saw {seen}")
            if line == wanted:
                return seen
            seen.append(line)

    def expect_closed(self) -> list[str]:
        """Read to the end of the connection; return the lines left."""
        seen: list[str] = []
        while (line := self.read_line()) is not None:
            seen.append(line)
        return seen

    def close(self) -> None:
        self.socket.close()


class WebSocketRefused(AssertionError):
    """The server answered the upgrade with an HTTP error (C{status})."""

    def __init__(self, status: int, head: str) -> None:
        super().__init__(head)
        self.status = status


class WebClient:
    """
    A browser tab's WebSocket, raw: the upgrade, masked frames out, the
    server's frames in, with bounded waits. C{answer_pings}: pings get their
    pong (as a browser does), or are left unanswered.
    """

    def __init__(
        self,
        port: int,
        origin: str | None = "same",
        timeout: float = 10,
        wrap: Callable[[socket.socket], socket.socket] | None = None,
    ) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if wrap is not None:
            self.socket = wrap(self.socket)
        self.timeout = timeout
        self.answer_pings = True
        self.pings = 0
        self.close_code: int | None = None
        self.closed = False
        host = f"127.0.0.1:{port}"
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        head = [
            "GET /ws HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin is not None:
            scheme = "https" if wrap is not None else "http"
            head.append(
                f"Origin: {scheme}://{host}"
                if origin == "same"
                else f"Origin: {origin}"
            )
        self.socket.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii"))
        self._buffer = b""
        while b"\r\n\r\n" not in self._buffer:
            if self.closed:
                raise AssertionError(f"closed during the upgrade: {self._buffer!r}")
            self._receive()
        response, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status = int(response.split(b" ", 2)[1])
        if status != 101:
            raise WebSocketRefused(status, response.decode("utf-8", "replace"))

    def _receive(self) -> None:
        try:
            data = self.socket.recv(65536)
        except TimeoutError:
            raise AssertionError(f"nothing within {self.timeout}s") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
        self._buffer += data

    @staticmethod
    def frame(opcode: int, payload: bytes) -> bytes:
        """One masked, final frame (a client's frames are masked)."""
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
        elif size < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, size)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return head + mask + masked

    def send_frame(self, opcode: int, payload: bytes) -> None:
        self.socket.sendall(self.frame(opcode, payload))

    def send_together(self, *messages: dict[str, Any]) -> None:
        """Several messages in one write (the server reads them at once)."""
        self.socket.sendall(
            b"".join(self.frame(0x1, json.dumps(m).encode("utf-8")) for m in messages)
        )

    def send(self, message: dict[str, Any]) -> None:
        self.send_frame(0x1, json.dumps(message).encode("utf-8"))

    def _frame(self) -> tuple[int, bytes] | None:
        """A whole frame at the start of the buffer, taken out of it."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        size, start = buffer[1] & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                return None
            (size,), start = struct.unpack(">H", buffer[2:4]), 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            (size,), start = struct.unpack(">Q", buffer[2:10]), 10
        if len(buffer) < start + size:
            return None
        self._buffer = buffer[start + size :]
        return buffer[0] & 0x0F, buffer[start : start + size]

    def next_frame(self, deadline: float | None = None) -> tuple[int, bytes] | None:
        """The server's next frame (opcode, payload); None once it closed."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        while (frame := self._frame()) is None:
            if self.closed:
                return None
            self.socket.settimeout(max(0.01, deadline - time.monotonic()))
            self._receive()
        return frame

    def receive(self) -> dict[str, Any] | None:
        """The server's next JSON message; None once the connection closed."""
        deadline = time.monotonic() + self.timeout
        while (frame := self.next_frame(deadline)) is not None:
            opcode, payload = frame
            if opcode == 0x1:
                message: dict[str, Any] = json.loads(payload)
                return message
            if opcode == 0x9:  # ping
                self.pings += 1
                if self.answer_pings:
                    self.send_frame(0xA, payload)
            elif opcode == 0x8:  # close
                self.close_code = (
                    struct.unpack(">H", payload[:2])[0] if payload else 1005
                )
                if not self.closed:
                    with contextlib.suppress(OSError):
                        self.send_frame(0x8, payload[:2])
        return None

    def expect(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Read up to a message of type C{kind} (holding C{fields}) and return it."""
        seen: list[dict[str, Any]] = []
        while True:
            message = self.receive()
            if message is None:
                raise AssertionError(
                    f"closed ({self.close_code}) before {kind!r}; saw {seen}"
                )
            if message["type"] == kind and all(
                message.get(key) == value for key, value in fields.items()
            ):
                return message
            seen.append(message)

    def listen(self, seconds: float) -> list[dict[str, Any]]:
        """The messages of the next C{seconds} (pings answered, or not)."""
        messages: list[dict[str, Any]] = []
        timeout, end = self.timeout, time.monotonic() + seconds
        try:
            while (left := end - time.monotonic()) > 0:
                self.timeout = left
                try:
                    message = self.receive()
                except AssertionError:  # nothing more within the time
                    break
                if message is None:
                    break
                messages.append(message)
        finally:
            self.timeout = timeout
        return messages

    def expect_closed(self) -> list[dict[str, Any]]:
        """Read to the end of the connection; return the messages left."""
        seen: list[dict[str, Any]] = []
        while (message := self.receive()) is not None:
            seen.append(message)
        return seen

    def close(self) -> None:
        self.socket.close()


class ClientProcess:
    """The real C{twistedchat} client over pipes, as a script would drive it."""

    def __init__(self, *arguments: str, cwd: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "twistedchat.client.main", *arguments],
            cwd=cwd,
            env=server_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = ""
        self._seen = 0  # how far expect() has read
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            with self._changed:
                self.output += chunk.decode("utf-8", "replace")
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def expect(self, text: str, timeout: float = 15) -> str:
        """Wait for C{text} in the output after what earlier calls consumed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := self.output.find(text, self._seen)) < 0:
                left = deadline - time.monotonic()
                if left <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    raise AssertionError(
                        f"{text!r} not in the client's output:\n{self.output[self._seen :]}"
                    )
                self._changed.wait(min(left, 0.5))
            self._seen = found + len(text)
            return self.output[: self._seen]

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait(self, timeout: float = 15) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._reader.join(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)


class ServerTestCase(SynchronousTestCase):
    """
    A real server per test, with C{server_arguments}, in a folder of its own
    (C{self.folder}), stopped whatever the outcome; L{connect} opens a raw
    connection to one of its fronts, closed at the end.
    """

    server_arguments: tuple[str, ...] = ()

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.server = ServerProcess(self.folder, *self.server_arguments).start()
        self.addCleanup(self.server.stop)

    def connect(self, front: str) -> LineClient:
        client = LineClient(self.server.ports[front])
        self.addCleanup(client.close)
        return client

    def netcat(self, nick: str) -> LineClient:
        """A netcat user called C{nick}, in the default room #general."""
        client = self.connect("line")
        client.expect("[server] you are in #general")
        client.send(f"NICK {nick}")
        client.expect(f'[server] you are now known as "{nick}"')
        return client

    def connect_web(self, origin: str | None = "same") -> WebClient:
        """A WebSocket to the web front, as a page of C{origin} opens it."""
        client = WebClient(self.server.ports["web"], origin)
        self.addCleanup(client.close)
        return client
