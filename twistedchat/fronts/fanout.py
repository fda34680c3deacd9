"""
The fan-out: how one event reaches many connections, rendered once per front
and written in one piece with the others of the same moment.

L{Fanout} is the core's L{IDelivery} on a server: it keeps, for each room,
its local members grouped by their front's L{Broadcaster} (the members whose
client has none get events one by one), and gives a room's event to each
broadcaster once for all of that front's members of the room. A group is
never changed once made: members coming or going make a new one, so a
broadcaster may keep a group until it has written an event.

The broadcaster renders the event once and leaves the bytes in the front's
L{Outbox}. L{WRITE_DELAY} later (one millisecond: the reactor turns in
between, reading what else has come), or as soon as anything else is about to
be written to one of the front's connections (so that each connection's
output stays in order), the outbox writes to each connection, in one piece,
everything it holds for it. A room of N members that hears K messages in that
time costs N writes, not N*K, and what each message costs does not grow with
the room. A write, a system call, costs far more than relaying one message:
under load, that millisecond saves a large share of the server's work per
delivery (see the README's Performance section), and nobody notices it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, cast

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from ..core.delivery import NOBODY, IDelivery, deliver_each
from ..core.events import Event
from ..core.session import IChatClient, Session

# A room's members that share one broadcaster, each with its client. Never
# changed once made (see the module's docstring).
Group = Mapping[Session, IChatClient]

# A rendered event, the group it is for, and who in that group does not get it.
Pending = tuple[bytes, Group, Session | None]

WRITE_DELAY = 0.001  # seconds a broadcast waits for others to be written with


class IBroadcaster(Interface):
    """A front's way to hand one room event to many of its connections at once."""

    def broadcast(event: Event, group: Group, exclude: Session | None) -> None:
        """
        Hand C{event} to every session of C{group} but C{exclude}, in order
        with whatever else the front writes to each. On the fan-out path: it
        must not block, raise nor call back into the service.
        """


class IBroadcastingClient(IChatClient):
    """A client whose room events may go through its front's broadcaster."""

    broadcaster = Attribute(
        "The IBroadcaster that hands room events to this client together with "
        "others of its kind, or None to have them delivered one by one."
    )


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
        # Events written to one connection each, counted per run (the metrics).
        self.delivered = 0

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
        delivered = 0
        for group, events in runs:
            shared, own, skipped = _pieces(events, group)
            delivered += len(events) * len(group) - skipped
            members = cast(Mapping[Session, Connection], group)  # this front's
            for session, connection in members.items():
                piece = own.get(session, shared) if own else shared
                if piece:
                    out.setdefault(connection, []).append(piece)
        self.delivered += delivered
        for connection, pieces in out.items():
            connection.transmit(b"".join(pieces))


def _pieces(
    events: list[tuple[bytes, Session | None]], group: Group
) -> tuple[bytes, dict[Session, bytes], int]:
    """
    The bytes of C{events} for the members of C{group}: those of all the
    events, and for each member left out of some of them (their sender), its
    own piece without those; and how many events members were left out of.
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
    own = {
        member: _without(shared, spans)
        for member, spans in skipped.items()
        if member in group  # (a sender of another front has nothing to cut)
    }
    return shared, own, sum([len(skipped[member]) for member in own])


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


@implementer(IDelivery)
class Fanout:
    """
    Each room's local members grouped by broadcaster: a room event costs one
    call per front, whatever the number of members.
    """

    log = Logger()

    def __init__(self) -> None:
        self._rooms: dict[str, dict[IBroadcaster | None, Group]] = {}
        # For each session in a room: the broadcaster its groups were made
        # with, and its rooms (see regroup).
        self._subscribed: dict[Session, tuple[IBroadcaster | None, set[str]]] = {}

    def enter(self, room: str, session: Session) -> None:
        broadcaster, rooms = self._subscribed.get(session) or (
            getattr(session.client, "broadcaster", None),
            set(),
        )
        self._subscribed[session] = broadcaster, rooms
        rooms.add(room)
        self._group(room, session, broadcaster)

    def leave(self, room: str, session: Session) -> None:
        broadcaster, rooms = self._subscribed[session]
        self._ungroup(room, session, broadcaster)
        rooms.discard(room)
        if not rooms:
            del self._subscribed[session]

    def regroup(self, session: Session) -> None:
        """
        C{session}'s client changed broadcasters (an IRC client that asked
        for server-time after registering): its rooms follow.
        """
        if session not in self._subscribed:
            return  # in no room: its next room will use the new broadcaster
        old, rooms = self._subscribed[session]
        new = getattr(session.client, "broadcaster", None)
        for room in rooms:
            self._ungroup(room, session, old)
            self._group(room, session, new)
        self._subscribed[session] = new, rooms

    def to_room(
        self, room: str, event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        groups = self._rooms.get(room)
        if groups is None:
            return NOBODY
        return self._broadcast(event, tuple(groups.items()), exclude)

    def to_rooms(
        self, rooms: Sequence[str], event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        if len(rooms) == 1:
            return self.to_room(rooms[0], event, exclude)
        merged: dict[IBroadcaster | None, dict[Session, IChatClient]] = {}
        for room in rooms:
            for broadcaster, group in self._rooms.get(room, {}).items():
                merged.setdefault(broadcaster, {}).update(group)
        return self._broadcast(event, tuple(merged.items()), exclude)

    def to_sessions(
        self, sessions: Iterable[Session], event: Event
    ) -> Sequence[Session]:
        return deliver_each(event, sessions)

    def _broadcast(
        self,
        event: Event,
        groups: Iterable[tuple[IBroadcaster | None, Group]],
        exclude: Session | None,
    ) -> Sequence[Session]:
        broken: Sequence[Session] = NOBODY
        for broadcaster, group in groups:
            if broadcaster is None:
                broken = [*broken, *deliver_each(event, group, exclude)]
                continue
            try:
                broadcaster.broadcast(event, group, exclude)
            except Exception:
                self.log.failure("broadcasting {event!r} failed", event=event)
        return broken

    def _group(
        self, room: str, session: Session, broadcaster: IBroadcaster | None
    ) -> None:
        groups = self._rooms.setdefault(room, {})
        group = dict(groups.get(broadcaster, {}))
        group[session] = session.client
        groups[broadcaster] = group

    def _ungroup(
        self, room: str, session: Session, broadcaster: IBroadcaster | None
    ) -> None:
        groups = self._rooms[room]
        group = dict(groups[broadcaster])
        del group[session]
        if group:
            groups[broadcaster] = group
        elif len(groups) > 1:
            del groups[broadcaster]
        else:
            del self._rooms[room]
