"""
The history of nodes of a cluster, built as C{twistd twistedchat --cluster}
builds them (L{cluster_history} and L{build_node}), in this process, on a
real redis-server and one shared data folder: the file written once, the
same positions on every node, the writing handed over when its node stops,
and "what you missed" when an identity comes back through another node.
"""

from __future__ import annotations

import json
import os
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import TestCase

from twistedchat.cluster.history import ClusterHistory, cluster_history
from twistedchat.cluster.markers import ClusterMarkers
from twistedchat.cluster.node import ClusterNode, build_node
from twistedchat.cluster.replica import ReplicatedService
from twistedchat.core.events import Message
from twistedchat.core.session import Session
from twistedchat.persistence import file_name
from twistedchat.server.options import Options

from .redis_server import RedisServer, eventually, started_redis, within
from .test_cluster_replica import Client

CLOCK: IReactorTime = reactor


class Node:
    """One node: its chat, history, markers and cluster service."""

    def __init__(
        self,
        chat: ReplicatedService,
        history: ClusterHistory,
        markers: ClusterMarkers,
        node: ClusterNode,
    ) -> None:
        self.chat = chat
        self.history = history
        self.markers = markers
        self.node = node

    def stop(self) -> Any:
        """As twistd stops the tree: the node, the markers, then the history."""

        async def stop() -> None:
            for service in (self.node, self.markers, self.history):
                if service.running:
                    await defer.maybeDeferred(service.stopService)

        return defer.ensureDeferred(stop())


class ClusterHistoryNodesTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def setUp(self) -> Any:  # type: ignore[override]
        self.server: RedisServer = yield started_redis(self, CLOCK)
        self.data = os.path.abspath(self.mktemp())

    @defer.inlineCallbacks
    def node(self) -> Any:
        options = Options()
        options.parseOptions(
            [
                "--data-dir",
                self.data,
                "--cluster",
                self.server.url(),
                "--history-flush-ms",
                "10",
            ]
        )
        settings = options.settings
        history, markers = cluster_history(settings, CLOCK)
        assert settings.cluster is not None
        chat, node = build_node(
            CLOCK,
            settings.cluster,
            default_room="general",
            history=history,
            markers=markers,
        )
        markers.before_stop.append(chat.reading.mark_present)
        history.startService()  # first: it reads the files' tails
        markers.startService()
        node.startService()
        made = Node(chat, history, markers, node)
        self.addCleanup(made.stop)
        yield eventually(lambda: node.ready, CLOCK, what="the node caught up")
        return made

    @defer.inlineCallbacks
    def user(self, node: Node, nick: str, token: str = "") -> Any:
        client = Client()
        session: Session = yield within(
            node.chat.connect(client, nick, token=token), 10, CLOCK
        )
        yield within(node.chat.join(session, "general"), 10, CLOCK)
        return session, client

    def on_disk(self) -> list[dict[str, Any]]:
        path = os.path.join(self.data, "history", file_name("general"))
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]

    @defer.inlineCallbacks
    def test_one_file_the_same_positions_and_a_hand_over(self) -> Any:
        a = yield self.node()
        b = yield self.node()
        toto, toto_client = yield self.user(a, "toto")
        tata, _ = yield self.user(b, "tata")
        yield eventually(lambda: len(a.chat.names("general")) == 2, CLOCK)
        for n in range(3):
            a.chat.say(toto, "general", f"toto {n}")
            b.chat.say(tata, "general", f"tata {n}")

        def heard() -> list[Message]:
            return [e for e in toto_client.events if isinstance(e, Message)]

        yield eventually(lambda: len(heard()) == 3, CLOCK, what="toto heard tata")
        yield eventually(lambda: len(self.on_disk()) == 6, CLOCK, what="on disk")
        lines = self.on_disk()
        self.assertEqual([line["seq"] for line in lines], [1, 2, 3, 4, 5, 6])
        # The ids on disk are the messages' ids, the log's order.
        self.assertEqual(
            [line["id"] for line in lines if line["nick"] == "tata"],
            [e.msgid for e in heard()],
        )
        self.assertEqual(
            list(a.history.recent("general")), list(b.history.recent("general"))
        )
        self.assertEqual([a.history.writing, b.history.writing].count(True), 1)
        # The writing node stops: the other writes from there, nothing twice.
        writer, other = (a, b) if a.history.writing else (b, a)
        speaker = tata if other is b else toto
        yield writer.stop()
        yield eventually(lambda: other.history.writing, CLOCK, what="taken over")
        for n in range(3, 5):
            other.chat.say(speaker, "general", f"after {n}")
        yield eventually(lambda: len(self.on_disk()) == 8, CLOCK, what="on disk")
        lines = self.on_disk()
        self.assertEqual([line["seq"] for line in lines], list(range(1, 9)))
        self.assertEqual(len({line["id"] for line in lines}), 8)

    @defer.inlineCallbacks
    def test_what_you_missed_through_another_node(self) -> Any:
        a = yield self.node()
        b = yield self.node()
        tata, _ = yield self.user(b, "tata")
        toto, _ = yield self.user(a, "toto")
        a.chat.reading.replay(toto, "general", lasting=True)  # as a front does
        b.chat.say(tata, "general", "seen")
        yield eventually(lambda: a.history.last_seq("general") == 1, CLOCK)
        token = a.chat.token(toto)
        a.chat.disconnect(toto)
        yield eventually(lambda: b.chat.names("general") == ["tata"], CLOCK)
        yield a.markers.flush()
        for n in range(3):
            b.chat.say(tata, "general", f"missed {n}")
        yield eventually(lambda: b.history.last_seq("general") == 4, CLOCK)
        back, _ = yield self.user(b, "toto", token)
        self.assertEqual(back.user.id, toto.user.id)
        replay = b.chat.reading.replay(back, "general", lasting=True)
        self.assertTrue(replay.since_left)
        self.assertEqual(
            [e.text for e in replay.entries], ["missed 0", "missed 1", "missed 2"]
        )
