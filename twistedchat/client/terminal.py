"""
The interactive terminal: an input line at the bottom, the chat above it.

When standard input and output are a terminal, the client puts the terminal
in raw mode (L{RawMode}) and speaks to it through Twisted's own terminal
layer, C{twisted.conch.insults}: its C{ServerProtocol} parses the key
sequences (arrows, Home/End, Delete…) into key presses and offers the cursor
and scroll-region commands. L{ChatTerminal}, the protocol on top, keeps the
bottom row for the line being typed (a L{LineEditor}, with the current room
in its prompt) and prints everything the console shows in the scroll region
above, so incoming lines never land in the middle of a half-typed one.
Control keys are editing commands or nothing: no control character or escape
sequence is ever typed into a line. On every way out, L{RawMode.restore}
gives the terminal back as it was.
"""

from __future__ import annotations

import atexit
import codecs
import os
import signal
import sys
import termios
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twisted.conch.insults.insults import ServerProtocol, TerminalProtocol
from twisted.internet.defer import Deferred
from twisted.internet.stdio import StandardIO
from twisted.python.failure import Failure

from .console import ChatConsole, ConsoleInput
from .editor import LineEditor

# Key presses as insults gives them: a special key's name, or one byte.
Key = bytes


def _key(name: str) -> Key:
    """A special key (or modifier) as insults names it: C{b"[LEFT_ARROW]"}."""
    key: Key = getattr(ServerProtocol, name)
    return key


_ALT = _key("ALT")
_IFLAG, _OFLAG, _CFLAG, _LFLAG, _ISPEED, _OSPEED, _CC = range(7)


class RawMode:
    """
    A terminal switched to reading key by key, without echo and without the
    signals of Ctrl+C, Ctrl+Z, Ctrl+\\ (keys the client handles itself), and
    switched back, with the screen left sane, by L{restore}.
    """

    def __init__(self, fd_in: int = 0, fd_out: int = 1) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.saved: list[Any] | None = None
        # Taken before stdio makes both non-blocking (which, on a terminal,
        # the next program would inherit) to be given back as they were.
        self.blocking = (os.get_blocking(fd_in), os.get_blocking(fd_out))

    def enter(self) -> None:
        self.saved = termios.tcgetattr(self.fd_in)
        mode = termios.tcgetattr(self.fd_in)
        mode[_IFLAG] &= ~(
            termios.BRKINT
            | termios.ICRNL
            | termios.INLCR
            | termios.IGNCR
            | termios.ISTRIP
            | termios.IXON
        )
        mode[_LFLAG] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        mode[_CC][termios.VMIN] = 1
        mode[_CC][termios.VTIME] = 0
        termios.tcsetattr(self.fd_in, termios.TCSANOW, mode)  # type-ahead kept

    def restore(self) -> None:
        """The terminal as it was, the cursor on a blank bottom row. Idempotent."""
        if self.saved is None:
            return
        saved, self.saved = self.saved, None
        try:
            os.set_blocking(self.fd_in, self.blocking[0])
            os.set_blocking(self.fd_out, self.blocking[1])
            rows = os.get_terminal_size(self.fd_out).lines
            # Whole scroll region, the input row blank, the cursor shown there.
            os.write(self.fd_out, b"\x1b[r\x1b[%d;1H\x1b[2K\x1b[?25h" % rows)
            termios.tcsetattr(self.fd_in, termios.TCSADRAIN, saved)
        except OSError:
            pass  # the terminal is gone (hung up): nothing left to restore


