"""
The IRC front: real IRC clients (irssi, WeeChat, HexChat) in the same rooms
as the other fronts' users.

 - L{front}: the factory, L{IRCFront}, shared by every IRC connection;
 - L{protocol}: one connection, L{IRCProtocol}: framing, dispatch, replies;
 - L{commands}: the command table, each command's handler and rules;
 - L{registration}, L{server}, L{channels}, L{messages}, L{users},
   L{operators}: the handlers, by topic;
 - L{servername}: the server's name (a setting) and its rule;
 - L{capabilities}: the IRCv3 capabilities offered, and their negotiation;
 - L{tags}: IRCv3 message tags on the wire (parsing, escaping, limits);
 - L{render}: core events as IRC lines; L{numerics}: core refusals as
   numeric replies; L{queries}: the reads of the core's state.
"""

from .channels import parse_modes
from .commands import COMMANDS, Command
from .front import IRCFront
from .numerics import NUMERICS, NotAChannel
from .protocol import IRCProtocol
from .render import (
    HOST,
    MAX_LINE,
    clean,
    fit,
    prefix,
    render_lines,
    render_plain,
    render_tagged,
    rows,
    server_time,
)
from .servername import DEFAULT_SERVER_NAME, is_valid_server_name

__all__ = [
    "COMMANDS",
    "DEFAULT_SERVER_NAME",
    "HOST",
    "MAX_LINE",
    "NUMERICS",
    "Command",
    "IRCFront",
    "IRCProtocol",
    "NotAChannel",
    "clean",
    "fit",
    "is_valid_server_name",
    "parse_modes",
    "prefix",
    "render_lines",
    "render_plain",
    "render_tagged",
    "rows",
    "server_time",
]
