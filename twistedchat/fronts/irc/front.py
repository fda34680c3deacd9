"""
The IRC front's factory: what every IRC connection shares, among them the
command table its connections dispatch through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from ...core.service import ChatService
from ..base import Front
from ..fanout import Broadcaster
from ..policy import ConnectionCounter, Limits
from .commands import COMMANDS, Command
from .protocol import IRCProtocol
from .render import render_plain, renderer
from .servername import (
    DEFAULT_SERVER_INFO,
    DEFAULT_SERVER_NAME,
    check_server_info,
    check_server_name,
)


class IRCFront(Front[IRCProtocol]):
    """Builds an L{IRCProtocol} per connection; all share one L{ChatService}."""

    protocol = IRCProtocol
    commands: Mapping[str, Command] = COMMANDS

    def __init__(
        self,
        service: ChatService,
        motd: list[str] | None = None,
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
        server_name: str = DEFAULT_SERVER_NAME,
        *,
        server_info: str = DEFAULT_SERVER_INFO,
    ) -> None:
        super().__init__(service, render_plain, limits, connections)
        # What numerics come from and replies name the server by.
        self.server_name = check_server_name(server_name)
        self.server_info = check_server_info(server_info)  # what LINKS says of it
        # One broadcaster per rendering variant in use (see capabilities.py),
        # made when a first client of that variant needs it.
        self._variants: dict[frozenset[str], Broadcaster] = {
            frozenset(): self.broadcaster
        }
        self.started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.motd = motd or [
            "Welcome to twistedchat. Channels here are the rooms of every front:",
            "#general is the room netcat and twistedchat users land in.",
        ]

    def broadcaster_of(self, variant: frozenset[str]) -> Broadcaster:
        """
        The broadcaster of the clients holding the rendering capabilities
        C{variant}: each event is rendered once for all of them.
        """
        broadcaster = self._variants.get(variant)
        if broadcaster is None:
            broadcaster = self.broadcaster_for(renderer(variant))
            self._variants[variant] = broadcaster
        return broadcaster
