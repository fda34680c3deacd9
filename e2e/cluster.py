"""
Several real nodes and one real Redis for the cluster's end-to-end tests.

A L{Cluster} is a C{redis-server} (L{tests.redis_server.RedisServer}, on a
free loopback port, in the test's folder) and the C{twistd -n twistedchat
--cluster redis://127.0.0.1:PORT} nodes a test starts, each in a folder of
its own with every front on a port the system picks, all sharing one
C{DATA_DIR} (as nodes on one machine do). A test kills a node (SIGKILL),
pauses it (SIGSTOP) and resumes it (SIGCONT), restarts or pauses Redis, and
connects people to a chosen node: netcat users (L{NetcatUser}) and IRC users
(L{IRCUser}, raw lines, so that a test sees exactly what the server sent).
Every wait is bounded and fails with what was seen; the fixtures stop every
process and close every connection whatever the outcome, and print the
nodes' logs, which pytest shows for a failed test.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, DeferredList, FirstError, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.task import deferLater
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from e2e.programs import (
    ChatServer,
    NetcatUser,
    TerminalClient,
    Waits,
    WaitTimedOut,
    client_arguments,
    reactor,
)
from tests.processes import FRONTS, server_command, server_environment
from tests.redis_server import MISSING, RedisServer, redis_server_path

# What a node is told, beyond --cluster and the shared --data-dir: messages
# leave at once (the tests send bursts), history is flushed within 50 ms.
NODE_ARGUMENTS = ("--flood-rate", "0", "--history-flush-ms", "50")
# What a node's log says once it has caught up with the cluster's log.
READY = r"node \S+ caught up with the cluster"
# The lease of the node that writes the history (its value names the node:
# "hostname-pid-random").
HISTORY_LEASE = "chat:lease:history"
# A node whose heartbeat stopped is dead after 6 s, checked every second;
# its users have quit everywhere within this bound (the promise).
GONE_WITHIN = 10.0


class Node(ChatServer):
    """One C{twistd -n twistedchat --cluster ...} node, named for the test."""

    name = ""

    def __repr__(self) -> str:
        return f"<node {self.name} pid {self.pid}>"

    @property
    def pid(self) -> int | None:
        return getattr(self.transport, "pid", None)


class IRCMessage(NamedTuple):
    """One line from the IRC front, parsed: C{:prefix COMMAND params}."""

    prefix: str
    command: str
    params: tuple[str, ...]

    @property
    def nick(self) -> str:
        """Who it comes from (the server's name for numerics)."""
        return self.prefix.partition("!")[0]

    @classmethod
    def parse(cls, line: str) -> IRCMessage:
        if line.startswith("@"):  # message tags: not asked for, but harmless
            line = line.partition(" ")[2]
        prefix = ""
        if line.startswith(":"):
            prefix, _, line = line[1:].partition(" ")
        head, colon, trailing = line.partition(" :")
        words = head.split()
        params = (*words[1:], trailing) if colon else tuple(words[1:])
        return cls(prefix, words[0].upper() if words else "", params)


class IRCUser(LineReceiver):
    """
    A person with an IRC client, as raw lines: registers with C{NICK} and
    C{USER}, answers the server's C{PING}s, and keeps every line it got.
    """

    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[str] = []
        self.messages: list[IRCMessage] = []
        self.closed = False
        self.waits = Waits(lambda: f"IRC user {self.nick} saw: {self.lines[-40:]}")

    @classmethod
    async def connect(cls, port: int, nick: str) -> IRCUser:
        """Connected to the IRC front on 127.0.0.1 C{port}, registered as C{nick}."""
        user = cls(nick)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), user)
        user.send(f"NICK {nick}")
        user.send(f"USER {nick} 0 * :{nick} of the tests")
        await user.wait_for("001")
        return user

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        message = IRCMessage.parse(text)
        if message.command == "PING":
            self.send(f"PONG :{message.params[-1] if message.params else ''}")
        self.lines.append(text)
        self.messages.append(message)
        self.waits.changed()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.closed = True
        self.waits.end()

    def send(self, line: str) -> None:
        self.transport.write(line.encode("utf-8") + b"\r\n")  # type: ignore[union-attr]

    def wait_for(
        self,
        command: str,
        check: Callable[[IRCMessage], bool] = lambda message: True,
        timeout: float = 10,
        after: int = 0,
    ) -> Deferred[IRCMessage]:
        """The first message (from index C{after} on) that is a C{command}
        (a word or a numeric) for which C{check} holds."""

        def found() -> IRCMessage | None:
            return next(
                (
                    message
                    for message in self.messages[after:]
                    if message.command == command and check(message)
                ),
                None,
            )

        return self.waits.until(found, timeout, f"a {command} message")

    async def join(self, room: str) -> None:
        """C{JOIN #room}, and its end of names (366) once joined."""
        seen = len(self.messages)
        self.send(f"JOIN #{room}")
        await self.wait_for(
            "366", lambda m: m.params[1].lower() == f"#{room}".lower(), after=seen
        )

    async def names(self, room: str) -> set[str]:
        """The nicks C{NAMES #room} lists (status prefixes taken off)."""
        seen = len(self.messages)
        self.send(f"NAMES #{room}")
        end = await self.wait_for("366", after=seen)
        replies = self.messages[seen : self.messages.index(end, seen)]
        return {
            nick.lstrip("~&@%+")
            for reply in replies
            if reply.command == "353"
            for nick in reply.params[-1].split()
        }

    def said(self, room: str) -> list[tuple[str, str]]:
        """(who, text) of each message to C{#room} received, in order."""
        return [
            (message.nick, message.params[1])
            for message in self.messages
            if message.command == "PRIVMSG"
            and message.params[0].lower() == f"#{room}".lower()
        ]

    def close(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]


