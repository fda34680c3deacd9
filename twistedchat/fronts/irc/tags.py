"""
IRCv3 message tags on the wire: the C{@name=value;...} section a line may
start with, its escaping, and its limits.

A client's line may carry up to L{MAX_TAGS} bytes of tags (the C{@} and the
space after them included) before the 512 bytes of the line itself; longer
gets 417. Of the tags a client sends, the server keeps every one for the
command's handler to read (C{label}, for one), and relays only the
client-only ones (C{+name}) with a message, to the clients that asked for
C{message-tags}.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ...core.events import Tags

MAX_TAGS = 4096  # bytes of a client's tags section: 4094 of data, "@" and " "
NO_TAGS: Mapping[str, str] = MappingProxyType({})

_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = str.maketrans(_ESCAPES)


def parse_tags(section: str) -> dict[str, str]:
    """C{a=b;+c=d\\se;f} (without its C{@}) as C{{"a": "b", "+c": "d e", "f": ""}}."""
    tags: dict[str, str] = {}
    for item in section.split(";"):
        name, _, value = item.partition("=")
        if name:
            tags[name] = unescape(value)
    return tags


def unescape(value: str) -> str:
    """A tag's value as it was meant: C{\\:} is C{;}, C{\\s} a space..."""
    if "\\" not in value:
        return value
    out = []
    characters = iter(value)
    for character in characters:
        if character == "\\":
            following = next(characters, "")  # a lone final backslash is dropped
            out.append(_UNESCAPES.get(following, following))
        else:
            out.append(character)
    return "".join(out)


def escape(value: str) -> str:
    """A tag's value as written on the wire."""
    return value.translate(_ESCAPE)


def client_only(tags: Mapping[str, str]) -> Tags:
    """The tags a client meant for the other clients (C{+name}), in its order."""
    return tuple((name, value) for name, value in tags.items() if name[0] == "+")


def format_tags(tags: Tags) -> str:
    """C{tags} as C{name=value} items joined by C{;} (a name alone if no value)."""
    return ";".join(
        f"{name}={escape(value)}" if value else name for name, value in tags
    )


def tags_too_long(line: bytes, max_line: int) -> bool:
    """
    Whether C{line} (up to its LF, its CR kept) is beyond the limits: its
    tags section over L{MAX_TAGS} bytes, or the rest over C{max_line} bytes
    with its LF.
    """
    if not line.startswith(b"@"):
        return len(line) + 1 > max_line
    space = line.find(b" ")
    if space == -1 or space + 1 > MAX_TAGS:
        return True
    return len(line) - (space + 1) + 1 > max_line
