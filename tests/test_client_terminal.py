"""
The interactive terminal's logic: the line editor, the roster's completions,
and the terminal itself fed key bytes through Twisted's insults parser, its
console connected to the real fronts, its screen drawn by pyte.
"""

from __future__ import annotations

import pyte
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.client.console import ChatConsole
from twistedchat.client.editor import LineEditor, plain_text
from twistedchat.client.roster import Roster
from twistedchat.client.terminal import ChatTerminal, connect_terminal
from twistedchat.core.events import User

from .test_client_console import ConsoleTestCase
from .test_line_front import Client as LineClient

LEFT, RIGHT, UP, DOWN = b"\x1b[D", b"\x1b[C", b"\x1b[A", b"\x1b[B"
HOME, END, DELETE = b"\x1b[H", b"\x1b[F", b"\x1b[3~"


def editor_with(text: str, cursor: int | None = None) -> LineEditor:
    editor = LineEditor()
    editor.insert(text)
    if cursor is not None:
        editor.cursor = cursor
    return editor


class LineEditorTests(SynchronousTestCase):
    def test_moving_and_typing(self) -> None:
        editor = editor_with("hllo wrld")
        editor.left()
        editor.left()
        editor.left()
        editor.insert("o")
        editor.home()
        editor.right()
        editor.insert("e")
        editor.end()
        editor.insert("!")
        self.assertEqual((editor.text, editor.cursor), ("hello world!", 12))

    def test_backspace_and_delete(self) -> None:
        editor = editor_with("abcd", 2)
        editor.backspace()
        self.assertEqual((editor.text, editor.cursor), ("acd", 1))
        editor.delete()
        self.assertEqual((editor.text, editor.cursor), ("ad", 1))
        editor.home()
        editor.backspace()  # nothing before the cursor: nothing happens
        editor.end()
        editor.delete()  # nothing after it
        self.assertEqual((editor.text, editor.cursor), ("ad", 2))

    def test_kill_keys(self) -> None:
        editor = editor_with("/msg tutu  psst", 11)
        editor.kill_word()  # Ctrl+W: "tutu  "
        self.assertEqual((editor.text, editor.cursor), ("/msg psst", 5))
        editor.kill_to_end()  # Ctrl+K
        self.assertEqual(editor.text, "/msg ")
        editor.insert("bob hi")
        editor.left()
        editor.left()
        editor.kill_to_start()  # Ctrl+U
        self.assertEqual((editor.text, editor.cursor), ("hi", 0))

    def test_history(self) -> None:
        editor = LineEditor()
        for line in ("one", "two", "two", "   "):
            editor.insert(line)
            editor.enter()
        self.assertEqual(editor.history, ["one", "two"])  # no repeat, no blank
        editor.insert("draft")
        editor.history_back()
        self.assertEqual(editor.text, "two")
        editor.history_back()
        editor.history_back()  # already the oldest: stays
        self.assertEqual((editor.text, editor.cursor), ("one", 3))
        editor.history_forward()
        editor.history_forward()
        self.assertEqual(editor.text, "draft")  # back to what was being typed
        editor.history_forward()
        self.assertEqual(editor.text, "draft")

    def test_answers_to_questions_can_stay_out_of_the_history(self) -> None:
        editor = editor_with("2")
        self.assertEqual(editor.enter(remember=False), "2")
        self.assertEqual(editor.history, [])

    def test_history_is_bounded(self) -> None:
        editor = LineEditor(history_size=3)
        for n in range(5):
            editor.insert(str(n))
            editor.enter()
        self.assertEqual(editor.history, ["2", "3", "4"])

    def test_completion(self) -> None:
        words = ["tutu", "Toto", "titi"]

        def complete(line: str, cursor: int) -> tuple[int, list[str]]:
            start = line.rfind(" ", 0, cursor) + 1
            typed = line[start:cursor].lower()
            return start, [w for w in words if w.lower().startswith(typed)]

        editor = LineEditor(complete)
        editor.insert("hi tu")
        self.assertEqual(editor.complete(), ())
        self.assertEqual((editor.text, editor.cursor), ("hi tutu ", 8))
        editor = LineEditor(complete)
        editor.insert("t")
        self.assertEqual(editor.complete(), ["tutu", "Toto", "titi"])
        self.assertEqual(editor.text, "t")  # ambiguous: the choices are shown
        words.remove("titi")
        words.append("tutube")
        editor = LineEditor(complete)
        editor.insert("tu, salut")
        editor.cursor = 2
        editor.complete()  # as far as both agree, the rest of the line kept
        self.assertEqual((editor.text, editor.cursor), ("tutu, salut", 4))

    def test_plain_text(self) -> None:
        self.assertEqual(plain_text("\x0c/msg tutu psst"), "/msg tutu psst")
        self.assertEqual(plain_text("hllo\x1b[D\x1b[De\x1bOA\x1b[1;5C!"), "hlloe!")
        self.assertEqual(plain_text("a\x1b]0;title\x07b\tc\x85é"), "ab cé")


