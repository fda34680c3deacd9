"""
What a person sees while the client connects, on a real terminal: where it
connects, at once; a server that cannot be reached, within a second, with
what comes next; each state said once; Ctrl+C leaving cleanly at any moment.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest_twisted

from e2e.programs import ChatServer, NetcatUser, TerminalClient, client_arguments


def free_port() -> int:
    """A loopback port nothing listens on (the system just gave it out)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_client(port: int, folder: Path, *more: str) -> TerminalClient:
    return TerminalClient.start(
        *client_arguments(port, folder, *more, nick=None, room=None), cwd=folder
    )


@pytest_twisted.ensureDeferred
async def test_wrong_port_is_said_at_once_and_once(tmp_path: Path) -> None:
    port = free_port()
    client = start_client(port, tmp_path, "--reconnect", "4")
    server = f"127.0.0.1:{port}"
    await client.wait_for_screen(f"Connecting to {server}…")
    connecting = time.monotonic()
    await client.wait_for_screen(
        f"Cannot reach {server}: connection refused. Trying again for 4 s."
    )
    assert time.monotonic() - connecting < 1
    await client.wait_for_screen(f"Cannot reach {server}, giving up.")
    assert await client.wait_exit() == 1
    text = client.text()
    # Retried every second or so, said once; and no nick asked for nothing.
    assert text.count("Cannot reach") == 2, text
    assert "Nick:" not in text


@pytest_twisted.ensureDeferred
async def test_wrong_port_without_reconnecting(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    client = start_client(port, tmp_path, "--reconnect", "0")
    await client.wait_for_screen(f"Cannot reach 127.0.0.1:{port}: connection refused.")
    assert await client.wait_exit() == 1
    assert time.monotonic() - started < 10  # not CONNECT_TIMEOUT, nor a minute
    assert "Trying again" not in client.text()


@pytest_twisted.ensureDeferred
async def test_ctrl_c_at_the_nick_question(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    client = start_client(chat_server.ports["framed"], tmp_path)
    await client.wait_for_screen("Nick:")
    client.interrupt()
    assert await client.wait_exit() == 0
    assert "Traceback" not in client.text()
    assert "KeyboardInterrupt" not in client.text()


@pytest_twisted.ensureDeferred
async def test_ctrl_c_while_trying_again(tmp_path: Path) -> None:
    client = start_client(free_port(), tmp_path, "--nick", "tutu")
    await client.wait_for_screen("Trying again for 60 s.")
    client.interrupt()
    assert await client.wait_exit() == 0
    assert "Traceback" not in client.text()


@pytest_twisted.ensureDeferred
async def test_leaves_when_nobody_reads_its_output(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    """As in `twistedchat | head -3`: the reader goes, the client leaves."""
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    client = TerminalClient.start(
        *client_arguments(chat_server.ports["framed"], tmp_path),
        cwd=tmp_path,
        terminal=False,
    )
    try:
        await toto.wait_for('"tutu" joined #general')
        client.transport.closeChildFD(1)  # type: ignore[union-attr]
        toto.send("MSG anyone there?")  # something for it to show: it cannot
        await toto.wait_for('client disconnected "tutu"')
        assert await client.wait_exit() == 0
    finally:
        if client.running:
            await client.stop()
        toto.close()
