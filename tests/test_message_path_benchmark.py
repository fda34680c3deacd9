"""
The message-path benchmark (benchmarks/message_path.py) at a tiny size: it
must keep running, and its own checks must catch a message that goes missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import message_path


class MessagePathTests(SynchronousTestCase):
    def test_every_front(self) -> None:
        """Each front relays every message to every member, and keeps it in the history."""
        for front in message_path.FRONTS:
            plan = message_path.Plan(front, clients=5, senders=2, batch=3, rounds=4)
            result = message_path.run(plan)
            self.assertEqual(result["problems"], [], front)
            self.assertEqual(result["messages"], 3 * 2 * 3)
            self.assertGreater(result["deliveries_per_cpu_s"], 0)

    def test_a_lost_message_is_reported(self) -> None:
        """A member that misses messages shows up in the problems."""
        original = message_path.Room.round

        def lossy_round(room: message_path.Room) -> None:
            original(room)
            room.members[-1][1].writes.clear()

        self.patch(message_path.Room, "round", lossy_round)
        plan = message_path.Plan("line", clients=3, senders=1, batch=2, rounds=3)
        self.assertEqual(
            message_path.run(plan)["problems"], ["user2 got 0 messages, not 6"]
        )
