"""
The core's seams: the echo rule it applies for each client, the KILL told to
its victim last, the immutable views it answers with, and the two interfaces
a cluster would replace (state, delivery), with either delivery giving every
session the same events.
"""

from __future__ import annotations

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twistedchat.core import errors
from twistedchat.core.delivery import Direct, IDelivery
from twistedchat.core.events import (
    Image,
    Killed,
    Message,
    PrivateMessage,
)
from twistedchat.core.service import ChatService, IChatClient, Session
from twistedchat.core.state import IChatState, MemoryState
from twistedchat.fronts.fanout import Fanout

from .test_core import RecordingClient


@implementer(IChatClient)
class EchoingClient(RecordingClient):
    """A client that shows its user's own words and doings as events."""

    echo_messages = True
    echo_actions = True


class SeamTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        checker = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        self.service = ChatService(self.clock, "general", checker)
        self.clients: list[RecordingClient] = []

    def user(
        self, nick: str, room: str | None = "general", echo: bool = False
    ) -> tuple[Session, RecordingClient]:
        client = EchoingClient() if echo else RecordingClient()
        session = self.service.connect(client, nick)
        if room is not None:
            self.service.join(session, room)
        self.clients.append(client)
        for each in self.clients:  # each test starts from a quiet chat
            each.take()
        return session, client

    def oper(self, session: Session) -> None:
        self.successResultOf(self.service.oper(session, "admin", "secret"))


class EchoTests(SeamTestCase):
    def test_an_echoing_client_gets_its_own_words_once(self) -> None:
        toto, toto_client = self.user("toto", echo=True)
        _, tutu_client = self.user("tutu")
        said = self.service.say(toto, "general", "bonjour")
        shown = self.service.show_image(toto, "general", "/\\")
        whispered = self.service.whisper(toto, "tutu", "psst")
        self.assertEqual(toto_client.take(), [said, shown, whispered])
        self.assertEqual(tutu_client.take(), [said, shown, whispered])
        self.assertEqual(
            [type(e) for e in (said, shown, whispered)],
            [Message, Image, PrivateMessage],
        )

    def test_a_client_without_echo_gets_none_of_its_own(self) -> None:
        toto, toto_client = self.user("toto")
        self.user("tutu")
        self.service.say(toto, "general", "bonjour")
        self.service.whisper(toto, "tutu", "psst")
        self.service.join(toto, "dev")
        self.service.change_nick(toto, "toto2")
        self.service.set_topic(toto, "dev", "ici")
        self.service.part(toto, "dev")
        self.assertEqual(toto_client.take(), [])

    def test_an_outsider_hears_its_own_message_once(self) -> None:
        outsider, client = self.user("outsider", room=None, echo=True)
        self.user("tutu")
        said = self.service.say(outsider, "general", "from outside")
        self.assertEqual(client.take(), [said])

    def test_an_echoing_client_sees_what_it_does(self) -> None:
        tutu, _ = self.user("tutu", room=None)
        toto, toto_client = self.user("toto", room=None, echo=True)
        renamed = self.service.change_nick(toto, "toto2")  # in no room
        joined = self.service.join(toto, "dev")
        tutu_joined = self.service.join(tutu, "dev")
        topic = self.service.set_topic(toto, "dev", "bienvenue")
        modes = self.service.change_modes(toto, "dev", [("+m", "")])
        kicked = self.service.kick(toto, "dev", "tutu", "out")
        parted = self.service.part(toto, "dev")
        self.assertEqual(
            toto_client.take(),
            [renamed, joined, tutu_joined, topic, modes, kicked, parted],
        )

    def test_a_server_operator_kicking_from_outside_sees_the_kick(self) -> None:
        admin, admin_client = self.user("admin", room=None, echo=True)
        self.oper(admin)
        self.user("toto")
        _, tutu_client = self.user("tutu")
        kicked = self.service.kick(admin, "general", "tutu")
        self.assertEqual(admin_client.take(), [kicked])
        self.assertEqual(tutu_client.take(), [kicked])

    def test_modes_that_change_nothing_go_to_nobody(self) -> None:
        toto, toto_client = self.user("toto", echo=True)
        _, tutu_client = self.user("tutu")
        event = self.service.change_modes(toto, "general", [("+t", "")])
        self.assertEqual(event.changes, ())
        self.assertEqual(toto_client.take() + tutu_client.take(), [])


