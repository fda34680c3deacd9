"""
The IRC front: real IRC clients (irssi, WeeChat, HexChat) in the same rooms
as the other fronts' users.

 - L{front}: the factory, L{IRCFront}, shared by every IRC connection;
 - L{protocol}: one connection, L{IRCProtocol}: framing, dispatch, replies;
 - L{commands}: the command table, each command's handler and rules;
 - L{registration}, L{server}, L{channels}, L{messages}, L{users},
   L{operators}: the handlers, by topic;
 - L{render}: core events as IRC lines; L{numerics}: core refusals as
   numeric replies; L{queries}: the reads of the core's state.
"""

from .channels import parse_modes
from .commands import COMMANDS, Command
from .front import IRCFront
from .numerics import NUMERICS, NotAChannel
from .protocol import IRCProtocol
from .render import (
    MAX_LINE,
    SERVER,
    clean,
    fit,
    prefix,
    render_lines,
    render_plain,
    render_tagged,
    rows,
    server_time,
)

__all__ = [
    "COMMANDS",
    "MAX_LINE",
    "NUMERICS",
    "SERVER",
    "Command",
    "IRCFront",
    "IRCProtocol",
    "NotAChannel",
    "clean",
    "fit",
    "parse_modes",
    "prefix",
    "render_lines",
    "render_plain",
    "render_tagged",
    "rows",
    "server_time",
]
