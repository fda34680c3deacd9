"""
OPER attempts are throttled per address and per operator name, across
connections (issue 13, finding 9): reconnecting does not reset the count, and
attempts sent at once from one address cost one password check, not one
each (the server's checker hashes with scrypt in a thread).
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront

from .test_irc_front import IRCClient
from .test_line_front import Client as LineClient
from .test_pending_commands import LaterChecker


class OperThrottleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.checker = LaterChecker()
        self.service = ChatService(
            self.clock, "general", self.checker, delivery=Fanout()
        )
        self.irc = IRCFront(self.service)
        self.line = LineFront(self.service)
        self.checks = 0

    def answer(self) -> None:
        self.checks += len(self.checker.waiting)
        self.checker.answer()

    def test_forty_attempts_at_once_cost_one_check(self) -> None:
        clients = [IRCClient(self.irc, 6000 + n) for n in range(40)]
        for n, client in enumerate(clients):
            client.send(f"NICK guesser{n}", "USER g 0 * :G", f"OPER admin guess{n}")
        self.assertEqual(len(self.checker.waiting), 1)
        refused = [client.lines()[-1] for client in clients[1:]]
        self.assertTrue(all(" 464 " in line for line in refused), refused[:3])
        self.answer()
        self.assertEqual(self.checks, 1)

    def test_reconnecting_does_not_reset_the_count(self) -> None:
        answers = []
        for attempt in range(20):
            user = LineClient(self.line, 5000 + attempt)  # the same address
            password = "secret" if attempt == 10 else f"guess{attempt}"
            user.send(f"OPER admin {password}\n")
            self.answer()
            answers.append(user.lines()[-1])
            user.close()
            self.clock.advance(1)
        # Three free misses, then a 10 s wait, then one more, then 20 s.
        self.assertEqual(self.checks, 4)
        self.assertIn("try again in", answers[10])  # even the right password

    def test_a_right_password_clears_the_count(self) -> None:
        user = LineClient(self.line, 5000)
        for guess in ("a", "b"):
            user.send(f"OPER admin {guess}\n")
            self.answer()
        user.send("OPER admin secret\n")
        self.answer()
        self.assertEqual(
            user.lines()[-1], '[server] you are now a server operator ("admin")'
        )
        other = LineClient(self.line, 5001)
        for guess in ("c", "d"):
            other.send(f"OPER admin {guess}\n")
            self.answer()
        other.send("OPER admin secret\n")
        self.answer()
        self.assertIn("server operator", other.lines()[-1])
