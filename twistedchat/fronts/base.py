"""
What every front's connection shares: its session, its output kept in order
with the front's broadcasts, and the limits that keep one peer from hurting
the others.

A front's protocol mixes in L{SessionProtocol}; its factory holds the shared
L{ChatService}, its L{Outbox} and a L{Broadcaster} built from the front's own
event renderer (see L{twistedchat.fronts.fanout}), the L{Limits} and the
L{ConnectionCounter} shared by all fronts. The protocol says
how to refuse a peer, how to ping it, and which of its input counts towards
flood control; the rest is here:

 - output budget (IRC's sendq): the protocol is its transport's producer, so
   when the transport's buffer is full (the peer reads too slowly) writes are
   queued and counted; past C{Limits.sendq} bytes the peer is dropped;
 - connections in total and per source address;
 - registration timeout, for fronts where a client must introduce itself;
 - idle detection: after C{idle_timeout} seconds of silence a PING, and no
   answer within C{ping_timeout} drops the peer;
 - flood control: a token bucket of C{flood_rate} per second and
   C{flood_burst}; input beyond it is refused with a notice, and a peer that
   keeps flooding (C{flood_strikes} refusals in a row) is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, cast

from twisted.internet import tcp
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IPushProducer,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core.delivery import DeliveryRefused
from ..core.events import Event
from ..core.service import ChatService
from ..core.session import Session
from .fanout import Broadcaster, IBroadcastingClient, Outbox


@dataclass(frozen=True)
class Limits:
    """What one connection may do; 0 turns a limit off."""

    sendq: int = 1024 * 1024  # bytes waiting for a slow reader
    max_connections: int = 20_000
    max_per_address: int = 100
    registration_timeout: float = 30.0
    idle_timeout: float = 120.0
    ping_timeout: float = 60.0
    flood_rate: float = 20.0  # lines or frames per second, sustained
    flood_burst: int = 50
    flood_strikes: int = 20


class ConnectionCounter:
    """Connections in total and per source address, across every front."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.by_host: dict[str, int] = {}

    def admit(self, host: str) -> str | None:
        """Count a new connection from C{host}; or say why it is refused."""
        limits = self.limits
        if limits.max_connections and self.total >= limits.max_connections:
            return f"the server is full ({limits.max_connections} connections)"
        held = self.by_host.get(host, 0)
        if limits.max_per_address and held >= limits.max_per_address:
            return f"too many connections from your address ({limits.max_per_address})"
        self.total += 1
        self.by_host[host] = held + 1
        return None

    def release(self, host: str) -> None:
        self.total -= 1
        held = self.by_host[host] - 1
        if held:
            self.by_host[host] = held
        else:
            del self.by_host[host]


class FrontFactory(Protocol):
    service: ChatService
    outbox: Outbox
    broadcaster: Broadcaster
    limits: Limits
    connections: ConnectionCounter


class Front:
    """Mixed into each front's factory, before Twisted's C{Factory}."""

    outbox: Outbox

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


