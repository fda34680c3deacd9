"""
The IRCv3 capabilities the IRC front offers, in one table, and the rules of
their negotiation (CAP LS, LIST, REQ): what a client may ask for and what
its CAP replies say.

Each L{Capability} says its name, its value in C{CAP LS 302} (if any), and
whether it changes how events are rendered for the clients that have it.
Those that do (C{server-time}, C{message-tags}, ...) make a *rendering
variant*: the front keeps one broadcaster per variant in use (the frozenset
of a client's rendering capabilities, see L{IRCFront.broadcaster_of}), so an
event is still rendered once per variant, not once per client. The others
(C{multi-prefix}, C{userhost-in-names}, C{echo-message}, ...) change only
replies or delivery. A capability is added by adding a row, and is offered
only once its irctest tests pass (docs/IRC.md lists them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# One CAP LS or LIST line's list of capabilities, in bytes, at most: what is
# left of 512 after ":server CAP nick LS * :" with a long server name and nick.
LINE_BUDGET = 300


@dataclass(frozen=True)
class Capability:
    name: str
    value: str = ""  # shown as name=value to clients of CAP LS 302 and later
    renders: bool = False  # whether events are rendered otherwise for its holders


def _table(*capabilities: Capability) -> Mapping[str, Capability]:
    return {capability.name: capability for capability in capabilities}


CAPABILITIES: Mapping[str, Capability] = _table(
    Capability("away-notify", renders=True),
    Capability("cap-notify"),
    Capability("echo-message"),
    Capability("invite-notify", renders=True),
    Capability("message-tags", renders=True),
    Capability("multi-prefix"),
    Capability("userhost-in-names"),
    Capability("server-time", renders=True),
    Capability("batch"),
    Capability("labeled-response"),
    Capability("draft/chathistory"),
    Capability("draft/read-marker"),
    Capability("setname", renders=True),
)

# The capabilities that make a rendering variant.
RENDERING = frozenset(name for name, cap in CAPABILITIES.items() if cap.renders)


def advertised(
    version: int, table: Mapping[str, Capability] = CAPABILITIES
) -> list[str]:
    """What C{CAP LS} lists to a client of CAP C{version} (301, 302...)."""
    return [
        f"{cap.name}={cap.value}" if cap.value and version >= 302 else cap.name
        for cap in table.values()
    ]


def split_lines(words: Iterable[str], budget: int = LINE_BUDGET) -> list[str]:
    """C{words} as space-separated lines of at most C{budget} bytes each (one at least)."""
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word.encode()) > budget:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return lines


def requested(
    held: frozenset[str],
    request: str,
    table: Mapping[str, Capability] = CAPABILITIES,
) -> frozenset[str] | None:
    """
    The capabilities a client holding C{held} has after C{CAP REQ
    :request} (C{-name} removes one), or None if the request is refused as
    a whole (an unknown name, or nothing asked): REQ is all or nothing.
    """
    names = request.split()
    if not names:
        return None
    caps = set(held)
    for name in names:
        bare = name.removeprefix("-")
        if bare not in table:
            return None
        if name.startswith("-"):
            caps.discard(bare)
        else:
            caps.add(bare)
    return frozenset(caps)
