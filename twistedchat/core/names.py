"""
Names: the rules for nicks and room names, shared by every front.

Nicks compare case-insensitively with the RFC 1459 case mapping (C{[]\\^} are
the upper-case forms of C{{}}|~}), the mapping the IRC front announces, so that
uniqueness means the same thing on every front.
"""

from __future__ import annotations

import re

NICK_MAX_LENGTH = 30
NICK_SPECIALS = "_-[]{}\\|^"
RESERVED_NICKS = frozenset({"server"})

ROOM_MAX_LENGTH = 50
ROOM_SPECIALS = "_-."

_NICK = re.compile(rf"[A-Za-z0-9_\-\[\]{{}}\\|^]{{1,{NICK_MAX_LENGTH}}}")
_RFC1459_LOWER = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\^", "abcdefghijklmnopqrstuvwxyz{}|~"
)


def fold_nick(nick: str) -> str:
    """The key under which C{nick} is unique (RFC 1459 case mapping)."""
    return nick.translate(_RFC1459_LOWER)


def is_valid_nick(nick: str) -> bool:
    """Whether a user may pick C{nick}."""
    return _NICK.fullmatch(nick) is not None and fold_nick(nick) not in RESERVED_NICKS


def fold_room(room: str) -> str:
    """The key under which a room name is unique."""
    return room.casefold()


def is_valid_room(room: str) -> bool:
    """Whether C{room} (without its C{#}) may name a room."""
    return 0 < len(room) <= ROOM_MAX_LENGTH and all(
        ch.isalnum() or ch in ROOM_SPECIALS for ch in room
    )
