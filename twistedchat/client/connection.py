"""
The client's side of the framed protocol: frames in and out of one connection.

L{ServerConnection} only decodes and encodes; what the frames mean is the
business of whoever it reports to (an L{IServerListener}, the console). A
frame it cannot decode is reported as an error, never raised.

Over TLS the connection is reported as made once TCP is up, before the
handshake; a handshake that fails ends it like any lost connection, with a
reason that L{secure_connection_refused} tells apart from a network failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
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

    def disconnected(reason: Failure | None = None) -> None:
        """The connection is gone, for C{reason} when known."""


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
        self.factory.listener.disconnected(reason)

    def send(self, frame: Frame) -> None:
        self.transport.write(frame_bytes(frame))  # type: ignore[union-attr]

    def close(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]


class ServerConnectionFactory(Factory[ServerConnection]):
    protocol = ServerConnection

    def __init__(self, listener: IServerListener) -> None:
        self.listener = listener


class TLSProblem(Enum):
    UNTRUSTED = "untrusted"  # no trusted authority vouches for the certificate
    WRONG_HOST = "wrong host"  # the certificate is another server's
    HANDSHAKE = "handshake"  # anything else, e.g. the port does not speak TLS


@dataclass(frozen=True)
class SecureConnectionRefused:
    """Why a TLS handshake failed for good: trying again cannot help."""

    problem: TLSProblem
    detail: str


def secure_connection_refused(reason: Failure) -> SecureConnectionRefused | None:
    """
    What the failed handshake behind C{reason} refused, or None when the
    connection was merely lost (then it may work next time).
    """
    error = reason.value
    if isinstance(error, VerificationError):
        # Twisted checks the name with service_identity once the chain is trusted.
        names = ", ".join(_identity(m.mismatched_id) for m in error.errors)
        return SecureConnectionRefused(TLSProblem.WRONG_HOST, names)
    if isinstance(error, CertificateError):  # e.g. a certificate naming no host
        return SecureConnectionRefused(TLSProblem.WRONG_HOST, str(error))
    if isinstance(error, SSL.Error) and not isinstance(error, SSL.SysCallError):
        # OpenSSL's queue of (library, function, reason); a peer that goes away
        # mid-handshake is a ConnectionLost or a SysCallError instead.
        reasons = [
            str(entry[-1])
            for entry in (error.args[0] if error.args else [])
            if isinstance(entry, tuple) and entry
        ]
        detail = ", ".join(reasons) or str(error)
        problem = (
            TLSProblem.UNTRUSTED
            if "certificate verify failed" in reasons
            else TLSProblem.HANDSHAKE
        )
        return SecureConnectionRefused(problem, detail)
    return None


def _identity(identity: object) -> str:
    """The name or address in a service_identity C{DNS_ID} or C{IPAddress_ID}."""
    hostname = getattr(identity, "hostname", None)
    if isinstance(hostname, bytes):
        return hostname.decode("ascii", "replace")
    ip = getattr(identity, "ip", None)
    return str(ip) if ip is not None else str(identity)
