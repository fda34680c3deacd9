"""
The web front's hot path, a room message in and out: the short cuts taken
there (a said event's JSON in one expression, a whole message handed over
without Autobahn's per-message observers) give what the general code gives.
"""

from __future__ import annotations

import json
import os
import random
from itertools import pairwise

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core.events import User
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.policy import Limits
from twistedchat.fronts.web.messages import GENERIC_SAID, to_json
from twistedchat.fronts.web.protocol import WebFront

from .test_web_front import _read_frames as read_frames
from .test_web_log import masked, tab_in_general

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
        front = WebFront(
            ChatService(Clock(), "general", delivery=Fanout()),
            limits=Limits(registration_timeout=0),
        )
        protocol, transport = tab_in_general(front)
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


def client_frame(payload: bytes, opcode: int = 0x1, final: bool = True) -> bytes:
    """One masked client frame of any length (7, 16 or 64-bit length)."""
    key = os.urandom(4)
    body = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    first = bytes(((0x80 if final else 0) | opcode,))
    if len(payload) < 126:
        length = bytes((0x80 | len(payload),))
    elif len(payload) < 1 << 16:
        length = bytes((0x80 | 126,)) + len(payload).to_bytes(2, "big")
    else:
        length = bytes((0x80 | 127,)) + len(payload).to_bytes(8, "big")
    return first + length + key + body


def say(text: str) -> bytes:
    return json.dumps({"type": "say", "room": "general", "text": text}).encode()


class FrameReadingTests(SynchronousTestCase):
    """
    The front reads plain text frames itself and leaves every other frame
    to Autobahn (WebProtocol._read_text_frames): whatever the frames and
    however the stream is cut, the messages are those Autobahn alone would
    give, in order.
    """

    def setUp(self) -> None:
        service = ChatService(Clock(), "general", delivery=Fanout())
        self.front = WebFront(
            service, max_message=100_000, limits=Limits(registration_timeout=0)
        )
        self.protocol, self.transport = tab_in_general(self.front)
        self.front.outbox.flush()
        self.transport.clear()

    def said(self) -> list[str]:
        """The texts the front said back (its user's echo), in order."""
        self.front.outbox.flush()
        return [
            json.loads(payload)["text"]
            for opcode, payload in read_frames(self.transport.value())
            if opcode == 0x1 and json.loads(payload)["type"] == "said"
        ]

    def close_code(self) -> int:
        """The code of the close frame the front sent."""
        [close] = [p for o, p in read_frames(self.transport.value()) if o == 0x8]
        return int.from_bytes(close[:2], "big")

    def test_any_cut_of_a_stream_of_every_kind_of_frame(self) -> None:
        """
        Short and 16-bit-long text frames, a ping, a message in fragments,
        two frames in one read: fed whole, a byte at a time, and cut at
        seeded random places, the same messages in the same order, and the
        ping answered.
        """
        long_text = "é" * 300  # a 16-bit length
        stream = (
            client_frame(say("one"))
            + client_frame(say(long_text))
            + client_frame(b"are you there", opcode=0x9)
            + client_frame(say("in two")[:7], final=False)
            + client_frame(say("in two")[7:], opcode=0x0)
            + client_frame(say("last"))
        )
        expected = ["one", long_text, "in two", "last"]
        rng = random.Random(16)
        cuts: list[list[int]] = [[], list(range(1, len(stream)))]
        cuts += [
            sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
            for _ in range(30)
        ]
        for places in cuts:
            self.setUp()
            pieces = [stream[a:b] for a, b in pairwise([0, *places, len(stream)])]
            for piece in pieces:
                self.protocol.dataReceived(piece)
            self.assertEqual(self.said(), expected, places)
            frames = read_frames(self.transport.value())
            self.assertIn((0xA, b"are you there"), frames)
            self.assertNotIn(b'"type":"error"', self.transport.value())

    def test_invalid_utf8_closes_with_1007(self) -> None:
        """A text frame that is not UTF-8 is Autobahn's: a close with 1007."""
        self.protocol.dataReceived(
            client_frame(say("before")) + client_frame(b'{"text":"\xff"}')
        )
        self.assertEqual(self.said(), ["before"])
        self.assertEqual(self.close_code(), 1007)

    def test_unmasked_or_extension_bits_are_autobahns(self) -> None:
        """
        An unmasked client frame, or one with an extension bit nobody
        agreed on, is a protocol error (1002), not a message.
        """
        for bad in [
            bytes((0x81, 2)) + b"{}",  # not masked
            bytes((0xC1,)) + client_frame(say("x"))[1:],  # RSV1 set
        ]:
            self.setUp()
            self.protocol.dataReceived(bad + client_frame(say("after")))
            self.assertEqual(self.said(), [])
            self.assertEqual(self.close_code(), 1002)

    def test_a_close_from_the_client_is_answered(self) -> None:
        """A close frame after a message: the message, then Autobahn's close."""
        self.protocol.dataReceived(
            client_frame(say("bye")) + client_frame(b"\x03\xe8", opcode=0x8)
        )
        self.assertEqual(self.said(), ["bye"])
        self.assertEqual(self.close_code(), 1000)
