"""
Who the client knows to be where, for completing nicks and room names.

L{Roster} follows the frames the client receives (names lists, arrivals,
departures, renames, users gone or killed, room lists) and keeps, per room
the client is in, the nicks present; L{Roster.completions} is the terminal's
L{Completer}: commands after a C{/} at the start of the line, room names
after C{#} or as the argument of C{/join} and C{/part}, nicks elsewhere
(those of the current room first, every known nick for C{/msg}).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import codec
from ..codec import Frame

# Commands whose first argument is a room, or a nick
_ROOM_ARGUMENT = frozenset({"/join", "/room", "/part", "/names"})
_NICK_ARGUMENT = frozenset({"/msg"})


class Roster:
    """Rooms and their members as the client last heard them."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, str]] = {}  # room -> user id -> nick
        self.known_rooms: set[str] = set()  # every room name heard of
        self._frames: dict[type[Frame], Callable[[Frame], None]] = {
            codec.NameList: self._names,  # type: ignore[dict-item]
            codec.Entered: self._entered,  # type: ignore[dict-item]
            codec.Left: self._left,  # type: ignore[dict-item]
            codec.KickedOut: self._left,  # type: ignore[dict-item]
            codec.Renamed: self._renamed,  # type: ignore[dict-item]
            codec.Gone: self._gone,  # type: ignore[dict-item]
            codec.KilledOff: self._gone,  # type: ignore[dict-item]
            codec.RoomList: self._room_list,  # type: ignore[dict-item]
            codec.Welcome: self._room_list,  # type: ignore[dict-item]
        }

    def update(self, frame: Frame) -> None:
        follow = self._frames.get(type(frame))
        if follow is not None:
            follow(frame)

    def knows(self, room: str) -> bool:
        return room in self.members

    def forget(self, room: str | None = None) -> None:
        """Forget C{room}'s members (we left it), or every room's (disconnected)."""
        if room is None:
            self.members.clear()
        else:
            self.members.pop(room, None)

    def nicks(self, room: str | None) -> list[str]:
        return sorted(self.members.get(room or "", {}).values(), key=str.lower)

    # Frames

    def _names(self, frame: codec.NameList) -> None:
        self.known_rooms.add(frame.room)
        self.members[frame.room] = {user.id: user.nick for user in frame.users}

    def _entered(self, frame: codec.Entered) -> None:
        self.known_rooms.add(frame.room)
        room = self.members.get(frame.room)
        if room is not None:
            room[frame.user.id] = frame.user.nick

    def _left(self, frame: codec.Left | codec.KickedOut) -> None:
        self.members.get(frame.room, {}).pop(frame.user.id, None)

    def _renamed(self, frame: codec.Renamed) -> None:
        for room in self.members.values():
            if frame.user.id in room:
                room[frame.user.id] = frame.user.nick

    def _gone(self, frame: codec.Gone | codec.KilledOff) -> None:
        for room in self.members.values():
            room.pop(frame.user.id, None)

    def _room_list(self, frame: codec.RoomList | codec.Welcome) -> None:
        self.known_rooms.update(info.name for info in frame.rooms)

    # Completion

    def completions(
        self,
        line: str,
        cursor: int,
        commands: Sequence[str],
        current_room: str | None,
    ) -> tuple[int, list[str]]:
        """
        Where the word before C{cursor} starts and what it may become
        (case does not matter to the match).
        """
        start = line.rfind(" ", 0, cursor) + 1
        word = line[start:cursor]
        before = line[:start].split()
        if not before and word.startswith("/"):
            choices = [f"/{name}" for name in commands]
        elif word.startswith("#"):
            choices = [f"#{room}" for room in sorted(self.known_rooms)]
        elif before and before[0].lower() in _ROOM_ARGUMENT and len(before) == 1:
            choices = sorted(self.known_rooms)
        elif before and before[0].lower() in _NICK_ARGUMENT and len(before) == 1:
            everyone = {n for room in self.members.values() for n in room.values()}
            choices = self.nicks(current_room) + sorted(
                everyone - set(self.nicks(current_room)), key=str.lower
            )
        else:
            choices = self.nicks(current_room)
        folded = word.lower()
        return start, [c for c in choices if c.lower().startswith(folded)]
