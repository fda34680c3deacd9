"""
The service tree that C{twistd twistedchat} runs.

L{makeService} is what the twistd plugin calls; L{build_service} does the work
with the reactor passed in, so tests can build the tree on a fake reactor.
L{makeService} also opens the fronts' ports: everything that can keep the
server from starting happens there, before twistd forks, and stops it with
one line on standard error (see L{twistedchat.server.startup}).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService, IServiceCollection, MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.filepath import FilePath
from zope.interface import implementer

from ..core.identity import Identities
from ..core.service import ChatService
from ..fronts.base import ConnectionCounter, Front
from ..fronts.fanout import Fanout
from ..fronts.framed import FramedFront
from ..fronts.irc import IRCFront
from ..fronts.line import LineFront
from ..fronts.web import WebFront, build_site
from ..fronts.web.media import PictureLimits, PictureStore
from ..persistence import HistoryWriter, MarkerFile
from ..persistence.markers import FILE_NAME as MARKERS_FILE
from .health import Health
from .keys import load_identities
from .metrics import ChatCollector, metrics_registry
from .operators import OperatorsChecker
from .options import Options, ServerSettings
from .startup import DataFolder, FrontListener, StartupError, refuse

if TYPE_CHECKING:  # imported only by a cluster's node
    from ..cluster.markers import ClusterMarkers

__all__ = ["Options", "build_service", "makeService"]

log = Logger()


@implementer(IStreamServerEndpoint)
class AnnouncedEndpoint:
    """Logs the address a front actually listens on (useful with port 0)."""

    def __init__(self, front: str, endpoint: IStreamServerEndpoint) -> None:
        self.front = front
        self.endpoint = endpoint

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        return self.endpoint.listen(factory).addCallback(self._announce)

    def _announce(self, port: IListeningPort) -> IListeningPort:
        address = port.getHost()
        log.info(
            "{front} front listening on {host} port {port}",
            front=self.front,
            host=getattr(address, "host", address),
            port=getattr(address, "port", ""),
        )
        return port


def build_service(
    settings: ServerSettings,
    reactor: Any,
    endpoints: Callable[[str, str], IStreamServerEndpoint] | None = None,
) -> MultiService:
    """
    The whole server: one listening service per front around one ChatService.
    C{endpoints} gives a front's endpoint from its name and description (a
    worker's: the socket its parent passed, see cluster/workers.py).
    """
    checker = None
    if settings.operators is not None:
        checker = OperatorsChecker(reactor, FilePath(settings.operators))
    top = MultiService()
    data = DataFolder(settings.data_dir, shared=settings.cluster is not None)
    data.claim()  # first: a second server on the folder stops here
    data.setName("data")  # type: ignore[no-untyped-call]
    data.setServiceParent(top)  # type: ignore[no-untyped-call]
    identities = None  # a cluster's nodes share Redis's secret (cluster/node.py)
    if settings.cluster is None:
        try:
            identities = load_identities(settings.data_dir)
        except StartupError:
            data.release()
            raise
    # First in, so stopped last: the fronts stop listening, then the history
    # writes what is still queued.
    markers: MarkerFile | ClusterMarkers
    if settings.cluster is None:
        writer = HistoryWriter(
            os.path.join(settings.data_dir, "history"),
            reactor,
            **settings.history_options(),
        )
        markers = MarkerFile(os.path.join(settings.data_dir, MARKERS_FILE), reactor)
    else:  # the nodes' shared files, one writer at a time; markers in Redis
        from ..cluster.history import cluster_history

        writer, markers = cluster_history(settings, reactor)
    writer.setName("history")  # type: ignore[no-untyped-call]
    writer.setServiceParent(top)  # type: ignore[no-untyped-call]
    # Stopped after the fronts, before the history: it first marks what those
    # still in a room saw (they are disconnected after the services stop).
    markers.setName("read-markers")  # type: ignore[no-untyped-call]
    markers.setServiceParent(top)  # type: ignore[no-untyped-call]
    chat = _chat(settings, reactor, top, checker, identities, writer, markers)
    markers.before_stop.append(chat.reading.mark_present)
    # /health and /metrics (on the web port): read the fronts when asked.
    health = Health(reactor, top, writer)
    counted: dict[str, Front[Any]] = {}
    metrics = metrics_registry(ChatCollector(chat, writer, counted))
    limits = settings.limits
    connections = ConnectionCounter(limits)  # one count for every front
    fronts: list[tuple[str, str, IProtocolFactory]] = [
        (
            "line",
            settings.line_endpoint,
            LineFront(chat, settings.max_line, limits, connections),
        ),
        (
            "framed",
            settings.framed_endpoint,
            FramedFront(chat, settings.max_frame, limits, connections),
        ),
    ]
    if settings.irc_endpoint is not None:
        irc = IRCFront(
            chat,
            None,
            limits,
            connections,
            settings.server_name,
            server_info=settings.server_info,
        )
        fronts.append(("irc", settings.irc_endpoint, irc))
    if settings.web_endpoint is not None:
        pictures = PictureStore(
            os.path.join(settings.data_dir, "media"),
            reactor,
            PictureLimits(bytes=settings.max_picture),
        )
        pictures.setName("media")  # type: ignore[no-untyped-call]
        pictures.setServiceParent(top)  # type: ignore[no-untyped-call]
        web = WebFront(chat, settings.max_frame, limits, connections, pictures)
        site = build_site(web, settings.web_origins, health=health, metrics=metrics)
        fronts.append(("web", settings.web_endpoint, site))
    for name, description, factory in fronts:
        front = getattr(factory, "front", factory)  # the web site's: its WebSocket
        if isinstance(front, Front):
            counted[name] = front
        opened = (
            serverFromString(reactor, description)
            if endpoints is None
            else endpoints(name, description)
        )
        endpoint = AnnouncedEndpoint(name, opened)
        listening = FrontListener(name, description, endpoint, factory, reactor)
        listening.setName(name)  # type: ignore[no-untyped-call]
        listening.setServiceParent(top)  # type: ignore[no-untyped-call]
    return top


def _chat(
    settings: ServerSettings,
    reactor: Any,
    top: MultiService,
    checker: OperatorsChecker | None,
    identities: Identities | None,
    history: HistoryWriter,
    markers: MarkerFile | ClusterMarkers,
) -> ChatService:
    """The chat: this process's own, or (with CLUSTER) this node's of a cluster's."""
    how: dict[str, Any] = {
        "delivery": Fanout(),  # the fronts' batched fan-out
        "max_rooms": settings.max_rooms,
        "log_messages": settings.log_messages,
        "markers": markers,
    }
    if settings.cluster is None:
        return ChatService(
            reactor, settings.default_room, checker, identities, history, **how
        )
    from ..cluster.node import build_node  # only a cluster's node needs Redis

    chat, node = build_node(
        reactor,
        settings.cluster,
        log_queue=settings.log_queue,
        default_room=settings.default_room,
        operators=checker,
        history=history,
        **how,
    )
    # Stopped after the fronts: it tells the others its users are gone.
    node.setName("cluster")  # type: ignore[no-untyped-call]
    node.setServiceParent(top)  # type: ignore[no-untyped-call]
    return chat


def front_endpoints(settings: ServerSettings) -> list[tuple[str, str]]:
    """Each front's name and endpoint description, as build_service opens them."""
    fronts = [("line", settings.line_endpoint), ("framed", settings.framed_endpoint)]
    if settings.irc_endpoint is not None:
        fronts.append(("irc", settings.irc_endpoint))
    if settings.web_endpoint is not None:
        fronts.append(("web", settings.web_endpoint))
    return fronts


def listen_now(top: MultiService) -> None:
    """Open every front's port now, or raise L{StartupError} for the first that fails."""
    for service in IServiceCollection(top):
        if isinstance(service, FrontListener):
            service.listen_now()


def makeService(options: Options) -> IService:
    from twisted.internet import reactor

    try:
        if options.settings.workers > 1:
            from ..cluster.workers import make_service

            return make_service(reactor, options)
        top = build_service(options.settings, reactor)
        listen_now(top)
    except StartupError as e:
        refuse(str(e))
    return top