def user(nick: str, id: str | None = None) -> User:
    return User(id or nick, nick, 1)


class RosterTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.roster = Roster()
        for frame in (
            codec.NameList("general", (user("alice"), user("tutu"), user("Toto"))),
            codec.NameList("dev", (user("alice"), user("bob"))),
            codec.Entered(0, "general", user("titi")),
            codec.Left(0, "general", user("tutu")),
            codec.Renamed(0, "bob", user("robert", "bob")),
            codec.RoomList((codec.RoomInfo("games", 3),)),
            codec.Welcome(1, user("alice"), "t", False, (codec.RoomInfo("art", 1),)),
        ):
            self.roster.update(frame)

    def complete(self, line: str, room: str = "general") -> tuple[int, list[str]]:
        commands = ChatConsole.known_commands()
        return self.roster.completions(line, len(line), commands, room)

    def test_members_follow_the_frames(self) -> None:
        self.assertEqual(self.roster.nicks("general"), ["alice", "titi", "Toto"])
        self.assertEqual(self.roster.nicks("dev"), ["alice", "robert"])
        self.roster.update(codec.Gone(0, user("alice")))
        self.assertEqual(self.roster.nicks("dev"), ["robert"])
        self.roster.forget("dev")
        self.assertFalse(self.roster.knows("dev"))

    def test_nicks_of_the_current_room(self) -> None:
        self.assertEqual(self.complete("hi t"), (3, ["titi", "Toto"]))
        self.assertEqual(self.complete("r", room="dev"), (0, ["robert"]))
        self.assertEqual(self.complete("r"), (0, []))

    def test_commands_rooms_and_msg(self) -> None:
        self.assertEqual(self.complete("/jo"), (0, ["/join"]))
        self.assertEqual(self.complete("/i"), (0, ["/image"]))
        self.assertEqual(self.complete("/join g"), (6, ["games", "general"]))
        self.assertEqual(self.complete("/join a"), (6, ["art"]))
        self.assertEqual(self.complete("see #d"), (4, ["#dev"]))
        # /msg: everyone known, the current room's first
        self.assertEqual(
            self.complete("/msg "), (5, ["alice", "titi", "Toto", "robert"])
        )


