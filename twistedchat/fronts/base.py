"""
What every front is made of: a factory holding what its connections share,
and a connection assembled from parts with one job each.

A front's factory derives from L{Front}: the shared L{ChatService}, the
L{Limits} and L{ConnectionCounter} shared by all fronts, and the front's own
L{Outbox} and L{Broadcaster} (built from its event renderer, see
L{twistedchat.fronts.fanout}). A front's protocol derives from
L{FrontProtocol} (alongside a Twisted receiver for its framing, in any order:
neither overrides the other) and gets, once connected:

 - C{policy}, a L{ConnectionPolicy}: admission, registration timeout, idle
   pings, flood control; independent of the transport;
 - C{output}, a L{StreamOutput}: writes kept in order with the front's
   broadcasts, and the budget of a slow reader;
 - L{FrontProtocol.perform}, the one place where a command's refusal by the
   core (a L{ChatError}) becomes the front's error reply, and any other
   failure is logged and answered as an internal error.

The front says the rest in its own words: how to refuse a peer, ping it,
warn it of flooding, and answer a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, ClassVar, TypeVar, cast

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IPushProducer, ITCPTransport
from twisted.internet.protocol import Factory
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core.delivery import DeliveryRefused
from ..core.errors import ChatError
from ..core.events import Event
from ..core.service import ChatService
from ..core.session import Session
from .fanout import Broadcaster, IBroadcastingClient, Outbox, RenderOnce
from .output import StreamOutput
from .policy import ConnectionCounter, ConnectionPolicy, FrontCounts, Limits

__all__ = ["ConnectionCounter", "Front", "FrontCounts", "FrontProtocol", "Limits"]

P = TypeVar("P", bound="FrontProtocol")
LISTING_RATE = 5_000  # lines a second one connection's long replies may cost
T = TypeVar("T")


class Front(Factory[P]):
    """A front's factory: what its connections share."""

    def __init__(
        self,
        service: ChatService,
        render: Callable[[Event], bytes],
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
    ) -> None:
        self.service = service
        self.limits = limits or Limits()
        self.connections = connections or ConnectionCounter(self.limits)
        self.counts = FrontCounts()  # what its connections did (the metrics)
        self.outbox = Outbox(service.clock)
        self.broadcaster = self.broadcaster_for(render)

    def broadcaster_for(self, render: Callable[[Event], bytes]) -> Broadcaster:
        """A broadcaster of this front's, rendering with C{render}."""
        return Broadcaster(RenderOnce(render), self.outbox)

    def stopFactory(self) -> None:
        # The server is stopping: what the broadcasts still owe goes out
        # before the connections close.
        self.outbox.flush()


def describe_peer(address: IAddress) -> str | None:
    """C{host:port} (C{[host]:port} for IPv6), or None for other addresses."""
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    return None


