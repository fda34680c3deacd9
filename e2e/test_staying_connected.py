"""
Staying connected, with real programs: a client idle for longer than the
server lets a silent peer live stays in its room, and a server that stops
answering is noticed by the client within its keep-alive bound.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest_twisted
from twisted.internet.task import deferLater

from e2e.programs import (
    ChatServer,
    NetcatUser,
    TerminalClient,
    client_arguments,
    reactor,
)

# The server pings a peer silent for IDLE s and drops it PING s later.
IDLE, PING = 2, 2


@pytest_twisted.ensureDeferred
async def test_idle_client_is_not_dropped(tmp_path: Path) -> None:
    server = await ChatServer.start(
        tmp_path / "server", "--idle-timeout", str(IDLE), "--ping-timeout", str(PING)
    )
    toto: NetcatUser | None = None
    client: TerminalClient | None = None
    try:
        toto = await NetcatUser.connect(server.ports["line"], "toto")
        client = TerminalClient.start(
            *client_arguments(server.ports["framed"], tmp_path),
            cwd=tmp_path,
            terminal=False,
        )
        await toto.wait_for('"tutu" joined #general')
        toto.send("MSG before the quiet time")
        await client.wait_for_output("toto said: before the quiet time")
        seen_by_toto = len(toto.lines)

        # Three times what a silent peer is given: the server pings it, and
        # drops it if it does not answer.
        await deferLater(reactor, 3 * (IDLE + PING), lambda: None)

        toto.send("MSG still there?")
        await client.wait_for_output("toto said: still there?")
        client.line("yes")
        await toto.wait_for("[tutu] yes", after=seen_by_toto)
        output = client.text()
        assert "ping timeout" not in server.log
        assert 'client disconnected "tutu"' not in server.log
        # The room saw no leave and no come-back; the client did not
        # reconnect, nor was the history replayed to it.
        assert [line for line in toto.lines[seen_by_toto:] if '"tutu"' in line] == []
        assert "Connection lost" not in output
        assert "Welcome back" not in output
        # Shown live once; a replay would show it again, as history.
        assert output.count("before the quiet time") == 1, output
        assert output.count("Welcome tutu!") == 1

        # The conversation log (private messages too) is the user's alone.
        state = tmp_path / "state"
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(state / "client.log").st_mode) == 0o600
    finally:
        if client is not None:
            client.line("/quit")
            await client.wait_exit()
        if toto is not None:
            toto.close()
        await server.stop()
    assert client.status == 0


@pytest_twisted.ensureDeferred
async def test_stopped_server_is_noticed(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    keepalive = 1.0
    client = TerminalClient.start(
        *client_arguments(
            chat_server.ports["framed"], tmp_path, "--keepalive", f"{keepalive:g}"
        ),
        cwd=tmp_path,
        terminal=False,
    )
    port = chat_server.ports["framed"]
    try:
        await client.wait_for_output("You are in #general")
        chat_server.signal("STOP")  # alive to the kernel, deaf to the client
        stopped = time.monotonic()
        await client.wait_for_output(f"127.0.0.1:{port} stopped answering", timeout=10)
        noticed = time.monotonic() - stopped
        # One keep-alive of silence, a Ping, one more without an answer.
        assert noticed < 2 * keepalive + 3, noticed
        assert "Trying again for" in client.text()
        chat_server.signal("CONT")
        await client.wait_for_output("Welcome back tutu!", timeout=15)
        # Said once, though every attempt while it was stopped failed alike.
        assert client.text().count("stopped answering") == 1
    finally:
        chat_server.signal("CONT")
        client.line("/quit")
        await client.wait_exit()
    assert client.status == 0
