"""
The end-to-end run's fixtures: a real C{twistd -n twistedchat} per test.

Each test gets its own data folder and a server whose fronts listen on ports
the system chooses on 127.0.0.1; the server is stopped with SIGTERM (and
waited for) whatever the test's outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_twisted

from e2e.programs import ChatServer


@pytest_twisted.async_yield_fixture
async def chat_server(tmp_path: Path) -> AsyncIterator[ChatServer]:
    server = await ChatServer.start(tmp_path / "server")
    try:
        yield server
    finally:
        await server.stop()


# The cluster's fixtures (a real Redis, real nodes): e2e/cluster.py.
from e2e.cluster import cluster, persistent_cluster, redis_installed  # noqa: E402, F401
