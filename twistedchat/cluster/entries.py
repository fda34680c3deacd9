"""
The log's entries: one command of one node, as JSON.

An entry names the node that appended it and its number there (C{seq}: a node
counts its entries from 1, so an entry sent twice, when Redis's answer to the
first was lost, is recognised and applied once), the time the node gave it
(the time of its events on every node), the command and the session it came
from (the node's own number for it), and the command's arguments. A
connection's entry also carries its client's echo preferences and the user id
chosen for it, so that every node makes the same session of it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Entry", "decode", "encode"]


class Entry:
    """One command, as the log keeps it."""

    __slots__ = (
        "args",
        "command",
        "echo",
        "how",
        "node",
        "seq",
        "session",
        "time",
        "user",
    )

    def __init__(
        self,
        node: str,
        seq: int,
        time: float,
        command: str,
        session: int = 0,
        args: list[Any] | None = None,
        how: dict[str, Any] | None = None,
        *,
        echo: list[bool] | None = None,
        user: str = "",
    ) -> None:
        self.node = node
        self.seq = seq
        self.time = time
        self.command = command
        self.session = session  # the appending node's number for the session
        self.args: list[Any] = args or []
        self.how: dict[str, Any] = how or {}  # keyword arguments
        self.echo: list[bool] = echo or [False, False]  # a connection's client's
        self.user = user  # a connection's new user id

    def __repr__(self) -> str:
        return f"<Entry {self.command} #{self.seq} of {self.node}>"


def encode(entry: Entry) -> bytes:
    fields: dict[str, Any] = {
        "n": entry.node,
        "q": entry.seq,
        "t": entry.time,
        "c": entry.command,
    }
    if entry.session:
        fields["s"] = entry.session
    if entry.args:
        fields["a"] = entry.args
    if entry.how:
        fields["k"] = entry.how
    if entry.command == "connect":
        fields["e"] = entry.echo
        fields["u"] = entry.user
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes) -> Entry:
    """The entry C{data} encodes (a malformed one raises ValueError or KeyError)."""
    fields = json.loads(data.decode("utf-8"))  # str: json need not guess
    return Entry(
        fields["n"],
        fields["q"],
        fields["t"],
        fields["c"],
        fields.get("s", 0),
        fields.get("a"),
        fields.get("k"),
        echo=fields.get("e"),
        user=fields.get("u", ""),
    )
