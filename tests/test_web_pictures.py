"""
The web front's side of pictures: the send_picture request read from JSON,
its checks (membership, flood cost, a store), image_shown and history
entries carrying the picture's path on the web port.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core.errors import NotInRoom, PicturesBusy
from twistedchat.core.events import Image, Message, User
from twistedchat.core.history import HistoryEntry
from twistedchat.core.service import ChatService
from twistedchat.fronts.policy import ConnectionCounter, ConnectionPolicy, Limits
from twistedchat.fronts.requests import json_array
from twistedchat.fronts.web.media import PICTURE_COST, SendPicture, take_picture
from twistedchat.fronts.web.messages import BadMessage, request, to_json
from twistedchat.fronts.web.protocol import render_event

from .test_core import RecordingClient

PIA = User("u1", "pia", 33)
NAME = "cd" * 32 + ".png"


def payload(message: bytes) -> dict[str, Any]:
    """The JSON of one unmasked WebSocket text frame, as the server sends it."""
    size = message[1] & 0x7F
    start = {126: 4, 127: 10}.get(size, 2)
    result: dict[str, Any] = json.loads(message[start:])
    return result


class Peer:
    def __init__(self) -> None:
        self.flooded_times = 0
        self.dropped = ""

    def send_ping(self) -> bool:
        return False

    def flooded(self) -> None:
        self.flooded_times += 1

    def drop(self, why: str, tell: bool = False) -> None:
        self.dropped = why


class RequestTests(SynchronousTestCase):
    def test_send_picture(self) -> None:
        frame = request('{"type":"send_picture","room":"general","data":"iVBO"}')
        self.assertEqual(frame, SendPicture("general", "iVBO"))

    def test_bad_send_picture(self) -> None:
        for text in [
            '{"type":"send_picture","room":"general"}',
            '{"type":"send_picture","room":"general","data":5}',
            '{"type":"send_picture","room":null,"data":"iVBO"}',
        ]:
            error = self.assertRaises(BadMessage, request, text)
            self.assertEqual(error.code, codec.ErrorCode.MALFORMED, text)


class RenderTests(SynchronousTestCase):
    def test_image_shown_with_its_picture(self) -> None:
        shown = payload(render_event(Image(1.5, "general", PIA, "(o)", "m-1", NAME)))
        self.assertEqual(
            shown,
            {
                "type": "image_shown",
                "time": 1500,
                "room": "general",
                "user": {"id": "u1", "nick": "pia", "colour": 33},
                "art": "(o)",
                "picture": "/media/" + NAME,
            },
        )

    def test_art_alone(self) -> None:
        """A picture from another front is art alone: an empty picture path."""
        shown = payload(render_event(Image(1.5, "general", PIA, "(o)", "m-1")))
        self.assertEqual((shown["art"], shown["picture"]), ("(o)", ""))

    def test_messages_unchanged(self) -> None:
        said = payload(render_event(Message(1.5, "general", PIA, '"picture":"x"')))
        self.assertEqual(said["text"], '"picture":"x"')
        self.assertNotIn("picture", said)

    def test_history_entries_link_to_pictures(self) -> None:
        entries = [
            HistoryEntry("a", 1, "general", "u1", "pia", "message", '"picture":"x'),
            HistoryEntry("b", 2, "general", "u1", "pia", "image", "(o)", 2, NAME),
            HistoryEntry("c", 3, "general", "u2", "nc", "image", "(O)", 3),
        ]
        for frame in (
            codec.History("general", json_array(entries)),
            codec.Missed("general", 0, json_array(entries)),
            codec.Older("general", False, json_array(entries)),
        ):
            sent = json.loads(to_json(frame))["entries"]
            self.assertEqual(sent[0]["text"], '"picture":"x')
            self.assertEqual(
                [entry.get("picture") for entry in sent],
                [None, "/media/" + NAME, None],
            )


class TakePictureTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.service = ChatService(self.clock, "general")
        self.session = self.service.connect(RecordingClient(), "pia")
        self.service.join(self.session, "general")
        self.peer = Peer()
        limits = Limits(flood_rate=10, flood_burst=50)
        self.policy = ConnectionPolicy(
            self.peer, "127.0.0.1", self.clock, limits, ConnectionCounter(limits)
        )

    def test_not_in_the_room(self) -> None:
        self.service.join(self.service.connect(RecordingClient(), "other"), "elsewhere")
        frame = SendPicture("elsewhere", "iVBO")
        self.assertRaises(
            NotInRoom, take_picture, None, self.session, self.policy, frame
        )

    def test_no_store(self) -> None:
        frame = SendPicture("General", "iVBO")  # the room, whatever its case
        self.assertRaises(
            PicturesBusy, take_picture, None, self.session, self.policy, frame
        )

    def test_a_picture_costs_more_than_a_message(self) -> None:
        """A picture takes PICTURE_COST tokens: its message one, and the rest."""
        limits = Limits(flood_rate=10, flood_burst=4 * PICTURE_COST + PICTURE_COST // 2)
        policy = ConnectionPolicy(
            self.peer, "127.0.0.1", self.clock, limits, ConnectionCounter(limits)
        )
        frame = SendPicture("general", "iVBO")
        for _ in range(4):
            self.assertTrue(policy.allow())  # the message
            self.assertRaises(
                PicturesBusy, take_picture, None, self.session, policy, frame
            )
        self.assertEqual(self.peer.flooded_times, 0)
        self.assertTrue(policy.allow())  # half a picture's worth is left
        self.assertIsNone(take_picture(None, self.session, policy, frame))
        self.assertEqual(self.peer.flooded_times, 1)
        self.clock.advance(PICTURE_COST / 10)  # the budget comes back
        self.assertTrue(policy.allow())
        self.assertRaises(PicturesBusy, take_picture, None, self.session, policy, frame)