class ChatTerminal(TerminalProtocol):
    """
    The person's terminal: key presses in, the console's lines out above the
    input line. C{size} gives the terminal's (columns, rows).

    From its creation, C{console} shows its lines and puts its questions
    through this terminal, and keeps its roster of who is in its rooms.
    """

    terminal: ServerProtocol

    def __init__(
        self, console: ChatConsole, size: Callable[[], tuple[int, int]]
    ) -> None:
        self.console = console
        self.size = size
        self.columns, self.rows = size()
        self.editor = LineEditor(self.complete)
        self._partial = ""  # shown text not yet ended by a newline
        self._offset = 0  # first character of the line that is visible
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._input_row: int | None = None
        self._question = ""  # the prompt of the question being answered
        self.typed = False  # the line changed since it was last drawn
        self._after_return = False
        self.closed: Deferred[None] = Deferred()
        self.keys: dict[Key, Callable[[], None]] = {
            b"\r": self.enter,
            b"\n": self.enter,
            b"\t": self.complete_word,
            b"\x7f": self.editor.backspace,
            b"\x08": self.editor.backspace,  # Ctrl+H
            b"\x01": self.editor.home,  # Ctrl+A
            b"\x05": self.editor.end,  # Ctrl+E
            b"\x02": self.editor.left,  # Ctrl+B
            b"\x06": self.editor.right,  # Ctrl+F
            b"\x15": self.editor.kill_to_start,  # Ctrl+U
            b"\x0b": self.editor.kill_to_end,  # Ctrl+K
            b"\x17": self.editor.kill_word,  # Ctrl+W
            b"\x10": self.editor.history_back,  # Ctrl+P
            b"\x0e": self.editor.history_forward,  # Ctrl+N
            b"\x0c": self.redraw,  # Ctrl+L
            b"\x04": self.end_of_input,  # Ctrl+D
            b"\x03": self.interrupt,  # Ctrl+C
            _key("LEFT_ARROW"): self.editor.left,
            _key("RIGHT_ARROW"): self.editor.right,
            _key("HOME"): self.editor.home,
            _key("END"): self.editor.end,
            _key("DELETE"): self.editor.delete,
            _key("UP_ARROW"): self.editor.history_back,
            _key("DOWN_ARROW"): self.editor.history_forward,
        }
        console.write = self.show
        console.ask = self.asked
        console.names_wanted = True

    # The connection to the terminal

    def connectionMade(self) -> None:
        # A new row for the input line, below whatever the shell showed.
        self.terminal.write(b"\n")
        self.lay_out()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.console.input_closed()
        if not self.closed.called:
            self.closed.callback(None)

    # Keys

    def keystrokeReceived(self, keyID: Key, modifier: object) -> None:
        after_return, self._after_return = self._after_return, keyID == b"\r"
        if modifier is _ALT:
            return  # Esc and a key: nothing we do, nothing to type either
        if keyID == b"\n" and after_return:
            return  # a pasted CRLF is one line end, not two
        action = self.keys.get(keyID)
        if action is not None:
            action()
        elif len(keyID) == 1 and (keyID >= b"\x80" or b" " <= keyID < b"\x7f"):
            typed = self._utf8.decode(keyID)
            self.editor.insert("".join(c for c in typed if c.isprintable()))
        else:
            return  # another control key, a function key: ignored
        self.typed = True

    def unhandledControlSequence(self, seq: bytes) -> None:
        """An escape sequence we do not know (Ctrl+arrow, F-keys…): ignored."""

    def enter(self) -> None:
        answering = self.console.awaiting is not None
        question = self.prompt()
        line = self.editor.enter(remember=not answering)
        self._offset = 0
        if answering:  # keep the question and its answer above, as a pipe would
            self.show(question + line + "\n")
        if len(line.encode("utf-8")) > ConsoleInput.MAX_LENGTH:
            self.console.notice(self.console._("Line too long, ignored."))
            return
        self.console.line_received(line)

    def end_of_input(self) -> None:
        """Ctrl+D: the end of the input on an empty line, else Delete."""
        if self.editor.text:
            self.editor.delete()
        else:
            self.console.input_closed()

    def interrupt(self) -> None:
        """Ctrl+C: leave, as the interrupt signal would."""
        self.console.quit("")

    def complete(self, line: str, cursor: int) -> tuple[int, Sequence[str]]:
        return self.console.roster.completions(
            line, cursor, self.console.known_commands(), self.console.current_room
        )

    def complete_word(self) -> None:
        choices = self.editor.complete()
        if choices:
            self.show("  ".join(choices) + "\n")

    # The screen

    def asked(self, question: str) -> None:
        """The console asks: in the input line, or above it if too long."""
        if len(question) <= self.columns - 20:
            self._question = question
            self.draw_input()
        else:
            self._question = "> "
            self.show(question.rstrip() + "\n")

    def prompt(self) -> str:
        if self.console.awaiting is not None:
            return self._question
        room = self.console.current_room
        return f"[#{room}] " if room else "> "

    def show(self, text: str) -> None:
        """Lines from the console, printed above the input line."""
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        if not lines:
            return
        self.terminal.cursorPosition(0, self.rows - 2)
        for line in lines:
            self.terminal.write(("\n" + line).encode("utf-8"))
        self.draw_input()

    def draw_input(self) -> None:
        """The prompt and the part of the line around the cursor, on the last row."""
        prompt = self.prompt()[-max(1, self.columns - 10) :]
        room = max(2, self.columns - width(prompt) - 1)
        text, cursor = self.editor.text, self.editor.cursor
        if cursor < self._offset:
            self._offset = cursor
        while width(text[self._offset : cursor]) > room:
            self._offset += 1
        visible = text[self._offset : self._offset + room]
        while width(visible) > room:
            visible = visible[:-1]
        column = width(prompt) + width(text[self._offset : cursor])
        self.terminal.cursorPosition(0, self.rows - 1)
        self.terminal.eraseLine()
        self.terminal.write((prompt + visible).encode("utf-8"))
        self.terminal.cursorPosition(column, self.rows - 1)
        self.typed = False
        self._input_row = self.rows - 1

    def lay_out(self) -> None:
        """Scroll region above the last row, the input line on the last row."""
        self.terminal.setScrollRegion(1, max(1, self.rows - 1))
        self.draw_input()

    def redraw(self) -> None:
        """Ctrl+L: a clean screen, as readline gives."""
        self.terminal.eraseDisplay()
        self.lay_out()

    def resized(self) -> None:
        """The window changed size (SIGWINCH): lay the rows out again."""
        columns, rows = self.size()
        if (columns, rows) == (self.columns, self.rows):
            return
        if self._input_row is not None and self._input_row < rows - 1:
            # The old input row is now in the middle of the chat: blank it.
            self.terminal.cursorPosition(0, self._input_row)
            self.terminal.eraseLine()
        self.columns, self.rows = columns, rows
        self.lay_out()


