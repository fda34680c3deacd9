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
from collections.abc import Callable
from itertools import count

from twisted.internet.interfaces import IReactorTime


def message_ids(clock: IReactorTime) -> Callable[[], str]:
    """A function that returns a new id at each call, unique to this server start."""
    start = f"{int(clock.seconds() * 1000):x}{secrets.token_hex(4)}-"
    numbers = count(1)
    return lambda: f"{start}{next(numbers)}"