@implementer(IBroadcastingClient)
class FrontProtocol(TwistedProtocol):
    """The session side of a front's connection."""

    log: ClassVar[Logger] = Logger()
    # Whether a client must introduce itself (Hello, NICK/USER) before it chats.
    needs_registration: ClassVar[bool] = False
    # What the user receives of their own doing (see IChatClient); an IRC
    # connection changes its own echo_messages (the echo-message capability).
    echo_messages: bool = False
    echo_actions: ClassVar[bool] = False

    factory: Front[Any]
    transport: ITCPTransport
    policy: ConnectionPolicy
    output: StreamOutput
    # output.transmit itself (the outbox calls it once per member and flush).
    transmit: Callable[[bytes], None]
    session: Session | None = None
    peer: str | None = None
    host = "local"  # the peer's address, or "local" for a UNIX socket
    admitted = False
    dropped = False

    # What each front says in its own words

    def refuse(self, why: str) -> None:
        """Tell the peer why it is being disconnected (before it is)."""

    def send_ping(self) -> bool:
        """Ask the peer to answer; False if this front has no ping."""
        return False

    def flooded(self) -> None:
        """Tell the peer its input was dropped by flood control."""

    def refused(self, error: ChatError) -> None:
        """Answer a command the core refused."""

    def internal_error(self, command: str) -> None:
        """Answer a command that failed for a reason of ours."""

    # Connection

    def connectionMade(self) -> None:
        front = self.factory
        if ITCPTransport.providedBy(self.transport):
            # Small writes must not wait for the peer's delayed ACK; and the
            # kernel notices peers that vanished (netcat users have no PING).
            self.transport.setTcpNoDelay(True)
            self.transport.setTcpKeepAlive(True)
        address = self.transport.getPeer()
        self.peer = describe_peer(address)
        self.host = getattr(address, "host", None) or "local"
        self.output = StreamOutput(
            self.transport, front.outbox, front.limits, self.too_slow
        )
        self.transmit = self.output.transmit
        self.policy = ConnectionPolicy(
            self,
            self.host,
            front.service.clock,
            front.limits,
            front.connections,
            front.counts,
        )
        why = self.policy.admit(self.needs_registration)
        if why is not None:
            self.log.warn("refusing {peer}: {why}", peer=self.peer, why=why)
            self.refuse(why)
            self.dropped = self.output.closed = True
            self.transport.loseConnection()
            return
        self.admitted = True

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.connected = False
        if self.admitted:
            self.policy.end()
            self.admitted = False
        if self.session is not None:
            self.factory.service.disconnect(self.session)
            self.session = None

    def registered(self) -> None:
        """The client introduced itself: no more registration deadline."""
        self.policy.registered()

    def each(
        self, items: Iterable[T], once: Callable[[T], object] | None = None
    ) -> Iterator[T]:
        """
        The items of a command that names several (targets, channels,
        rooms): the first comes with the command, each other one is paid for
        to flood control as a command of its own, and the list stops at the
        first one refused. With C{once}, items alike by C{once(item)} are
        taken once (a message to one nick named twice goes once).
        """
        seen: set[object] = set()
        for index, item in enumerate(items):
            if once is not None:
                alike = once(item)
                if alike in seen:
                    continue
                seen.add(alike)
            if index and not self.policy.allow():
                return
            yield item

    @property
    def gone(self) -> bool:
        """Whether the peer is gone: a long reply may stop."""
        return self.dropped or not self.connected

    async def pace(self, lines: int) -> None:
        """
        After C{lines} of a long reply (a listing), let everything else go
        first: a turn of the reactor at least, until this connection's
        transport takes more, and at most L{LISTING_RATE} lines a second, so
        that one client's listings never hold up the others' messages nor
        take more than their share of the server.
        """
        await self.output.drained()
        await deferLater(self.factory.service.clock, lines / LISTING_RATE)

    def adopt(self, session: Session) -> bool:
        """
        Take the session the core made for this connection; if the
        connection was lost while the core was at it, let the session go
        (and say False).
        """
        if not self.connected:
            self.factory.service.disconnect(session)
            return False
        self.session = session
        return True

    # Commands

    def perform(
        self, command: str, action: Callable[..., object], *args: object
    ) -> None:
        """
        Carry out C{action(*args)} for C{command}: a refusal of the core
        becomes the front's error reply, any other failure is logged and
        answered as an internal error. An action may finish later (a
        Deferred: an OPER's password check in a thread, a nick claim or a
        join with a remote state): until it does, the connection acts on no
        more of its input, so that commands keep their order, and its
        failure is answered the same way when it comes.
        """
        try:
            result = action(*args)
            if result is not None and isinstance(result, Coroutine):  # async def
                result = Deferred.fromCoroutine(result)
        except ChatError as e:
            self.refused(e)
        except Exception:
            self._failed(command, Failure())
        else:
            if result is not None and isinstance(result, Deferred):
                result.addErrback(self._answer_failure, command)
                if not result.called:
                    self.hold_input()
                    result.addBoth(self._released)  # after the answer

    def hold_input(self) -> None:
        """Act on no more input until L{release_input}."""
        cast(IPushProducer, self.transport).pauseProducing()

    def release_input(self) -> None:
        """Act on input again, starting with what came meanwhile."""
        cast(IPushProducer, self.transport).resumeProducing()

    def _released(self, result: object) -> object:
        if not self.dropped:
            self.release_input()
        return result

    def _answer_failure(self, failure: Failure, command: str) -> None:
        if isinstance(failure.value, ChatError):
            self.refused(failure.value)
        else:
            self._failed(command, failure)

    def _failed(self, command: str, failure: Failure) -> None:
        self.log.failure(
            "{command!r} from {peer} failed", failure, command=command, peer=self.peer
        )
        self.internal_error(command)

    # Output

    @property
    def broadcaster(self) -> Broadcaster:
        return self.factory.broadcaster

    def write(self, data: bytes) -> None:
        """Write to the peer after what the front's broadcasts owe it."""
        self.output.write(data, self.session)

    def render(self, event: Event) -> bytes:
        return self.broadcaster.renderer.render(event)

    def deliver(self, event: Event) -> None:
        self.factory.counts.delivered += 1
        self.write(self.render(event))
        if self.dropped and self.session is not None:
            # Tell the fan-out: it drops us after its loop, without a traceback.
            raise DeliveryRefused("output buffer full")

    def disconnect(self) -> None:
        self.transport.loseConnection()

    def too_slow(self, why: str) -> None:
        """The peer reads too slowly (its output's budget is spent): dropped."""
        if not self.dropped:
            self.factory.counts.slow_readers += 1
        self.drop(why)

    def drop(self, why: str, tell: bool = False) -> None:
        """Cut the connection at once, for a reason that is logged."""
        if self.dropped:
            return
        self.log.warn("dropping {peer}: {why}", peer=self.peer, why=why)
        if tell:
            self.refuse(why)
        self.dropped = self.output.closed = True
        if tell:  # the peer is reading: let the reason reach it
            self.transport.loseConnection()
        else:
            self.transport.abortConnection()
