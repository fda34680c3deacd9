"""
Two nodes starting at once on a real redis-server: a user who connects to a
node before that node's first heartbeat is not taken for a dead node's user.

A node that has caught up with the log takes every node that has entries in
it and no heartbeat for dead (C{gone}): right for a node that died before,
wrong for one that is starting and whose users' entries reached the log
before its first beat. The end-to-end run (e2e/test_cluster.py) met it as a
netcat user dropped right after the welcome, once in a few runs; here it is
made certain: node a is connected to Redis, its user's entry sent, and its
heartbeat not started yet when node b catches up.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import TestCase

from twistedchat.cluster.node import ClusterNode, build_node

from .redis_server import RedisServer, eventually, started_redis, within
from .test_cluster_replica import Client

CLOCK: IReactorTime = reactor


class StartRaceTests(TestCase):
    timeout = 60

    def started(self, node: ClusterNode) -> defer.Deferred[None]:
        node.startService()
        self.addCleanup(lambda: node.running and node.stopService())
        return defer.ensureDeferred(
            eventually(lambda: node.ready, CLOCK, what="the node caught up")
        )

    @defer.inlineCallbacks
    def test_user_connected_before_the_first_heartbeat_stays(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        a, a_node = build_node(CLOCK, server.address(), default_room="general")
        # Node a reaches Redis, and its user connects, before it joins the
        # cluster (shared secret, heartbeat, the log).
        a_node.client.start()
        self.addCleanup(a_node.client.stop)
        yield within(a_node.client.when_connected(), 10, CLOCK)
        toto_client = Client()
        connecting = a.connect(toto_client, "toto")
        yield within(a_node.client.command("PING"), 10, CLOCK)  # after its entry

        b, b_node = build_node(CLOCK, server.address(), default_room="general")
        yield self.started(b_node)
        yield self.started(a_node)
        toto = yield within(connecting, 10, CLOCK)
        self.assertEqual(toto.nick, "toto")

        def both_see_toto() -> bool:
            return all(node.nick_taken("toto") for node in (a, b))

        yield eventually(both_see_toto, CLOCK, what="toto on both nodes")
        self.assertFalse(toto_client.closed)
        self.assertEqual(b_node.heartbeat.dead, set())
