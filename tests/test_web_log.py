"""
The web front's log: what a WebSocket connection writes to the server's log.

Autobahn logs through the protocol's C{log}, and tells each read, frame and
state change at debug level. twistd writes every level to its log, so each
of those became a line of the server's log: a score per connection, one per
read of a chatting browser (a formatted line per message, which cost the
web front a quarter of its fan-out throughput), and a C{Traceback} in the
line of every ordinary disconnection. Only the front's own lines are kept.
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.policy import Limits
from twistedchat.fronts.web.protocol import WebFront, WebProtocol

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8080\r\n\r\n"
)


def masked(message: dict[str, Any]) -> bytes:
    """A client's text frame holding C{message} (short), masked as it must be."""
    payload = json.dumps(message).encode()
    key = os.urandom(4)
    body = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + key + body


def tab_in_general(front: WebFront) -> tuple[WebProtocol, StringTransport]:
    """A connection of C{front}'s, upgraded, whose user toto is in #general."""
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5000))
    protocol = front.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    protocol.dataReceived(UPGRADE)
    hello = {
        "type": "hello",
        "version": codec.PROTOCOL_VERSION,
        "nick": "toto",
        "rooms": ["general"],
    }
    protocol.dataReceived(masked(hello))
    return protocol, transport


class WebLogTests(SynchronousTestCase):
    def test_a_chatting_connection_logs_only_the_fronts_lines(self) -> None:
        """
        A browser connects, says hello, chats and goes: the log has the
        front's lines (connected, named, disconnected), and nothing at debug
        level, that is none of Autobahn's.
        """
        events: list[dict[str, Any]] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        front = WebFront(
            ChatService(Clock(), "general", delivery=Fanout()),
            limits=Limits(registration_timeout=0),
        )
        protocol, transport = tab_in_general(front)
        self.assertIn(b"101 Switching Protocols", transport.value())
        for n in range(3):
            protocol.dataReceived(
                masked({"type": "say", "room": "general", "text": f"hello {n}"})
            )
        front.outbox.flush()
        self.assertIn(b"hello 2", transport.value())
        protocol.connectionLost(None)
        texts = [str(event.get("log_format")) for event in events]
        self.assertIn('client connected "{peer}" (web)', texts)
        debug = [
            event.get("log_format")
            for event in events
            if event.get("log_level") == LogLevel.debug
        ]
        self.assertEqual(debug, [])
