"""
The WebSocket front: the framed protocol's requests and events as JSON
messages, for the web page.

Autobahn does the WebSocket (handshake, framing, bounded message sizes, UTF-8
validation, ping and close), but for the plain text frames that carry
nearly every request, which the front reads itself for their cost
(L{WebProtocol._read_text_frames}); this front is the framed front's requests
(L{twistedchat.fronts.requests}) with the JSON spelling of
L{twistedchat.fronts.web.messages}, on the fronts' shared parts: the
connection policy (admission, registration timeout, idle pings as WebSocket
pings, flood control) and the stream output (the transport's producer, a
slow reader's budget). An event is rendered once per front into the complete
bytes of an unmasked WebSocket text frame and written, like everything this
connection sends (Autobahn's handshake, pings and close frames included),
through the output, in order with the front's broadcasts.

The upgrade comes through the web site (L{twistedchat.fronts.web.site}): its
resource checks the Origin and hands the HTTP connection's transport to a
L{WebProtocol}.
"""

from __future__ import annotations

from typing import Any, cast

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from txaio._common import _BatchedTimer

from ... import codec
from ...codec import ErrorCode, Frame
from ...core.events import Event, Image
from ...core.service import ChatService
from ..base import Front
from ..framed import event_frame
from ..policy import ConnectionCounter, Limits
from ..requests import FrameRequests
from .media import (
    PictureStore,
    SendPicture,
    message_size,
    take_picture,
    with_picture_path,
)
from .messages import BadMessage, frame_message, request, to_json, websocket_frame

OPEN = WebSocketProtocol.STATE_OPEN
CONNECTING = WebSocketProtocol.STATE_CONNECTING
# Close codes (RFC 6455, 7.4.1).
NORMAL = 1000
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
# The first two bits of a frame read by WebProtocol._read_text_frames: FIN
# with no extension bit and the text opcode; the mask bit.
FINAL_TEXT_FRAME = 0x81
MASKED = 0x80


def render_event(event: Event) -> bytes:
    """C{event} as the bytes of the WebSocket message that tells it."""
    frame = event_frame(event)
    if frame is None:
        return b""
    if type(event) is Image:  # image_shown: and the picture itself, if stored
        return websocket_frame(with_picture_path(to_json(frame), event.picture))
    return frame_message(frame)


class QuietLogger(Logger):
    """
    The front's log, which Autobahn writes to as well: Autobahn tells each
    read, frame and state change at debug level, a line of the server's log
    each (a score per connection), which nobody running a chat needs.
    """

    def debug(self, format: str | None = None, **kwargs: object) -> None:
        pass


