"""
Soak benchmark: the three fronts under a mixed, churning, partly hostile load for minutes.

What it checks: that every message a well-behaved user sends reaches every
well-behaved member of its room, however the others behave; that the
server's memory stays flat once warmed up; and that on SIGTERM, with
messages still arriving, every message it accepted is on disk. N clients
(C{--clients}, 1,000) over the line, framed and IRC fronts (client K on the
K mod 3rd) and R rooms (C{--rooms}, 20) for C{--seconds} (360):

 - well-behaved members (90 %): each in one room (line front) or two, saying
   something every C{--interval} seconds on average (jitter 0.5x - 1.5x), and
   every C{--churn} seconds changing something: a line user moves to another
   room; a framed or IRC user joins a third room or parts one; or it changes
   nick, or quits and comes back under a new nick into the same rooms;
 - slow readers (10 %, C{--slow-share}): in a room (half of them also in the
   flooder's), with a 4 KiB receive buffer; each stops reading for 10 - 60 s,
   then reads a fifth of each second for 5 - 15 s, and so on. The server may
   drop them (its sendq); they come back 2 s later. They say nothing;
 - one hostile client per front: a line flooder (lines of 500 bytes at 2,000
   a second into the first room, so that flood control drops it; it comes
   back a second later), an IRC client sending LIST and NAMES 25 times a
   second (over the sustained rate allowed), and a framed client sending
   random bytes and mangled frames every 20 ms (L{live_fuzz}), reconnecting
   whenever closed.

The server runs with its own flood control (the default rate and burst, which
the other benchmarks turn off) and C{--log-messages yes}, so that its log
says which messages it accepted.

"Expected" deliveries: the well-behaved members live in one generator
process, which knows every room's well-behaved membership as the server has
confirmed it (a member is in a room from the server's confirmation of its
join, to the moment it sends its part or quit). A membership change takes
its rooms' gates: no member sends to a gated room, the change waits for the
messages already sent there to reach every member they are owed to (or to
be 10 s overdue), then is made and confirmed, then the gate is lifted. So no
message is ever in flight while its room's membership changes, and a
message's expected receivers are the room's well-behaved members, sender
aside, when it is sent. Each message is tagged (sender, seq, send time); a
receiver checks its room and its sender's nick, and counts duplicates and
deliveries it was not owed. Slow readers and hostile clients are no
receivers (their rooms' gates ignore them).

At the end of C{--seconds}, the members stop changing and their messages are
no longer measured, but they keep sending ("tail" messages) while the
measured ones drain; then the server gets SIGTERM, with messages still
arriving. Figures: delivered / expected (must be 100 %), latency p50/p99/max
(send to arrival, generator queueing included), the server's RSS every
C{--sample} seconds during the run and its slope after C{--warmup} (by
default two thirds of the run, at most 240 s: memory grows until the framed
codec's bounded caches of recent authors are full; must be at most
C{--max-slope} MiB a minute, judged when a minute or more of samples follows
the warm-up), its CPU, and each room's history entries on disk
against the messages its log says it accepted (must be equal, none twice,
none unreadable), what the slow readers and hostile clients did, and the
server's log (no traceback or error line, a clean shutdown).

Exit status: 0 when every "must" holds, 3 when one fails, 1 when the
benchmark could not run, 2 when nothing was delivered. Linux only
(C{/proc}). Usage: C{python benchmarks/soak.py --help}.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shlex
import subprocess
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import figures
from figures import Figures, Stopped
from generators import (
    Generators,
    Phases,
    Reply,
    Workload,
    close_all,
    generator_processes,
    measure,
    register,
    register_all,
    send_outcome,
)
from harness import (
    HOST,
    MIB,
    SECOND_NS,
    accepted_in_log,
    add_server_options,
    data_directory,
    guarded,
    history_on_disk,
    raise_file_limit,
    run_directory,
    running_server,
    sampled,
    scan_log,
    slope_per_minute,
    stop_server,
    within,
)
from soak_clients import (
    CONNECTIONS,
    MEASURED,
    SLOW_RECEIVE_BUFFER,
    TAIL,
    Deaf,
    Flooder,
    Fuzzer,
    Hostile,
    Lister,
    SoakConnection,
    message_text,
    parse_text,
)
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IDelayedCall, IPushProducer, ITCPTransport
from twisted.internet.task import LoopingCall, deferLater

from twistedchat.fronts.policy import Limits

FRONTS = ("line", "framed", "irc")
JITTER = (0.5, 1.5)
CONNECT_TIMEOUT = 120.0  # seconds for the connect, settle and close phases
CONNECT_CONCURRENCY = 100  # connections registering at once, per front
CHANGE_TIMEOUT = 30.0  # seconds a member's change may take
OVERDUE_SECONDS = 10.0  # a message in flight this long no longer holds its room
RETRY_SECONDS = 0.05  # a member whose room is gated tries again after this
SPARE_FILES = 200
STOP_TIMEOUT = 60.0
# The log lines that fail a soak: warnings are expected (drops, flooding).
SOAK_PROBLEM = re.compile(rb"#(?:error|critical)\]|Traceback|Unhandled")
SERVER_ARGS = (
    *("--flood-rate", f"{Limits.flood_rate:g}"),
    *("--flood-burst", str(Limits.flood_burst)),
    *("--log-messages", "yes"),
)


# The plan


@dataclass(frozen=True)
class Plan:
    clients: int = 1000
    rooms: int = 20
    seconds: float = 360.0
    interval: float = 10.0
    churn: float = 60.0
    slow_share: float = 0.1
    # None: two thirds of the run, at most 240 s. Memory grows until the
    # codec's caches of recent authors (bounded: 4,096 per field) are full,
    # which takes the first minutes of churn (docs/RELIABILITY.md, Soak).
    warmup: float | None = None
    sample: float | None = None  # None: a twentieth of the run, 0.5 - 5 s
    max_slope: float = 1.0  # MiB per minute
    drain: float = 30.0
    seed: int = 0

    def check(self) -> None:
        if self.rooms < 1 or self.rooms > 100:
            raise ValueError("rooms must be between 1 and 100")
        if self.well_behaved < 2 * self.rooms or self.clients > 0xFFFF:
            raise ValueError(
                "need at least 2 well-behaved clients per room, at most 65,535"
            )
        if min(self.seconds, self.interval, self.churn, self.drain) <= 0:
            raise ValueError("seconds, interval, churn and drain must be positive")
        if not 0 <= self.slow_share < 1:
            raise ValueError("slow-share must be at least 0 and under 1")

    @property
    def slow(self) -> int:
        return round(self.clients * self.slow_share)

    @property
    def well_behaved(self) -> int:
        return self.clients - self.slow

    @property
    def room_names(self) -> tuple[str, ...]:
        return tuple(f"soak{room:02d}" for room in range(self.rooms))

    @property
    def warmup_seconds(self) -> float:
        return min(240.0, self.seconds * 2 / 3) if self.warmup is None else self.warmup

    @property
    def sample_seconds(self) -> float:
        return (
            min(5.0, max(0.5, self.seconds / 20))
            if self.sample is None
            else self.sample
        )

    def front(self, index: int) -> str:
        return FRONTS[index % len(FRONTS)]

    def home(self, index: int) -> tuple[str, ...]:
        """A member's rooms at the start: one on the line front, else two."""
        names = self.room_names
        first = index % self.rooms
        if self.front(index) == "line" or self.rooms == 1:
            return (names[first],)
        second = (first + 1 + (index // self.rooms) % (self.rooms - 1)) % self.rooms
        return (names[first], names[second])

    def slow_rooms(self, index: int) -> tuple[str, ...]:
        """A slow reader's rooms: its own, and for half of them the flooder's."""
        names = self.room_names
        own = names[index % self.rooms]
        if index % 2 and own != names[0]:
            return (own,) if self.front(index) == "line" else (names[0], own)
        return (own,)


# Which rooms may change: gates, and the messages in flight


class RoomGate:
    """
    A room's well-behaved members, and whether its membership may change:
    one change at a time, granted when no measured message to it is in
    flight; while one waits or runs, nobody sends to the room.
    """

    def __init__(self) -> None:
        self.members: set[int] = set()
        self.in_flight = 0
        self.held = False
        self.claims: deque[Deferred[None]] = deque()

    def quiet(self) -> bool:
        return not self.held and not self.claims

    def claim(self) -> Deferred[None]:
        claim: Deferred[None] = Deferred()
        self.claims.append(claim)
        self._grant()
        return claim

    def release(self) -> None:
        self.held = False
        self._grant()

    def landed(self) -> None:
        self.in_flight -= 1
        self._grant()

    def _grant(self) -> None:
        if not self.held and not self.in_flight and self.claims:
            self.held = True
            self.claims.popleft().callback(None)


@dataclass(eq=False)
class Flight:
    room: str
    gate: RoomGate
    launched_ns: int
    expected: frozenset[int]
    pending: set[int]
    overdue: bool = False


class Ledger:
    """Every measured message: who is owed it, who got it, how late."""

    def __init__(self) -> None:
        self.flights: dict[tuple[int, int], Flight] = {}
        self.landed: set[tuple[int, int]] = set()
        self.measuring = True
        self.sent = 0
        self.tail = 0
        self.expected = 0
        self.delivered = 0
        self.duplicated = 0
        self.unexpected = 0  # misrouted, misattributed, owed to no one, never sent
        self.foreign = 0  # room messages that are no member's (flooder, fuzzer)
        self.overdue = 0
        self.latencies = array("q")
        self.first_send_ns = 0
        self.last_delivery_ns = 0
        self.finished: Deferred[str] = Deferred()

    def launch(self, sender: int, seq: int, room: str, gate: RoomGate) -> None:
        expected = frozenset(gate.members - {sender})
        self.sent += 1
        self.expected += len(expected)
        if not expected:
            self.landed.add((sender, seq))
            return
        now = time.perf_counter_ns()
        self.flights[sender, seq] = Flight(room, gate, now, expected, set(expected))
        gate.in_flight += 1

    def heard(
        self, receiver: int, room: str | None, nick: str, text: bytes, now: int
    ) -> None:
        parsed = parse_text(text)
        if parsed is None:
            self.foreign += 1
            return
        kind, sender, seq, sent_ns = parsed
        if sender == receiver or kind == TAIL:
            return  # a framed member's echo; an unmeasured message
        flight = self.flights.get((sender, seq))
        if flight is None:
            if (sender, seq) in self.landed:
                self.duplicated += 1
            else:
                self.unexpected += 1
        elif room != flight.room or not nick.startswith(member_prefix(sender)):
            self.unexpected += 1
        elif receiver in flight.pending:
            flight.pending.discard(receiver)
            self.delivered += 1
            self.latencies.append(now - sent_ns)
            self.last_delivery_ns = now
            if not flight.pending:
                self._land((sender, seq), flight)
        elif receiver in flight.expected:
            self.duplicated += 1
        else:
            self.unexpected += 1

    def _land(self, key: tuple[int, int], flight: Flight) -> None:
        del self.flights[key]
        self.landed.add(key)
        if not flight.overdue:
            flight.gate.landed()
        self.check_drained()

    def check_drained(self) -> None:
        if not self.measuring and not self.flights and not self.finished.called:
            self.finished.callback("completed")

    def sweep(self) -> None:
        """Messages overdue no longer hold their rooms (they count as lost)."""
        late = time.perf_counter_ns() - int(OVERDUE_SECONDS * SECOND_NS)
        for flight in self.flights.values():
            if not flight.overdue and flight.launched_ns < late:
                flight.overdue = True
                self.overdue += 1
                flight.gate.landed()

    def finish(self, outcome: str) -> None:
        if not self.finished.called:
            self.finished.callback(outcome)


def member_prefix(index: int) -> str:
    return f"w{index:04x}"


# The well-behaved members


class Member:
    """A well-behaved user: chats, churns, and reports what it hears."""

    def __init__(self, index: int, chat: ChatWorkload) -> None:
        self.index = index
        self.chat = chat
        self.front = chat.plan.front(index)
        self.home = chat.plan.home(index)
        self.rooms: set[str] = set()
        self.connection: SoakConnection | None = None
        self.generation = 0
        self.renames = 0
        self.seq = 0
        self.changing = False
        self.timers: list[IDelayedCall] = []

    def nick(self) -> str:
        again = f"r{self.generation}" if self.generation else ""
        renamed = f"n{self.renames}" if self.renames else ""
        return member_prefix(self.index) + again + renamed

    def open(self, rooms: tuple[str, ...]) -> SoakConnection:
        """A new connection (not yet made) into C{rooms}."""
        connection = CONNECTIONS[self.front](self.nick(), rooms, self)
        self.connection = connection
        connection.gone.addCallback(lambda _: self._gone(connection))
        return connection

    # What the connection reports

    def heard(self, room: str | None, nick: str, text: bytes, now: int) -> None:
        if room is None:  # the line front: its one room
            room = next(iter(self.rooms), "")
        self.chat.ledger.heard(self.index, room, nick, text, now)

    def confirmed(self, kind: str, value: str) -> None:
        gates = self.chat.gates
        if kind == "joined" and value in gates:
            if self.front == "line":
                self.leave_all()
            self.rooms.add(value)
            gates[value].members.add(self.index)
        elif kind == "parted" and value in gates:
            self.rooms.discard(value)
            gates[value].members.discard(self.index)

    def refused(self, text: str) -> None:
        self.chat.errors.append(f"{self.nick()}: {text}")

    def leave_all(self) -> None:
        for room in self.rooms:
            self.chat.gates[room].members.discard(self.index)
        self.rooms.clear()

    def _gone(self, connection: SoakConnection) -> None:
        if connection is not self.connection or connection.closing:
            return
        if not self.chat.stopping:
            self.chat.counts["dropped"] += 1
        self.leave_all()
        self.connection = None

    # Chatting

    def start(self) -> None:
        plan, rng = self.chat.plan, self.chat.rng
        self._later(rng.uniform(0, plan.interval), self._chat)
        self._later(rng.uniform(0, plan.churn), self._churn)

    def _later(self, delay: float, call: Callable[[], None]) -> None:
        self.timers = [timer for timer in self.timers if timer.active()]
        self.timers.append(self.chat.reactor.callLater(delay, call))

    def _chat(self) -> None:
        self._later(
            self.chat.plan.interval * self.chat.rng.uniform(*JITTER), self._chat
        )
        self.say_something()

    def say_something(self, tries: int = 0) -> None:
        connection, ledger = self.connection, self.chat.ledger
        if connection is None or not connection.is_ready or not self.rooms:
            return
        room = self.chat.rng.choice(sorted(self.rooms))
        gate = self.chat.gates[room]
        if ledger.measuring and not gate.quiet():
            if tries < 100:
                self._later(RETRY_SECONDS, lambda: self.say_something(tries + 1))
            return
        kind = MEASURED if ledger.measuring else TAIL
        connection.send(
            connection.say_bytes(room, message_text(kind, self.index, self.seq))
        )
        if ledger.measuring:
            ledger.launch(self.index, self.seq, room, gate)
        else:
            ledger.tail += 1
        self.seq += 1

    # Churning

    def _churn(self) -> None:
        self._later(self.chat.plan.churn * self.chat.rng.uniform(*JITTER), self._churn)
        connection = self.connection
        if self.changing or not self.chat.ledger.measuring:
            return
        if connection is None or not connection.is_ready:
            return
        self.changing = True
        change = Deferred.fromCoroutine(self.change(connection))
        change.addErrback(lambda failure: self.chat.failed_change(self, failure))
        change.addBoth(lambda _: setattr(self, "changing", False))

    async def change(self, connection: SoakConnection) -> None:
        roll = self.chat.rng.random()
        if roll < 0.25:
            await self.reconnect(connection)
        elif roll < 0.5:
            await self.rename(connection)
        else:
            await self.move(connection)

    async def rename(self, connection: SoakConnection) -> None:
        self.renames += 1
        nick = self.nick()
        confirmed = connection.expect("nick", nick)
        connection.send(connection.nick_bytes(nick))
        await within(self.chat.reactor, CHANGE_TIMEOUT, f"{nick}: rename", confirmed)
        self.chat.counts["renames"] += 1

    async def move(self, connection: SoakConnection) -> None:
        """A line user moves; another joins a room, or parts one of its two or three."""
        rng, rooms = self.chat.rng, sorted(self.rooms)
        others = [room for room in self.chat.plan.room_names if room not in self.rooms]
        joining = bool(others) and (
            self.front == "line"
            or len(rooms) == 1
            or (len(rooms) < 3 and rng.random() < 0.5)
        )
        if joining:
            room = rng.choice(others)
            gated = (*rooms, room) if self.front == "line" else (room,)
            await self.holding(gated, connection, "joined", room, connection.join_bytes)
            self.chat.counts["moves" if self.front == "line" else "joins"] += 1
        elif len(rooms) > 1:
            room = rng.choice(rooms)
            await self.holding(
                (room,), connection, "parted", room, connection.part_bytes
            )
            self.chat.counts["parts"] += 1

    async def holding(
        self,
        rooms: tuple[str, ...],
        connection: SoakConnection,
        kind: str,
        room: str,
        request: Callable[[str], bytes],
    ) -> None:
        """With C{rooms} gated, ask for C{request(room)} and await its confirmation."""

        async def ask() -> None:
            confirmed = connection.expect(kind, room)
            connection.send(request(room))
            await within(self.chat.reactor, CHANGE_TIMEOUT, f"{kind} {room}", confirmed)

        await self.chat.gated(rooms, ask)

    async def reconnect(self, connection: SoakConnection) -> None:
        """QUIT, then back under a new nick into the same rooms."""
        rooms = tuple(sorted(self.rooms))
        reactor = self.chat.reactor

        async def again() -> None:
            connection.closing = True
            connection.send(connection.quit_bytes())
            self.leave_all()
            await within(reactor, CHANGE_TIMEOUT, "quitting", connection.gone)
            self.generation += 1
            fresh = self.open(rooms)
            endpoint = self.chat.endpoints[self.front]
            await within(
                reactor, CHANGE_TIMEOUT, "coming back", register(endpoint, fresh)
            )

        await self.chat.gated(rooms, again)
        self.chat.counts["reconnects"] += 1


# The generator processes' work


async def register_fronts(
    reactor: Any,
    endpoints: dict[str, TCP4ClientEndpoint],
    connections: Sequence[tuple[str, SoakConnection]],
) -> Reply:
    """Register (front, connection) pairs, each front's at once; one reply."""
    registering = [
        Deferred.fromCoroutine(
            register_all(
                reactor,
                endpoints[front],
                [connection for which, connection in connections if which == front],
                timeout=CONNECT_TIMEOUT,
                what=f"connecting ({front})",
                concurrency=CONNECT_CONCURRENCY,
            )
        )
        for front in FRONTS
    ]
    replies = await gatherResults(registering, consumeErrors=True)
    return {
        "start_ns": min(reply["start_ns"] for reply in replies),
        "end_ns": max(reply["end_ns"] for reply in replies),
        "cpu_seconds": max(reply["cpu_seconds"] for reply in replies),
    }


def front_endpoints(
    reactor: Any, ports: dict[str, int]
) -> dict[str, TCP4ClientEndpoint]:
    return {
        front: TCP4ClientEndpoint(reactor, HOST, ports[front], timeout=30)
        for front in FRONTS
    }


def no_deliveries(errors: Sequence[str] = ()) -> Reply:
    """A settle reply for a process that counts no deliveries."""
    return {
        "expected": 0,
        "unique": 0,
        "duplicated": 0,
        "unexpected": 0,
        "latencies": b"",
        "server_errors": list(errors),
    }


class SoakWorkload:
    """
    What a soak generator process does in every phase (see L{generators}):
    its connections register at once, per front; told the server is about to
    stop (C{brace}), it stops counting losses and coming back.
    """

    def __init__(
        self, reactor: Any, plan: Plan, ports: dict[str, int], seed: int
    ) -> None:
        self.reactor = reactor
        self.plan = plan
        self.rng = random.Random(seed)
        self.endpoints = front_endpoints(reactor, ports)
        self.stopping = False

    def connections(self) -> list[tuple[str, SoakConnection]]:
        """(front, connection) of each client to register, not yet connected."""
        raise NotImplementedError

    async def command_connect(self) -> Reply:
        return await register_fronts(self.reactor, self.endpoints, self.connections())

    async def command_names(self) -> Reply:
        return {}

    async def command_arm(self) -> Reply:
        return {}

    async def command_brace(self) -> Reply:
        self.stopping = True
        return {}


class ChatWorkload(SoakWorkload):
    """The well-behaved members, all in one process (so that it knows every room)."""

    def __init__(self, reactor: Any, plan: Plan, ports: dict[str, int]) -> None:
        super().__init__(reactor, plan, ports, plan.seed)
        self.gates = {room: RoomGate() for room in plan.room_names}
        self.ledger = Ledger()
        self.members = [Member(index, self) for index in range(plan.well_behaved)]
        self.counts = dict.fromkeys(
            (
                "moves",
                "joins",
                "parts",
                "renames",
                "reconnects",
                "dropped",
                "failed changes",
            ),
            0,
        )
        self.errors: list[str] = []
        self.sweeper = LoopingCall(self.ledger.sweep)

    async def gated(self, rooms: Sequence[str], work: Callable[[], Any]) -> None:
        """Run C{work()} (a coroutine) with C{rooms}' gates held, taken in order."""
        held: list[RoomGate] = []
        try:
            for room in sorted(set(rooms)):
                gate = self.gates[room]
                await gate.claim()
                held.append(gate)
            await work()
        finally:
            for gate in held:
                gate.release()

    def failed_change(self, member: Member, failure: Any) -> None:
        if not self.stopping:
            self.counts["failed changes"] += 1
            self.errors.append(f"{member.nick()}: {failure.getErrorMessage()}")

    def connections(self) -> list[tuple[str, SoakConnection]]:
        return [(member.front, member.open(member.home)) for member in self.members]

    async def command_send(self) -> Reply:
        ledger = self.ledger
        cpu = time.process_time()
        ledger.first_send_ns = time.perf_counter_ns()
        for member in self.members:
            member.start()
        self.sweeper.start(1.0, now=False)
        await deferLater(self.reactor, self.plan.seconds)
        ledger.measuring = False  # members keep sending: tail messages
        deadline = self.reactor.callLater(
            self.plan.drain, ledger.finish, "drain timed out"
        )
        ledger.check_drained()
        return await send_outcome(ledger.finished, deadline, ledger, cpu)

    async def command_settle(self) -> Reply:
        for member in self.members:
            for timer in member.timers:
                if timer.active():
                    timer.cancel()
        if self.sweeper.running:
            self.sweeper.stop()
        ledger = self.ledger
        return {
            **no_deliveries(self.errors[:10]),
            "expected": ledger.expected,
            "unique": ledger.delivered,
            "duplicated": ledger.duplicated,
            "unexpected": ledger.unexpected,
            "latencies": ledger.latencies.tobytes(),
            "counts": {
                **self.counts,
                "tail messages": ledger.tail,
                "overdue": ledger.overdue,
            },
            "foreign": ledger.foreign,
        }

    async def command_close(self) -> Reply:
        connections = [m.connection for m in self.members if m.connection is not None]
        made = [c for c in connections if c.transport is not None]
        unclosed = await close_all(self.reactor, made, 30)
        return {"dropped": self.counts["dropped"], "unclosed": unclosed}


class SlowReader:
    """A member that reads now and then: stops for a while, then trickles."""

    def __init__(self, index: int, disruptors: DisruptorWorkload) -> None:
        self.index = index
        self.disruptors = disruptors
        self.front = disruptors.plan.front(index)
        self.rooms = disruptors.plan.slow_rooms(index)
        self.generation = 0
        self.connection: SoakConnection | None = None
        self.stopped_until = 0.0
        self.reading_until = 0.0
        self.reading = False
        self.timer: IDelayedCall | None = None

    def open(self) -> SoakConnection:
        nick = f"s{self.index:04x}r{self.generation}"
        connection = CONNECTIONS[self.front](
            nick, self.rooms, Deaf(), receive_buffer=SLOW_RECEIVE_BUFFER
        )
        connection.gone.addCallback(lambda _: self._gone(connection))
        self.connection = connection
        return connection

    def step(self) -> None:
        """Each turn: stop reading for 10 - 60 s, then read 0.2 s a second for 5 - 15 s."""
        reactor, rng = self.disruptors.reactor, self.disruptors.rng
        now = reactor.seconds()
        if now >= self.reading_until:  # a new round: stopped first
            self.stopped_until = now + rng.uniform(10, 60)
            self.reading_until = self.stopped_until + rng.uniform(5, 15)
        self.reading = now >= self.stopped_until and not self.reading
        transport = self.connection.transport if self.connection else None
        if IPushProducer.providedBy(transport):  # a TCP transport: it reads or not
            (transport.resumeProducing if self.reading else transport.pauseProducing)()
        delay = 0.2 if self.reading else 0.8
        if now < self.stopped_until:
            delay = self.stopped_until - now
        self.timer = reactor.callLater(delay, self.step)

    def _gone(self, connection: SoakConnection) -> None:
        disruptors = self.disruptors
        if connection is not self.connection or disruptors.stopping:
            return
        disruptors.count("slow readers", "dropped by the server")
        self.generation += 1
        disruptors.reactor.callLater(2.0, self._come_back)

    def _come_back(self) -> None:
        if not self.disruptors.stopping:
            self.disruptors.count("slow readers", "came back")
            endpoint = self.disruptors.endpoints[self.front]
            register(endpoint, self.open()).addErrback(lambda _: None)


class DisruptorWorkload(SoakWorkload):
    """The slow readers and the hostile clients, in a process of their own."""

    def __init__(self, reactor: Any, plan: Plan, ports: dict[str, int]) -> None:
        super().__init__(reactor, plan, ports, plan.seed + 1)
        self.slow = [
            SlowReader(i, self) for i in range(plan.well_behaved, plan.clients)
        ]
        self.counts: dict[str, dict[str, int]] = {}
        self.hostiles: dict[str, Hostile] = {}

    def count(self, who: str, what: str, amount: int = 1) -> None:
        mine = self.counts.setdefault(who, {})
        mine[what] = mine.get(what, 0) + amount

    def connections(self) -> list[tuple[str, SoakConnection]]:
        return [(reader.front, reader.open()) for reader in self.slow]

    async def command_send(self) -> Reply:
        cpu, start = time.process_time(), time.perf_counter_ns()
        for reader in self.slow:
            reader.step()
        rooms = self.plan.room_names
        makers: dict[str, tuple[str, Callable[[int], Hostile]]] = {
            "flooder (line)": (
                "line",
                lambda n: Flooder(
                    self.reactor, self.counted("flooder (line)"), n, rooms[0]
                ),
            ),
            "lister (IRC)": (
                "irc",
                lambda n: Lister(self.reactor, self.counted("lister (IRC)"), n, rooms),
            ),
            "fuzzer (framed)": (
                "framed",
                lambda n: Fuzzer(
                    self.reactor, self.counted("fuzzer (framed)"), n, self.rng
                ),
            ),
        }
        for name, (front, make) in makers.items():
            Deferred.fromCoroutine(self.keep_hostile(name, front, make))
        await deferLater(self.reactor, self.plan.seconds)
        return {
            "outcome": "completed",
            "cpu_seconds": time.process_time() - cpu,
            "first_send_ns": start,
            "last_delivery_ns": 0,
            "sent": 0,
        }

    def counted(self, who: str) -> dict[str, int]:
        return self.counts.setdefault(who, {})

    async def keep_hostile(
        self, name: str, front: str, make: Callable[[int], Hostile]
    ) -> None:
        """One hostile client at a time, a new one whenever the server closes it."""
        number = 0
        while not self.stopping:
            number += 1
            hostile = self.hostiles[name] = make(number)
            try:
                await connectProtocol(self.endpoints[front], hostile)
            except Exception:
                self.count(name, "connection failures")
            else:
                await hostile.gone
                if not self.stopping:
                    self.count(name, "closed by the server")
            await deferLater(self.reactor, 0.05 if front == "framed" else 1.0)

    async def command_settle(self) -> Reply:
        for reader in self.slow:
            if reader.timer is not None and reader.timer.active():
                reader.timer.cancel()
        return {**no_deliveries(), "disruptors": self.counts}

    async def command_close(self) -> Reply:
        readers = [r.connection for r in self.slow if r.connection is not None]
        made = [c for c in readers if c.transport is not None]
        for hostile in self.hostiles.values():
            if ITCPTransport.providedBy(hostile.transport):
                hostile.transport.abortConnection()
        unclosed = await close_all(self.reactor, made, 30)
        return {"dropped": 0, "unclosed": unclosed}


# Results


@dataclass
class SoakResult:
    figures: Figures
    clients: int
    well_behaved: int
    slow_readers: int
    rooms: int
    seconds: float
    rss_series: list[tuple[float, float]]  # (seconds into the send phase, MiB)
    warmup_seconds: float
    rss_slope_mib_per_minute: float | None  # after the warm-up
    rss_judged: bool  # a minute or more of samples after the warm-up
    max_slope: float
    accepted: int  # messages the server logged as accepted
    on_disk: int  # history entries on disk
    on_disk_twice: int
    unreadable: int
    rooms_differing: dict[str, tuple[int, int]]  # room: (accepted, on disk)
    churn: dict[str, int]
    foreign: int  # room messages heard from no member (flooder, fuzzer)
    disruptors: dict[str, dict[str, int]]
    notes: list[str] = field(default_factory=list)

    @property
    def delivered_share(self) -> float:
        f = self.figures
        return f.deliveries / f.expected if f.expected else 0.0

    @property
    def rss_flat(self) -> bool:
        slope = self.rss_slope_mib_per_minute
        return not self.rss_judged or (slope is not None and slope <= self.max_slope)

    @property
    def history_kept(self) -> bool:
        return (
            self.on_disk == self.accepted
            and not self.rooms_differing
            and not self.on_disk_twice
            and not self.unreadable
        )


def rss_verdict(
    series: Sequence[tuple[float, float]], warmup: float
) -> tuple[float | None, bool]:
    """The slope after the warm-up, and whether a minute of samples follows it."""
    after = [(t, rss) for t, rss in series if t >= warmup]
    judged = bool(after) and after[-1][0] - after[0][0] >= 60.0
    return slope_per_minute(after), judged


def compare_history(directory: Path, arguments: Sequence[str]) -> dict[str, Any]:
    """What the stopped server's log says it accepted, and its history holds."""
    accepted = accepted_in_log(directory)
    kept = history_on_disk(data_directory(directory, arguments))
    rooms = set(accepted) | set(kept.by_room)
    return {
        "accepted": sum(accepted.values()),
        "on_disk": kept.entries,
        "on_disk_twice": kept.entries - kept.distinct,
        "unreadable": kept.unreadable,
        "rooms_differing": {
            room: (accepted[room], kept.by_room[room])
            for room in sorted(rooms)
            if accepted[room] != kept.by_room[room]
        },
    }


def verdict(server_share: float, generator_shares: Sequence[float]) -> str:
    shares = "/".join(f"{share:.0%}" for share in generator_shares)
    return (
        f"not a capacity run: server {server_share:.0%} of a core, generators {shares} "
        "(well-behaved / the others)"
    )


def summarise(
    plan: Plan,
    measured: Any,
    stopped: Stopped,
    series: Sequence[tuple[float, float, float]],
    history: dict[str, Any],
) -> SoakResult:
    rss_series = [(t, rss) for t, rss, _ in series]
    slope, judged = rss_verdict(rss_series, plan.warmup_seconds)
    chat, others = measured.settled
    return SoakResult(
        figures=figures.summarise(measured, stopped, verdict),
        clients=plan.clients,
        well_behaved=plan.well_behaved,
        slow_readers=plan.slow,
        rooms=plan.rooms,
        seconds=plan.seconds,
        rss_series=rss_series,
        warmup_seconds=plan.warmup_seconds,
        rss_slope_mib_per_minute=slope,
        rss_judged=judged,
        max_slope=plan.max_slope,
        churn=chat["counts"],
        foreign=chat["foreign"],
        disruptors=others["disruptors"],
        **history,
    )


# Running


@contextmanager
def recording(
    pid: int, every: float, series: list[tuple[float, float, float]]
) -> Iterator[list[str]]:
    """The server sampled into C{series} while the block runs; no notes."""
    with sampled(pid, every) as samples:
        try:
            yield []
        finally:
            series[:] = samples


def stop_under_load(generators: Generators, process: subprocess.Popen[bytes]) -> None:
    """Tell the generators (still sending) that the server goes, then SIGTERM it."""
    generators.command("brace", CONNECT_TIMEOUT)
    stop_server(process, STOP_TIMEOUT)


def run(
    plan: Plan, server_args: Sequence[str] = (), *, keep_logs: bool = False
) -> SoakResult:
    """Start the server, soak it, SIGTERM it under load; the figures."""
    plan.check()
    raise_file_limit(plan.clients + 3 + SPARE_FILES)
    arguments = [*SERVER_ARGS, *server_args]
    phases = Phases(timeout=CONNECT_TIMEOUT + 30, send=plan.seconds + plan.drain + 60)
    series: list[tuple[float, float, float]] = []
    with run_directory("soak-", keep_logs) as directory:
        with running_server(directory, arguments, CONNECT_TIMEOUT) as server:
            ports, pid = server.ports, server.process.pid
            workloads: list[Workload] = [
                partial(ChatWorkload, plan=plan, ports=ports),
                partial(DisruptorWorkload, plan=plan, ports=ports),
            ]
            with generator_processes(workloads, "soak") as generators:
                measured = measure(
                    generators,
                    pid,
                    phases,
                    recording(pid, plan.sample_seconds, series),
                    after_send=lambda: stop_under_load(generators, server.process),
                )
        log = scan_log(directory, SOAK_PROBLEM)
        stopped = Stopped(server.process.returncode, log.shut_down, None, log)
        history = compare_history(directory, arguments)
    result = summarise(plan, measured, stopped, series, history)
    figures.check_progress("soak", result.figures)
    return result


# Reports


def _series_lines(series: Sequence[tuple[float, float]]) -> list[tuple[str, str]]:
    """The RSS samples, eight a line."""
    cells = [f"{t:6.1f}s {rss:6.1f}" for t, rss in series]
    return [
        ("server RSS MiB" if start == 0 else "", "  ".join(cells[start : start + 8]))
        for start in range(0, len(cells), 8)
    ]


def _rss_line(result: SoakResult) -> str:
    slope = result.rss_slope_mib_per_minute
    shown = "n/a" if slope is None else f"{slope:+.2f} MiB/min"
    judged = (
        ("flat" if result.rss_flat else "GROWING")
        if result.rss_judged
        else "not judged: under a minute of samples after it"
    )
    return (
        f"{shown} after the {result.warmup_seconds:.1f} s warm-up (limit "
        f"{result.max_slope:g}): {judged}"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{what} {value:,}" for what, value in counts.items()) or "nothing"


def _lines(result: SoakResult) -> list[tuple[str, str]]:
    f = result.figures
    rows = figures.rows(f, result.well_behaved, "in their rooms")
    lines = [
        ("outcome", rows["outcome"]),
        (
            "delivered",
            f"{f.deliveries:,} of {f.expected:,} expected = "
            f"{result.delivered_share:.4%} (well-behaved members; lost {f.lost:,}, "
            f"duplicated {f.duplicated:,}, unexpected {f.unexpected:,})",
        ),
        ("latency ms", rows["latency ms"]),
        (
            "messages",
            f"{f.sent:,} measured, then {result.churn.get('tail messages', 0):,} "
            f"more until SIGTERM; {result.foreign:,} others heard (flooder, fuzzer)",
        ),
        ("churn", _counts(result.churn)),
        ("connect", rows["connect"]),
        *_series_lines(result.rss_series),
        ("RSS slope", _rss_line(result)),
        ("server CPU", rows["per server CPU-s"]),
        (
            "history",
            f"{result.on_disk:,} entries on disk of {result.accepted:,} messages "
            f"the server accepted, after SIGTERM ({result.on_disk_twice:,} twice, "
            f"{result.unreadable:,} unreadable)",
        ),
    ]
    lines += [
        (who, _counts(counts)) for who, counts in sorted(result.disruptors.items())
    ]
    lines += [(label, rows[label]) for label in ("generator CPU", "bottleneck")]
    log_bytes, errors = f.server_log_bytes or 0, f.server_log_problems
    log = f"{log_bytes / MIB:.1f} MiB, {errors} error/traceback lines"
    return [*lines, ("server log", log)]


def _problems(result: SoakResult) -> list[str]:
    f = result.figures
    loud = []
    if f.outcome != "completed":
        loud.append(f"measured messages not all delivered ({f.outcome})")
    if f.expected == 0:
        loud.append("no delivery was expected: nothing measured")
    if result.churn.get("failed changes"):
        loud.append(f"{result.churn['failed changes']} membership changes failed")
    if not result.rss_flat:
        loud.append(f"server RSS GROWING after warm-up: {_rss_line(result)}")
    if not result.history_kept:
        loud.append(
            f"HISTORY: {result.on_disk:,} on disk of {result.accepted:,} accepted; "
            f"rooms differing (accepted, on disk): {result.rooms_differing}"
        )
    return [*loud, *figures.problems(f)]


def faultless(result: SoakResult) -> bool:
    return not _problems(result)


def report(result: SoakResult) -> str:
    title = (
        f"soak: {result.clients:,} clients ({result.well_behaved:,} well-behaved, "
        f"{result.slow_readers:,} slow readers) and 3 hostile ones over the three "
        f"fronts, {result.rooms} rooms, {result.seconds:g} s, then SIGTERM"
    )
    return figures.report(title, _lines(result), result.notes, _problems(result))


# The command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1] if __doc__ else ""
    )
    number = parser.add_argument
    number("--clients", type=int, default=1000, help="clients in all, hostile aside")
    number("--rooms", type=int, default=20, help="rooms they spread over")
    number("--seconds", type=float, default=360.0, help="how long the soak lasts")
    number(
        "--interval",
        type=float,
        default=10.0,
        help="mean seconds between a member's messages",
    )
    number(
        "--churn",
        type=float,
        default=60.0,
        help="mean seconds between a member's changes",
    )
    number("--slow-share", type=float, default=0.1, help="share of slow readers")
    number("--warmup", type=float, help="seconds of warm-up before RSS must be flat")
    number("--sample", type=float, help="seconds between RSS samples")
    number(
        "--max-slope",
        type=float,
        default=1.0,
        help="MiB a minute RSS may grow after warm-up",
    )
    number(
        "--drain",
        type=float,
        default=30.0,
        help="seconds allowed for the last deliveries",
    )
    number("--seed", type=int, default=0, help="seed of every random choice")
    add_server_options(parser)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    plan = Plan(**{name.name: getattr(options, name.name) for name in fields(Plan)})
    try:
        plan.check()
    except ValueError as e:
        parser.error(str(e))
    server_args = shlex.split(options.server_args)
    outcome = guarded(
        "soak", lambda: run(plan, server_args, keep_logs=options.keep_logs)
    )
    if isinstance(outcome, int):
        return outcome
    print(report(outcome), flush=True)
    if options.json:
        print(json.dumps({**figures.as_json(outcome), "faultless": faultless(outcome)}))
    return 0 if faultless(outcome) else 3


if __name__ == "__main__":
    sys.exit(main())
