"""
What every front's connection shares: its session, and delivery rendered once.

A front's protocol mixes in L{SessionProtocol}; its factory holds the shared
L{ChatService} and a L{RenderOnce} built from the front's own event renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, ITCPTransport
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core.events import Event
from ..core.service import ChatService, IChatClient, Session


class RenderOnce:
    """
    A front's renderer, remembering its last event.

    The fan-out hands the same event to every member in turn, so each event is
    rendered once per front, not once per member.
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


class FrontFactory(Protocol):
    service: ChatService
    renderer: RenderOnce


def describe_peer(address: IAddress) -> str | None:
    """C{host:port} (C{[host]:port} for IPv6), or None for other addresses."""
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    return None


@implementer(IChatClient)
class SessionProtocol(TwistedProtocol):
    """The session side of a front's connection (mixed in before the receiver)."""

    log: ClassVar[Logger] = Logger()

    factory: FrontFactory
    transport: ITCPTransport
    session: Session | None = None
    peer: str | None = None

    def connectionMade(self) -> None:
        # Small writes must not wait for the peer's delayed ACK.
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        self.peer = describe_peer(self.transport.getPeer())

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.session is not None:
            self.factory.service.disconnect(self.session)
            self.session = None

    def deliver(self, event: Event) -> None:
        self.transport.write(self.factory.renderer.render(event))

    def disconnect(self) -> None:
        self.transport.loseConnection()
