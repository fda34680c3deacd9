"""
Text hygiene shared by every front and the client.

Whatever a user sends may reach another user's terminal. Characters that a
terminal obeys rather than shows (C0 controls but tab, DEL, C1 controls, among
them ESC) are replaced by U+FFFD before any text is shown, so nobody can clear,
retitle or take over someone else's screen.
"""

from __future__ import annotations

_NEUTRALISE = {
    code: "\N{REPLACEMENT CHARACTER}"
    for code in [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)]
}


def neutralise(text: str) -> str:
    """C{text} with every terminal control character made harmless."""
    return text.translate(_NEUTRALISE)


def action(text: str) -> str | None:
    """
    What an IRC C{/me} says (a CTCP ACTION: C{"\\x01ACTION waves\\x01"} is
    C{"waves"}), or None for an ordinary message.
    """
    if text.startswith("\x01ACTION ") and len(text) > 8:
        return text[8:].removesuffix("\x01")
    return None
