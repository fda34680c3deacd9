"""
The assignment's first session, with real programs: netcat users and the
terminal client on a pseudo-terminal share one room.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from e2e.programs import ChatServer, NetcatUser, TerminalClient, client_arguments


@pytest_twisted.ensureDeferred
async def test_netcat_users_and_terminal_client_share_the_room(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    client = TerminalClient.start(
        *client_arguments(chat_server.ports["framed"], tmp_path), cwd=tmp_path
    )
    try:
        await toto.wait_for("tutu")  # the announcement of tutu's arrival
        toto.send("MSG hello world!")
        await client.wait_for_screen("toto said: hello world!")
        client.line("salut toto")
        assert "salut toto" in await toto.wait_for("[tutu]")
    finally:
        client.line("/quit")
        await client.wait_exit()
        toto.close()
    assert client.status == 0