class WebProtocol(WebSocketServerProtocol, FrameRequests):  # type: ignore[misc]
    """One browser tab (or any WebSocket client) speaking the JSON protocol."""

    log = QuietLogger()  # type: ignore[misc]
    factory: WebFront
    _closing = False
    _pings = 0
    # Messages that came while a command finishes (see hold_input).
    _held: list[tuple[bytes, bool]] | None = None
    # The start of a text frame read by this front, not Autobahn, whose
    # end has not come yet.
    _partial = b""

    def connectionMade(self) -> None:
        WebSocketServerProtocol.connectionMade(self)
        FrameRequests.connectionMade(self)  # admission, policy, output
        if self.admitted:
            self.log.info('client connected "{peer}" (web)', peer=self.peer)

    def connectionLost(self, reason: Failure | None = connectionDone) -> None:
        WebSocketServerProtocol.connectionLost(self, reason or connectionDone)
        FrameRequests.connectionLost(self, reason)

    def sendData(
        self, data: bytes, sync: bool = False, chopsize: int | None = None
    ) -> None:
        # Autobahn's own bytes (handshake, pings, close) go through the
        # output too: in order with the rest, and counted while the peer is slow.
        self.write(data)

    def disconnect(self) -> None:
        self._close()

    # Messages in

    def dataReceived(self, data: bytes) -> None:
        if self.dropped:
            return
        if data and self.admitted:
            self.policy.heard()  # a pong, or anything: the peer is alive
        if self._partial:
            data, self._partial = self._partial + data, b""
        if (
            self.state == OPEN
            and self.current_frame is None
            and not self.inside_message
            and not self.data
        ):
            # Autobahn is between messages: the plain ones are read here.
            data = self._read_text_frames(data)
            if not data:
                return
        WebSocketServerProtocol.dataReceived(self, data)

    def _read_text_frames(self, data: bytes) -> bytes:
        """
        Act on the messages at the start of C{data} that are each one whole,
        masked, unfragmented text frame of at most 65535 bytes of valid UTF-8
        (every request a page sends but the largest pictures); keep an
        incomplete one for the next read; return the rest, from the first
        frame that is anything else (a ping, a close, a fragment, a binary,
        invalid or larger frame), for Autobahn to read and judge.

        Autobahn reads a frame through a state machine, a masking object and
        a UTF-8 validator of its own, which cost as much as the core's
        whole handling of a message; this is the same check of a simple
        frame in a few operations, so the web front's requests cost about
        what the framed front's do (benchmarks/fanout.py).
        """
        start, end = 0, len(data)
        while start < end:
            if self.state != OPEN or self.dropped:  # closing: Autobahn's part
                return b"" if self.dropped else data[start:]
            if end - start < 2:
                break
            if data[start] != FINAL_TEXT_FRAME or not data[start + 1] & MASKED:
                return data[start:]
            length = data[start + 1] & 0x7F
            header = start + 2
            if length == 126:
                if end - start < 4:
                    break
                length = int.from_bytes(data[header : header + 2], "big")
                header += 2
            elif length == 127:
                return data[start:]
            payload = header + 4
            stop = payload + length
            if stop > end:
                break
            mask = int.from_bytes(data[header:payload] * ((length >> 2) + 1), "little")
            masked = int.from_bytes(data[payload:stop], "little")
            text = (masked ^ mask).to_bytes(length + 4, "little")[:length]
            try:
                text.decode("utf-8")
            except UnicodeDecodeError:
                return data[start:]  # Autobahn closes with 1007
            start = stop
            self.onMessage(text, False)
        self._partial = data[start:]
        return b""

    def onMessageEnd(self) -> None:
        # Autobahn's own also fires a "message" event to its observers, a
        # Deferred per message, a sixth of its work per message: nothing here
        # observes it.
        if not self.failedByMe:
            self.onMessage(b"".join(self.message_data), self.message_is_binary)
        self.message_data = None  # type: ignore[assignment]  # as Autobahn does

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self._closing or self.dropped:
            return
        if self._held is not None:
            self._held.append((payload, isBinary))
            return
        self.message(payload, isBinary)

    def message(self, payload: bytes, binary: bool) -> None:
        """Act on one message of the client's."""
        if not self.policy.allow():
            return
        if binary:
            self.fail(
                ErrorCode.MALFORMED,
                "binary messages are not understood: send JSON objects as text",
            )
            return
        try:
            # UTF-8: checked by _read_text_frames or by Autobahn.
            frame = request(payload.decode("utf-8"))
        except BadMessage as e:
            self.fail(e.code, str(e))
            return
        if len(payload) > self.factory.max_message and type(frame) is not SendPicture:
            # Only a picture may be as large as Autobahn lets messages be:
            # any other closes the connection as Autobahn would have.
            self._closing = True
            self.close_with(
                MESSAGE_TOO_BIG,
                f"message of {len(payload)} bytes is over the limit of "
                f"{self.factory.max_message}",
            )
            return
        self.act_on(frame)

    def hold_input(self) -> None:
        # Autobahn hands over every message of what was read at once: those
        # after the one being acted on wait here, and the socket is not read.
        self._held = []
        cast(IPushProducer, self.transport).pauseProducing()

    def release_input(self) -> None:
        held, self._held = self._held or [], None
        cast(IPushProducer, self.transport).resumeProducing()
        while held and self._held is None and not (self._closing or self.dropped):
            self.message(*held.pop(0))
        if held and self._held is not None:  # held again: the rest still waits
            self._held[:0] = held

    async def handle_SendPicture(self, frame: SendPicture) -> None:
        session = self._session()
        taken = take_picture(self.factory.pictures, session, self.policy, frame)
        if taken is not None:
            picture = await taken
            if self.session is session:  # still here once it is stored
                self.factory.service.show_image(
                    session, frame.room, picture.art, picture.name
                )

    # Messages out

    def send(self, frame: Frame) -> None:
        if self.state == OPEN:
            self.write(frame_message(frame))

    def refuse(self, why: str) -> None:
        if self.state == OPEN:
            self.send(codec.Error(ErrorCode.LIMIT, why, fatal=True))
            self.close_with(POLICY_VIOLATION, why)
        elif self.state == CONNECTING:  # refused before the handshake
            self.sendHttpErrorResponse(  # type: ignore[no-untyped-call]
                503, why, [("Content-Length", "0"), ("Connection", "close")]
            )

    def flooded(self) -> None:
        self.send(codec.Error(ErrorCode.FLOODING, "slow down: message ignored"))

    def send_ping(self) -> bool:
        if self.state != OPEN:
            return False
        self._pings += 1
        self.sendPing(str(self._pings).encode("ascii"))
        return True

    def close_with(self, code: int, why: str = "") -> None:
        """
        Start the closing handshake with C{code} (Autobahn's C{sendClose}
        takes only 1000 and the private codes); the peer's answer, or its
        timeout, closes the connection.
        """
        reason = why.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
        self.sendCloseFrame(code, reason)

    def _close(self) -> None:
        self._closing = True
        if self.state == OPEN:
            self.close_with(NORMAL)
        else:
            self.transport.loseConnection()


class WebFront(Front[WebProtocol], WebSocketServerFactory):
    """
    Builds a L{WebProtocol} per WebSocket; all share one L{ChatService}.
    C{max_message} bounds a client's message (a larger one closes the
    connection with code 1009), but for a picture (C{send_picture}) for
    C{pictures}, the store of the pictures sent (L{PictureStore}; none:
    pictures are refused).
    """

    protocol = WebProtocol

    def __init__(
        self,
        service: ChatService,
        max_message: int = codec.DEFAULT_MAX_FRAME,
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
        pictures: PictureStore | None = None,
    ) -> None:
        Front.__init__(self, service, render_event, limits, connections)
        WebSocketServerFactory.__init__(self, reactor=service.clock)
        self.max_message = max_message
        self.pictures = pictures
        largest = max_message
        if pictures is not None:
            largest = max(max_message, message_size(pictures.limits.bytes))
        self.setProtocolOptions(  # type: ignore[no-untyped-call]
            maxFramePayloadSize=largest,
            maxMessagePayloadSize=largest,
            # The handshake request is whole when the site hands it over.
            openHandshakeTimeout=0,
            # Pings are the connection policy's (idle, then ping timeout).
            autoPingInterval=0,
            # A bad frame or a too large message: a close frame with its code.
            failByDrop=False,
            webStatus=False,
        )
        # Autobahn's timers (the close handshake's) on the service's clock.
        clock = service.clock
        self._batched_timer = _BatchedTimer(
            200.0,
            1000,
            seconds_provider=clock.seconds,
            delayed_call_creator=clock.callLater,
        )

    def buildProtocol(self, addr: Any) -> WebProtocol:
        return cast(WebProtocol, Front.buildProtocol(self, addr))
