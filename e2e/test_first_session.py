"""
The assignment's first session, with real programs: netcat users and the
terminal client on a pseudo-terminal share one room.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from e2e.programs import ChatServer, NetcatUser, TerminalClient


@pytest_twisted.ensureDeferred
async def test_netcat_users_and_terminal_client_share_the_room(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    client = TerminalClient.start(
        "-a",
        "127.0.0.1",
        "-p",
        str(chat_server.ports["framed"]),
        "--nick",
        "tutu",
        "--room",
        "general",
        "--lang",
        "en",
        "--state-dir",
        str(tmp_path / "state"),
        "--log-file",
        str(tmp_path / "client.log"),
        cwd=tmp_path,
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
