"""
One identity, several clients (issue 14, point 2), against the core.

A resume token's user may be connected through several sessions at once:
one user, one nick, present once in its rooms; each session hears its own
rooms, sees what the others say as the user's own, and a KILL ends them all
while a quit ends one. On main, a second session with the token replaced the
first (tutu saw toto quit "reconnected"), which is what these tests refuse.
"""

from __future__ import annotations

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twistedchat.core import errors
from twistedchat.core.events import (
    Invited,
    Joined,
    Kicked,
    Killed,
    Message,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
)
from twistedchat.core.service import ChatService, IChatClient, Session
from twistedchat.fronts.fanout import Fanout

from .test_core import RecordingClient


@implementer(IChatClient)
class EchoingClient(RecordingClient):
    """A client that, as the framed one, hears its own words and doings."""

    echo_messages = True
    echo_actions = True


class MultiClientTests(SynchronousTestCase):
    """Two sessions of toto (a laptop and a phone), tutu in the same rooms."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        operators = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        self.service = ChatService(
            self.clock, "general", operators, delivery=self.delivery()
        )
        self.laptop_client = EchoingClient()
        self.laptop = self.service.connect(self.laptop_client, "toto")
        self.service.join(self.laptop, "general")
        self.tutu_client = RecordingClient()
        self.tutu = self.service.connect(self.tutu_client, "tutu")
        self.service.join(self.tutu, "general")
        self.phone_client = EchoingClient()
        self.phone = self.service.connect(
            self.phone_client, "whatever", token=self.service.token(self.laptop)
        )
        self.service.join(self.phone, "general")
        self.take_all()

    def delivery(self) -> Fanout | None:
        return None  # the core's own, one by one

    def take_all(self) -> None:
        for client in (self.laptop_client, self.phone_client, self.tutu_client):
            client.take()

    def test_one_user_one_nick(self) -> None:
        self.assertEqual(self.phone.user, self.laptop.user)
        self.assertTrue(self.phone.resumed)
        self.assertTrue(self.laptop.connected)
        self.assertFalse(self.laptop_client.closed)
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])
        self.assertEqual(self.service.counts().users, 2)
        (general,) = self.service.list_rooms()
        self.assertEqual(general.members, 2)
        self.assertEqual(self.service.user("toto").rooms, ("general",))

    def test_the_room_sees_the_user_join_once(self) -> None:
        self.service.join(self.laptop, "dev")
        self.service.join(self.tutu, "dev")
        self.take_all()
        event = self.service.join(self.phone, "dev")
        self.assertEqual(self.tutu_client.take(), [])  # toto was already there
        self.assertEqual(self.phone_client.take(), [event])  # its own "you are in"
        self.assertEqual(self.laptop_client.take(), [])
        self.assertFalse(event.returning)
        self.assertEqual(self.service.names("dev"), ["toto", "tutu"])
        self.assertRaises(errors.AlreadyInRoom, self.service.join, self.phone, "dev")

    def test_a_second_session_entering_a_new_room_is_no_return(self) -> None:
        self.service.join(self.tutu, "dev")
        self.take_all()
        event = self.service.join(self.phone, "dev", returning=True)
        self.assertEqual(self.tutu_client.take(), [event])
        self.assertEqual(event, Joined(1000.0, "dev", self.laptop.user, False, False))

    def test_what_one_session_says_the_others_see_as_their_own(self) -> None:
        event = self.service.say(self.laptop, "general", "hello")
        self.assertEqual(
            event,
            Message(1000.0, "general", self.laptop.user, "hello", msgid=event.msgid),
        )
        self.assertEqual(self.phone_client.take(), [event])
        self.assertEqual(self.laptop_client.take(), [event])  # its echo
        self.assertEqual(self.tutu_client.take(), [event])

    def test_each_session_hears_only_its_rooms(self) -> None:
        self.service.join(self.laptop, "dev")
        self.service.join(self.tutu, "dev")
        self.take_all()
        event = self.service.say(self.tutu, "dev", "psst")
        self.assertEqual(self.laptop_client.take(), [event])
        self.assertEqual(self.phone_client.take(), [])
        # The phone may speak in dev (its user is in it); it hears its echo.
        said = self.service.say(self.phone, "dev", "from the phone")
        self.assertEqual(self.phone_client.take(), [said])
        self.assertEqual(self.laptop_client.take(), [said])
        self.assertEqual(self.tutu_client.take(), [said])

    def test_private_messages_reach_every_session(self) -> None:
        event = self.service.whisper(self.tutu, "TOTO", "psst")
        self.assertEqual(
            event,
            PrivateMessage(1000.0, self.tutu.user, "toto", "psst", msgid=event.msgid),
        )
        self.assertEqual(self.laptop_client.take(), [event])
        self.assertEqual(self.phone_client.take(), [event])
        sent = self.service.whisper(self.phone, "tutu", "hi")
        self.assertEqual(self.tutu_client.take(), [sent])
        self.assertEqual(self.laptop_client.take(), [sent])  # sent from the phone
        self.assertEqual(self.phone_client.take(), [sent])  # its own echo

    def test_an_invitation_reaches_every_session(self) -> None:
        self.service.join(self.tutu, "dev")
        event = self.service.invite(self.tutu, "toto", "dev")
        self.assertIsInstance(event, Invited)
        self.assertEqual(self.laptop_client.take()[-1], event)
        self.assertEqual(self.phone_client.take()[-1], event)

    def test_the_room_sees_the_user_leave_with_its_last_session(self) -> None:
        first = self.service.part(self.laptop, "general", "bye")
        self.assertEqual(self.tutu_client.take(), [])
        self.assertEqual(self.laptop_client.take(), [first])  # its own "you left"
        self.assertEqual(self.phone_client.take(), [])
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])
        self.assertRaises(errors.NotInRoom, self.service.part, self.laptop, "general")
        self.service.say(self.tutu, "general", "still there?")
        self.assertEqual(self.laptop_client.take(), [])  # it hears general no more
        self.phone_client.take()
        last = self.service.part(self.phone, "general", "bye")
        self.assertEqual(last, Parted(1000.0, "general", self.laptop.user, "bye"))
        self.assertEqual(self.tutu_client.take(), [last])
        self.assertEqual(self.service.names("general"), ["tutu"])

    def test_a_quit_ends_one_session_unseen(self) -> None:
        self.service.disconnect(self.phone, "going home")
        self.assertFalse(self.phone.connected)
        self.assertTrue(self.laptop.connected)
        self.assertEqual(self.tutu_client.take(), [])
        self.assertEqual(self.laptop_client.take(), [])
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])
        said = self.service.say(self.tutu, "general", "hi")
        self.assertEqual(self.laptop_client.take(), [said])
        self.assertEqual(self.phone_client.take(), [])
        # The last session's quit is a quit.
        last = self.service.disconnect(self.laptop, "gone")
        self.assertEqual(self.tutu_client.take(), [last])
        self.assertEqual(last, Quit(1000.0, self.laptop.user, "gone"))
        self.assertFalse(self.service.nick_taken("toto"))

    def test_a_quit_parts_the_rooms_only_that_session_was_in(self) -> None:
        self.service.join(self.tutu, "dev")
        self.service.join(self.phone, "dev")
        self.take_all()
        self.service.disconnect(self.phone, "going home")
        self.assertEqual(
            self.tutu_client.take(),
            [Parted(1000.0, "dev", self.laptop.user, "going home")],
        )
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])
        self.assertEqual(self.service.names("dev"), ["tutu"])
        self.assertEqual(self.service.user("toto").rooms, ("general",))

    def test_a_nick_change_applies_to_every_session(self) -> None:
        self.service.part(self.phone, "general")  # in no room: told all the same
        self.take_all()
        event = self.service.change_nick(self.laptop, "Toto2")
        self.assertEqual(self.phone.nick, "Toto2")
        self.assertEqual(self.phone.user, self.laptop.user)
        self.assertEqual(event, NickChanged(1000.0, "toto", self.laptop.user))
        self.assertEqual(self.tutu_client.take(), [event])
        self.assertEqual(self.laptop_client.take(), [event])
        self.assertEqual(self.phone_client.take(), [event])
        self.assertEqual(self.service.names("general"), ["Toto2", "tutu"])
        self.assertFalse(self.service.nick_taken("toto"))

    def test_a_kill_ends_every_session(self) -> None:
        admin = self.service.connect(RecordingClient(), "admin")
        self.successResultOf(self.service.oper(admin, "admin", "secret"))
        event = self.service.kill(admin, "toto", "enough")
        self.assertEqual(event, Killed(1000.0, self.laptop.user, admin.user, "enough"))
        for session, client in (
            (self.laptop, self.laptop_client),
            (self.phone, self.phone_client),
        ):
            self.assertFalse(session.connected)
            self.assertTrue(client.closed)
            self.assertEqual(client.take(), [event])  # its farewell, once
        self.assertEqual(self.tutu_client.take(), [event])
        self.assertEqual(self.service.names("general"), ["tutu"])
        self.assertFalse(self.service.nick_taken("toto"))
        self.assertEqual(self.service.counts().users, 2)

    def test_a_kick_puts_every_session_out_of_the_room(self) -> None:
        admin = self.service.connect(RecordingClient(), "admin")
        self.successResultOf(self.service.oper(admin, "admin", "secret"))
        event = self.service.kick(admin, "general", "toto", "out")
        self.assertIsInstance(event, Kicked)
        self.assertEqual(self.laptop_client.take(), [event])
        self.assertEqual(self.phone_client.take(), [event])
        self.assertEqual(self.laptop.rooms, ())
        self.assertEqual(self.phone.rooms, ())
        self.assertEqual(self.service.names("general"), ["tutu"])

    def test_a_session_gone_with_a_broken_connection_leaves_the_other(self) -> None:
        self.phone_client.deliver = self.broken  # type: ignore[method-assign]
        said = self.service.say(self.tutu, "general", "hi")
        self.assertFalse(self.phone.connected)
        self.assertTrue(self.laptop.connected)
        self.assertEqual(self.laptop_client.take(), [said])
        self.assertEqual(self.tutu_client.take(), [])  # the user is still there
        self.flushLoggedErrors(OSError)

    def broken(self, event: object) -> None:
        raise OSError("connection reset")

    def test_a_token_of_a_connected_user_skips_the_nick_rules(self) -> None:
        """The token wins: the nick asked is neither checked nor taken."""
        third: Session = self.service.connect(
            RecordingClient(), "tutu", token=self.service.token(self.laptop)
        )
        self.assertEqual(third.nick, "toto")
        self.assertEqual(self.service.user("tutu").user, self.tutu.user)


class MultiClientFanoutTests(MultiClientTests):
    """The same, through the server's fan-out."""

    def delivery(self) -> Fanout | None:
        return Fanout()
