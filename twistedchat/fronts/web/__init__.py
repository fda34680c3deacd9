"""
The web front: a twisted.web site on the WEB endpoint, serving the page and
the WebSocket (C{/ws}) that speaks the framed protocol in JSON.
"""

from .protocol import WebFront, WebProtocol
from .site import build_site

__all__ = ["WebFront", "WebProtocol", "build_site"]
