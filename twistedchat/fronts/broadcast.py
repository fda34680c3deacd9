"""
How a front hands one event to many connections: rendered once, written in one
piece with the others of the same moment.

The core gives a room's event to a front's L{Broadcaster} once for all of the
front's members of that room (see L{IBroadcaster}). The broadcaster renders it
once and leaves the bytes in the front's L{Outbox}. L{WRITE_DELAY} later (one
millisecond: the reactor turns in between, reading what else has come), or as
soon as anything else is about to be written to one of the front's connections
(so that each connection's output stays in order), the outbox writes to each
connection, in one piece, everything it holds for it. A room of N members that
hears K messages in that time costs N writes, not N*K, and what each message
costs does not grow with the room. A write, a system call, costs far more than
relaying one message: under load, that millisecond saves a large share of the
server's work per delivery (see the README's Performance section), and nobody
notices it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, cast

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from zope.interface import implementer

from ..core.events import Event
from ..core.service import Group, IBroadcaster, Session

# A rendered event, the group it is for, and who in that group does not get it.
Pending = tuple[bytes, Group, Session | None]

WRITE_DELAY = 0.001  # seconds a broadcast waits for others to be written with


class Connection(Protocol):
    def transmit(self, data: bytes) -> None:
        """Write C{data} to the peer now (the outbox has kept the order)."""


class RenderOnce:
    """
    A front's renderer, remembering its last event.

    Whether an event is broadcast to a room or delivered to each session
    concerned one by one, it is rendered once per front, not once per member.
    """

    __slots__ = ("_last_bytes", "_last_event", "_render")

    def __init__(self, render: Callable[[Event], bytes]) -> None:
        self._render = render
        self._last_event: Event | None = None
        self._last_bytes = b""

    def render(self, event: Event) -> bytes:
        if event is not self._last_event:
            self._last_bytes = self._render(event)
            self._last_event = event
        return self._last_bytes


class Outbox:
    """What a front's broadcasts owe its connections, until written."""

    def __init__(self, clock: IReactorTime, delay: float = WRITE_DELAY) -> None:
        self.clock = clock
        self.delay = delay
        self.pending: list[Pending] = []
        self._call: IDelayedCall | None = None

    def put(self, data: bytes, group: Group, exclude: Session | None) -> None:
        self.pending.append((data, group, exclude))
        if self._call is None:
            self._call = self.clock.callLater(self.delay, self._due)

    def owes(self, session: Session) -> bool:
        """Whether something pending is for C{session}."""
        return any(
            session in group and session is not exclude
            for _, group, exclude in self.pending
        )

    def _due(self) -> None:
        self._call = None
        self.flush()

    def flush(self) -> None:
        """Write everything pending to its connections, now."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        # Consecutive events for the same group (the same members) form a run,
        # written as one piece to each member of that group.
        runs: list[tuple[Group, list[tuple[bytes, Session | None]]]] = []
        last: Group | None = None
        for data, group, exclude in pending:
            if group is not last:
                runs.append((group, []))
                last = group
            runs[-1][1].append((data, exclude))
        # A member of several groups (rooms) gets their runs in one piece too.
        out: dict[Connection, list[bytes]] = {}
        for group, events in runs:
            shared, own = _pieces(events)
            members = cast(Mapping[Session, Connection], group)  # this front's
            for session, connection in members.items():
                piece = own.get(session, shared) if own else shared
                if piece:
                    out.setdefault(connection, []).append(piece)
        for connection, pieces in out.items():
            connection.transmit(b"".join(pieces))


def _pieces(
    events: list[tuple[bytes, Session | None]],
) -> tuple[bytes, dict[Session, bytes]]:
    """
    The bytes of C{events} for the members of their group: those of all the
    events, and for each member left out of some of them (their sender), its
    own piece without those.
    """
    shared = b"".join([data for data, _ in events])
    # Where, in the shared bytes, each excluded member's own events lie.
    skipped: dict[Session, list[tuple[int, int]]] = {}
    start = 0
    for data, exclude in events:
        end = start + len(data)
        if exclude is not None:
            skipped.setdefault(exclude, []).append((start, end))
        start = end
    own = {member: _without(shared, spans) for member, spans in skipped.items()}
    return shared, own


def _without(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """C{data} but the (start, end) C{spans}: in order, none overlapping another."""
    pieces = []
    start = 0
    for skip_start, skip_end in spans:
        pieces.append(data[start:skip_start])
        start = skip_end
    pieces.append(data[start:])
    return b"".join(pieces)


@implementer(IBroadcaster)
class Broadcaster:
    """One of a front's renderers, putting what it renders in the front's outbox."""

    __slots__ = ("_outbox", "renderer")

    def __init__(self, renderer: RenderOnce, outbox: Outbox) -> None:
        self.renderer = renderer
        self._outbox = outbox

    def broadcast(self, event: Event, group: Group, exclude: Session | None) -> None:
        self._outbox.put(self.renderer.render(event), group, exclude)
