"""The core's WHOWAS memory: who had which nick, bounded, newest first."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.events import User
from twistedchat.core.service import ChatService
from twistedchat.core.state import UserRecord
from twistedchat.core.whowas import Departed, Whowas

from .test_core import RecordingClient


def record(nick: str, user_id: str = "id") -> UserRecord:
    return UserRecord(User(user_id, nick, 1), f"Real {nick}", f"u{nick}")


class WhowasTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)

    def test_newest_first_case_insensitive_and_counted(self) -> None:
        whowas = Whowas(self.clock)
        whowas.record(record("Nick[1]", "a"), "10.0.0.1")
        self.clock.advance(5)
        whowas.record(record("other", "b"))
        whowas.record(record("nick{1}", "c"), "10.0.0.3")
        found = whowas.lookup("NICK{1}")
        self.assertEqual(
            found,
            [
                Departed("nick{1}", "c", "unick{1}", "10.0.0.3", "Real nick{1}", 1005),
                Departed("Nick[1]", "a", "uNick[1]", "10.0.0.1", "Real Nick[1]", 1000),
            ],
        )
        self.assertEqual(whowas.lookup("nick{1}", 1), found[:1])
        self.assertEqual(whowas.lookup("nick{1}", 2), found)
        self.assertEqual(whowas.lookup("nick{1}", -1), found)
        self.assertEqual(whowas.lookup("nobody"), [])

    def test_memory_is_bounded_oldest_forgotten(self) -> None:
        whowas = Whowas(self.clock, size=3)
        for n in range(5):
            whowas.record(record(f"n{n}"))
        self.assertEqual(len(whowas), 3)
        self.assertEqual(whowas.lookup("n0") + whowas.lookup("n1"), [])
        self.assertEqual([d.nick for d in whowas.lookup("n4")], ["n4"])

    def test_real_name_defaults_to_the_nick(self) -> None:
        whowas = Whowas(self.clock)
        whowas.record(UserRecord(User("x", "lina", 1)))
        (departed,) = whowas.lookup("lina")
        self.assertEqual((departed.realname, departed.username), ("lina", ""))


class ServiceWhowasTests(SynchronousTestCase):
    """The service records a nick when its user leaves or changes it."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.service = ChatService(self.clock, "general")

    def test_quit_and_nick_change_are_remembered(self) -> None:
        session = self.service.connect(
            RecordingClient(),
            "alice",
            realname="Alice A",
            username="al",
            host="10.1.1.1",
        )
        self.clock.advance(10)
        self.service.change_nick(session, "alicia")
        self.clock.advance(10)
        self.service.disconnect(session, "bye")
        self.service.disconnect(session, "again")  # a second call records nothing
        user_id = session.user.id
        self.assertEqual(
            self.service.whowas.lookup("ALICE"),
            [Departed("alice", user_id, "al", "10.1.1.1", "Alice A", 10)],
        )
        self.assertEqual(
            self.service.whowas.lookup("alicia"),
            [Departed("alicia", user_id, "al", "10.1.1.1", "Alice A", 20)],
        )

    def test_a_user_with_another_session_left_has_not_left(self) -> None:
        first = self.service.connect(RecordingClient(), "bob")
        token = self.service.token(first)
        second = self.service.connect(RecordingClient(), "bob", token=token)
        self.service.disconnect(second)
        self.assertEqual(self.service.whowas.lookup("bob"), [])
        self.service.disconnect(first)
        self.assertEqual(len(self.service.whowas.lookup("bob")), 1)

    def test_same_nick_again_is_no_departure(self) -> None:
        session = self.service.connect(RecordingClient(), "carol")
        self.service.change_nick(session, "carol")
        self.assertEqual(self.service.whowas.lookup("carol"), [])
