"""
The web front's hot path, a room message in and out: the short cuts taken
there (a said event's JSON in one expression, a whole message handed over
without Autobahn's per-message observers) give what the general code gives.
"""

from __future__ import annotations

import json
import os

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core.events import User
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.policy import Limits
from twistedchat.fronts.web.messages import GENERIC_SAID, to_json
from twistedchat.fronts.web.protocol import WebFront

from .test_web_log import UPGRADE, masked

TEXTS = [
    "hello",
    'he said "hi" \\o/',
    "tab\there, bell\x07, nul\x00, line\nbreak",
    "déjà vu, 日本語, 🎉 and a lone \ud800 surrogate",
    "</script><img src=x onerror=alert(1)>",
    "x" * 5000,
    "",
]


class SaidJsonTests(SynchronousTestCase):
    def test_said_as_the_general_encoder_writes_it(self) -> None:
        """
        Quotes, backslashes, control characters, non-ASCII text, odd nicks:
        a said event's JSON is the general encoder's, byte for byte, and
        reads back as the event.
        """
        for text in TEXTS:
            for nick, colour in [("toto", 31), ('a"b\\', 130), ("émile", 7)]:
                user = User("0123456789abcdef", nick, colour)
                said = codec.Said(1_700_000_000_123, "général", user, text)
                self.assertEqual(to_json(said), GENERIC_SAID(said))
                self.assertEqual(
                    json.loads(to_json(said)),
                    {
                        "type": "said",
                        "time": 1_700_000_000_123,
                        "room": "général",
                        "user": {
                            "id": "0123456789abcdef",
                            "nick": nick,
                            "colour": colour,
                        },
                        "text": text,
                    },
                )


def fragment(payload: bytes, opcode: int, final: bool) -> bytes:
    """One masked client frame of a message in several (C{opcode} 0: continued)."""
    key = os.urandom(4)
    body = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    return bytes(((0x80 if final else 0) | opcode, 0x80 | len(payload))) + key + body


class WholeMessageTests(SynchronousTestCase):
    def test_a_message_in_several_frames_is_one_message(self) -> None:
        """
        A say sent in three frames (a text frame and two continuations, read
        apart) is acted on once, whole; the next message as well.
        """
        service = ChatService(Clock(), "general", delivery=Fanout())
        front = WebFront(service, limits=Limits(registration_timeout=0))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5000))
        protocol = front.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        protocol.dataReceived(UPGRADE)
        version = codec.PROTOCOL_VERSION
        hello = {
            "type": "hello",
            "version": version,
            "nick": "toto",
            "rooms": ["general"],
        }
        protocol.dataReceived(masked(hello))
        front.outbox.flush()
        transport.clear()
        say = b'{"type":"say","room":"general","text":"in three pieces"}'
        protocol.dataReceived(fragment(say[:10], 0x1, False))
        protocol.dataReceived(fragment(say[10:30], 0x0, False))
        protocol.dataReceived(
            fragment(say[30:], 0x0, True)
            + masked({"type": "say", "room": "general", "text": "then one"})
        )
        front.outbox.flush()
        out = transport.value()
        self.assertEqual(out.count(b'"type":"said"'), 2, out)
        self.assertEqual(out.count(b'"text":"in three pieces"'), 1, out)
        self.assertIn(b'"text":"then one"', out)
        self.assertNotIn(b'"type":"error"', out)
