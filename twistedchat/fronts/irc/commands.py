"""
The IRC commands the front understands, and each one's rules.

One table, after Ergo's C{irc/commands.go}: a command's handler and the
preconditions the connection checks before calling it, so that no handler
repeats them. A client that is not registered yet may only use the commands
marked C{registering} (451 otherwise); once registered, those not marked
C{registered} are refused (462); fewer than C{min_params} parameters, or an
empty one among them, get 461. Commands whose empty parameters have their
own answer (NICK 431, PRIVMSG 411/412, PING 409) say so in their handler and
have no C{min_params}. Commands marked C{operator} are refused (481) to a
user who is not a server operator; the core checks that right again, as it
does for every front.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import (
    channels,
    help,
    history,
    markread,
    messages,
    monitor,
    operators,
    registration,
    server,
    users,
    wallops,
)

if TYPE_CHECKING:
    from .protocol import IRCProtocol

Handler = Callable[["IRCProtocol", list[str]], object]  # may be a Deferred


@dataclass(frozen=True)
class Command:
    handler: Handler
    min_params: int = 0
    registering: bool = False  # usable before registration
    registered: bool = True  # usable once registered
    operator: bool = False  # for server operators only


COMMANDS: Mapping[str, Command] = {
    # Registration
    "PASS": Command(registration.irc_PASS, registering=True, registered=False),
    "USER": Command(registration.irc_USER, 4, registering=True, registered=False),
    "NICK": Command(registration.irc_NICK, registering=True),
    "CAP": Command(registration.irc_CAP, 1, registering=True),
    "QUIT": Command(registration.irc_QUIT, registering=True),
    # The server
    "PING": Command(server.irc_PING, registering=True),
    "PONG": Command(server.irc_PONG, registering=True),
    "LUSERS": Command(server.irc_LUSERS),
    "MOTD": Command(server.irc_MOTD),
    "TIME": Command(server.irc_TIME),
    "VERSION": Command(server.irc_VERSION),
    "INFO": Command(server.irc_INFO),
    "ADMIN": Command(server.irc_ADMIN),
    "LINKS": Command(server.irc_LINKS),
    "HELP": Command(help.irc_HELP),
    "HELPOP": Command(help.irc_HELP),
    # Channels
    "JOIN": Command(channels.irc_JOIN, 1),
    "PART": Command(channels.irc_PART, 1),
    "NAMES": Command(channels.irc_NAMES),
    "LIST": Command(channels.irc_LIST),
    "TOPIC": Command(channels.irc_TOPIC, 1),
    "MODE": Command(channels.irc_MODE, 1),
    "KICK": Command(channels.irc_KICK, 2),
    "INVITE": Command(channels.irc_INVITE),  # none: the invitations one has
    # Messages
    "PRIVMSG": Command(messages.irc_PRIVMSG),
    "NOTICE": Command(messages.irc_NOTICE),
    "TAGMSG": Command(messages.irc_TAGMSG),
    # Users
    "WHO": Command(users.irc_WHO),
    "WHOIS": Command(users.irc_WHOIS, 1),
    "WHOWAS": Command(users.irc_WHOWAS, 1),
    # History
    "CHATHISTORY": Command(history.irc_CHATHISTORY, 1),
    "MARKREAD": Command(markread.irc_MARKREAD),
    "AWAY": Command(users.irc_AWAY),
    "SETNAME": Command(users.irc_SETNAME),
    "ISON": Command(users.irc_ISON, 1),
    "USERHOST": Command(users.irc_USERHOST, 1),
    "MONITOR": Command(monitor.irc_MONITOR, 1),
    # Server operators
    "OPER": Command(operators.irc_OPER, 2),
    "KILL": Command(operators.irc_KILL, 1, operator=True),
    "WALLOPS": Command(wallops.irc_WALLOPS, 1, operator=True),
}