SAID = re.compile(r"^\[([^\]]+)\] (.*)$")


def said_to_netcat(user: NetcatUser) -> list[tuple[str, str]]:
    """(who, text) of each live room message a netcat user read, in order
    (neither the server's lines, nor private messages, nor history)."""
    found = []
    for line in user.lines:
        match = SAID.match(line)
        if (
            match
            and match.group(1) != "server"
            and not match.group(1).startswith("history ")
            and not match.group(2).startswith("(private) ")
        ):
            found.append((match.group(1), match.group(2)))
    return found


async def netcat(node: ChatServer, nick: str) -> NetcatUser:
    """A netcat user on C{node}, landed in #general and named C{nick}."""
    user = await NetcatUser.connect(node.ports["line"])
    await user.wait_for("[server] you are in #general")
    seen = len(user.lines)
    user.send(f"NICK {nick}")
    await user.wait_for(f'[server] you are now known as "{nick}"', after=seen)
    return user


def netcat_answer(
    user: NetcatUser, pattern: str, after: int = 0, timeout: float = 10
) -> Deferred[str]:
    """The first line (from index C{after} on) matching C{pattern}, a regular
    expression."""
    regex = re.compile(pattern)

    def found() -> str | None:
        return next((line for line in user.lines[after:] if regex.search(line)), None)

    return user.waits.until(found, timeout, f"a line matching {pattern!r}")


async def netcat_names(user: NetcatUser, room: str = "") -> set[str]:
    """The nicks C{NAMES} lists to a netcat user (in its room, or C{room})."""
    seen = len(user.lines)
    user.send(f"NAMES #{room}" if room else "NAMES")
    # The answer is the first server line after it without a quoted nick.
    line = await netcat_answer(user, r'^\[server\] [^"]*$', seen)
    return {word for word in line.removeprefix("[server] ").split() if word != "(away)"}


def said(user: NetcatUser | IRCUser, room: str = "general") -> list[tuple[str, str]]:
    """(who, text) of each message to C{#room} that C{user} read, in order
    (a netcat user's own room's)."""
    if isinstance(user, IRCUser):
        return user.said(room)
    return said_to_netcat(user)


async def eventually(
    check: Callable[[], object], what: str, timeout: float = 10
) -> None:
    """Once C{check()} is true, looked at every 50 ms; fails past C{timeout}
    saying C{what} it waited for."""
    deadline = reactor.seconds() + timeout
    while not check():
        if reactor.seconds() > deadline:
            raise WaitTimedOut(f"{what}: not within {timeout} s")
        await pause(0.05)


def log_errors(node: ChatServer) -> list[str]:
    """The lines of C{node}'s log that tell of an error it did not expect."""
    return [
        line
        for line in node.log.splitlines()
        if "Traceback" in line or "Unhandled" in line
    ]


async def wait_said(
    users: Iterable[NetcatUser | IRCUser], count: int, timeout: float = 10
) -> None:
    """Once every one of C{users} has read C{count} messages in #general."""
    users = list(users)

    def counts() -> list[int]:
        return [len(said(user)) for user in users]

    try:
        await eventually(lambda: min(counts()) >= count, "", timeout)
    except WaitTimedOut:
        raise WaitTimedOut(
            f"{count} messages each not within {timeout} s: they read {counts()}"
        ) from None


