"""
Events: the immutable records the core hands to every session it concerns.

An event carries structured data and the server time at which it happened;
it knows nothing of how a front will show it. Each front renders an event into
its own wire format once, then writes the same bytes to every member it serves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """C{nick} said C{text} in C{room}."""

    time: float
    room: str
    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Joined:
    """
    C{nick} entered C{room}.

    C{arrival} is true when the join is the session's landing in the default
    room at connection time, so that fronts can announce a new client.
    """

    time: float
    room: str
    nick: str
    arrival: bool = False


@dataclass(frozen=True, slots=True)
class Parted:
    """C{nick} left C{room} but stays connected."""

    time: float
    room: str
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quit:
    """C{nick} disconnected, saying C{message} (may be empty) as a farewell."""

    time: float
    nick: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class NickChanged:
    """The user known as C{old} is now known as C{new}."""

    time: float
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Kicked:
    """C{by} removed C{nick} from C{room}; C{nick} stays connected."""

    time: float
    room: str
    nick: str
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Killed:
    """A server operator, C{by}, disconnected C{nick} with C{message}."""

    time: float
    nick: str
    by: str
    message: str


Event = Message | Joined | Parted | Quit | NickChanged | Kicked | Killed
