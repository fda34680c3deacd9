"""
The client's side of the framed protocol: frames in and out of one connection.

L{ServerConnection} only decodes and encodes; what the frames mean is the
business of whoever it reports to (an L{IServerListener}, the console). A
frame it cannot decode is reported as an error, never raised.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure
from zope.interface import Interface

from .. import codec
from ..codec import Frame, frame_bytes

# Frames from the server can be larger than what it accepts: history, lists.
MAX_FRAME_FROM_SERVER = 4 * 1024 * 1024


class IServerListener(Interface):
    def connected(connection: ServerConnection) -> None:
        """A connection to the server is up (nothing said yet)."""

    def frame_received(frame: Frame) -> None:
        """The server sent C{frame}."""

    def bad_frame(why: str) -> None:
        """The server sent something that is not a frame."""

    def disconnected() -> None:
        """The connection is gone."""


class ServerConnection(Int32StringReceiver):
    log: ClassVar[Logger] = Logger()
    MAX_LENGTH = MAX_FRAME_FROM_SERVER

    factory: ServerConnectionFactory

    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        self.factory.listener.connected(self)

    def stringReceived(self, payload: bytes) -> None:
        try:
            frame = codec.decode(payload)
        except codec.CodecError as e:
            self.factory.listener.bad_frame(str(e))
            return
        self.factory.listener.frame_received(frame)

    def lengthLimitExceeded(self, length: int) -> None:
        self.factory.listener.bad_frame(f"frame of {length} bytes, too large")
        self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.factory.listener.disconnected()

    def send(self, frame: Frame) -> None:
        self.transport.write(frame_bytes(frame))  # type: ignore[union-attr]

    def close(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]


class ServerConnectionFactory(Factory[ServerConnection]):
    protocol = ServerConnection

    def __init__(self, listener: IServerListener) -> None:
        self.listener = listener
