"""
Nodes of a cluster on a real redis-server: joining, leaving, dying.

Each test starts its own redis-server (tests/redis_server.py) and makes
nodes with L{build_node}, as C{twistd twistedchat --cluster} does, in this
process (their processes, SIGKILL and SIGSTOP are e2e/test_cluster.py's).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import TestCase

from twistedchat.cluster.address import RedisAddress
from twistedchat.cluster.node import ClusterNode, build_node
from twistedchat.cluster.replica import ReplicatedService
from twistedchat.core.events import Message, Quit
from twistedchat.core.session import Session

from .redis_server import RedisServer, eventually, free_port, started_redis, within
from .test_cluster_replica import Client

CLOCK: IReactorTime = reactor


class NodeTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def node(self, server: RedisServer, *, start: bool = True) -> Any:
        chat, node = build_node(reactor, server.address(), default_room="general")
        if start:
            yield self.start(node)
        return chat, node

    @defer.inlineCallbacks
    def start(self, node: ClusterNode) -> Any:
        node.startService()
        self.addCleanup(lambda: node.running and node.stopService())
        yield eventually(lambda: node.ready, CLOCK, what="the node caught up")

    @defer.inlineCallbacks
    def user(self, chat: ReplicatedService, nick: str) -> Any:
        client = Client()
        session: Session = yield within(chat.connect(client, nick), 10, CLOCK)
        yield within(chat.join(session, "general"), 10, CLOCK)
        return session, client

    @defer.inlineCallbacks
    def test_two_nodes_one_chat(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        a, _ = yield self.node(server)
        b, _ = yield self.node(server)
        toto, _ = yield self.user(a, "toto")
        _, tata_client = yield self.user(b, "tata")
        yield eventually(lambda: a.names("general") == ["toto", "tata"], CLOCK)
        a.say(toto, "general", "bonjour")

        def said() -> list[str]:
            return [e.text for e in tata_client.events if isinstance(e, Message)]

        yield eventually(lambda: said() == ["bonjour"], CLOCK, what="said on b")
        # Resume tokens are signed with the secret both nodes share.
        self.assertEqual(b.identities.resume(a.token(toto)), toto.user.id)

    @defer.inlineCallbacks
    def test_later_node_knows_the_chat(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        a, _ = yield self.node(server)
        toto, _ = yield self.user(a, "toto")
        yield within(a.set_topic(toto, "general", "le sujet"), 10, CLOCK)
        late, _ = yield self.node(server)
        self.assertEqual(late.names("general"), ["toto"])
        self.assertEqual(late.room("general").topic, "le sujet")

    @defer.inlineCallbacks
    def test_stopped_node_users_quit_at_once(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        a, _ = yield self.node(server)
        b, b_node = yield self.node(server)
        _, toto_client = yield self.user(a, "toto")
        _, tata_client = yield self.user(b, "tata")
        yield eventually(lambda: len(a.names("general")) == 2, CLOCK)
        yield b_node.stopService()  # SIGTERM: it says so before it goes
        yield eventually(lambda: a.names("general") == ["toto"], CLOCK)
        self.assertIn(Quit, [type(e) for e in toto_client.events])
        self.assertTrue(tata_client.closed)

    @defer.inlineCallbacks
    def test_nodes_dead_before_a_start_are_gone(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        a, a_node = yield self.node(server)
        yield self.user(a, "toto")
        # a dies without a word (its heartbeat just stops), then the whole
        # cluster is down; a node started later must not see toto present.
        yield a_node.heartbeat.stopService()
        yield a_node.journal.stop()
        yield a_node.client.stop()
        server.call("DEL", "chat:nodes")  # its presence expired long ago
        b, _ = yield self.node(server)
        yield eventually(lambda: b.counts().users == 0, CLOCK, what="toto gone")
        self.assertEqual(b.counts().rooms, 0)

    @defer.inlineCallbacks
    def test_stopped_before_joining(self) -> Any:
        # No Redis answers: the node is still waiting for it when it stops
        # (SIGTERM at start-up). Nothing to report but that it stopped.
        nowhere = RedisAddress("127.0.0.1", free_port())
        _, node = build_node(reactor, nowhere, default_room="general")
        node.startService()
        yield node.stopService()
        self.assertFalse(node.ready)
