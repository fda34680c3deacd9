"""
What the terminal client shows: server frames turned into lines for a person.

Pure functions of a frame, the reader's language (a gettext catalog), whether
colour is on and the local time zone: no I/O. Everything that came from another
user (nicks, messages, picture art, room names) has its control characters
neutralised before our own colour codes are added, so nobody can act on
another user's terminal.
"""

from __future__ import annotations

import gettext
import json
from collections.abc import Callable
from datetime import datetime, tzinfo

from .. import codec
from ..codec import ErrorCode, Frame
from ..core.events import User
from ..text import action, neutralise

RESET = "\x1b[0m"


class Renderer:
    """Lines for one reader: their language, their terminal, their identity."""

    def __init__(
        self,
        translations: gettext.NullTranslations,
        colour: bool,
        tz: tzinfo | None = None,
    ) -> None:
        self._: Callable[[str], str] = translations.gettext
        self.colour = colour
        self.tz = tz
        # Kept up to date by the console: whose screen this is, and the room
        # their plain lines go to (other rooms' lines are marked with #room).
        self.me = ""
        self.current_room: str | None = None

    # Pieces

    def clock(self, milliseconds: int) -> str:
        moment = datetime.fromtimestamp(milliseconds / 1000, self.tz)
        return f"[{moment:%H:%M}]"

    def nick(self, user: User) -> str:
        name = neutralise(user.nick)
        if self.colour:
            return f"\x1b[38;5;{user.colour}m{name}{RESET}"
        return name

    def _stamp(self, milliseconds: int, room: str | None, text: str) -> str:
        where = ""
        if room is not None and room != self.current_room:
            where = f"#{neutralise(room)} "
        return f"{self.clock(milliseconds)} {where}{text}"

    # Frames

    def render(self, frame: Frame) -> list[str]:
        """The lines that show C{frame}; none for frames with nothing to show."""
        method = getattr(self, "render_" + type(frame).__name__, None)
        return [] if method is None else method(frame)

    def render_Welcome(self, frame: codec.Welcome) -> list[str]:
        if frame.resumed:
            return [self._("Welcome back {nick}!").format(nick=self.nick(frame.user))]
        return [self._("Welcome {nick}!").format(nick=self.nick(frame.user))]

    def render_Said(self, frame: codec.Said) -> list[str]:
        text = neutralise(frame.text)
        did = action(frame.text)
        if did is not None:  # an IRC user's /me
            line = f"* {self.nick(frame.user)} {neutralise(did)}"
            return [self._stamp(frame.time, frame.room, line)]
        if frame.user.id == self.me:
            line = self._("You said: {text}").format(text=text)
        else:
            line = self._("{nick} said: {text}").format(
                nick=self.nick(frame.user), text=text
            )
        return [self._stamp(frame.time, frame.room, line)]

    def render_Whispered(self, frame: codec.Whispered) -> list[str]:
        text = neutralise(frame.text)
        if frame.user.id == self.me:
            line = self._("You said to {nick} (private): {text}").format(
                nick=neutralise(frame.to), text=text
            )
        else:
            line = self._("{nick} said to you (private): {text}").format(
                nick=self.nick(frame.user), text=text
            )
        return [self._stamp(frame.time, None, line)]

    def render_ImageShown(self, frame: codec.ImageShown) -> list[str]:
        if frame.user.id == self.me:
            line = self._("You showed a picture:")
        else:
            line = self._("{nick} showed a picture:").format(nick=self.nick(frame.user))
        art = [f"  {neutralise(row)}" for row in frame.art.splitlines()]
        return [self._stamp(frame.time, frame.room, line), *art]

    def render_Entered(self, frame: codec.Entered) -> list[str]:
        if frame.user.id == self.me:
            line = self._("You are in #{room}").format(room=neutralise(frame.room))
        elif frame.returning:
            line = self._("{nick} is back!").format(nick=self.nick(frame.user))
        else:
            line = self._("Announcement: {nick} joined the chatroom").format(
                nick=self.nick(frame.user)
            )
        return [self._stamp(frame.time, frame.room, line)]

    def render_Left(self, frame: codec.Left) -> list[str]:
        if frame.user.id == self.me:
            line = self._("You left #{room}").format(room=neutralise(frame.room))
        else:
            line = self._left(frame.user, frame.reason)
        return [self._stamp(frame.time, frame.room, line)]

    def render_Gone(self, frame: codec.Gone) -> list[str]:
        return [self._stamp(frame.time, None, self._left(frame.user, frame.message))]

    def _left(self, user: User, reason: str) -> str:
        if reason:
            return self._("Announcement: {nick} left the chatroom ({reason})").format(
                nick=self.nick(user), reason=neutralise(reason)
            )
        return self._("Announcement: {nick} left the chatroom").format(
            nick=self.nick(user)
        )

    def render_Renamed(self, frame: codec.Renamed) -> list[str]:
        if frame.user.id == self.me:
            line = self._("You are now known as {nick}").format(
                nick=self.nick(frame.user)
            )
        else:
            line = self._("{old} is now known as {nick}").format(
                old=neutralise(frame.old), nick=self.nick(frame.user)
            )
        return [self._stamp(frame.time, None, line)]

    def render_KickedOut(self, frame: codec.KickedOut) -> list[str]:
        reason = f" ({neutralise(frame.reason)})" if frame.reason else ""
        if frame.user.id == self.me:
            line = self._("You were kicked out of #{room} by {by}").format(
                room=neutralise(frame.room), by=self.nick(frame.by)
            )
        else:
            line = self._("{nick} was kicked out by {by}").format(
                nick=self.nick(frame.user), by=self.nick(frame.by)
            )
        return [self._stamp(frame.time, frame.room, line + reason)]

    def render_KilledOff(self, frame: codec.KilledOff) -> list[str]:
        line = self._("{nick} was disconnected by {by}: {message}").format(
            nick=self.nick(frame.user),
            by=self.nick(frame.by),
            message=neutralise(frame.message),
        )
        return [self._stamp(frame.time, None, line)]

    def render_TopicSet(self, frame: codec.TopicSet) -> list[str]:
        line = self._("{nick} set the topic of #{room}: {topic}").format(
            nick=self.nick(frame.user),
            room=neutralise(frame.room),
            topic=neutralise(frame.topic),
        )
        return [self._stamp(frame.time, None, line)]

    def render_ModesSet(self, frame: codec.ModesSet) -> list[str]:
        line = self._("{nick} set the modes of #{room}: {changes}").format(
            nick=self.nick(frame.user),
            room=neutralise(frame.room),
            changes=neutralise(frame.changes),
        )
        return [self._stamp(frame.time, None, line)]

    def render_Invitation(self, frame: codec.Invitation) -> list[str]:
        line = self._("{nick} invites you into #{room} (/join {room})").format(
            nick=self.nick(frame.user), room=neutralise(frame.room)
        )
        return [self._stamp(frame.time, None, line)]

    def render_RoomList(self, frame: codec.RoomList) -> list[str]:
        return self.rooms(frame.rooms)

    def rooms(self, rooms: tuple[codec.RoomInfo, ...]) -> list[str]:
        """The numbered list of rooms the client offers to join."""
        if not rooms:
            return [self._("No rooms yet.")]
        lines = [self._("Rooms:")]
        for number, room in enumerate(rooms, start=1):
            lines.append(
                self._("  {number}) #{room} ({count} in it)").format(
                    number=number, room=neutralise(room.name), count=room.members
                )
            )
        return lines

    def render_NameList(self, frame: codec.NameList) -> list[str]:
        names = " ".join(self.nick(user) for user in frame.users)
        return [
            self._("In #{room}: {names}").format(
                room=neutralise(frame.room), names=names
            )
        ]

    def render_History(self, frame: codec.History) -> list[str]:
        """A newcomer's past messages of a room, then where live ones start."""
        return [*self.entries(frame.entries), self._("— live —")]

    def render_Missed(self, frame: codec.Missed) -> list[str]:
        """What came since we left a room: how many, those shown, then live."""
        shown = self.entries(frame.entries)
        count = frame.skipped + len(shown)
        heading = [
            self._("— 1 message since you left —")
            if count == 1
            else self._("— {count} messages since you left —").format(count=count)
        ]
        if frame.skipped == 1:
            heading.append(self._("— the first one is not shown: /history shows it —"))
        elif frame.skipped:
            heading.append(
                self._(
                    "— the first {count} are not shown: /history shows them —"
                ).format(count=frame.skipped)
            )
        return [*heading, *shown, self._("— live —")]

    def render_Older(self, frame: codec.Older) -> list[str]:
        """An answer to /history: older entries, and whether there are more."""
        room = neutralise(frame.room)
        shown = self.entries(frame.entries)
        if not shown:
            return [self._("No older messages in #{room}.").format(room=room)]
        heading = self._("— older messages of #{room} —").format(room=room)
        if frame.more:
            end = self._("— /history for older ones —")
        else:
            end = self._("— start of the history of #{room} —").format(room=room)
        return [heading, *shown, end]

    def entries(self, array: str) -> list[str]:
        """Past messages and pictures of a room, each marked as history."""
        lines = []
        try:
            for entry in json.loads(array):
                stamp = self.clock(int(entry["time"]))
                nick = neutralise(str(entry["nick"]))
                if entry.get("kind") == "image":
                    heading = self._("(history) {nick} showed a picture:")
                    lines.append(f"{stamp} " + heading.format(nick=nick))
                    lines.extend(
                        f"  {neutralise(row)}"
                        for row in str(entry["text"]).splitlines()
                    )
                else:
                    text = neutralise(str(entry["text"]))
                    line = self._("(history) {nick}: {text}").format(
                        nick=nick, text=text
                    )
                    lines.append(f"{stamp} {line}")
        except (ValueError, TypeError, KeyError, AttributeError):
            return [self._("Error: {text}").format(text=self._("unreadable history"))]
        return lines

    def render_Error(self, frame: codec.Error) -> list[str]:
        return [self._("Error: {text}").format(text=self.error_text(frame))]

    def error_text(self, frame: codec.Error) -> str:
        """The reader's words for an error, or the server's when we have none."""
        known = {
            ErrorCode.NICK_IN_USE: self._("this nick is already taken"),
            ErrorCode.INVALID_NICK: self._(
                "invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^"
            ),
            ErrorCode.NOT_ROOM_OPERATOR: self._("you are not an operator of this room"),
            ErrorCode.TOO_MANY_ROOMS: self._(
                "you are in as many rooms as one may be: leave one first"
            ),
            ErrorCode.INCOMPATIBLE_VERSION: self._(
                "this client is too old or too new for the server"
            ),
            ErrorCode.TOKEN_REFUSED: self._(
                "the server did not recognise you: you have a new identity"
            ),
            ErrorCode.BAD_HISTORY_COUNT: self._(
                "ask for 1 to 200 older messages at a time"
            ),
            ErrorCode.NO_HISTORY: self._("this server keeps no history"),
        }
        try:
            return known.get(ErrorCode(frame.code), neutralise(frame.text))
        except ValueError:  # a code newer than this client
            return neutralise(frame.text)
