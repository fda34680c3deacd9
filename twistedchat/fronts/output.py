"""
A connection's output as a byte stream: in order with its front's broadcasts,
within a slow reader's budget.

L{StreamOutput} is the producer of its transport: when the transport's buffer
is full (the peer reads too slowly), what comes is queued and counted, and
past C{Limits.sendq} bytes the peer is dropped, so a peer that never reads
cannot make the server grow. A write first lets the front's outbox write what
it owes this connection (L{twistedchat.fronts.fanout.Outbox}), so replies
never overtake the room events before them. The web front's WebSocket
frames are such bytes too (a server's frames are not masked): it writes them
through this output on the TCP transport under the WebSocket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from twisted.internet import tcp
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IConsumer, IPushProducer, ITransport
from zope.interface import implementer

from ..core.session import Session
from .fanout import Outbox
from .policy import Limits
from .tcpwrite import write_now


@implementer(IPushProducer)
class StreamOutput:
    """The bytes one connection sends, and their budget while the peer is slow."""

    __slots__ = (
        "_limits",
        "_on_overflow",
        "_outbox",
        "_paused",
        "_queue",
        "_queued",
        "_resumed",
        "_tcp",
        "_transport",
        "closed",
    )

    def __init__(
        self,
        transport: ITransport,
        outbox: Outbox,
        limits: Limits,
        on_overflow: Callable[[str], None],
    ) -> None:
        """C{on_overflow(why)} is called when the peer must be dropped."""
        self._transport = transport
        # A plain TCP transport may be written to at once (see write_now).
        self._tcp = transport if type(transport) is tcp.Server else None
        self._outbox = outbox
        self._limits = limits
        self._on_overflow = on_overflow
        self._paused = False
        self._queue: list[bytes] = []
        self._queued = 0
        self._resumed: list[Deferred[None]] = []
        self.closed = False  # nothing more is sent
        # Told when the transport's buffer is full, and when it drains.
        cast(IConsumer, transport).registerProducer(self, True)

    def write(self, data: bytes, session: Session | None) -> None:
        """Write after what the front's broadcasts owe C{session}'s connection."""
        outbox = self._outbox
        if outbox.pending and (session is None or outbox.owes(session)):
            outbox.flush()
        self.transmit(data)

    def transmit(self, data: bytes) -> None:
        """Write to the peer now, or queue while its transport is full."""
        if self.closed:
            return
        if not self._paused:
            if self._tcp is not None:
                # Nothing waits in the transport: send at once, rather than
                # wait for the reactor to say the socket is writable.
                data = write_now(self._tcp, data)
                if not data:
                    return
            self._transport.write(data)
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > self._limits.sendq > 0:
            self._on_overflow(
                f"output buffer full ({self._queued} bytes waiting): the peer "
                "reads too slowly"
            )

    def drained(self) -> Deferred[None]:
        """Fires once the transport takes what it is given (at once if it does)."""
        if not self._paused or self.closed:
            return succeed(None)
        waiting: Deferred[None] = Deferred()
        self._resumed.append(waiting)
        return waiting

    # IPushProducer, for the transport

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        queue, self._queue, self._queued = self._queue, [], 0
        if queue and not self.closed:
            self._transport.writeSequence(queue)
        waiting, self._resumed = self._resumed, []
        for drained in waiting:
            drained.callback(None)

    def stopProducing(self) -> None:
        self._queue, self._queued = [], 0
        self.closed = True
        waiting, self._resumed = self._resumed, []
        for drained in waiting:
            drained.callback(None)
