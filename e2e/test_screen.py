"""
The screen the end-to-end run reads programs on: pyte, with the sequences of
xterm's terminfo that curses programs (irssi, WeeChat) send and pyte 0.8
ignores, so that what a test reads is what a person sees.
"""

from __future__ import annotations

from e2e.programs import TerminalProgram


def screen_after(data: bytes) -> list[str]:
    program = TerminalProgram(columns=10, rows=4, terminal=True)
    program.stream.feed(data)
    return program.display()


def test_scroll_up_within_the_margins() -> None:
    # Rows 2 to 3 (1-based) scroll up by one: the first and last stay.
    rows = screen_after(b"a\r\nb\r\nc\r\nd\x1b[2;3r\x1b[1S")
    assert rows == ["a", "c", "", "d"]


def test_scroll_down_the_whole_screen() -> None:
    rows = screen_after(b"a\r\nb\r\nc\r\nd\x1b[2T")
    assert rows == ["", "", "a", "b"]


def test_repeat_the_last_character() -> None:
    # ncurses draws a line of 6 dashes as "-" and "repeat it 5 times".
    rows = screen_after(b"x-\x1b[5by")
    assert rows == ["x------y", "", "", ""]
