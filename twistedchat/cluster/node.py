"""
This process as one node of a cluster: Redis, the log, the heartbeat.

L{build_node} makes, for a server started with C{CLUSTER}, the node's chat (a
L{ReplicatedService}) and the L{ClusterNode} service that joins it to the
others. Starting, the node:
 1. connects to Redis (and keeps reconnecting while it runs);
 2. takes the identity secret every node shares, so that resume tokens are
    good on every node;
 3. says it is alive (its heartbeat) and follows the log from its start,
    applying every entry: the rooms, members and topics as the others have
    them;
 4. once caught up, appends that the nodes it knows of but which are not
    alive are gone (their users quit), and from then on does so for each
    node whose heartbeat stops.
Its fronts listen from the start; a user's connection is an entry after
everything the node had to catch up on, so it is applied after it.

Stopping (SIGTERM), it appends that it is gone, so that the others see its
users quit at once rather than when its heartbeat expires, and waits for that
a little (L{FAREWELL_TIMEOUT}) before closing its connections.
"""

from __future__ import annotations

import secrets
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from .address import RedisAddress
from .log import LOG_QUEUE, RedisLog
from .nodes import Heartbeat, new_node_id, shared_secret
from .redis import RedisClient, RedisUnavailable
from .replica import EntryIdentities, ReplicatedService

__all__ = ["ClusterNode", "build_node"]

FAREWELL_TIMEOUT = 2.0  # seconds a stopping node waits for its farewell entry


class ClusterNode(Service):
    """Joins this process's chat to the cluster, and takes it out on stop."""

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        chat: ReplicatedService,
        client: RedisClient,
        journal: RedisLog,
        heartbeat: Heartbeat,
    ) -> None:
        self.reactor = reactor
        self.chat = chat
        self.client = client
        self.journal = journal
        self.heartbeat = heartbeat
        self.ready = False  # caught up with the log
        self._joining: defer.Deferred[None] | None = None

    def problem(self) -> str | None:
        """What keeps this node from serving the chat, for /health; or None."""
        if not self.client.connected:
            return (
                f"cluster: Redis at {self.client.address} is unreachable "
                f"({self.journal.waiting} commands waiting)"
            )
        if not self.ready:
            return "cluster: catching up with the log"
        return None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.client.start()
        self._joining = defer.ensureDeferred(self._join())
        self._joining.addErrback(self._not_joined)

    def _not_joined(self, failure: Failure) -> None:
        if not self.running:  # stopped before it had joined: nothing to tell
            self.log.info("node stopped before it joined the cluster")
            return
        self.log.failure("joining the cluster failed", failure)

    async def _join(self) -> None:
        secret = await self._shared_secret()
        identities = self.chat.identities
        assert isinstance(identities, EntryIdentities)
        identities.adopt(secret)
        self.heartbeat.startService()
        await self.journal.follow(self.chat.apply)
        alive = await self.heartbeat.alive()
        for node in sorted(self.chat.nodes() - alive - {self.chat.node}):
            self.log.info("node {node} is not alive: its users are gone", node=node)
            self.chat.gone(node)
        self.ready = True
        counts = self.chat.counts()
        self.log.info(
            "node {node} caught up with the cluster: {users} users, {rooms} rooms",
            node=self.chat.node,
            users=counts.users,
            rooms=counts.rooms,
        )

    async def _shared_secret(self) -> bytes:
        while True:
            await self.client.when_connected()
            try:
                secret: bytes = await shared_secret(self.client)
                return secret
            except RedisUnavailable:
                continue  # lost again meanwhile: wait for it

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return defer.ensureDeferred(self._leave())

    async def _leave(self) -> None:
        if self.client.connected:
            farewell = self.chat.gone(self.chat.node)
            farewell.addTimeout(FAREWELL_TIMEOUT, self.reactor)
            try:
                await farewell
            except Exception:
                self.log.warn("stopping without telling the others (Redis slow)")
        await defer.DeferredList(
            [
                defer.maybeDeferred(self.heartbeat.stopService),
                self.journal.stop(),
            ]
        )
        await self.client.stop()


def build_node(
    reactor: Any, address: RedisAddress, *, log_queue: int = LOG_QUEUE, **chat: Any
) -> tuple[ReplicatedService, ClusterNode]:
    """
    The chat of a node of the cluster at C{address} (C{chat}: the
    L{ReplicatedService}'s other arguments), and the service that joins it.
    C{log_queue}: commands that may wait while Redis is away.
    """
    node = new_node_id()
    client = RedisClient(reactor, address, node)
    journal = RedisLog(client, queue_limit=log_queue)
    # The secret is Redis's, adopted before any entry is applied.
    service = ReplicatedService(reactor, journal, node, secrets.token_bytes(32), **chat)
    heartbeat = Heartbeat(client, node, on_dead=service.gone)
    return service, ClusterNode(reactor, service, client, journal, heartbeat)
