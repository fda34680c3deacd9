"""Message ids: one per message, the same for every recipient and in the history."""

from __future__ import annotations

import json
import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.msgids import message_ids
from twistedchat.core.service import ChatService
from twistedchat.persistence.files import file_name
from twistedchat.persistence.writer import HistoryWriter

from .test_core import RecordingClient
from .test_history import run_now


class MessageIdTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.folder = os.path.abspath(self.mktemp())
        self.writer = HistoryWriter(self.folder, self.clock, run_in_thread=run_now)
        self.writer.startService()
        self.service = ChatService(self.clock, "general", history=self.writer)

    def test_every_message_has_its_own_id_the_same_for_all(self) -> None:
        toto_client, tutu_client = RecordingClient(), RecordingClient()
        toto = self.service.connect(toto_client, "toto")
        tutu = self.service.connect(tutu_client, "tutu")
        self.service.join(toto, "general")
        self.service.join(tutu, "general")
        tutu_client.take()
        said = self.service.say(toto, "general", "bonjour")
        did = self.service.say(toto, "general", "waves", action=True)
        shown = self.service.show_image(toto, "general", "/\\")
        whispered = self.service.whisper(toto, "tutu", "psst")
        ids = [said.msgid, did.msgid, shown.msgid, whispered.msgid]
        self.assertEqual(len(set(ids)), 4)
        self.assertNotIn("", ids)
        self.assertEqual(
            [event.msgid for event in tutu_client.take()],  # type: ignore[union-attr]
            ids,
        )

    def test_the_history_keeps_the_id_clients_saw(self) -> None:
        toto = self.service.connect(RecordingClient(), "toto")
        self.service.join(toto, "general")
        said = self.service.say(toto, "general", "bonjour")
        shown = self.service.show_image(toto, "general", "/\\")
        self.successResultOf(self.writer.stopService())
        path = os.path.join(self.folder, file_name("general"))
        with open(path, encoding="utf-8") as file:
            kept = [json.loads(line)["id"] for line in file]
        self.assertEqual(kept, [said.msgid, shown.msgid])
        self.assertEqual([entry.id for entry in self.writer.recent("general")], kept)

    def test_two_servers_started_together_never_share_an_id(self) -> None:
        first, second = message_ids(self.clock), message_ids(self.clock)
        self.assertNotEqual(next(first), next(second))
        self.assertEqual(next(first).rsplit("-", 1)[1], "2")
