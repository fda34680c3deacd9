"""
The framed front: our own binary protocol, spoken by the twistedchat client.

Each frame is an C{Int32StringReceiver} string decoded by L{twistedchat.codec};
requests dispatch to C{handle_<FrameName>} methods that call the core (shared
with the web front: L{twistedchat.fronts.requests}), and core events become
frames rendered once per front. A bad frame gets an L{Error}
frame and changes nothing; only an oversized frame or an incompatible version
closes the connection. Taking a nick and joining rooms are awaited: with a
shared state they would be answered later, and the frames after them wait.
docs/PROTOCOL.md describes the wire format.
"""

from __future__ import annotations

from twisted.protocols.basic import Int32StringReceiver

from .. import codec
from ..codec import ErrorCode, Frame, frame_bytes, milliseconds
from ..core.events import (
    AwayChanged,
    Event,
    Image,
    Invited,
    InviteSeen,
    Joined,
    Kicked,
    Killed,
    Message,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RealnameChanged,
    Tagged,
    TopicChanged,
)
from ..core.service import ChatService
from .base import Front
from .policy import ConnectionCounter, Limits
from .requests import ERROR_CODES, FrameRequests, error_details

__all__ = ["ERROR_CODES", "FramedFront", "FramedProtocol", "error_details"]


def render_event(event: Event) -> bytes:
    """C{event} as the bytes of its frame, length prefix included."""
    frame = event_frame(event)
    return b"" if frame is None else frame_bytes(frame)


def event_frame(event: Event) -> Frame | None:
    """The frame that tells a framed client about C{event}, if any."""
    time = milliseconds(event.time)
    match event:
        case Message():
            if event.action:
                return codec.Acted(time, event.room, event.user, event.text)
            return codec.Said(time, event.room, event.user, event.text)
        case PrivateMessage():
            if event.action:
                return codec.ActedPrivately(time, event.user, event.to, event.text)
            return codec.Whispered(time, event.user, event.to, event.text)
        case Image():
            return codec.ImageShown(time, event.room, event.user, event.art)
        case Joined():
            return codec.Entered(
                time, event.room, event.user, event.arrival, event.returning
            )
        case Parted():
            return codec.Left(time, event.room, event.user, event.reason)
        case Quit():
            return codec.Gone(time, event.user, event.message)
        case NickChanged():
            return codec.Renamed(time, event.old, event.user)
        case Kicked():
            return codec.KickedOut(time, event.room, event.user, event.by, event.reason)
        case Killed():
            return codec.KilledOff(time, event.user, event.by, event.message)
        case TopicChanged():
            return codec.TopicSet(time, event.room, event.user, event.topic)
        case ModeChanged():
            changes = " ".join(
                f"{mode} {argument}".strip() for mode, argument in event.changes
            )
            return codec.ModesSet(time, event.room, event.user, changes)
        case Invited():
            return codec.Invitation(time, event.user, event.room)
        case Tagged() | AwayChanged() | RealnameChanged() | InviteSeen():
            return None  # for IRC clients only


class FramedProtocol(Int32StringReceiver, FrameRequests):
    """One twistedchat client connection."""

    factory: FramedFront
    _closing = False
    _pings = 0

    def connectionMade(self) -> None:
        super().connectionMade()
        if not self.admitted:
            return
        self.MAX_LENGTH = self.factory.max_frame
        self.log.info('client connected "{peer}" (framed)', peer=self.peer)

    def disconnect(self) -> None:
        self._close()

    def hold_input(self) -> None:
        # The receiver's own pause: it keeps the frames that come meanwhile.
        self.pauseProducing()  # type: ignore[no-untyped-call]

    def release_input(self) -> None:
        self.resumeProducing()  # type: ignore[no-untyped-call]

    # Frames in

    def dataReceived(self, data: bytes) -> None:
        if self._closing or self.dropped:  # after a fatal error, nothing more
            return
        if data:
            self.policy.heard()
        super().dataReceived(data)  # type: ignore[no-untyped-call]

    def lengthLimitExceeded(self, length: int) -> None:
        self.fail(
            ErrorCode.TOO_LARGE,
            f"frame of {length} bytes is over the limit of {self.MAX_LENGTH}",
            fatal=True,
        )

    def stringReceived(self, payload: bytes) -> None:
        if self._closing or self.dropped or not self.policy.allow():
            return
        try:
            frame = codec.decode(payload)
        except codec.UnknownFrameType as e:
            self.fail(ErrorCode.UNKNOWN_TYPE, str(e))
            return
        except codec.CodecError as e:
            self.fail(ErrorCode.MALFORMED, str(e))
            return
        self.act_on(frame)

    # Frames out

    def send(self, frame: Frame) -> None:
        self.write(frame_bytes(frame))

    def refuse(self, why: str) -> None:
        self.send(codec.Error(ErrorCode.LIMIT, why, fatal=True))

    def flooded(self) -> None:
        self.send(codec.Error(ErrorCode.FLOODING, "slow down: frame ignored"))

    def send_ping(self) -> bool:
        self._pings += 1
        self.send(codec.Ping(self._pings))
        return True

    def _close(self) -> None:
        self._closing = True
        self.transport.loseConnection()


class FramedFront(Front[FramedProtocol]):
    """Builds a L{FramedProtocol} per connection; all share one L{ChatService}."""

    protocol = FramedProtocol

    def __init__(
        self,
        service: ChatService,
        max_frame: int = codec.DEFAULT_MAX_FRAME,
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
    ) -> None:
        super().__init__(service, render_event, limits, connections)
        self.max_frame = max_frame
