"""
WALLOPS: a server operator's message to the other server operators, on
every front (the core's L{twistedchat.core.notices.wallops}). Users without
the operator's right are refused (481) by the command table, and by the core.
There is no user mode C{w}: every server operator hears WALLOPS, and nobody
else (Modern IRC allows a server to send them to operators only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.notices import wallops

if TYPE_CHECKING:
    from .protocol import IRCProtocol


def irc_WALLOPS(client: IRCProtocol, params: list[str]) -> None:
    client.factory.service.act(wallops, client.registered_session(), params[0])
