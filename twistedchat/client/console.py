"""
The chat as one person sees it: their typed lines in, the server's frames out.

L{ChatConsole} is the client's controller. It reads lines (from
C{twisted.internet.stdio} in the real program), turns C{/commands} and plain
lines into frames, keeps what the person needs across reconnections (nick,
rooms, resume token), and shows each frame through a L{Renderer}, on screen
and, without colour, in the conversation log. Its clock, its output and the
way it runs slow work (picture conversion) are given to it, so tests drive it
without a terminal or a network.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionRefusedError as Refused
from twisted.internet.error import DNSLookupError, NoRouteError
from twisted.internet.error import TimeoutError as NoAnswer
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableProtocol,
    IReactorTime,
)
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from .. import codec
from ..codec import ErrorCode, Frame
from ..core.names import is_valid_nick, is_valid_room
from ..core.reading import DEFAULT_PAGE, MAX_PAGE
from ..text import neutralise, readable
from .connection import (
    IServerListener,
    SecureConnectionRefused,
    ServerConnection,
    ServerSilent,
    TLSProblem,
    secure_connection_refused,
)
from .editor import plain_text
from .images import ImageError, ImageProblem, image_path
from .options import ClientSettings
from .render import Renderer
from .roster import Roster
from .state import TokenStore

RenderImage = Callable[[str], Deferred[str]]
conversation = Logger(namespace="twistedchat.conversation")


@implementer(IServerListener)
class ChatConsole:
    """One person's chat: state, commands and what they see."""

    def __init__(
        self,
        settings: ClientSettings,
        clock: IReactorTime,
        write: Callable[[str], None],
        translations: gettext.NullTranslations,
        colour: bool,
        tokens: TokenStore,
        render_image: RenderImage,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.write = write
        self._: Callable[[str], str] = translations.gettext
        self.screen = Renderer(translations, colour)
        self.plain = Renderer(translations, colour=False)
        self.tokens = tokens
        self.render_image = render_image

        # With a token, we present the nick its identity last had (a token
        # never comes with another nick: docs/PROTOCOL.md); a --nick other
        # than that one is asked for once welcomed.
        held = tokens.nick(settings.server) if tokens.get(settings.server) else ""
        self.nick = held or settings.nick or ""
        self.wanted_nick = settings.nick if held and settings.nick != held else None
        self.with_token = True  # False once we come with a nick of our own
        self.rooms: list[str] = []  # the rooms we are in, in the order entered
        self.current_room: str | None = None
        self.topics: dict[str, str] = {}  # of the rooms we entered, as last told
        self.wanted_rooms = [settings.room] if settings.room else []
        self.connection: ServerConnection | None = None
        self.registered = False
        self.awaiting: Callable[[str], None] | None = None  # answers a prompt
        self.question = ""  # the prompt awaiting an answer
        # How a question is put: written out on pipes; the interactive
        # terminal (client/terminal.py) puts it in its input line instead,
        # tracks who is where (asking NAMES of the rooms entered) and
        # completes nicks and rooms from the roster.
        self.ask: Callable[[str], None] = write
        self.roster = Roster()
        self.names_wanted = False
        self._quiet_names: set[str] = set()  # NameLists asked for the roster
        self._moved_from: str | None = None  # left the current room
        self.pending: list[str] = []  # lines typed before we were registered
        self.outbox: list[Frame] = []  # frames made while disconnected
        self.busy = 0  # picture conversions under way
        self.input_done = False
        self.closing = False
        self.exit_status = 0
        self.finished: Deferred[int] = Deferred()
        self._give_up: IDelayedCall | None = None
        self.heard = False  # whether the server said anything on this connection
        self.attempted = False  # whether we tried to connect yet
        self.last_state: str | None = None  # what we last said of the connection

    # What the person sees

    def notice(self, text: str) -> None:
        """A line from the client itself (no timestamp)."""
        self.write(text + "\n")
        conversation.info("{line}", line=text)

    def prompt(self, text: str, answer: Callable[[str], None]) -> None:
        self.question = text
        self.awaiting = answer
        self.ask(text)

    def show(self, frame: Frame) -> None:
        for renderer in (self.screen, self.plain):
            renderer.me = self.screen.me
            renderer.current_room = self.current_room
        for line in self.screen.render(frame):
            self.write(line + "\n")
        for line in self.plain.render(frame):
            conversation.info("{line}", line=line)

    # IServerListener: the connection's life, said once per change

    def connecting(self) -> None:
        if not self.attempted:
            self.attempted = True
            self.notice(
                self._("Connecting to {server}…").format(server=self.settings.server)
            )

    def still_connecting(self) -> None:
        self.state(
            self._("No answer from {server} yet, still trying…").format(
                server=self.settings.server
            )
        )

    def connection_failed(self, reason: Failure) -> None:
        if self.closing or reason.check(CancelledError):
            return  # we are leaving: the attempt was called off, not refused
        self.try_again(
            self._("Cannot reach {server}: {why}.").format(
                server=self.settings.server, why=self.unreachable(reason)
            )
        )

    def unreachable(self, reason: Failure) -> str:
        """Why a connection could not be made, in the reader's words."""
        for error, why in UNREACHABLE:
            if reason.check(error):
                return self._(why)
        return neutralise(reason.getErrorMessage())

    def connected(self, connection: ServerConnection) -> None:
        # The give-up deadline still runs: a port that accepts and hangs up
        # (e.g. a TLS one, for a client without --tls) is no server of ours.
        self.connection = connection
        self.heard = False
        if self.nick:
            self.hello()
        else:
            self.ask_first_nick()

    def hello(self) -> None:
        assert self.connection is not None
        self.connection.send(
            codec.Hello(
                codec.PROTOCOL_VERSION,
                self.nick,
                self.tokens.get(self.settings.server) if self.with_token else "",
                self.settings.lang,
                tuple(self.wanted_rooms),
            )
        )

    def frame_received(self, frame: Frame) -> None:
        self.heard = True
        if self._give_up is not None and self._give_up.active():
            self._give_up.cancel()
        self._give_up = None
        self.roster.update(frame)
        handler = getattr(self, "on_" + type(frame).__name__, None)
        if handler is not None:
            handler(frame)
        if isinstance(frame, codec.NameList) and frame.room in self._quiet_names:
            self._quiet_names.discard(frame.room)
        else:
            self.show(frame)
        if self._moved_from is not None:
            self.say_current_room()
        if isinstance(frame, codec.Welcome):
            self.welcomed(frame)
        elif isinstance(frame, codec.Error) and self.nick_refused(frame):
            if self.wanted_nick is not None:  # the identity's nick is taken
                self.nick_answered(self.wanted_nick)
            else:
                self.ask_nick()

    def bad_frame(self, why: str) -> None:
        self.notice(self._("Error: {text}").format(text=neutralise(why)))

    def disconnected(self, reason: Failure | None = None) -> None:
        refused = None if reason is None else secure_connection_refused(reason)
        was_registered, self.registered = self.registered, False
        self.connection = None
        if was_registered:
            self.wanted_rooms = list(self.rooms)
        self.rooms.clear()
        self.roster.forget()
        self._quiet_names.clear()
        server = self.settings.server
        if self.closing:
            self.finish()
        elif refused is not None:
            # The same certificate would be refused again: no reconnecting.
            self.notice(self.refusal(refused))
            self.finish(1)
        elif reason is not None and isinstance(reason.value, ServerSilent):
            self.try_again(
                self._("{server} stopped answering (silent for {seconds:g} s).").format(
                    server=server, seconds=reason.value.seconds
                )
            )
        elif not self.heard and not self.settings.tls:
            # A port that accepts and hangs up at once: a TLS port, most often.
            self.try_again(
                self._(
                    "{server} closed the connection without a word. Does it expect "
                    "TLS (--tls)?"
                ).format(server=server)
            )
        elif self.settings.reconnect == 0:
            self.notice(self._("The server went away."))
            self.finish(1)
        else:
            self.state(self._("Connection lost, reconnecting…"))
            self.wait_for_server()

    def try_again(self, text: str) -> None:
        """Say C{text}, then that we try again until the deadline, or stop."""
        if self.settings.reconnect == 0:
            self.notice(text)
            self.finish(1)
            return
        self.wait_for_server()
        assert self._give_up is not None
        left = max(0, round(self._give_up.getTime() - self.clock.seconds()))
        self.state(text, self._("Trying again for {seconds} s.").format(seconds=left))

    def state(self, text: str, then: str = "") -> None:
        """
        Say C{text} (and C{then}) unless it was the last thing said of the
        connection: one line per change, not one per attempt.
        """
        if text != self.last_state:
            self.last_state = text
            self.notice(f"{text} {then}" if then else text)

    def refusal(self, refused: SecureConnectionRefused) -> str:
        server, detail = self.settings.server, neutralise(refused.detail)
        if refused.problem is TLSProblem.UNTRUSTED:
            text = self._(
                "Secure connection refused: the certificate of {server} is not "
                "trusted ({why})."
            )
        elif refused.problem is TLSProblem.WRONG_HOST:
            text = self._(
                "Secure connection refused: the certificate of {server} does not "
                "match the host name {why}."
            )
        else:
            text = self._("Secure connection to {server} failed: {why}")
        return text.format(server=server, why=detail)

    def wait_for_server(self) -> None:
        """Give up if the server does not answer within the reconnection time."""
        if self._give_up is None:
            self._give_up = self.clock.callLater(self.settings.reconnect, self.give_up)

    def give_up(self) -> None:
        self._give_up = None
        if self.screen.me:
            self.notice(self._("The server did not come back, giving up."))
        else:
            self.notice(
                self._("Cannot reach {server}, giving up.").format(
                    server=self.settings.server
                )
            )
        self.finish(1)

    # Frames that change our state (shown afterwards)

    def on_Welcome(self, frame: codec.Welcome) -> None:
        self.registered = True
        self.last_state = None  # in again: the next trouble is news
        self.with_token = True  # the token we are given, from now on
        self.nick = frame.user.nick
        self.screen.me = frame.user.id
        self.tokens.put(self.settings.server, frame.token, self.nick)

    def welcomed(self, frame: codec.Welcome) -> None:
        """After the Welcome is shown: choose a room if needed, send what waited."""
        if self.wanted_rooms:
            # The server enters the Hello's rooms before it reads anything
            # else from us, so what we send now already goes to the last one.
            self.current_room = self.wanted_rooms[-1]
        else:
            self.choose_room(frame.rooms)
        self.wanted_rooms = []
        wanted, self.wanted_nick = self.wanted_nick, None
        if wanted is not None and wanted != self.nick:  # --nick, with a token
            self.send(codec.ChangeNick(wanted))
        outbox, self.outbox = self.outbox, []
        for waiting in outbox:
            self.send(waiting)
        if self.awaiting is None:
            self.flush_pending()

    def on_Entered(self, frame: codec.Entered) -> None:
        if frame.user.id == self.screen.me and frame.room not in self.rooms:
            self.rooms.append(frame.room)
            self.current_room = frame.room
            if self.names_wanted and not self.roster.knows(frame.room):
                self._quiet_names.add(frame.room)
                self.send(codec.ListNames(frame.room))

    def on_Left(self, frame: codec.Left) -> None:
        if frame.user.id == self.screen.me:
            self.leave(frame.room)

    def on_KickedOut(self, frame: codec.KickedOut) -> None:
        if frame.user.id == self.screen.me:
            self.leave(frame.room)

    def leave(self, room: str) -> None:
        if room in self.rooms:
            self.rooms.remove(room)
        self.roster.forget(room)
        if self.current_room == room:
            self.current_room = self.rooms[-1] if self.rooms else None
            self._moved_from = room

    def say_current_room(self) -> None:
        """After leaving the current room: where the next line goes."""
        self._moved_from = None
        if self.current_room is None:
            self.notice(self._("You are in no room now: /join one."))
        else:
            self.notice(
                self._("What you type now goes to #{room}.").format(
                    room=neutralise(self.current_room)
                )
            )

    def on_KilledOff(self, frame: codec.KilledOff) -> None:
        if frame.user.id == self.screen.me:  # an operator put us out: stay out
            self.closing = True
            self.exit_status = 1

    def on_Renamed(self, frame: codec.Renamed) -> None:
        if frame.user.id == self.screen.me:
            self.nick = frame.user.nick
            server = self.settings.server
            self.tokens.put(server, self.tokens.get(server), self.nick)

    def on_Error(self, frame: codec.Error) -> None:
        if frame.code == ErrorCode.INCOMPATIBLE_VERSION:
            self.closing = True
            self.exit_status = 1

    def nick_refused(self, frame: codec.Error) -> bool:
        """Whether C{frame} refuses the nick of our Hello."""
        return not self.registered and frame.code in (
            ErrorCode.NICK_IN_USE,
            ErrorCode.INVALID_NICK,
            ErrorCode.NICK_RESERVED,
        )

    def ask_first_nick(self) -> None:
        """
        The nick for our first Hello, asked once the server is there (a line
        typed, or piped, before that is the answer).
        """
        if self.awaiting is not None:  # asked already, before a reconnection
            return
        if self.pending:
            self.first_nick_answered(self.pending.pop(0))
        elif self.input_done:
            self.notice(self._("No more input: leaving."))
            self.finish(1)
        else:
            self.prompt(self._("Nick: "), self.first_nick_answered)

    def first_nick_answered(self, answer: str) -> None:
        nick = answer.strip()
        if not is_valid_nick(nick):
            self.notice(
                self._("invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^")
            )
            self.ask_first_nick()
            return
        self.nick = nick
        if self.connection is not None:
            self.hello()

    def ask_nick(self) -> None:
        self.prompt(self._("Choose another nick: "), self.nick_answered)

    def nick_answered(self, answer: str) -> None:
        nick = answer.strip()
        if not is_valid_nick(nick):
            self.notice(
                self._("invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^")
            )
            self.ask_nick()
            return
        # Our identity's nick is someone else's now: a new nick is a new
        # identity, never greeted as the old one (docs/PROTOCOL.md).
        self.wanted_nick = None
        self.with_token = False
        self.nick = nick
        if self.connection is not None:
            self.hello()

    # Choosing a room

    def choose_room(self, rooms: tuple[codec.RoomInfo, ...]) -> None:
        for line in self.screen.rooms(rooms):
            self.write(line + "\n")
        default = rooms[0].name if rooms else "general"

        def answered(answer: str) -> None:
            named = answer.strip().startswith("#")  # "#99" is a name, "99" not
            choice = plain_text(answer).strip().removeprefix("#") or default
            if choice.isdigit() and not named:
                if not 1 <= int(choice) <= len(rooms):
                    self.notice(
                        self._("There is no room number {number}.").format(
                            number=choice
                        )
                    )
                    self.choose_room(rooms)
                    return
                choice = rooms[int(choice) - 1].name
            if not is_valid_room(choice):
                self.notice(
                    self._("Not a room name: {room}").format(room=neutralise(choice))
                )
                self.choose_room(rooms)
                return
            self.send(codec.Join(choice))
            # As for the Hello's rooms: what we send next follows the Join.
            self.current_room = choice
            self.flush_pending()

        self.prompt(
            self._("Pick a room: its number, or a new name [{default}]: ").format(
                default=neutralise(default)
            ),
            answered,
        )

    # What the person types

    def line_received(self, line: str) -> None:
        if self.awaiting is not None:
            answer, self.awaiting = self.awaiting, None
            answer(line)
        elif not self.registered:
            self.pending.append(line)
        else:
            self.dispatch(line)

    def flush_pending(self) -> None:
        while self.pending and self.registered and self.awaiting is None:
            self.dispatch(self.pending.pop(0))
        self.maybe_finish()

    def input_closed(self) -> None:
        self.input_done = True
        self.maybe_finish()

    def maybe_finish(self) -> None:
        """When the input is over and nothing waits, leave."""
        if not self.input_done or self.busy or self.pending or self.closing:
            return
        if self.awaiting is not None:
            self.notice(self._("No more input: leaving."))
            self.quit("")
        elif self.registered:
            self.quit("")

    def dispatch(self, line: str) -> None:
        # Never a control character or an escape sequence as text: a stray
        # Ctrl+L must not make "/msg" a message to the whole room.
        text = plain_text(line.rstrip("\r\n"))
        if not text.strip():
            return
        if not text.startswith("/"):
            self.say(text)
            return
        name, _, argument = text[1:].partition(" ")
        name = ALIASES.get(name.lower(), name.lower())
        command = getattr(self, "command_" + name, None)
        if command is None:
            self.notice(
                self._("Unknown command /{command}; type /help").format(
                    command=neutralise(name)
                )
            )
            return
        command(argument.strip())

    def send(self, frame: Frame) -> None:
        if self.connection is not None and self.registered:
            self.connection.send(frame)
        else:
            self.outbox.append(frame)

    def room_or_notice(self) -> str | None:
        if self.current_room is None:
            self.notice(self._("You are in no room: /join one first."))
        return self.current_room

    def say(self, text: str) -> None:
        room = self.room_or_notice()
        if room is not None:
            self.send(codec.Say(room, text))

    # Commands: command_<name>(argument)

    def command_help(self, argument: str) -> None:
        for line in HELP:
            self.notice(self._(line))  # each marked with N_ below

    def command_nick(self, argument: str) -> None:
        if not argument:
            self.notice(self._("Usage: /nick <nick>"))
        else:
            self.send(codec.ChangeNick(argument))

    def command_join(self, argument: str) -> None:
        room, _, key = argument.removeprefix("#").partition(" ")
        key = key.strip()
        if not room or " " in key:
            self.notice(self._("Usage: /join <room> [key]"))
        elif room in self.rooms:
            self.current_room = room
            self.notice(self._("You are in #{room}").format(room=neutralise(room)))
        elif key:
            self.send(codec.JoinWithKey(room, key))
        else:
            self.send(codec.Join(room))

    def command_part(self, argument: str) -> None:
        room = argument.removeprefix("#") or self.room_or_notice()
        if room is not None:
            self.send(codec.Part(room))

    def command_list(self, argument: str) -> None:
        self.send(codec.ListRooms())

    def command_names(self, argument: str) -> None:
        room = argument.removeprefix("#") or self.room_or_notice()
        if room is not None:
            self.send(codec.ListNames(room))

    def command_history(self, argument: str) -> None:
        words = argument.split()
        room = words.pop(0)[1:] if words and words[0].startswith("#") else None
        count = words[0] if words else str(DEFAULT_PAGE)
        if len(words) > 1 or room == "" or not count.isascii() or not count.isdigit():
            self.notice(self._("Usage: /history [#room] [count]"))
        elif not 1 <= int(count) <= MAX_PAGE:
            self.notice(self._("ask for 1 to 200 older messages at a time"))
        elif (room := room or self.room_or_notice()) is not None:
            self.send(codec.FetchHistory(room, int(count)))

    def command_msg(self, argument: str) -> None:
        nick, _, text = argument.partition(" ")
        if not nick or not text.strip():
            self.notice(self._("Usage: /msg <nick> <message>"))
        else:
            self.send(codec.Whisper(nick, text))

    def command_me(self, argument: str) -> None:
        room = self.room_or_notice() if argument else None
        if not argument:
            self.notice(self._("Usage: /me <action>"))
        elif room is not None:
            self.send(codec.Act(room, argument))

    def command_describe(self, argument: str) -> None:
        nick, _, text = argument.partition(" ")
        if not nick or not text.strip():
            self.notice(self._("Usage: /describe <nick> <action>"))
        else:
            self.send(codec.ActPrivately(nick, text))

    def command_topic(self, argument: str) -> None:
        room = self.room_or_notice()
        if room is None:
            return
        if argument:
            self.send(codec.SetTopic(room, argument))
        elif self.topics.get(room):
            self.notice(
                self._("Topic of #{room}: {topic}").format(
                    room=neutralise(room), topic=readable(self.topics[room])
                )
            )
        else:
            self.notice(
                self._("#{room} has no topic; /topic <topic> sets one").format(
                    room=neutralise(room)
                )
            )

    def on_Topic(self, frame: codec.Topic) -> None:
        self.topics[frame.room] = frame.topic

    def on_TopicSet(self, frame: codec.TopicSet) -> None:
        self.topics[frame.room] = frame.topic

    def command_away(self, argument: str) -> None:
        self.send(codec.SetAway(argument))

    def command_image(self, argument: str) -> None:
        try:
            path = image_path(argument)
        except ValueError:
            self.notice(self._("Usage: /image <path>"))
            return
        room = self.room_or_notice()
        if room is None:
            return
        self.busy += 1

        def converted(art: str) -> None:
            self.send(codec.ShowImage(room, art))

        def failed(failure: Failure) -> None:
            failure.trap(ImageError)
            error = failure.value
            assert isinstance(error, ImageError)
            why = self._(IMAGE_PROBLEMS[error.problem])
            if error.detail:
                why = f"{why} ({error.detail})"
            self.notice(
                self._("Cannot show that picture: {why}").format(
                    why=neutralise(f"{error.path}: {why}")
                )
            )

        def done(result: Any) -> Any:
            self.busy -= 1
            self.maybe_finish()
            return result

        self.render_image(path).addCallbacks(converted, failed).addBoth(done)

    def command_quit(self, argument: str) -> None:
        self.quit(argument)

    @classmethod
    def known_commands(cls) -> list[str]:
        """The /commands and their aliases, for completion."""
        commands = {name[8:] for name in dir(cls) if name.startswith("command_")}
        return sorted(commands | set(ALIASES))

    def quit(self, message: str) -> None:
        self.closing = True
        if self.connection is not None:
            self.connection.send(codec.Goodbye(message))
            self.connection.close()
        else:
            self.finish()

    def leave_now(self) -> None:
        """The program is stopping (Ctrl+C): say goodbye if we still can."""
        if self.connection is not None and not self.closing:
            self.closing = True
            self.connection.send(codec.Goodbye(""))
            self.connection.close()

    def finish(self, status: int | None = None) -> None:
        if status is not None:
            self.exit_status = status
        self.closing = True
        if not self.finished.called:
            self.finished.callback(self.exit_status)


def N_(text: str) -> str:
    """Marks C{text} for translation where it is defined, not where it is shown."""
    return text


ALIASES = {"room": "join", "di": "image"}
UNREACHABLE = [
    (Refused, N_("connection refused")),
    (DNSLookupError, N_("unknown host")),
    (NoRouteError, N_("no route to the host")),
    (NoAnswer, N_("no answer")),
]
IMAGE_PROBLEMS = {
    ImageProblem.NOT_FOUND: N_("no such file"),
    ImageProblem.DIRECTORY: N_("a folder, not a picture"),
    ImageProblem.NOT_REGULAR: N_("not a regular file"),
    ImageProblem.NOT_READABLE: N_("not readable (permission denied)"),
    ImageProblem.CANNOT_READ: N_("cannot read it"),
    ImageProblem.NOT_AN_IMAGE: N_("not a picture (or in a format we cannot read)"),
    ImageProblem.TOO_LARGE: N_("the picture is too large"),
    ImageProblem.DAMAGED: N_("the picture is damaged"),
    ImageProblem.EMPTY: N_("the picture is empty"),
    ImageProblem.BLANK: N_("the picture comes out blank (all dark)"),
}
HELP = [
    N_("Commands:"),
    N_("  /nick <nick>            change your nick"),
    N_("  /join <room> [key]      enter a room, or go back to one (also /room)"),
    N_("  /part [room]            leave the room"),
    N_("  /list                   the rooms"),
    N_("  /names [room]           who is in the room"),
    N_("  /msg <nick> <message>   a private message"),
    N_("  /me <action>            say what you do (/me waves: * you waves)"),
    N_("  /describe <nick> <action>  the same, privately"),
    N_("  /topic [topic]          show or set the room's topic"),
    N_("  /away [message]         mark yourself away (none: back)"),
    N_("  /history [#room] [N]    N older messages of the room (20 by default)"),
    N_("  /image <path>           show a picture as ASCII art (also /di)"),
    N_("  /quit [message]         leave the chat"),
    N_("Anything else is said in your current room."),
]


@implementer(IHalfCloseableProtocol)
class ConsoleInput(LineReceiver):
    """
    Lines typed on standard input, handed to the console.

    Half-closeable: the end of the input (Ctrl+D, the end of a script) must
    not close the output, which still shows the server's answers until we
    leave. C{closed} fires once both are closed.
    """

    delimiter = b"\n"
    MAX_LENGTH = 64 * 1024

    def __init__(self, console: ChatConsole) -> None:
        self.console = console
        self.closed: Deferred[None] = Deferred()
        self.output_gone = False

    def lineReceived(self, line: bytes) -> None:
        self.console.line_received(line.decode("utf-8", "replace").rstrip("\r"))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.console.notice(self.console._("Line too long, ignored."))

    def readConnectionLost(self) -> None:
        self.console.input_closed()

    def writeConnectionLost(self) -> None:
        """Nobody reads us any more (the reader of a pipe went away): leave."""
        self.output_gone = True
        self.console.quit("")

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.console.input_closed()
        if not self.closed.called:
            self.closed.callback(None)
