"""
Masks: how a room's bans and exceptions name the users they hold for.

A mask is IRC's C{nick!user@host} with C{*} (any run of characters) and C{?}
(any one character). Every user, of whatever front, has the mask the IRC front
shows for them (L{user_mask}: the nick, the user name its client gave or else
the start of its id, and the one host every user shows, since real addresses
are not shown): so a ban set by an IRC user keeps a netcat user out too.
Masks compare as nicks do (RFC 1459 case mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .names import fold_nick

# The host part of every user's mask: users' real addresses are not shown
# (the IRC front's render.HOST is the same; a test holds them together).
HOST = "twistedchat"
MASK_MAX_LENGTH = 100


@dataclass(frozen=True, slots=True)
class MaskEntry:
    """A mask on one of a room's lists, who put it there and when."""

    mask: str
    by: str
    time: float


def user_mask(nick: str, username: str, user_id: str) -> str:
    """C{nick!user@host} as the IRC front shows the user."""
    return f"{nick}!{username or user_id[:10]}@{HOST}"


def normalise(mask: str) -> str:
    """
    C{mask} completed into C{nick!user@host}, as IRC servers do: C{toto}
    stands for C{toto!*@*}, C{*@host} for C{*!*@host}, C{toto!user} for
    C{toto!user@*}.
    """
    nick, bang, rest = mask.partition("!")
    if not bang:
        if "@" in mask:  # user@host
            user, _, host = mask.partition("@")
            return f"*!{user or '*'}@{host or '*'}"
        return f"{mask}!*@*"
    user, _, host = rest.partition("@")
    return f"{nick or '*'}!{user or '*'}@{host or '*'}"


def is_valid(mask: str) -> bool:
    """Whether C{mask} may go on a list: printable, no space, not too long."""
    return (
        0 < len(mask) <= MASK_MAX_LENGTH
        and mask.isprintable()
        and " " not in mask
        and "," not in mask
    )


def matches(mask: str, target: str) -> bool:
    """Whether C{mask} (C{*} and C{?} as wildcards) holds for the mask C{target}."""
    return _pattern(fold_nick(mask)).fullmatch(fold_nick(target)) is not None


def fold(mask: str) -> str:
    """What two spellings of one mask have in common (as nicks compare)."""
    return fold_nick(mask)


@lru_cache(maxsize=1024)
def _pattern(mask: str) -> re.Pattern[str]:
    parts = (
        ".*" if char == "*" else "." if char == "?" else re.escape(char)
        for char in mask
    )
    return re.compile("".join(parts), re.DOTALL)
