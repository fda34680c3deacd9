"""
The client's side of the framed protocol: frames in and out of one connection.

L{ServerConnection} decodes and encodes; what the frames mean is the business
of whoever it reports to (an L{IServerListener}, the console). A frame it
cannot decode is reported as an error, never raised. It keeps the connection
alive on its own: it answers the server's C{Ping} with a C{Pong}, and when the
server has been silent for C{keepalive} seconds it sends a C{Ping} of its own;
no word within C{keepalive} more seconds and it drops the connection, as lost
for L{ServerSilent} (a server that is stopped or gone without a word).
L{ReportedEndpoint} tells the listener about each attempt to connect, so that
a server that cannot be reached is said at once.

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
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
    ITCPTransport,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from .. import codec
from ..codec import Frame, frame_bytes
from .tls import CertificateForNoHost

# Frames from the server can be larger than what it accepts: history, lists.
MAX_FRAME_FROM_SERVER = 4 * 1024 * 1024
# An attempt to connect that takes longer than this is said to be slow.
SLOW_CONNECTION = 1.0


class ServerSilent(Exception):
    """The server said nothing, not even to our Ping, for C{seconds}."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer from the server in {seconds:g} s")
        self.seconds = seconds


class IServerListener(Interface):
    def connecting() -> None:
        """An attempt to connect to the server begins."""

    def still_connecting() -> None:
        """The attempt under way has had no answer for a while."""

    def connection_failed(reason: Failure) -> None:
        """The attempt failed (refused, unreachable, timed out) for C{reason}."""

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
    _keepalive_call: IDelayedCall | None = None
    _last_heard = 0.0
    _pinged = False
    _pings = 0
    _silent: ServerSilent | None = None

    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        # From the start: a server that accepts and then says nothing, not
        # even to a Ping, is as dead as one that stops answering later.
        self._last_heard = self.factory.clock.seconds()
        if self.factory.keepalive:
            self._keepalive_call = self.factory.clock.callLater(
                self.factory.keepalive, self._check_alive
            )
        self.factory.listener.connected(self)

    def dataReceived(self, data: bytes) -> None:
        self._last_heard = self.factory.clock.seconds()
        self._pinged = False
        super().dataReceived(data)  # type: ignore[no-untyped-call]

    def stringReceived(self, payload: bytes) -> None:
        try:
            frame = codec.decode(payload)
        except codec.CodecError as e:
            self.factory.listener.bad_frame(str(e))
            return
        if isinstance(frame, codec.Ping):
            self.send(codec.Pong(frame.token))
        self.factory.listener.frame_received(frame)

    def _check_alive(self) -> None:
        keepalive = self.factory.keepalive
        silent = self.factory.clock.seconds() - self._last_heard
        if self._pinged and silent >= keepalive:
            self._keepalive_call = None
            self.log.info(
                "the server said nothing for {silent:.1f} s, not even to our ping",
                silent=silent,
            )
            # Silent before our Ping, and as long after it.
            self._silent = ServerSilent(2 * keepalive)
            # Not loseConnection: a stopped server would never let it finish.
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        if not self._pinged and silent >= keepalive:
            self._pings += 1
            self.send(codec.Ping(self._pings))
            self._pinged = True
            self._last_heard = self.factory.clock.seconds()
            wait = keepalive
        else:
            wait = max(keepalive - silent, 0.1)
        self._keepalive_call = self.factory.clock.callLater(wait, self._check_alive)

    def lengthLimitExceeded(self, length: int) -> None:
        self.factory.listener.bad_frame(f"frame of {length} bytes, too large")
        self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._keepalive_call is not None and self._keepalive_call.active():
            self._keepalive_call.cancel()
        self._keepalive_call = None
        if self._silent is not None:
            reason = Failure(self._silent)
        self.factory.listener.disconnected(reason)

    def send(self, frame: Frame) -> None:
        self.transport.write(frame_bytes(frame))  # type: ignore[union-attr]

    def close(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]


class ServerConnectionFactory(Factory[ServerConnection]):
    """
    Connections reporting to C{listener}, kept alive by a Ping after
    C{keepalive} seconds of silence from the server (0: never) on C{clock}.
    """

    protocol = ServerConnection

    def __init__(
        self, listener: IServerListener, clock: IReactorTime, keepalive: float = 0
    ) -> None:
        self.listener = listener
        self.clock = clock
        self.keepalive = keepalive


@implementer(IStreamClientEndpoint)
class ReportedEndpoint:
    """
    C{endpoint}, telling C{listener} of each attempt to connect, of one that
    takes more than L{SLOW_CONNECTION} seconds, and of each failure.
    """

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        listener: IServerListener,
        clock: IReactorTime,
    ) -> None:
        self.endpoint = endpoint
        self.listener = listener
        self.clock = clock

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        self.listener.connecting()
        slow = self.clock.callLater(SLOW_CONNECTION, self.listener.still_connecting)
        attempt = self.endpoint.connect(protocolFactory)

        def done(result: IProtocol | Failure) -> IProtocol | Failure:
            if slow.active():
                slow.cancel()
            if isinstance(result, Failure):
                self.listener.connection_failed(result)
            return result

        return attempt.addBoth(done)


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
    if isinstance(error, CertificateForNoHost):  # no subjectAltName at all
        return SecureConnectionRefused(TLSProblem.WRONG_HOST, error.host)
    if isinstance(error, CertificateError):
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