def width(text: str) -> int:
    """The columns C{text} takes: two for wide (East Asian) characters, none
    for combining ones."""
    return sum(
        0
        if unicodedata.combining(c)
        else 2
        if unicodedata.east_asian_width(c) in "WF"
        else 1
        for c in text
    )


def terminal_size(fd: int = 1) -> tuple[int, int]:
    """The (columns, rows) of the terminal on C{fd}, at least 20 by 3."""
    size = os.get_terminal_size(fd)
    return max(20, size.columns), max(3, size.lines)


class TerminalKeys(ServerProtocol):
    """
    insults' key parser, the line drawn once per read rather than once per
    key: a paste of a thousand characters is one redraw, not a thousand.
    """

    terminalProtocol: ChatTerminal | None

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)  # type: ignore[no-untyped-call]
        chat = self.terminalProtocol  # None once the connection is lost
        if chat is not None and chat.typed:
            chat.draw_input()


def connect_terminal(chat: ChatTerminal) -> ServerProtocol:
    """The insults protocol to connect to the terminal, with C{chat} on top."""
    return TerminalKeys(lambda: chat)  # type: ignore[no-untyped-call]


def is_interactive(environ: Mapping[str, str]) -> bool:
    """Whether the person types on a terminal we can draw on."""
    return sys.stdin.isatty() and sys.stdout.isatty() and environ.get("TERM") != "dumb"


def start_terminal(
    reactor: Any, console: ChatConsole, raw: RawMode
) -> tuple[StandardIO, Deferred[None]]:
    """
    The interactive terminal on standard input and output, in raw mode
    (C{raw}, which the caller restores whatever happens) with C{console}'s
    lines shown above the input line; and when its input closes.
    """
    chat = ChatTerminal(console, terminal_size)
    terminal = StandardIO(connect_terminal(chat), reactor=reactor)
    raw.enter()
    # Whatever ends the program after this (an exception before the reactor
    # runs included), the terminal is given back; restoring twice is harmless.
    atexit.register(raw.restore)
    # Signal handlers run between two bytecodes: hand the work to the reactor.
    signal.signal(
        signal.SIGWINCH, lambda number, frame: reactor.callFromThread(chat.resized)
    )
    return terminal, chat.closed
