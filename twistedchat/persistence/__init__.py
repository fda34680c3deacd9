"""
Persistence: where the history the core records goes (JSON Lines files per
room, written by a thread of their own). The core sees only
L{twistedchat.core.history.IHistory}; the server's service tree builds the
L{HistoryWriter}.
"""

from .files import (
    FSYNC_POLICIES,
    MAX_LINE,
    FsyncPolicy,
    file_name,
    largest_entry,
    read_tail,
)
from .writer import (
    DEFAULT_BATCH,
    DEFAULT_FLUSH_MS,
    DEFAULT_KEEP,
    DEFAULT_MAX_BYTES,
    DEFAULT_REPLAY,
    DEFAULT_STOP_RETRY,
    HistoryWriter,
)

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_FLUSH_MS",
    "DEFAULT_KEEP",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_REPLAY",
    "DEFAULT_STOP_RETRY",
    "FSYNC_POLICIES",
    "MAX_LINE",
    "FsyncPolicy",
    "HistoryWriter",
    "file_name",
    "largest_entry",
    "read_tail",
]
