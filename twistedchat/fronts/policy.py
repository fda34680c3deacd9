"""
The connection policy: the limits that keep one peer from hurting the others,
whatever its transport (a TCP stream, a WebSocket) and its wire format.

Each front's connection holds one L{ConnectionPolicy} and tells it when input
came (L{ConnectionPolicy.heard}), asks it whether one more line or frame may
be acted on (L{ConnectionPolicy.allow}), and says when its client introduced
itself (L{ConnectionPolicy.registered}). The policy answers through the
connection's L{Peer} methods, in the connection's own words:

 - connections in total and per source address (one L{ConnectionCounter}
   for every front of a server);
 - registration timeout, for fronts where a client must introduce itself;
 - idle detection: after C{idle_timeout} seconds of silence a ping, and no
   answer within C{ping_timeout} drops the peer;
 - flood control: a token bucket of C{flood_rate} per second and
   C{flood_burst}; input beyond it is refused with a notice, and a peer that
   keeps flooding (C{flood_strikes} refusals in a row) is dropped.

The output budget (IRC's sendq) belongs to the output (L{twistedchat.fronts.
output}): it depends on how bytes leave, not on what the peer may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime


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


class Peer(Protocol):
    """What the policy asks of the connection it watches."""

    def send_ping(self) -> bool:
        """Ask the peer to answer; False if this front has no ping."""

    def flooded(self) -> None:
        """Tell the peer its input was dropped by flood control."""

    def drop(self, why: str, tell: bool = False) -> None:
        """Cut the connection, for a reason that is logged (and told, if C{tell})."""


class ConnectionPolicy:
    """The limits of one connection, from its admission to its end."""

    __slots__ = (
        "_admitted",
        "_clock",
        "_connections",
        "_host",
        "_idle_call",
        "_last_input",
        "_peer",
        "_pinged",
        "_refilled",
        "_registration_call",
        "_strikes",
        "_tokens",
        "limits",
    )

    def __init__(
        self,
        peer: Peer,
        host: str,
        clock: IReactorTime,
        limits: Limits,
        connections: ConnectionCounter,
    ) -> None:
        self._peer = peer
        self._host = host
        self._clock = clock
        self.limits = limits
        self._connections = connections
        self._admitted = False
        self._tokens = float(limits.flood_burst)
        self._strikes = 0
        self._refilled = self._last_input = clock.seconds()
        self._pinged = False
        self._idle_call: IDelayedCall | None = None
        self._registration_call: IDelayedCall | None = None

    def admit(self, needs_registration: bool) -> str | None:
        """
        Count the connection and start its clocks; or say why it is refused
        (and count nothing).
        """
        why = self._connections.admit(self._host)
        if why is not None:
            return why
        self._admitted = True
        limits = self.limits
        if needs_registration and limits.registration_timeout:
            self._registration_call = self._clock.callLater(
                limits.registration_timeout, self._registration_expired
            )
        if limits.idle_timeout:
            self._idle_call = self._clock.callLater(
                limits.idle_timeout, self._check_idle
            )
        return None

    def end(self) -> None:
        """The connection is gone: stop the clocks, uncount it."""
        for call in (self._idle_call, self._registration_call):
            if call is not None and call.active():
                call.cancel()
        self._idle_call = self._registration_call = None
        if self._admitted:
            self._connections.release(self._host)
            self._admitted = False

    def registered(self) -> None:
        """The client introduced itself: no more registration deadline."""
        if self._registration_call is not None and self._registration_call.active():
            self._registration_call.cancel()
        self._registration_call = None

    def _registration_expired(self) -> None:
        self._registration_call = None
        self._peer.drop(
            f"registration timeout ({self.limits.registration_timeout:g} s)",
            tell=True,
        )

    # Input: idle detection and flood control

    def heard(self) -> None:
        """Some input came: the peer is alive."""
        self._last_input = self._clock.seconds()
        self._pinged = False

    def _check_idle(self) -> None:
        limits = self.limits
        silent = self._clock.seconds() - self._last_input
        if self._pinged and silent >= limits.ping_timeout:
            self._idle_call = None
            self._peer.drop(
                f"ping timeout ({silent:.0f} s without an answer)", tell=True
            )
            return
        if (
            not self._pinged
            and silent >= limits.idle_timeout
            and self._peer.send_ping()
        ):
            self._pinged = True
            self._last_input = self._clock.seconds()
            wait = limits.ping_timeout
        else:
            wait = max(1.0, limits.idle_timeout - silent)
        self._idle_call = self._clock.callLater(wait, self._check_idle)

    def allow(self, cost: int = 1) -> bool:
        """
        Whether one more line or frame may be acted on (token bucket): it
        costs C{cost} tokens (a picture costs more than a line).
        """
        limits = self.limits
        if not limits.flood_rate:
            return True
        now = self._clock.seconds()
        self._tokens = min(
            float(limits.flood_burst),
            self._tokens + (now - self._refilled) * limits.flood_rate,
        )
        self._refilled = now
        if self._tokens >= cost:
            self._tokens -= cost
            self._strikes = 0
            return True
        self._strikes += 1
        if limits.flood_strikes and self._strikes >= limits.flood_strikes:
            self._peer.drop("flooding", tell=True)
        else:
            self._peer.flooded()
        return False
