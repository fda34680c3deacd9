"""
IRCv3 C{batch} and C{labeled-response} on one IRC connection: tags added
to lines already rendered, batches of lines, and the replies to one labeled
command gathered into one answer (its C{label} is read from the line's tags,
see L{twistedchat.fronts.irc.tags}).

A client holding C{labeled-response} may start a command with
C{@label=...}: everything that command makes the server send this client is
gathered in a L{Labeled} instead of written (its replies, and the events of
its own doing: its JOIN, its echoed message), while the command runs; then
the answer goes out as one piece: nothing becomes a labeled C{ACK}, one line
gets the C{label} tag, one batch gets it on its opening line, and several
lines become a C{labeled-response} batch (for clients holding C{batch}; for
others, the label goes on the first line only). Replies to one connection
already come in command order (a command that finishes later holds the
connection's input), so an answer never mixes with the next command's.
Events of others that reach the client while a command waits (on the disk,
on a password check) are not part of its answer: they go out meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable

from .tags import escape


def tagged(line: bytes, tags: str) -> bytes:
    """C{line} with C{tags} (C{key=value;...}, escaped) before its own, if any."""
    if line.startswith(b"@"):
        return b"@" + tags.encode() + b";" + line[1:]
    return b"@" + tags.encode() + b" " + line


class Batches:
    """The batch references of one connection: each one new."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = 0

    def new(self) -> str:
        """A reference no other batch of this connection had (letters and digits)."""
        self._count += 1
        return f"b{self._count}"


def batch(
    server: str,
    reference: str,
    kind: str,
    lines: Iterable[bytes],
    *parameters: str,
    tags: str = "",
) -> list[bytes]:
    """C{lines} (each ending with CRLF) in a batch C{kind}; C{tags} on its opening."""
    opening = " ".join([f":{server} BATCH +{reference} {kind}", *parameters]).encode()
    if tags:
        opening = tagged(opening, tags)
    inner = f"batch={reference}"
    return [
        opening + b"\r\n",
        *[tagged(line, inner) for line in lines],
        f":{server} BATCH -{reference}\r\n".encode(),
    ]


class Labeled:
    """The answer to one labeled command, gathered while it runs."""

    __slots__ = ("data", "label")

    def __init__(self, label: str) -> None:
        self.label = label
        self.data: list[bytes] = []

    def take(self, data: bytes) -> None:
        self.data.append(data)

    def answer(self, server: str, nick: str, batches: Batches | None) -> bytes:
        """
        What the client is sent: the gathered lines labeled, in a batch of
        their own if there are several and C{batches} (the client holds
        C{batch}); a labeled C{ACK} if there are none.
        """
        label = f"label={escape(self.label)}"
        lines = [line + b"\r\n" for line in b"".join(self.data).split(b"\r\n") if line]
        if not lines:
            return tagged(f":{server} ACK\r\n".encode(), label)
        if len(lines) == 1 or batches is None or _one_batch(lines):
            return b"".join([tagged(lines[0], label), *lines[1:]])
        return b"".join(
            batch(server, batches.new(), "labeled-response", lines, tags=label)
        )


def _one_batch(lines: list[bytes]) -> bool:
    """Whether C{lines} are one batch, from its opening to its end."""
    first = _command(lines[0])
    if len(first) < 3 or first[1] != b"BATCH" or not first[2].startswith(b"+"):
        return False
    last = _command(lines[-1])
    return len(last) >= 3 and last[1] == b"BATCH" and last[2] == b"-" + first[2][1:]


def _command(line: bytes) -> list[bytes]:
    """The source, command and first parameter of C{line}, its tags left out."""
    if line.startswith(b"@"):
        line = line.partition(b" ")[2]
    return line.rstrip(b"\r\n").split(b" ", 3)[:3]
