"""
The IRC front's factory: what every IRC connection shares, among them the
command table its connections dispatch through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from twisted.internet.protocol import Factory

from ...core.service import ChatService
from ..base import ConnectionCounter, Front, Limits
from ..fanout import Broadcaster, Outbox, RenderOnce
from .commands import COMMANDS, Command
from .protocol import IRCProtocol
from .render import render_plain, render_tagged


class IRCFront(Front, Factory[IRCProtocol]):
    """Builds an L{IRCProtocol} per connection; all share one L{ChatService}."""

    protocol = IRCProtocol
    commands: Mapping[str, Command] = COMMANDS

    def __init__(
        self,
        service: ChatService,
        motd: list[str] | None = None,
        limits: Limits | None = None,
        connections: ConnectionCounter | None = None,
    ) -> None:
        self.service = service
        self.limits = limits or Limits()
        self.connections = connections or ConnectionCounter(self.limits)
        self.outbox = Outbox(service.clock)
        self.broadcaster = Broadcaster(RenderOnce(render_plain), self.outbox)
        # For clients that asked for server-time.
        self.tagged = Broadcaster(RenderOnce(render_tagged), self.outbox)
        self.started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.motd = motd or [
            "Welcome to twistedchat. Channels here are the rooms of every front:",
            "#general is the room netcat and twistedchat users land in.",
        ]
