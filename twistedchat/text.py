"""
Text hygiene shared by every front and the client.

Whatever a user sends may reach another user's terminal. Characters that a
terminal obeys rather than shows (C0 controls but tab, DEL, C1 controls, among
them ESC) are replaced by U+FFFD before any text is shown, so nobody can clear,
retitle or take over someone else's screen.

IRC users' messages carry IRC-isms that only IRC clients understand: CTCP
requests between C{\\x01} bytes (an action, C{/me}, is one) and formatting
codes (bold, colours...). An action is a kind of message in the core (an
L{Action} event, the C{"action"} kind in history); the other CTCP requests are
for IRC clients only, and formatting codes are dropped where text is shown
plain (L{readable}).
"""

from __future__ import annotations

import re

_NEUTRALISE = {
    code: "\N{REPLACEMENT CHARACTER}"
    for code in [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)]
}

# mIRC's codes as https://modern.ircdocs.horse/formatting lists them: bold,
# colour (\x03 with up to two digits, a comma and two more), hex colour (\x04
# with RRGGBB[,RRGGBB]), reset, monospace, reverse, italics, strikethrough,
# underline.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


def neutralise(text: str) -> str:
    """C{text} with every terminal control character made harmless."""
    return text.translate(_NEUTRALISE)


def readable(text: str) -> str:
    """
    C{text} as a terminal shows it: IRC formatting codes dropped, then every
    other control character made harmless. Most text holds no control
    character, and C{isprintable()} tells so many times faster than the
    substitutions would copy it.
    """
    if text.isprintable():
        return text
    return _FORMATTING.sub("", text).translate(_NEUTRALISE)


def action(text: str) -> str | None:
    """
    What an IRC C{/me} says (a CTCP ACTION: C{"\\x01ACTION waves\\x01"} is
    C{"waves"}), or None for an ordinary message.
    """
    if text.startswith("\x01ACTION ") and len(text) > 8:
        return text[8:].removesuffix("\x01")
    return None


def is_ctcp(text: str) -> bool:
    """
    Whether C{text} is a CTCP request or reply (VERSION, PING, TIME...),
    which only IRC clients answer and which no one else is shown.
    """
    return text.startswith("\x01")
