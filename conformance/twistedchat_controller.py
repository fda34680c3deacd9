"""
irctest's controller for twistedchat: how the IRC conformance suite starts our
server, and what it may expect of it.

Per test, irctest calls L{TwistedChatController.run}, which starts

    twistd -n --pidfile= twistedchat --host HOST --port 0 --framed-port 0 --web-port 0
        --irc tcp:PORT:interface=HOST --server-name My.Little.Server
        --server-info "test server"
        --data-dir DIR/data --operators DIR/operators --flood-rate 0

in a fresh folder DIR: the IRC front on irctest's port, the other fronts on
ports the system picks (parallel tests never collide), flood control off, and
irctest's operator ("operuser" / "operpassword") in the operators file.

What the server offers is never written here by hand: once per pytest
process, L{declarations} starts one server of its own, registers on it and
reads its C{CAP LS 302} and C{005} replies, and probes the few behaviours a
reply does not name (C{CAP REQ -cap}, C{JOIN #a,#b}, C{INVITE} alone). The
capabilities irctest knows, the ISUPPORT tokens and the optional behaviours
declared to irctest are those: a declaration cannot lie, and a capability
the server starts offering is tested from then on.

Environment: C{TWISTEDCHAT_TWISTD}, the twistd of the environment where
twistedchat is installed (default: C{twistd} on C{PATH}), and
C{TWISTEDCHAT_PASSWD} (default: C{twistedchat-passwd} next to it).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.irc_utils.message_parser import Message, parse_message
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

SERVER_NAME = "My.Little.Server"  # the name irctest's tests expect
SERVER_INFO = "test server"  # the description LINKS shows, as links.py expects
OPER_NAME = "operuser"
OPER_PASSWORD = "operpassword"
START_TIMEOUT = 30.0  # seconds for the probe server to listen
REPLY_TIMEOUT = 10.0  # seconds for one reply of the probe server

# Folders of servers whose kill() irctest never called (a test that raised in
# setUp after the server started): removed when the pytest process exits.
_live_directories: set[Path] = set()


@atexit.register
def _remove_leftover_directories() -> None:
    for directory in list(_live_directories):
        shutil.rmtree(directory, ignore_errors=True)


def twistd() -> str:
    return os.environ.get("TWISTEDCHAT_TWISTD") or "twistd"


def passwd() -> str:
    explicit = os.environ.get("TWISTEDCHAT_PASSWD")
    if explicit:
        return explicit
    found = shutil.which(twistd())
    if found and (sibling := Path(found).parent / "twistedchat-passwd").exists():
        return str(sibling)
    return "twistedchat-passwd"


def server_command(host: str, port: int, folder: Path) -> list[str]:
    """The command that starts our server with its IRC front on C{host:port}."""
    return [
        twistd(),
        "-n",
        "--pidfile=",
        "twistedchat",
        "--host",
        host,
        "--port",
        "0",
        "--framed-port",
        "0",
        "--web-port",
        "0",
        "--irc",
        f"tcp:{port}:interface={host}",
        "--server-name",
        SERVER_NAME,
        "--server-info",
        SERVER_INFO,
        "--data-dir",
        str(folder / "data"),
        "--operators",
        str(folder / "operators"),
        "--flood-rate",
        "0",
    ]


_operators_line: str | None = None


def operators_entry() -> str:
    """The operators file's line for irctest's operator, made once per process
    by the server's own tool (scrypt with a random salt)."""
    global _operators_line
    if _operators_line is None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "operators"
            subprocess.run(
                [passwd(), str(path), OPER_NAME],
                input=OPER_PASSWORD + "\n",
                text=True,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            _operators_line = path.read_text()
    return _operators_line


# What the server says it offers


@dataclass(frozen=True)
class Declarations:
    """What one of our servers offers, as irctest names it."""

    capabilities: frozenset[Capabilities]
    isupport: dict[str, str | None]
    optional_behaviors: frozenset[OptionalBehaviors]
    unknown_capabilities: frozenset[str] = field(default=frozenset())


class Probe:
    """One IRC connection to a server, read line by line with a deadline."""

    def __init__(self, host: str, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.socket = socket.create_connection((host, port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.socket.settimeout(REPLY_TIMEOUT)
        self._buffer = b""

    def send(self, line: str) -> None:
        self.socket.sendall(line.encode() + b"\r\n")

    def read(self) -> Message:
        while b"\n" not in self._buffer:
            data = self.socket.recv(4096)
            if not data:
                raise ConnectionError("the server closed the probe's connection")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return parse_message(line.decode("utf-8", "replace").rstrip("\r"))

    def until(self, *commands: str) -> list[Message]:
        """The messages up to and including the first of C{commands}."""
        messages = [self.read()]
        while messages[-1].command not in commands:
            messages.append(self.read())
        return messages

    def close(self) -> None:
        self.socket.close()


def read_declarations(host: str, port: int) -> Declarations:
    """Register on the server at C{host:port} and read what it offers."""
    probe = Probe(host, port)
    try:
        probe.send("CAP LS 302")
        offered: dict[str, str] = {}
        while True:
            reply = probe.until("CAP")[-1]
            more = reply.params[2] == "*"
            for token in reply.params[-1].split():
                name, _, value = token.partition("=")
                offered[name] = value
            if not more:
                break
        probe.send("NICK probe")
        probe.send("USER probe 0 * :irctest controller")
        probe.send("CAP END")
        welcome = probe.until("376", "422")
        isupport: dict[str, str | None] = {}
        for message in welcome:
            if message.command == "005":
                for token in message.params[1:-1]:
                    name, equals, value = token.partition("=")
                    isupport[name] = value if equals else None
        behaviors = behaviors_from_isupport(isupport) | probed_behaviors(probe, offered)
        probe.send("QUIT")
    finally:
        probe.close()
    known = {capability.value: capability for capability in Capabilities}
    return Declarations(
        capabilities=frozenset(known[name] for name in offered if name in known),
        isupport=isupport,
        optional_behaviors=frozenset(behaviors),
        unknown_capabilities=frozenset(name for name in offered if name not in known),
    )


def behaviors_from_isupport(isupport: dict[str, str | None]) -> set[OptionalBehaviors]:
    """The optional behaviours the 005 tokens announce."""
    behaviors = set()
    lists = (isupport.get("CHANMODES") or "").split(",")[0]
    if "e" in lists:
        behaviors.add(OptionalBehaviors.BAN_EXCEPTION_MODE)
    if "I" in lists:
        behaviors.add(OptionalBehaviors.INVITE_EXCEPTION_MODE)
    if "C" in "".join((isupport.get("CHANMODES") or "").split(",")[1:]):
        behaviors.add(OptionalBehaviors.NO_CTCP)
    for letter in isupport.get("ELIST") or "":
        behavior = getattr(OptionalBehaviors, f"ELIST_{letter.upper()}", None)
        if behavior is not None:
            behaviors.add(behavior)
    targets = dict(
        entry.partition(":")[::2]
        for entry in (isupport.get("TARGMAX") or "").split(",")
        if entry
    )
    for command, behavior in [
        ("KICK", OptionalBehaviors.MULTI_KICK),
        ("NAMES", OptionalBehaviors.MULTI_NAMES_COMMAND),
        ("PRIVMSG", OptionalBehaviors.MULTI_PRIVMSG),
    ]:
        if command in targets and targets[command] != "1":
            behaviors.add(behavior)
    return behaviors


def probed_behaviors(probe: Probe, offered: dict[str, str]) -> set[OptionalBehaviors]:
    """The optional behaviours no reply names, tried on the registered C{probe}."""
    behaviors = set()
    if offered:
        name = next(iter(offered))
        probe.send(f"CAP REQ :{name}")
        probe.until("CAP")
        probe.send(f"CAP REQ :-{name}")
        if probe.until("CAP")[-1].params[1] == "ACK":
            behaviors.add(OptionalBehaviors.CAP_REQ_MINUS)
    probe.send("JOIN #probe-a,#probe-b")
    probe.send("PING :joined")
    joined = {
        message.params[0]
        for message in probe.until("PONG")
        if message.command == "JOIN"
    }
    if joined == {"#probe-a", "#probe-b"}:
        behaviors.add(OptionalBehaviors.MULTI_JOIN)
    probe.send("INVITE")
    probe.send("PING :invites")
    if any(message.command == "337" for message in probe.until("PONG")):
        behaviors.add(OptionalBehaviors.INVITE_LIST)
    return behaviors


_declarations: Declarations | None = None


def declarations() -> Declarations:
    """What our server offers, read once per process from a server of its own."""
    global _declarations
    if _declarations is None:
        with socket.socket() as picker:
            picker.bind(("127.0.0.1", 0))
            port = picker.getsockname()[1]
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "operators").write_text("")
            server = subprocess.Popen(
                server_command("127.0.0.1", port, Path(folder)),
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _declarations = read_declarations("127.0.0.1", port)
            finally:
                server.terminate()
                server.wait(timeout=30)
    return _declarations


# The controller


class TwistedChatController(BaseServerController, DirectoryBasedController):
    software_name = "twistedchat"
    supported_sasl_mechanisms: frozenset[str] = frozenset()  # no SASL
    supports_sts = False
    sync_sleep_time = 0.0  # replies to one connection come in command order

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None,
        websocket_hostname: str | None,
        websocket_port: int | None,
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if ssl:
            raise NotImplementedByController("TLS")
        if password is not None:
            raise NotImplementedByController("PASS")
        offered = declarations()
        self.capabilities = offered.capabilities
        self.isupport = dict(offered.isupport)
        self.optional_behaviors = offered.optional_behaviors
        assert self.proc is None
        operators = operators_entry()
        self.hostname, self.port = hostname, port
        self.create_config()
        assert self.directory
        _live_directories.add(self.directory)
        with self.open_file("operators", "w") as file:
            file.write(operators)
        prefix: list[str] = []
        if faketime and shutil.which("faketime"):
            prefix = ["faketime", "-f", faketime]
            self.faketime_enabled = True
        self.proc = self.execute(
            [*prefix, *server_command(hostname, port, self.directory)],
            cwd=self.directory,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_for_services(self) -> None:
        """No services to wait for: what irctest's services-marked tests need
        of them (account registration) is refused by the base class, and
        those tests skip; the others (chathistory) run on the server alone."""

    def kill(self) -> None:
        directory = self.directory
        super().kill()
        if directory is not None:
            _live_directories.discard(directory)


def get_irctest_controller_class() -> type[TwistedChatController]:
    return TwistedChatController
