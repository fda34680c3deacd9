"""
C{/health} on the web port: C{200 ok} while the server does its job, C{503}
and the one-line reason otherwise (L{twistedchat.server.health}), in plain
text, for a load balancer's or a supervisor's probe.
"""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Request

from ...server.health import Health


class HealthResource(Resource):
    """Answers each probe from the server's L{Health}, never from a cache."""

    isLeaf = True

    def __init__(self, health: Health) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.health = health

    def render_GET(self, request: Request) -> bytes:
        problem = self.health.problem()
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        if problem is None:
            return b"ok\n"
        request.setResponseCode(503)
        return problem.encode("utf-8", "replace") + b"\n"
