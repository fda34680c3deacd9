"""
The IRC server's name: what numerics come from and replies name the server
by (the C{SERVER_NAME} setting), and the rule a name must follow.
"""

from __future__ import annotations

import re

DEFAULT_SERVER_NAME = "twistedchat"
SERVER_NAME_MAX = 63  # RFC 2812, 1.1: "a maximum length of sixty three (63) characters"
# RFC 2812's hostname: labels of letters, digits and inner hyphens, joined by dots.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_SERVER_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def is_valid_server_name(name: str) -> bool:
    """Whether C{name} can name an IRC server (C{irc.example.org}, C{twistedchat})."""
    return len(name) <= SERVER_NAME_MAX and _SERVER_NAME.fullmatch(name) is not None


def check_server_name(name: str) -> str:
    """C{name}, or a C{ValueError} that says what a server name may be."""
    if not is_valid_server_name(name):
        raise ValueError(
            f"not an IRC server name (up to {SERVER_NAME_MAX} letters, digits, "
            f"hyphens and dots, like irc.example.org): {name!r}"
        )
    return name
