"""
The client on a real pseudo-terminal, typed on as a person types: editing
keys, a stray Ctrl+L, the history, Tab; the input line kept at the bottom
while the room talks above it; the terminal given back as it was on every
way out (/quit, Ctrl+C, Ctrl+D, the server gone).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest_twisted

from e2e.programs import ChatServer, NetcatUser, TerminalClient, client_arguments

LEFT, RIGHT, UP, HOME, END = b"\x1b[D", b"\x1b[C", b"\x1b[A", b"\x1b[H", b"\x1b[F"
CTRL_L, CTRL_C, CTRL_D, TAB = b"\x0c", b"\x03", b"\x04", b"\t"


# The terminal as the client left it: its settings, and whether a program
# reading it next would block as it expects.
AFTERWARDS = (
    f"stty -a; {sys.executable} -c "
    "'import os; print(\"blocking:\", os.get_blocking(0), os.get_blocking(1))'"
)


def start_client(
    server: ChatServer, folder: Path, *more: str, then: str | None = AFTERWARDS
) -> TerminalClient:
    return TerminalClient.start(
        *client_arguments(
            server.ports["framed"],
            folder,
            "--log-file",
            str(folder / "client.log"),
            *more,
            nick="alice",
        ),
        cwd=folder,
        then=then,
    )


def assert_terminal_restored(client: TerminalClient) -> None:
    """C{stty -a} after the client: line editing and echo back, as they were."""
    settings = client.text().split()
    for flag in ("icanon", "echo", "isig", "icrnl", "ixon"):
        assert flag in settings, f"{flag} not restored: {client.text()[-1500:]}"
    assert "blocking: True True" in client.text(), client.text()[-1500:]
    assert client.screen.margins is None or client.screen.margins == (
        0,
        client.screen.lines - 1,
    ), "scroll region left set"


async def typed(user: NetcatUser, text: str, after: int = 0) -> str:
    return await user.wait_for(text, after=after)


@pytest_twisted.ensureDeferred
async def test_arrows_and_a_stray_ctrl_l_send_nothing_to_the_room(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    tutu = await NetcatUser.connect(chat_server.ports["line"], "tutu")
    client = start_client(chat_server, tmp_path)
    try:
        await toto.wait_for("alice")  # alice's arrival
        await client.wait_for_screen("You are in #general")

        # ←/→, Home/End and Backspace edit the line; none of them is sent.
        client.keys(b"hllo wrld")
        client.keys(LEFT * 3 + b"o" + HOME + RIGHT + b"e" + END + b"!!" + b"\x7f")
        client.keys(b"\r")
        said = await toto.wait_for("[alice]")
        assert said.endswith("[alice] hello world!"), said

        # A stray Ctrl+L before a private message: the room hears nothing.
        heard = len(toto.lines)
        client.keys(CTRL_L + b"/msg tutu psst\r")
        client.line("marker")
        await toto.wait_for("marker", after=heard)
        assert not [line for line in toto.lines[heard:] if "psst" in line]
        assert "psst" in await tutu.wait_for("psst")
    finally:
        client.keys(b"\x15")  # Ctrl+U: whatever was left typed
        client.line("/quit")
        status = await client.wait_exit()
        toto.close()
        tutu.close()
    assert status == 0
    assert_terminal_restored(client)


@pytest_twisted.ensureDeferred
async def test_the_input_line_stays_below_history_and_tab_work(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    tutu = await NetcatUser.connect(chat_server.ports["line"], "tutu")
    client = start_client(chat_server, tmp_path)
    try:
        await toto.wait_for("alice")  # alice's arrival
        await client.wait_for_screen("You are in #general")

        # An incoming line while one is half typed: above it, not inside it.
        client.keys(b"half typed")
        await client.wait_for_screen("[#general] half typed")
        toto.send("MSG incoming!")
        rows = await client.wait_for_screen("toto said: incoming!")
        assert rows[-1] == "[#general] half typed", rows
        assert not [row for row in rows[:-1] if "half typed" in row], rows
        client.keys(b" line\r")
        await toto.wait_for("half typed line")
        heard = len(toto.lines)
        rows = await client.wait_for_screen("You said: half typed line")
        # Shown once (as said), not also as the terminal's echo of the line.
        shown = [row for row in rows if "half typed line" in row]
        assert shown == [row for row in shown if "You said" in row], rows
        assert len(shown) == 1, rows

        # ↑ brings the last line back; Enter sends it again.
        client.keys(UP)
        await client.wait_for_screen("[#general] half typed line")
        client.keys(b"\r")
        await toto.wait_for("half typed line", after=heard)

        # Tab completes a nick of the room.
        client.keys(b"hi tu" + TAB)
        rows = await client.wait_for_screen("[#general] hi tutu")
        assert client.screen.cursor.x == len("[#general] hi tutu "), rows
        client.keys(b"!\r")
        said = await toto.wait_for("hi tutu", after=heard)
        assert said.endswith("[alice] hi tutu !"), said
    finally:
        client.keys(b"\x15")  # Ctrl+U: whatever was left typed
        client.line("/quit")
        status = await client.wait_exit()
        toto.close()
        tutu.close()
    assert status == 0
    assert_terminal_restored(client)


@pytest_twisted.ensureDeferred
async def test_the_terminal_is_restored_after_ctrl_c_and_ctrl_d(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    for key in (CTRL_C, CTRL_D):
        folder = tmp_path / str(key[0])
        folder.mkdir()
        client = start_client(chat_server, folder)
        await client.wait_for_screen("You are in #general")
        client.keys(key)
        assert await client.wait_exit() == 0
        assert_terminal_restored(client)


@pytest_twisted.ensureDeferred
async def test_the_terminal_is_restored_when_the_server_goes(tmp_path: Path) -> None:
    server = await ChatServer.start(tmp_path / "server")
    try:
        client = start_client(server, tmp_path, "--reconnect", "0")
        await client.wait_for_screen("You are in #general")
        client.keys(b"half typed")
        await client.wait_for_screen("[#general] half typed")
    finally:
        await server.stop()
    assert await client.wait_exit() == 1
    assert "The server went away." in client.text()
    assert_terminal_restored(client)


@pytest_twisted.ensureDeferred
async def test_part_says_where_lines_go_now_and_the_prompt_shows_it(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    client = start_client(chat_server, tmp_path)
    try:
        await client.wait_for_screen("You are in #general")
        client.line("/join dev")
        await client.wait_for_screen("[#dev]")
        client.line("/part")
        rows = await client.wait_for_screen("What you type now goes to #general.")
        assert rows[-1] == "[#general]", rows
        client.line("back here")
        assert "back here" in await toto.wait_for("back here")
    finally:
        client.line("/quit")
        await client.wait_exit()
        toto.close()


@pytest_twisted.ensureDeferred
async def test_a_resized_window_keeps_the_input_line_at_the_bottom(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    client = start_client(chat_server, tmp_path)
    try:
        await client.wait_for_screen("You are in #general")
        client.keys(b"typing")
        await client.wait_for_screen("[#general] typing")
        client.resize(100, 30)
        toto.send("MSG after the resize")
        rows = await client.wait_for_screen("toto said: after the resize")
        assert len(rows) == 30
        assert rows[-1] == "[#general] typing", rows
        assert "after the resize" in rows[-2], rows
    finally:
        client.keys(b"\x15")
        client.line("/quit")
        await client.wait_exit()
        toto.close()
    assert_terminal_restored(client)