@implementer(IBroadcastingClient, IPushProducer)
class SessionProtocol(TwistedProtocol):
    """The session side of a front's connection (mixed in before the receiver)."""

    log: ClassVar[Logger] = Logger()
    # Whether a client must introduce itself (Hello, NICK/USER) before it chats.
    needs_registration: ClassVar[bool] = False
    # What the user receives of their own doing (see IChatClient).
    echo_messages: ClassVar[bool] = False
    echo_actions: ClassVar[bool] = False

    factory: FrontFactory
    transport: ITCPTransport
    session: Session | None = None
    peer: str | None = None
    host = "local"
    admitted = False
    dropped = False
    _paused = False
    _tcp: tcp.Server | None = None  # a plain TCP transport, written to at once
    _queued = 0
    _tokens = 0.0
    _strikes = 0
    _refilled = 0.0
    _last_input = 0.0
    _pinged = False
    _idle_call: IDelayedCall | None = None
    _registration_call: IDelayedCall | None = None

    # What each front says in its own words

    def refuse(self, why: str) -> None:
        """Tell the peer why it is being disconnected (before it is)."""

    def send_ping(self) -> bool:
        """Ask the peer to answer; False if this front has no ping."""
        return False

    def flooded(self) -> None:
        """Tell the peer its input was dropped by flood control."""

    # Connection

    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self.transport):
            # Small writes must not wait for the peer's delayed ACK; and the
            # kernel notices peers that vanished (netcat users have no PING).
            self.transport.setTcpNoDelay(True)
            self.transport.setTcpKeepAlive(True)
        address = self.transport.getPeer()
        self.peer = describe_peer(address)
        self.host = getattr(address, "host", None) or "local"
        self._queue: list[bytes] = []
        if type(self.transport) is tcp.Server and not self.transport.TLS:
            self._tcp = self.transport
        # Told when the transport's buffer is full, and when it drains.
        cast(IConsumer, self.transport).registerProducer(self, True)
        why = self.factory.connections.admit(self.host)
        if why is not None:
            self.log.warn("refusing {peer}: {why}", peer=self.peer, why=why)
            self.refuse(why)
            self.dropped = True
            self.transport.loseConnection()
            return
        self.admitted = True
        limits = self.factory.limits
        clock = self.factory.service.clock
        self._tokens = float(limits.flood_burst)
        self._refilled = self._last_input = clock.seconds()
        if self.needs_registration and limits.registration_timeout:
            self._registration_call = clock.callLater(
                limits.registration_timeout, self._registration_expired
            )
        if limits.idle_timeout:
            self._idle_call = clock.callLater(limits.idle_timeout, self._check_idle)

    def connectionLost(self, reason: Failure | None = None) -> None:
        for call in (self._idle_call, self._registration_call):
            if call is not None and call.active():
                call.cancel()
        if self.admitted:
            self.factory.connections.release(self.host)
            self.admitted = False
        if self.session is not None:
            self.factory.service.disconnect(self.session)
            self.session = None

    def registered(self) -> None:
        """The client introduced itself: no more registration deadline."""
        if self._registration_call is not None and self._registration_call.active():
            self._registration_call.cancel()
        self._registration_call = None

    def _registration_expired(self) -> None:
        self._registration_call = None
        self.drop(
            f"registration timeout ({self.factory.limits.registration_timeout:g} s)",
            tell=True,
        )

    # Input: idle detection and flood control

    def heard(self) -> None:
        """Some input came: the peer is alive."""
        self._last_input = self.factory.service.clock.seconds()
        self._pinged = False

    def _check_idle(self) -> None:
        limits = self.factory.limits
        clock = self.factory.service.clock
        silent = clock.seconds() - self._last_input
        if self._pinged and silent >= limits.ping_timeout:
            self._idle_call = None
            self.drop(f"ping timeout ({silent:.0f} s without an answer)", tell=True)
            return
        if not self._pinged and silent >= limits.idle_timeout and self.send_ping():
            self._pinged = True
            self._last_input = clock.seconds()
            wait = limits.ping_timeout
        else:
            wait = max(1.0, limits.idle_timeout - silent)
        self._idle_call = clock.callLater(wait, self._check_idle)

    def allow(self) -> bool:
        """Whether one more line or frame may be acted on (token bucket)."""
        limits = self.factory.limits
        if not limits.flood_rate:
            return True
        now = self.factory.service.clock.seconds()
        self._tokens = min(
            float(limits.flood_burst),
            self._tokens + (now - self._refilled) * limits.flood_rate,
        )
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._strikes = 0
            return True
        self._strikes += 1
        if limits.flood_strikes and self._strikes >= limits.flood_strikes:
            self.drop("flooding", tell=True)
        else:
            self.flooded()
        return False

    # Output: in order with the front's broadcasts, within a slow reader's budget

    @property
    def broadcaster(self) -> Broadcaster:
        return self.factory.broadcaster

    def write(self, data: bytes) -> None:
        """Write to the peer after what the front's broadcasts owe it."""
        outbox = self.factory.outbox
        session = self.session
        if outbox.pending and (session is None or outbox.owes(session)):
            outbox.flush()
        self.transmit(data)

    def transmit(self, data: bytes) -> None:
        """Write to the peer now, or queue while its transport is full."""
        if self.dropped:
            return
        if not self._paused:
            tcp_transport = self._tcp
            if (
                tcp_transport is not None
                and tcp_transport.connected
                and not tcp_transport._writeDisconnected
                and not tcp_transport.dataBuffer
                and not tcp_transport._tempDataLen
            ):
                # Nothing waits in the transport: send at once, rather than
                # buffer and wait for the reactor to say the socket is
                # writable (two epoll_ctl calls and a dispatch per write,
                # most of a broadcast's cost). Whatever the kernel does not
                # take, or an error, goes the transport's usual way. (A
                # broadcast may still reach a connection lost meanwhile.)
                sent = tcp_transport.writeSomeData(data)
                if isinstance(sent, int) and sent > 0:
                    if sent == len(data):
                        return
                    data = data[sent:]
            self.transport.write(data)
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > self.factory.limits.sendq > 0:
            self.drop(
                f"output buffer full ({self._queued} bytes waiting): the peer "
                "reads too slowly"
            )

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        queue, self._queue, self._queued = self._queue, [], 0
        if queue and not self.dropped:
            self.transport.writeSequence(queue)

    def stopProducing(self) -> None:
        self._queue, self._queued = [], 0

    def render(self, event: Event) -> bytes:
        return self.broadcaster.renderer.render(event)

    def deliver(self, event: Event) -> None:
        self.write(self.render(event))
        if self.dropped and self.session is not None:
            # Tell the fan-out: it drops us after its loop, without a traceback.
            raise DeliveryRefused("output buffer full")

    def disconnect(self) -> None:
        self.transport.loseConnection()

    def drop(self, why: str, tell: bool = False) -> None:
        """Cut the connection at once, for a reason that is logged."""
        if self.dropped:
            return
        self.log.warn("dropping {peer}: {why}", peer=self.peer, why=why)
        if tell:
            self.refuse(why)
        self.dropped = True
        if tell:  # the peer is reading: let the reason reach it
            self.transport.loseConnection()
        else:
            self.transport.abortConnection()