class KillTests(SeamTestCase):
    def test_the_victim_is_told_last_then_disconnected(self) -> None:
        admin, admin_client = self.user("admin", echo=True)
        self.oper(admin)
        victim, victim_client = self.user("victim")
        _, peer_client = self.user("peer")
        order: list[str] = []
        victim_client.deliver = lambda e: order.append("victim")  # type: ignore[method-assign,assignment]
        peer_client.deliver = lambda e: order.append("peer")  # type: ignore[method-assign,assignment]
        event = self.service.kill(admin, "victim", "out")
        self.assertEqual(event, Killed(1000.0, victim.user, admin.user, "out"))
        self.assertEqual(order, ["peer", "victim"])
        self.assertTrue(victim_client.closed)
        self.assertFalse(victim.connected)
        self.assertEqual(admin_client.take(), [event])  # shares #general

    def test_a_killer_sharing_no_room_is_not_told(self) -> None:
        admin, admin_client = self.user("admin", room="ops", echo=True)
        self.oper(admin)
        self.user("victim")
        self.service.kill(admin, "victim", "out")
        self.assertEqual(admin_client.take(), [])

    def test_a_killer_without_echo_is_not_told(self) -> None:
        admin, admin_client = self.user("admin")
        self.oper(admin)
        self.user("victim")
        self.service.kill(admin, "victim", "out")
        self.assertEqual(admin_client.take(), [])


class ViewTests(SeamTestCase):
    def test_a_room_view_is_a_snapshot(self) -> None:
        toto, _ = self.user("toto")
        view = self.service.room("GENERAL")
        self.service.set_topic(toto, "general", "later")
        self.user("tutu")
        self.assertEqual((view.topic, view.names), ("", ["toto"]))
        now = self.service.room("general")
        self.assertEqual((now.topic, now.names), ("later", ["toto", "tutu"]))
        self.assertTrue(now.is_operator(toto.user))
        self.assertEqual(now.modes, frozenset({"t"}))
        self.assertRaises(errors.NoSuchRoom, self.service.room, "nowhere")

    def test_user_views(self) -> None:
        toto, _ = self.user("toto")
        self.service.join(toto, "dev")
        tutu, _ = self.user("tutu", room="dev")
        self.service.set_away(tutu, "lunch")
        self.oper(toto)
        view = self.service.user("TOTO")
        self.assertEqual(view.rooms, ("general", "dev"))
        self.assertEqual(view.operates, frozenset({"general", "dev"}))
        self.assertEqual((view.operator, view.realname), ("admin", "toto"))
        tutu_view = self.service.user_of(tutu)
        self.assertEqual((tutu_view.away, tutu_view.operates), ("lunch", frozenset()))
        self.assertEqual(
            [u.nick for u in self.service.present(["nobody", "tutu", "Toto"])],
            ["tutu", "toto"],
        )
        self.assertEqual(
            [u.nick for u in self.service.present(self.service.names("dev"))],
            ["toto", "tutu"],
        )
        counts = self.service.counts()
        self.assertEqual((counts.users, counts.operators, counts.rooms), (2, 1, 2))
        self.assertRaises(errors.NoSuchNick, self.service.user, "nobody")

    def test_a_realname_given_at_connection(self) -> None:
        self.service.connect(RecordingClient(), "toto", realname="Toto Dupont")
        self.assertEqual(self.service.user("toto").realname, "Toto Dupont")

    def test_a_nick_change_keeps_the_join_order(self) -> None:
        toto, _ = self.user("toto")
        self.user("tutu")
        self.service.change_nick(toto, "zozo")
        self.assertEqual(self.service.names("general"), ["zozo", "tutu"])
        self.assertTrue(self.service.nick_taken("ZOZO"))
        self.assertFalse(self.service.nick_taken("toto"))


class InterfaceTests(SynchronousTestCase):
    def test_the_implementations_provide_their_interfaces(self) -> None:
        self.assertTrue(verifyObject(IChatState, MemoryState()))
        self.assertTrue(verifyObject(IDelivery, Direct()))
        self.assertTrue(verifyObject(IDelivery, Fanout()))

    def test_either_delivery_gives_everyone_the_same_events(self) -> None:
        """
        The same scenario with one-by-one delivery and with the fronts'
        fan-out (these clients have no broadcaster: its one-by-one path).
        """
        heard = [self.scenario(Direct()), self.scenario(Fanout())]
        self.assertEqual(heard[0], heard[1])
        self.assertEqual(len(heard[0]["tutu"]), 6)

    def scenario(self, delivery: IDelivery) -> dict[str, list[tuple[str, str, float]]]:
        service = ChatService(Clock(), "general", delivery=delivery)
        clients = {nick: EchoingClient() for nick in ("toto", "tutu", "tata")}
        sessions = {nick: service.connect(c, nick) for nick, c in clients.items()}
        for session in sessions.values():
            service.join(session, "general")
        service.join(sessions["toto"], "dev")
        service.join(sessions["tutu"], "dev")
        service.say(sessions["toto"], "dev", "hi")
        service.change_nick(sessions["toto"], "toto2")
        service.disconnect(sessions["tata"], "bye")
        # What each heard, but the user ids (random, different in each run).
        return {
            nick: [(type(e).__name__, e.user.nick, e.time) for e in client.take()]
            for nick, client in clients.items()
        }
