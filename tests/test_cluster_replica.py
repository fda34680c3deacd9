"""
Two nodes' services sharing one log, in one process: the replication's rules.

The log here is an in-process list that hands its entries to every node in
one order when the clock turns, as Redis's stream does (its real form is
tested against a real redis-server in test_cluster_log and end to end in
e2e/test_cluster.py). What is checked is what every node must agree on: the
same members and nicks everywhere, one order of events on every node, one
winner when two nodes claim a nick at once, a dead node's users gone.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.cluster.replica import ReplicatedService
from twistedchat.core import errors
from twistedchat.core.delivery import DeliveryRefused
from twistedchat.core.directory import change_user_modes
from twistedchat.core.events import Event, Joined, Message, NickChanged, Quit, Tagged
from twistedchat.core.session import Session
from twistedchat.core.status import set_realname
from twistedchat.core.tagging import tag_room

from .test_core import RecordingClient

SECRET = b"s" * 32


class OneLog:
    """Entries in one order, handed to every follower when the clock turns."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.entries: list[tuple[str, bytes]] = []
        self.followers: list[tuple[Any, int]] = []  # (apply, next index)
        self.held: set[int] = set()  # followers that get nothing for now (paused)

    def append(self, data: bytes) -> Deferred[str]:
        entry_id = f"{1000 + len(self.entries)}-0"
        self.entries.append((entry_id, data))
        self.clock.callLater(0, self.hand_out)
        return succeed(entry_id)

    def follow(self, apply: Any) -> None:
        self.followers.append((apply, 0))
        self.clock.callLater(0, self.hand_out)

    def release(self) -> None:
        """The paused followers go on."""
        self.held.clear()
        self.hand_out()

    def hand_out(self) -> None:
        for index, (apply, start) in enumerate(self.followers):
            if index in self.held:
                continue
            while start < len(self.entries):  # entries appended meanwhile too
                entry_id, data = self.entries[start]
                start += 1
                self.followers[index] = (apply, start)
                apply(entry_id, data)


class Client(RecordingClient):
    def __init__(self) -> None:
        super().__init__()
        self.refusals: list[errors.ChatError] = []

    def refused(self, error: errors.ChatError) -> None:
        self.refusals.append(error)


class Refusing(Client):
    """A connection that cannot take any more (a slow reader dropped)."""

    def deliver(self, event: Event) -> None:
        raise DeliveryRefused("too slow")


class ClusterTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.log = OneLog(self.clock)
        self.a = self.node("a")
        self.b = self.node("b")

    def node(self, name: str) -> ReplicatedService:
        service = ReplicatedService(self.clock, self.log, name, SECRET)
        self.log.follow(service.apply)
        return service

    def turn(self) -> None:
        for _ in range(5):
            self.clock.advance(0)

    def result(self, d: Deferred[Any]) -> Any:
        self.turn()
        return self.successResultOf(d)

    def connect(self, node: ReplicatedService, nick: str) -> tuple[Session, Client]:
        client = Client()
        session = self.result(node.connect(client, nick))
        self.result(node.join(session, "general", arrival=True))
        client.take()
        return session, client


