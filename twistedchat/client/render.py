"""
What the terminal client shows: server frames turned into lines for a person.

Pure functions of a frame, the reader's language (a gettext catalog), whether
colour is on and the local time zone: no I/O. Everything that came from another
user (nicks, messages, picture art, room names) has its control characters
neutralised before our own colour codes are added, so nobody can act on
another user's terminal; IRC users' formatting codes are dropped and their
CTCP requests (but actions) not shown.

Where a line happened: what is said in a room other than the current one is
marked C{#room} before it; what happens to a room (joins, parts, kicks,
topics) names its room in its own words, always, and is never marked.
Server errors are said in the reader's language by their code, with what
they name (a room, a nick) taken from the Error frame's details.
"""

from __future__ import annotations

import gettext
import json
from collections.abc import Callable
from datetime import datetime, tzinfo

from .. import codec
from ..codec import ErrorCode, Frame
from ..core.events import User
from ..text import action, is_ctcp, neutralise, readable

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
        self.ngettext: Callable[[str, str, int], str] = translations.ngettext
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
        did = action(frame.text)
        if did is not None:  # a /me as IRC clients send it
            line = f"* {self.nick(frame.user)} {readable(did)}"
            return [self._stamp(frame.time, frame.room, line)]
        if is_ctcp(frame.text):  # an IRC client's request to IRC clients
            return []
        text = readable(frame.text)
        if frame.user.id == self.me:
            line = self._("You said: {text}").format(text=text)
        else:
            line = self._("{nick} said: {text}").format(
                nick=self.nick(frame.user), text=text
            )
        return [self._stamp(frame.time, frame.room, line)]

    def render_Acted(self, frame: codec.Acted) -> list[str]:
        line = f"* {self.nick(frame.user)} {readable(frame.text)}"
        return [self._stamp(frame.time, frame.room, line)]

    def render_ActedPrivately(self, frame: codec.ActedPrivately) -> list[str]:
        if frame.user.id == self.me:
            line = self._("(private, to {nick}) * {me} {text}").format(
                nick=neutralise(frame.to),
                me=self.nick(frame.user),
                text=readable(frame.text),
            )
        else:
            line = self._("(private) * {nick} {text}").format(
                nick=self.nick(frame.user), text=readable(frame.text)
            )
        return [self._stamp(frame.time, None, line)]

    def render_Whispered(self, frame: codec.Whispered) -> list[str]:
        if is_ctcp(frame.text):
            return []
        text = readable(frame.text)
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
        room = neutralise(frame.room)
        if frame.user.id == self.me:
            line = self._("You are in #{room}").format(room=room)
        elif frame.returning:
            line = self._("{nick} is back in #{room}").format(
                nick=self.nick(frame.user), room=room
            )
        else:
            line = self._("{nick} joined #{room}").format(
                nick=self.nick(frame.user), room=room
            )
        return [self._stamp(frame.time, None, line)]

    def render_Left(self, frame: codec.Left) -> list[str]:
        room, nick = neutralise(frame.room), self.nick(frame.user)
        if frame.user.id == self.me:
            line = self._("You left #{room}").format(room=room)
        elif frame.reason:
            line = self._("{nick} left #{room} ({reason})").format(
                nick=nick, room=room, reason=readable(frame.reason)
            )
        else:
            line = self._("{nick} left #{room}").format(nick=nick, room=room)
        return [self._stamp(frame.time, None, line)]

    def render_Gone(self, frame: codec.Gone) -> list[str]:
        nick = self.nick(frame.user)
        if frame.message:
            line = self._("{nick} left the chat ({reason})").format(
                nick=nick, reason=readable(frame.message)
            )
        else:
            line = self._("{nick} left the chat").format(nick=nick)
        return [self._stamp(frame.time, None, line)]

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
        reason = f" ({readable(frame.reason)})" if frame.reason else ""
        room = neutralise(frame.room)
        if frame.user.id == self.me:
            line = self._("You were kicked out of #{room} by {by}").format(
                room=room, by=self.nick(frame.by)
            )
        else:
            line = self._("{nick} was kicked out of #{room} by {by}").format(
                nick=self.nick(frame.user), room=room, by=self.nick(frame.by)
            )
        return [self._stamp(frame.time, None, line + reason)]

    def render_KilledOff(self, frame: codec.KilledOff) -> list[str]:
        line = self._("{nick} was disconnected by {by}: {message}").format(
            nick=self.nick(frame.user),
            by=self.nick(frame.by),
            message=readable(frame.message),
        )
        return [self._stamp(frame.time, None, line)]

    def render_TopicSet(self, frame: codec.TopicSet) -> list[str]:
        if not frame.topic:
            line = self._("{nick} cleared the topic of #{room}").format(
                nick=self.nick(frame.user), room=neutralise(frame.room)
            )
            return [self._stamp(frame.time, None, line)]
        line = self._("{nick} set the topic of #{room}: {topic}").format(
            nick=self.nick(frame.user),
            room=neutralise(frame.room),
            topic=readable(frame.topic),
        )
        return [self._stamp(frame.time, None, line)]

    def render_Topic(self, frame: codec.Topic) -> list[str]:
        line = self._("Topic of #{room}: {topic} (set by {nick})").format(
            room=neutralise(frame.room),
            topic=readable(frame.topic),
            nick=neutralise(frame.by),
        )
        return [self._stamp(frame.time, None, line)]

    def render_Away(self, frame: codec.Away) -> list[str]:
        return [
            self._("{nick} is away: {message}").format(
                nick=neutralise(frame.nick), message=readable(frame.message)
            )
        ]

    def render_AwaySet(self, frame: codec.AwaySet) -> list[str]:
        if frame.message:
            return [
                self._("You are marked as away: {message}").format(
                    message=neutralise(frame.message)
                )
            ]
        return [self._("You are back (no longer marked as away).")]

    def render_ModesSet(self, frame: codec.ModesSet) -> list[str]:
        changes = ", ".join(
            self._(MODE_WORDS[mode]).format(arg=neutralise(arg))
            if mode in MODE_WORDS
            else neutralise(f"{mode} {arg}".strip())
            for mode, arg in mode_changes(frame.changes)
        )
        line = self._("{nick} changed #{room}: {changes}").format(
            nick=self.nick(frame.user), room=neutralise(frame.room), changes=changes
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
                self.ngettext(
                    "  {number}) #{room} ({count} present)",
                    "  {number}) #{room} ({count} present)",
                    room.members,
                ).format(number=number, room=neutralise(room.name), count=room.members)
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
                    continue
                text = str(entry["text"])
                did = text if entry.get("kind") == "action" else action(text)
                if did is not None:
                    line = self._("(history) * {nick} {text}").format(
                        nick=nick, text=readable(did)
                    )
                elif is_ctcp(text):
                    continue
                else:
                    line = self._("(history) {nick}: {text}").format(
                        nick=nick, text=readable(text)
                    )
                lines.append(f"{stamp} {line}")
        except (ValueError, TypeError, KeyError, AttributeError):
            return [self._("Error: {text}").format(text=self._("unreadable history"))]
        return lines

    def render_Error(self, frame: codec.Error) -> list[str]:
        return [self._("Error: {text}").format(text=self.error_text(frame))]

    def error_text(self, frame: codec.Error) -> str:
        """
        The reader's words for an error, by its code, naming what its details
        name; the server's words for a code newer than this client.
        """
        details = _details(frame.details)
        try:
            code: int = ErrorCode(frame.code)
        except ValueError:  # a code newer than this client
            return neutralise(frame.text)
        if code is ErrorCode.CANNOT_SEND and "(+m)" in details.get("why", ""):
            code = _MODERATED
        elif code is ErrorCode.CANNOT_SEND and "(+b)" in details.get("why", ""):
            code = _BANNED_SPEAKING
        named, unnamed = _ERRORS.get(code, (None, None))
        if named is not None and all(
            f"{{{key}}}" not in named or key in details for key in ("room", "nick")
        ):
            return self._(named).format(**details)
        if unnamed is not None:
            words = self._(unnamed)
            if "{text}" not in words:  # some hold braces of their own: {}
                return words
            return words.format(text=neutralise(frame.text))
        return neutralise(frame.text)


def _details(text: str) -> dict[str, str]:
    """The names an Error frame's details hold, made harmless to show."""
    try:
        details = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(details, dict):
        return {}
    return {
        key: neutralise(str(value))
        for key, value in details.items()
        if isinstance(key, str)
    }


def N_(text: str) -> str:
    """Marks C{text} for translation where it is defined, not where it is shown."""
    return text


_MODERATED = -1  # CANNOT_SEND, in a moderated room
_BANNED_SPEAKING = -2  # CANNOT_SEND, in a room one is banned from
# An error's text naming what the details name (None: none to name), and its
# text when they name nothing ({text}: the server's own words, for a detail
# only the server knows).
_ERRORS: dict[int, tuple[str | None, str | None]] = {
    ErrorCode.MALFORMED: (None, N_("the server could not read a request ({text})")),
    ErrorCode.UNKNOWN_TYPE: (None, N_("the server does not know that request")),
    ErrorCode.TOO_LARGE: (None, N_("that was too large for the server")),
    ErrorCode.INCOMPATIBLE_VERSION: (
        None,
        N_("this client is too old or too new for the server"),
    ),
    ErrorCode.NOT_REGISTERED: (None, N_("the server does not know you yet")),
    ErrorCode.ALREADY_REGISTERED: (None, N_("the server knows you already")),
    ErrorCode.NICK_IN_USE: (
        N_("the nick {nick} is already taken"),
        N_("this nick is already taken"),
    ),
    ErrorCode.INVALID_NICK: (
        None,
        N_("invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^"),
    ),
    ErrorCode.NICK_RESERVED: (
        N_("the nick {nick} is reserved: choose another one"),
        N_("this nick is reserved: choose another one"),
    ),
    ErrorCode.INVALID_ROOM: (
        None,
        N_("invalid room name: use 1 to 50 letters, digits or _-."),
    ),
    ErrorCode.NO_SUCH_ROOM: (
        N_("there is no room #{room}"),
        N_("there is no such room"),
    ),
    ErrorCode.NO_SUCH_NICK: (
        N_("no user is called {nick}"),
        N_("there is no such user"),
    ),
    ErrorCode.NOT_IN_ROOM: (
        N_("you are not in #{room}"),
        N_("you are not in that room"),
    ),
    ErrorCode.ALREADY_IN_ROOM: (
        N_("you are already in #{room}"),
        N_("you are already in that room"),
    ),
    ErrorCode.USER_NOT_IN_ROOM: (
        N_("{nick} is not in #{room}"),
        N_("that user is not in the room"),
    ),
    ErrorCode.NOT_ROOM_OPERATOR: (
        N_("you are not an operator of #{room}"),
        N_("you are not an operator of this room"),
    ),
    ErrorCode.NOT_SERVER_OPERATOR: (None, N_("you are not a server operator")),
    ErrorCode.EMPTY_MESSAGE: (None, N_("empty message, nothing sent")),
    ErrorCode.TOKEN_REFUSED: (
        None,
        N_("the server did not recognise you: you have a new identity"),
    ),
    ErrorCode.FLOODING: (None, N_("slow down: the server ignored that")),
    ErrorCode.LIMIT: (None, N_("refused by the server's limits ({text})")),
    ErrorCode.TOO_MANY_ROOMS: (
        None,
        N_("you are in as many rooms as one may be: leave one first"),
    ),
    ErrorCode.CANNOT_SEND: (
        N_("only the members of #{room} may speak there"),
        N_("you may not speak in that room"),
    ),
    _MODERATED: (
        N_("#{room} is moderated: only its operators and voiced members may speak"),
        N_("that room is moderated: only its operators and voiced members may speak"),
    ),
    _BANNED_SPEAKING: (
        N_("you are banned from #{room}: you may not speak there"),
        N_("you are banned from that room: you may not speak there"),
    ),
    ErrorCode.BAD_ROOM_KEY: (
        N_("#{room} needs a key, and not that one: /join #{room} <key>"),
        N_("that room needs a key, and not that one"),
    ),
    ErrorCode.ROOM_FULL: (
        N_("#{room} is full"),
        N_("that room is full"),
    ),
    ErrorCode.INVITE_ONLY: (
        N_("#{room} is invite only: ask one of its operators for an invitation"),
        N_("that room is invite only"),
    ),
    ErrorCode.BANNED: (
        N_("you are banned from #{room}"),
        N_("you are banned from that room"),
    ),
    ErrorCode.BAD_HISTORY_COUNT: (
        None,
        N_("ask for 1 to 200 older messages at a time"),
    ),
    ErrorCode.NO_HISTORY: (None, N_("this server keeps no history")),
    ErrorCode.INTERNAL: (None, N_("internal error on the server, nothing was done")),
}


# What each room mode change does, in words ({arg}: its argument).
MODE_WORDS = {
    "+o": N_("made {arg} an operator"),
    "-o": N_("took the operator rights of {arg}"),
    "+v": N_("gave {arg} a voice"),
    "-v": N_("took the voice of {arg}"),
    "+k": N_("set the key to {arg}"),
    "-k": N_("removed the key"),
    "+l": N_("limited it to {arg} members"),
    "-l": N_("removed its member limit"),
    "+b": N_("banned {arg}"),
    "-b": N_("lifted the ban on {arg}"),
    "+e": N_("exempted {arg} from its bans"),
    "-e": N_("removed the ban exception of {arg}"),
    "+I": N_("let {arg} in without an invitation"),
    "-I": N_("removed the invite exception of {arg}"),
    "+i": N_("made it invite only"),
    "-i": N_("opened it to everyone"),
    "+s": N_("made it secret"),
    "-s": N_("made it public"),
    "+m": N_("made it moderated"),
    "-m": N_("ended its moderation"),
    "+n": N_("closed it to messages from outside"),
    "-n": N_("opened it to messages from outside"),
    "+t": N_("let only operators set the topic"),
    "-t": N_("let every member set the topic"),
}
# Letters followed by an argument in a ModesSet's changes: always, or when set.
_ARGUMENT_ALWAYS = "ovbeIk"
_ARGUMENT_WHEN_SET = "l"


def mode_changes(changes: str) -> list[tuple[str, str]]:
    """A ModesSet's C{"+o toto -t +l 5"} as C{[("+o", "toto"), ("-t", ""), ("+l", "5")]}."""
    words = changes.split()
    pairs: list[tuple[str, str]] = []
    while words:
        mode = words.pop(0)
        letter = mode[1:]
        takes = letter in _ARGUMENT_ALWAYS or (
            letter in _ARGUMENT_WHEN_SET and mode.startswith("+")
        )
        pairs.append((mode, words.pop(0) if takes and words else ""))
    return pairs
