"""
C{/metrics} on the web port: the server's registry
(L{twistedchat.server.metrics}) in Prometheus' text format, or in OpenMetrics
when the scraper asks for it (C{Accept}), as C{prometheus_client}'s own
handlers choose.

The text is made on the reactor's thread, from counts that only that thread
changes: C{prometheus_client}'s own Twisted resource would run the
collectors in a thread of the reactor's pool, reading the chat's state while
the reactor changes it. Making it costs a scrape about a millisecond.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from twisted.web.resource import Resource
from twisted.web.server import Request


class MetricsResource(Resource):
    """The registry's metrics, collected when asked."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        accept = request.getHeader("accept")
        encode, content_type = choose_encoder(accept)  # type: ignore[arg-type]
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return encode(self.registry)
