"""
The IRC server's name: what numerics come from and replies name the server
by (the C{SERVER_NAME} setting), and the rule a name must follow; and its
description (C{SERVER_INFO}), a line LINKS shows after the name.
"""

from __future__ import annotations

import re

DEFAULT_SERVER_NAME = "twistedchat"
DEFAULT_SERVER_INFO = "a chat service built on Twisted"
SERVER_INFO_MAX = 100  # characters
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


def check_server_info(info: str) -> str:
    """C{info}, or a C{ValueError} that says what a description may be."""
    if not info.strip() or len(info) > SERVER_INFO_MAX or not info.isprintable():
        raise ValueError(
            f"not a server description (1 to {SERVER_INFO_MAX} printable "
            f"characters): {info!r}"
        )
    return info