class TerminalTests(ConsoleTestCase):
    """A terminal of 40 x 10 on the console of alice, in #general."""

    def setUp(self) -> None:
        super().setUp()
        self.netcat = LineClient(self.line_front, 6000)
        self.netcat.send("NICK toto\n")
        self.console_, self.shown = self.console(lang="en")
        self.size = (40, 10)
        self.chat = ChatTerminal(self.console_, lambda: self.size)
        self.transport = StringTransport()
        connect_terminal(self.chat).makeConnection(self.transport)
        self.screen = pyte.Screen(40, 10)
        self.stream = pyte.ByteStream(self.screen)
        _, _, self.pump = self.connect(self.console_)
        self.netcat.lines()

    def type(self, keys: bytes) -> None:
        protocol = self.chat.terminal
        for byte in keys:  # one at a time, as slowly as a person types
            protocol.dataReceived(bytes([byte]))
        self.pump.flush()

    def rows(self) -> list[str]:
        self.stream.feed(self.transport.value())
        self.transport.clear()
        return [row.rstrip() for row in self.screen.display]

    def test_editing_keys_send_the_edited_line_only(self) -> None:
        self.type(b"hllo wrld" + LEFT * 3 + b"o" + HOME + RIGHT + b"e" + END)
        self.type(b"!!\x7f" + HOME + DELETE + b"H\r")
        self.assertEqual(self.netcat.lines(), ["[alice] Hello world!"])

    def test_unknown_keys_and_sequences_are_never_typed(self) -> None:
        # Ctrl+L, F5, Ctrl+←, Alt+x, an SS3 arrow, Ctrl+G, Ctrl+Z, then text
        self.type(b"\x0c\x1b[15~\x1b[1;5D\x1bx\x1bOA\x07\x1aok\r")
        self.assertEqual(self.netcat.lines(), ["[alice] ok"])

    def test_a_private_message_after_ctrl_l_reaches_only_its_reader(self) -> None:
        bob = LineClient(self.line_front, 6001)
        bob.send("NICK tutu\n")
        bob.lines()
        self.netcat.lines()
        self.type(b"\x0c/msg tutu psst\r")
        self.assertEqual(self.netcat.lines(), [])
        said = bob.lines()
        self.assertEqual(len(said), 1)
        self.assertIn("alice", said[0])
        self.assertTrue(said[0].endswith("psst"), said)

    def test_a_paste_is_drawn_once(self) -> None:
        self.rows()
        self.chat.terminal.dataReceived(b"x" * 1000)
        self.assertEqual(self.transport.value().count(b"\x1b[2K"), 1)
        self.assertEqual(self.rows()[-1], "[#general] " + "x" * 28)

    def test_a_line_too_long_is_refused_as_on_pipes(self) -> None:
        self.chat.editor.insert("é" * 40000)  # 80 000 bytes, a paste
        self.type(b"\r")
        self.assertEqual(self.netcat.lines(), [])
        self.assertIn("Line too long, ignored.", self.rows())
        self.assertEqual(self.chat.editor.history[-1], "é" * 40000)

    def test_line_ends(self) -> None:
        self.type(b"one\r\ntwo\n\nthree\r")
        self.assertEqual(
            self.netcat.lines(), ["[alice] one", "[alice] two", "[alice] three"]
        )

    def test_utf8_typed_byte_by_byte(self) -> None:
        self.type("déjà vu ✓\r".encode())
        self.assertEqual(self.netcat.lines(), ["[alice] déjà vu ✓"])

    def test_incoming_lines_go_above_the_line_being_typed(self) -> None:
        self.type(b"half typed")
        self.netcat.send("MSG incoming!\n")
        self.pump.flush()
        rows = self.rows()
        self.assertEqual(rows[-1], "[#general] half typed")
        self.assertEqual(rows[-2], "[12:00] toto said: incoming!")
        self.assertEqual((self.screen.cursor.x, self.screen.cursor.y), (21, 9))
        self.type(b" line\r")
        rows = self.rows()
        self.assertEqual(rows[-2], "[12:00] You said: half typed line")
        self.assertEqual(rows[-1], "[#general]")
        # The line typed appears once: as said, never echoed as typed.
        self.assertEqual(sum("half typed" in row for row in rows), 1)

    def test_a_long_line_scrolls_sideways(self) -> None:
        self.type(b"x" * 50 + b"END")
        rows = self.rows()
        self.assertTrue(rows[-1].endswith("xEND"), rows[-1])
        self.assertLessEqual(len(rows[-1]), 40)
        self.type(HOME)
        self.assertEqual(self.rows()[-1], "[#general] " + "x" * 28)

    def test_wide_characters_take_two_columns(self) -> None:
        self.type("日本語".encode())
        self.rows()
        self.assertEqual(self.screen.cursor.x, len("[#general] ") + 6)
        self.type("漢字".encode() * 10)  # 40 columns: the line scrolls
        rows = self.rows()
        self.assertTrue(rows[-1].endswith("漢字"), rows[-1])
        self.assertLessEqual(self.screen.cursor.x, 39)

    def test_up_arrow_brings_back_the_last_line(self) -> None:
        self.type(b"once\r" + UP)
        self.assertEqual(self.rows()[-1], "[#general] once")
        self.type(b" more\r")
        self.assertEqual(self.netcat.lines(), ["[alice] once", "[alice] once more"])
        self.type(UP + UP + DOWN + DOWN)
        self.assertEqual(self.rows()[-1], "[#general]")

    def test_tab_completes_nicks_of_the_room_asked_on_entering(self) -> None:
        # The client asked NAMES on entering #general, without showing them.
        self.assertNotIn("In #general", self.text(self.shown))
        self.assertEqual(self.console_.roster.nicks("general"), ["alice", "toto"])
        self.type(b"hi to\t")
        self.assertEqual(self.rows()[-1], "[#general] hi toto")
        self.assertEqual(self.screen.cursor.x, len("[#general] hi toto "))
        self.type(b"\r")
        self.assertEqual(self.netcat.lines(), ["[alice] hi toto "])
        later = LineClient(self.line_front, 6002)
        later.send("NICK tonton\n")
        self.pump.flush()
        self.type(b"to\t")  # both: the choices are shown above
        self.assertIn("tonton  toto", self.rows()[-2])
        self.type(b"\x15/j\t")
        self.assertEqual(self.rows()[-1], "[#general] /join")

    def test_ctrl_l_clears_the_screen_and_keeps_the_line(self) -> None:
        self.netcat.send("MSG before\n")
        self.pump.flush()
        self.type(b"typing")
        self.type(b"\x0c")
        rows = self.rows()
        self.assertEqual(rows[:-1], [""] * 9)
        self.assertEqual(rows[-1], "[#general] typing")

    def test_ctrl_d_on_an_empty_line_leaves(self) -> None:
        self.type(b"x" + LEFT + b"\x04")  # not empty: Delete
        self.assertEqual(self.rows()[-1], "[#general]")
        self.assertNoResult(self.console_.finished)
        self.type(b"\x04")
        self.assertEqual(self.successResultOf(self.console_.finished), 0)

    def test_ctrl_c_leaves(self) -> None:
        self.type(b"\x03")
        self.assertEqual(self.successResultOf(self.console_.finished), 0)

    def test_resize(self) -> None:
        self.type(b"abc")
        self.size = (60, 14)
        self.screen.resize(14, 60)
        self.chat.resized()
        self.netcat.send("MSG wider\n")
        self.pump.flush()
        rows = self.rows()
        self.assertEqual(rows[-1], "[#general] abc")
        self.assertEqual(rows[-2], "[12:00] toto said: wider")
        self.assertEqual(self.screen.margins, (0, 12))


