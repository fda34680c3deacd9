"""
Message ids: the name every message, private message and picture gets when the
core accepts it, the same on every front and in the history.

An id is the server's start time in milliseconds and a few random digits (so
two servers started in the same millisecond differ), then a count:
C{"19d6a0c2f1e3a7-42"}. IRC clients see it as the C{msgid} tag and ask for
history around it (C{CHATHISTORY}); the history files keep it as the entry's
C{id}.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from itertools import count

from twisted.internet.interfaces import IReactorTime


def message_ids(clock: IReactorTime) -> Iterator[str]:
    """
    The ids of this server start, in order: C{next(ids)} is a new one. (An
    iterator made of C functions: no Python call on the hot path.)
    """
    start = f"{int(clock.seconds() * 1000):x}{secrets.token_hex(4)}-"
    return map((start + "%d").__mod__, count(1))  # start: hex digits and "-"