def pause(seconds: float) -> Deferred[None]:
    """Let C{seconds} of real time pass (a fault's duration, never a wait
    for something to happen: those are bounded waits on what is seen)."""
    return deferLater(reactor, seconds, lambda: None)


@dataclass
class Cluster:
    """
    A Redis and the nodes a test starts around it, sharing C{data_dir}, and
    the people connected to them. L{stop} ends everything.
    """

    folder: Path
    redis: RedisServer
    nodes: list[Node] = field(default_factory=list)
    clients: list[NetcatUser | IRCUser] = field(default_factory=list)
    programs: list[TerminalClient] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return self.redis.url()

    @classmethod
    async def start(cls, folder: Path, *, persistent: bool = False) -> Cluster:
        """A Redis in C{folder}/redis (with an append-only file fsync'd at
        every write if C{persistent}), no node yet."""
        redis = RedisServer(str(folder / "redis"), persistent=persistent)
        cluster = cls(folder, redis)
        await redis.start(reactor)
        return cluster

    async def start_node(
        self, name: str, *arguments: str, ready: bool = True, timeout: float = 30
    ) -> Node:
        """
        Node C{name}, in C{folder}/C{name}, once it listens on every front
        and, if C{ready}, has caught up with the cluster (as a load balancer
        waits for its /health to say so before sending it users). Stopped
        with the others, even if it never got that far.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        node = Node(folder)
        node.name = name
        self.nodes.append(node)
        command = server_command(
            "--cluster",
            self.url,
            "--data-dir",
            str(self.data_dir),
            *NODE_ARGUMENTS,
            *arguments,
        )
        process_reactor: IReactorProcess = reactor
        process_reactor.spawnProcess(
            node, command[0], command, env=server_environment(), path=str(folder)
        )
        await node.waits.until(
            lambda: set(node.ports) >= set(FRONTS), timeout, f"node {name} listening"
        )
        if ready:
            await node.wait_for_log(READY, timeout)
        return node

    async def start_nodes(self, *names: str) -> list[Node]:
        """Several nodes, started at once."""
        starting = [Deferred.fromCoroutine(self.start_node(name)) for name in names]
        try:
            nodes: list[Node] = await gatherResults(starting, consumeErrors=True)
        except FirstError as e:  # the node's own failure says what it saw
            reason = e.subFailure.value
            assert isinstance(reason, BaseException)
            raise reason from None
        return nodes

    # People

    async def netcat(self, node: ChatServer, nick: str) -> NetcatUser:
        """A netcat user on C{node}, in #general, called C{nick}."""
        user = await netcat(node, nick)
        self.clients.append(user)
        return user

    async def irc(self, node: ChatServer, nick: str) -> IRCUser:
        """An IRC user on C{node}, registered as C{nick}, in no room yet."""
        user = await IRCUser.connect(node.ports["irc"], nick)
        self.clients.append(user)
        return user

    def terminal_client(self, node: ChatServer, nick: str) -> TerminalClient:
        """The C{twistedchat} client (on pipes, as a script runs it) on
        C{node}'s framed front, called C{nick}, in #general."""
        folder = self.folder / f"client-{nick}"
        folder.mkdir(parents=True, exist_ok=True)
        client = TerminalClient.start(
            *client_arguments(node.ports["framed"], folder, nick=nick),
            cwd=folder,
            terminal=False,
        )
        self.programs.append(client)
        return client

    # Faults

    def kill(self, node: Node) -> Deferred[int | None]:
        """SIGKILL: the node vanishes at once, its heartbeat with it."""
        node.signal("KILL")
        return node.exited

    def freeze(self, node: Node) -> None:
        """SIGSTOP: the node's sockets stay open, it answers nothing."""
        node.signal("STOP")

    def thaw(self, node: Node) -> None:
        """SIGCONT after L{freeze}."""
        node.signal("CONT")

    # Who holds what

    def holder(self, lease: str = HISTORY_LEASE) -> Node | None:
        """The running node that holds C{lease} now, if any."""
        value = self.redis.call("GET", lease)
        if value is None:
            return None
        holder = value.decode("utf-8", "replace")
        return next(
            (node for node in self.nodes if node.running and f"-{node.pid}-" in holder),
            None,
        )

    async def wait_holder(
        self, lease: str = HISTORY_LEASE, timeout: float = 10
    ) -> Node:
        """The node holding C{lease}, once one does."""
        await eventually(
            lambda: self.holder(lease),
            f"a node holding {lease} (it holds {self.redis.call('GET', lease)!r})",
            timeout,
        )
        node = self.holder(lease)
        assert node is not None
        return node

    def log_copies(self, stream: str = "chat:log") -> int:
        """Entries of the shared log that repeat an earlier one (the same
        node and sequence number: sent again after a lost reply)."""
        seen: set[tuple[str, int]] = set()
        copies = 0
        for _, fields in self.redis.call("XRANGE", stream, "-", "+"):
            for name, value in zip(fields[::2], fields[1::2], strict=True):
                if name == b"e":
                    entry = json.loads(value)
                    key = (entry["n"], entry["q"])
                    copies += key in seen
                    seen.add(key)
        return copies

    # The end

    async def close_clients(self) -> None:
        """Close every connection, and wait (bounded) until each is closed."""
        waiting = []
        for client in self.clients:
            if not client.closed:
                client.transport.loseConnection()  # type: ignore[union-attr]
                waiting.append(
                    client.waits.until(lambda c=client: c.closed, 5, "closed")  # type: ignore[misc]
                )
        await DeferredList(waiting, consumeErrors=True)

    async def stop(self) -> None:
        """Clients closed, every node stopped (resumed first), Redis stopped."""
        await self.close_clients()
        quitting = [program for program in self.programs if program.running]
        for program in quitting:
            program.line("/quit")
        await DeferredList(
            [program.wait_exit(timeout=5) for program in quitting], consumeErrors=True
        )
        for program in quitting:
            await program.stop(timeout=5)  # if /quit did not end it
        for node in self.nodes:
            if node.running:
                node.signal("CONT")
        await DeferredList(
            [Deferred.fromCoroutine(node.stop(timeout=15)) for node in self.nodes],
            consumeErrors=True,
        )
        await self.redis.stop(reactor)

    def report(self) -> None:
        """Each node's log, printed (pytest shows it for a failed test)."""
        for node in self.nodes:
            print(f"==== node {node.name} (exit {node.status}) ====")
            print(node.log[-20000:])

    # The history the nodes wrote

    def history(self, room: str) -> list[dict[str, Any]]:
        """The entries of C{room}'s JSON Lines history in the shared
        C{DATA_DIR}, oldest first (rotated files included; none yet: [])."""
        folder = self.data_dir / "history"
        files = sorted(
            folder.glob(f"{room}.jsonl*"),
            key=lambda path: -int(path.suffix[1:]) if path.suffix[1:].isdigit() else 0,
        )
        entries: list[dict[str, Any]] = []
        for path in files:
            with path.open(encoding="utf-8") as lines:
                # A line being written has no newline yet: not an entry yet.
                entries.extend(
                    json.loads(line) for line in lines if line.endswith("\n")
                )
        return entries

    def history_texts(self, room: str) -> list[str]:
        """The text of each entry of C{room}'s history, oldest first."""
        return [entry["text"] for entry in self.history(room)]