class OneChatTests(ClusterTestCase):
    def test_members_and_messages_across_nodes(self) -> None:
        toto, toto_client = self.connect(self.a, "toto")
        _tata, tata_client = self.connect(self.b, "tata")
        self.assertEqual(self.a.names("general"), ["toto", "tata"])
        self.assertEqual(self.b.names("general"), ["toto", "tata"])
        [joined] = toto_client.take()
        self.assertIsInstance(joined, Joined)
        self.a.say(toto, "general", "bonjour")
        self.turn()
        [said] = tata_client.take()
        assert isinstance(said, Message)
        self.assertEqual((said.user.nick, said.text), ("toto", "bonjour"))
        self.assertEqual(toto_client.take(), [])  # no echo asked

    def test_same_message_id_and_time_on_every_node(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        _tata, tata_client = self.connect(self.b, "tata")
        _, titi_client = self.connect(self.a, "titi")
        self.log.held.add(1)  # b is slow: it applies the entry 3 s later
        self.a.say(toto, "general", "un")
        self.turn()
        self.clock.advance(3)
        self.log.release()
        [on_b] = [e for e in tata_client.take() if isinstance(e, Message)]
        [on_a] = [e for e in titi_client.take() if isinstance(e, Message)]
        self.assertEqual(on_a, on_b)

    def test_one_order_on_every_node(self) -> None:
        toto, _toto_client = self.connect(self.a, "toto")
        tata, _tata_client = self.connect(self.b, "tata")
        _, titi_client = self.connect(self.a, "titi")
        _, tutu_client = self.connect(self.b, "tutu")
        for n in range(5):  # both nodes' users speak at the same instants
            self.a.say(toto, "general", f"a{n}")
            self.b.say(tata, "general", f"b{n}")
        self.turn()

        def texts(client: Client) -> list[str]:
            return [e.text for e in client.take() if isinstance(e, Message)]

        order = texts(titi_client)
        self.assertEqual(len(order), 10)
        self.assertEqual(texts(tutu_client), order)

    def test_nick_claimed_at_once_on_two_nodes(self) -> None:
        first = self.a.connect(Client(), "toto")
        second = self.b.connect(Client(), "TOTO")  # the same nick, as IRC folds it
        self.turn()
        self.assertIsInstance(self.successResultOf(first), Session)
        self.failureResultOf(second, errors.NickInUse)
        self.assertEqual([u.user.nick for u in self.b.present(["toto"])], ["toto"])

    def test_nick_change_seen_everywhere(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        _, tata_client = self.connect(self.b, "tata")
        self.result(self.a.change_nick(toto, "titi"))
        [renamed] = tata_client.take()
        self.assertIsInstance(renamed, NickChanged)
        self.assertTrue(self.b.nick_taken("titi"))
        self.assertFalse(self.b.nick_taken("toto"))

    def test_refusal_from_the_log_reaches_the_client(self) -> None:
        toto, toto_client = self.connect(self.a, "toto")
        self.a.part(toto, "nowhere")
        self.turn()
        [refusal] = toto_client.refusals
        self.assertIsInstance(refusal, errors.NotInRoom)

    def test_say_checks_at_once_what_the_node_knows(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        self.assertRaises(errors.NoSuchRoom, self.a.say, toto, "nowhere", "hi")
        self.assertRaises(errors.EmptyMessage, self.a.say, toto, "general", " ")

    def test_kick_across_nodes(self) -> None:
        toto, _ = self.connect(self.a, "toto")  # founder: operator
        tata, tata_client = self.connect(self.b, "tata")
        self.result(self.a.kick(toto, "general", "tata", "dehors"))
        self.assertEqual(self.b.names("general"), ["toto"])
        self.assertEqual(tata.rooms, ())
        self.assertIn("dehors", [getattr(e, "reason", "") for e in tata_client.take()])

    def test_one_user_on_two_nodes(self) -> None:
        toto, toto_client = self.connect(self.a, "toto")
        token = self.a.token(toto)
        again = self.result(self.b.connect(Client(), "other", token=token))
        self.assertEqual(again.user, toto.user)  # one user, its nick and id
        self.assertEqual(self.a.counts().users, 1)
        self.a.disconnect(toto)
        self.turn()
        self.assertEqual(self.b.counts().users, 1)  # still there through b
        self.assertNotIn(Quit, [type(e) for e in toto_client.take()])

    def test_dead_node_users_quit(self) -> None:
        _toto, toto_client = self.connect(self.a, "toto")
        tata, tata_client = self.connect(self.b, "tata")
        self.a.gone("b")
        self.turn()
        events: list[Event] = toto_client.take()
        self.assertIn(Quit, [type(e) for e in events])
        self.assertEqual(self.a.names("general"), ["toto"])
        self.assertEqual(self.b.names("general"), ["toto"])
        self.assertTrue(tata_client.closed)  # b's own users are told to go
        self.assertFalse(tata.connected)

    def test_entry_sent_twice_applied_once(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        _, tata_client = self.connect(self.b, "tata")
        self.a.say(toto, "general", "une fois")
        self.log.entries.append(self.log.entries[-1])  # Redis's answer was lost
        self.turn()
        said = [e for e in tata_client.take() if isinstance(e, Message)]
        self.assertEqual([e.text for e in said], ["une fois"])

    def test_late_node_catches_up(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        self.result(self.a.set_topic(toto, "general", "le sujet"))
        late = self.node("c")
        self.turn()
        self.assertEqual(late.names("general"), ["toto"])
        self.assertEqual(late.room("general").topic, "le sujet")

    def test_commands_of_their_own_modules_go_through_the_log(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        _, tata_client = self.connect(self.b, "tata")
        self.result(self.a.act(set_realname, toto, "Toto Le Héros"))
        self.assertEqual(self.b.user("toto").realname, "Toto Le Héros")
        self.a.act(tag_room, toto, "general", (("+typing", "active"),))
        self.turn()
        tagged = [e for e in tata_client.take() if isinstance(e, Tagged)]
        self.assertEqual([e.tags for e in tagged], [(("+typing", "active"),)])
        made = self.result(self.a.act(change_user_modes, toto, ["+i"]))
        self.assertEqual(made, ("+i",))
        self.assertIn("i", self.b.user("toto").modes)

    def test_broken_connection_leaves_through_the_log(self) -> None:
        toto, _ = self.connect(self.a, "toto")
        tata = self.result(self.b.connect(Refusing(), "tata"))
        self.result(self.b.join(tata, "general"))
        self.a.say(toto, "general", "hello")
        self.turn()  # b fails to deliver it: tata leaves, on both nodes
        self.assertEqual(self.a.names("general"), ["toto"])
        self.assertEqual(self.b.names("general"), ["toto"])
