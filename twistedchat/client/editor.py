"""
The line being typed on a terminal: its text, its cursor, its history.

L{LineEditor} is the editing half of the interactive terminal
(L{twistedchat.client.terminal}), with no I/O: the terminal turns key presses
into its commands (C{insert}, C{left}, C{kill_word}, C{history_back}…) and
draws what it holds. What it gives back on Enter is exactly the text typed,
never a control character: those are commands or nothing.

Completion is asked of a L{Completer}, a function of the line and the cursor
that says where the word being completed starts and what it may become.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# (line, cursor) -> (start of the word being completed, its possible endings)
Completer = Callable[[str, int], tuple[int, Sequence[str]]]

HISTORY_SIZE = 500


def _shared_start(words: Sequence[str]) -> str:
    """The longest start all C{words} share, case aside (as the first spells it)."""
    first = words[0]
    length = len(first)
    for word in words[1:]:
        length = min(length, len(word))
        while first[:length].lower() != word[:length].lower():
            length -= 1
    return first[:length]


def no_completion(line: str, cursor: int) -> tuple[int, Sequence[str]]:
    return cursor, ()


class LineEditor:
    """One input line, edited as readline does, and the lines entered before."""

    def __init__(
        self, complete: Completer = no_completion, history_size: int = HISTORY_SIZE
    ) -> None:
        self.text = ""
        self.cursor = 0  # in characters, 0 <= cursor <= len(text)
        self.complete_with = complete
        self.history: list[str] = []
        self.history_size = history_size
        self._browsing: int | None = None  # index in history while ↑/↓
        self._draft = ""  # the line being typed when ↑ was first pressed

    def _set(self, text: str, cursor: int | None = None) -> None:
        self.text = text
        self.cursor = len(text) if cursor is None else max(0, min(cursor, len(text)))

    # Typing

    def insert(self, text: str) -> None:
        c = self.cursor
        self._set(self.text[:c] + text + self.text[c:], c + len(text))

    def backspace(self) -> None:
        if self.cursor:
            c = self.cursor
            self._set(self.text[: c - 1] + self.text[c:], c - 1)

    def delete(self) -> None:
        c = self.cursor
        self._set(self.text[:c] + self.text[c + 1 :], c)

    # Moving

    def left(self) -> None:
        self.cursor = max(0, self.cursor - 1)

    def right(self) -> None:
        self.cursor = min(len(self.text), self.cursor + 1)

    def home(self) -> None:
        self.cursor = 0

    def end(self) -> None:
        self.cursor = len(self.text)

    # Killing (Ctrl+U, Ctrl+K, Ctrl+W)

    def kill_to_start(self) -> None:
        self._set(self.text[self.cursor :], 0)

    def kill_to_end(self) -> None:
        self._set(self.text[: self.cursor], self.cursor)

    def kill_word(self) -> None:
        """The word before the cursor and the blanks after it, as Ctrl+W does."""
        before = self.text[: self.cursor]
        word = before.rstrip(" ")
        start = word.rfind(" ") + 1
        self._set(self.text[:start] + self.text[self.cursor :], start)

    # History (↑, ↓)

    def history_back(self) -> None:
        if not self.history or self._browsing == 0:
            return
        if self._browsing is None:
            self._draft = self.text
            self._browsing = len(self.history)
        self._browsing -= 1
        self._set(self.history[self._browsing])

    def history_forward(self) -> None:
        if self._browsing is None:
            return
        self._browsing += 1
        if self._browsing >= len(self.history):
            self._browsing = None
            self._set(self._draft)
        else:
            self._set(self.history[self._browsing])

    def enter(self, remember: bool = True) -> str:
        """The line as typed; the editor is empty again, the line remembered."""
        line = self.text
        fresh = not self.history or self.history[-1] != line
        if remember and line.strip() and fresh:
            self.history.append(line)
            del self.history[: -self.history_size]
        self._browsing = None
        self._draft = ""
        self._set("")
        return line

    # Completion (Tab)

    def complete(self) -> Sequence[str]:
        """
        Complete the word before the cursor: in full when only one ending
        fits (a blank after it), else as far as all of them agree.

        @return: the endings to choose from when it stays ambiguous (to be
            shown), else nothing.
        """
        start, choices = self.complete_with(self.text, self.cursor)
        if not choices:
            return ()
        typed = self.text[start : self.cursor]
        if len(choices) == 1:
            done = choices[0]
            after = self.text[self.cursor :]
            if not after.startswith(" "):
                done += " "
            self._set(
                self.text[:start] + done + after,
                start + len(done) + after[:1].count(" "),
            )
            return ()
        common = _shared_start(choices)
        if len(common) > len(typed):
            self._set(
                self.text[:start] + common + self.text[self.cursor :],
                start + len(common),
            )
            return ()
        return choices


# An escape sequence: CSI (ESC [ … final), SS3 (ESC O and a key), OSC (ESC ] … BEL or ST), or ESC
# and one character; then any C0 or C1 control character but the tab.
_CONTROLS = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|O[ -~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?"
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]",
    re.DOTALL,
)


def plain_text(line: str) -> str:
    """
    C{line} as typed without what a terminal would obey: escape sequences
    (an arrow key's C{ESC [ D}) and control characters (a stray Ctrl+L) are
    dropped, a tab is a blank.
    """
    return _CONTROLS.sub("", line).replace("\t", " ")