@contextlib.asynccontextmanager
async def running_cluster(
    folder: Path, *, persistent: bool = False
) -> AsyncIterator[Cluster]:
    """A L{Cluster} for the duration of a C{with} block, stopped after it."""
    cluster = await Cluster.start(folder, persistent=persistent)
    try:
        yield cluster
    finally:
        await cluster.stop()
        cluster.report()  # captured: pytest shows it if the test failed


@pytest.fixture
def redis_installed() -> str:
    """redis-server's path; the test skipped, saying why, if there is none.
    (Skipped here, before the asynchronous fixtures: pytest-twisted's
    fixture that raises SkipTest in its setup breaks the next test's.)"""
    path = redis_server_path()
    if path is None:
        pytest.skip(MISSING)
    return path


@pytest_twisted.async_yield_fixture
async def cluster(tmp_path: Path, redis_installed: str) -> AsyncIterator[Cluster]:
    """A Redis (no persistence) for the test's nodes, everything stopped after."""
    async with running_cluster(tmp_path) as started:
        yield started


@pytest_twisted.async_yield_fixture
async def persistent_cluster(
    tmp_path: Path, redis_installed: str
) -> AsyncIterator[Cluster]:
    """A Redis that keeps everything across a restart (append-only, fsync always)."""
    async with running_cluster(tmp_path, persistent=True) as started:
        yield started


def in_order(seen: Iterable[tuple[str, str]], sender: str) -> list[str]:
    """The texts C{sender} said, in the order they were seen."""
    return [text for who, text in seen if who == sender]