class TerminalQuestionTests(ConsoleTestCase):
    def test_the_room_question_is_the_input_line(self) -> None:
        console, _ = self.console(room=None, lang="en")
        chat = ChatTerminal(console, lambda: (80, 10))
        transport = StringTransport()
        connect_terminal(chat).makeConnection(transport)
        screen = pyte.Screen(80, 10)
        stream = pyte.ByteStream(screen)
        _, _, pump = self.connect(console)
        for byte in b"99\r\n":  # a CRLF (a paste): one answer, not two
            chat.terminal.dataReceived(bytes([byte]))
        pump.flush()
        stream.feed(transport.value())
        rows = [row.rstrip() for row in screen.display]
        question = "Pick a room: its number, or a new name [general]:"
        self.assertEqual(rows[-1], question)
        self.assertIn(question + " 99", rows)  # the answer kept above
        self.assertIn("There is no room number 99.", rows)
        for byte in b"\r":
            chat.terminal.dataReceived(bytes([byte]))
        pump.flush()
        transport.clear()
        chat.draw_input()
        stream.feed(transport.value())
        self.assertEqual(screen.display[-1].rstrip(), "[#general]")
        self.assertEqual(chat.editor.history, [])

    def test_another_nick_is_asked_in_the_input_line(self) -> None:
        taken, _ = self.console("alice")
        self.connect(taken)
        console, _ = self.console("alice", lang="en")
        chat = ChatTerminal(console, lambda: (80, 10))
        transport = StringTransport()
        connect_terminal(chat).makeConnection(transport)
        screen = pyte.Screen(80, 10)
        stream = pyte.ByteStream(screen)
        _, _, pump = self.connect(console)
        stream.feed(transport.value())
        self.assertEqual(screen.display[-1].rstrip(), "Choose another nick:")
        transport.clear()
        for byte in b"alice2\r":
            chat.terminal.dataReceived(bytes([byte]))
        pump.flush()
        stream.feed(transport.value())
        rows = [row.rstrip() for row in screen.display]
        self.assertIn("Welcome alice2!", rows)
        self.assertEqual(rows[-1], "[#general]")
