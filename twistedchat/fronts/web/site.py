"""
The web site on the WEB endpoint: the page's files and the WebSocket.

L{build_site} makes the twisted.web L{Site}: its root serves the page's static
files (C{twistedchat/fronts/web/static/}, shipped in the package), and its
children are the WebSocket (C{/ws}) and the other fronts of the web port, each
put with one line. Every response carries the security headers (a strict
Content-Security-Policy: no inline script, nothing from elsewhere).

The upgrade to a WebSocket (L{WebSocketUpgrade}) first checks the Origin the
browser sends: a page of another site must not chat as the user of this one
(cross-site WebSocket hijacking). Without C{WEB_ORIGINS}, the page's own
origin is allowed, that is the Host the request came to, over http or https;
a client that sends no Origin is no browser, and is let in. A refused origin
gets 403 before any session exists. Then the HTTP connection's transport is
handed to the front's L{WebProtocol}: from there on, twisted.web no longer
reads it, and its request timeout no longer applies (the policy's idle pings
do).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from twisted.internet.interfaces import IConsumer
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.web import pages, resource, static
from twisted.web.server import NOT_DONE_YET, Request, Site

from .media import MediaResource
from .protocol import WebFront

__all__ = ["SECURITY_HEADERS", "STATIC", "WebSite", "WebSocketUpgrade", "build_site"]

log = Logger()

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"Content-Security-Policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Referrer-Policy", b"no-referrer"),
    (b"X-Frame-Options", b"DENY"),
)
# The page's files by extension; a module script needs a JavaScript type.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# Seconds an HTTP connection may stay silent (not an upgraded WebSocket).
HTTP_TIMEOUT = 60.0


class SecureRequest(Request):
    """A request whose response, whatever it is, carries the security headers."""

    def process(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.setHeader(name, value)  # type: ignore[no-untyped-call]
        super().process()  # type: ignore[no-untyped-call]


class StaticFiles(static.File):
    """The page's files: no directory listing, no hidden file."""

    def __init__(self, path: str, *args: Any) -> None:
        super().__init__(path, *args)
        self.contentTypes = {**static.File.contentTypes, **CONTENT_TYPES}
        self.indexNames = ["index.html"]

    def directoryListing(self) -> resource.IResource:
        return pages.forbidden("Forbidden", "This folder is not listed.")

    def getChild(self, path: bytes, request: Any) -> Any:
        if path.startswith(b"."):
            return pages.notFound()
        return super().getChild(path, request)  # type: ignore[no-untyped-call]


def normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class WebSocketUpgrade(resource.Resource):
    """C{/ws}: the upgrade to the WebSocket front, for allowed origins."""

    isLeaf = True

    def __init__(self, front: WebFront, origins: Iterable[str] = ()) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.front = front
        self.origins = frozenset(normal_origin(origin) for origin in origins)

    def allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether a page of C{origin} may open the chat's WebSocket."""
        if origin is None:
            return True  # no browser: nothing to protect its user from
        origin = normal_origin(origin)
        if self.origins:
            return origin in self.origins
        if host is None:
            return False
        host = host.strip().lower()
        return origin in (f"http://{host}", f"https://{host}")

    def render_GET(self, request: Request) -> bytes | int:
        upgrade = (request.getHeader("upgrade") or "").lower()
        if upgrade != "websocket":
            request.setResponseCode(426, b"Upgrade Required")
            request.setHeader(b"Upgrade", b"websocket")
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"This is the chat's WebSocket: connect with a WebSocket client.\n"
        origin = request.getHeader("origin")
        if not self.allowed(origin, request.getHeader("host")):
            peer = request.getClientAddress()
            log.warn(
                "refusing a WebSocket from {host}: origin {origin!r} is not allowed",
                host=getattr(peer, "host", peer),
                origin=origin,
            )
            request.setResponseCode(403)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return f"Origin {origin} is not allowed here.\n".encode()
        return self.hand_over(request)

    def hand_over(self, request: Request) -> int:
        """Give the request's connection to a new WebSocket protocol."""
        channel: Any = request.channel
        transport = channel.transport
        protocol = self.front.buildProtocol(transport.getPeer())
        # twisted.web lets go of the connection: no more reading it, no
        # producer of its own, no timeout of its own.
        channel.setTimeout(None)
        cast(IConsumer, transport).unregisterProducer()
        channel.transport = None
        if isinstance(transport, ProtocolWrapper):  # TLS
            transport.wrappedProtocol = protocol
        else:
            transport.protocol = protocol
        protocol.makeConnection(transport)  # type: ignore[no-untyped-call]
        if protocol.dropped:  # refused (too many connections): told with 503
            return NOT_DONE_YET
        transport.resumeProducing()
        # Autobahn reads the handshake from the request as it came.
        head = [request.method + b" " + request.uri + b" HTTP/1.1"]
        for name, values in request.requestHeaders.getAllRawHeaders():
            head.extend(name + b": " + value for value in values)
        protocol.dataReceived(b"\r\n".join(head) + b"\r\n\r\n")
        return NOT_DONE_YET


class WebSite(Site):
    """The site of the web port, with the WebSocket front it serves."""

    def __init__(
        self, root: resource.Resource, front: WebFront, timeout: float
    ) -> None:
        super().__init__(root, timeout=timeout, reactor=front.service.clock)  # type: ignore[no-untyped-call]
        self.front = front
        self.requestFactory = SecureRequest
        self.displayTracebacks = False

    def stopFactory(self) -> None:
        super().stopFactory()
        self.front.stopFactory()  # what the broadcasts still owe goes out


def build_site(
    front: WebFront,
    origins: Iterable[str] = (),
    static_folder: Path = STATIC,
    timeout: float = HTTP_TIMEOUT,
) -> WebSite:
    """The site of the web port: the page, and the WebSocket at C{/ws}."""
    root = StaticFiles(str(static_folder))
    root.putChild(b"ws", WebSocketUpgrade(front, origins))
    root.putChild(b"media", MediaResource(front.pictures))
    return WebSite(root, front, timeout)
