"""The line (netcat) front over StringTransport: every command and error path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.events import (
    Action,
    Joined,
    Message,
    PrivateAction,
    PrivateMessage,
    User,
)
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout, RenderOnce
from twistedchat.fronts.line import LineFront, LineProtocol, render_event


class Client:
    """One netcat user: a LineProtocol on a StringTransport."""

    def __init__(self, front: LineFront, port: int) -> None:
        address = IPv4Address("TCP", "127.0.0.1", port)
        self.transport = StringTransport(peerAddress=address)
        protocol = front.buildProtocol(address)
        assert isinstance(protocol, LineProtocol)
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def send(self, data: bytes | str) -> None:
        self.protocol.dataReceived(data.encode() if isinstance(data, str) else data)

    def lines(self) -> list[str]:
        """What the user saw since the last call (its front having written)."""
        self.protocol.factory.outbox.flush()
        text: str = self.transport.value().decode("utf-8")
        self.transport.clear()
        return text.split("\r\n")[:-1]

    def close(self) -> None:
        self.protocol.connectionLost(None)

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


class LineFrontTestCase(SynchronousTestCase):
    default_room: str | None = "general"

    def setUp(self) -> None:
        self.clock = Clock()
        checker = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        self.service = ChatService(
            self.clock, self.default_room, checker, delivery=Fanout()
        )
        self.front = LineFront(self.service, max_line=64)
        self.next_port = 5000

    def connect(self, nick: str | None = None) -> Client:
        self.next_port += 1
        client = Client(self.front, self.next_port)
        if nick is not None:
            client.send(f"NICK {nick}\n")
        client.lines()
        return client

    def connect_all(self, *nicks: str) -> list[Client]:
        clients = [self.connect(nick) for nick in nicks]
        for client in clients:
            client.lines()
        return clients


class ConnectionTests(LineFrontTestCase):
    def test_arrival_is_announced_with_address(self) -> None:
        toto = self.connect("toto")
        newcomer = Client(self.front, 6000)
        self.assertEqual(
            newcomer.lines(),
            [
                '[server] welcome, you are "127.0.0.1:6000"; type HELP for the commands',
                "[server] you are in #general",
            ],
        )
        self.assertEqual(toto.lines(), ['[server] client connected "127.0.0.1:6000"'])

    def test_ipv6_and_unix_peers_get_distinct_nicks(self) -> None:
        for address in [
            IPv6Address("TCP", "::1", 7000),
            UNIXAddress(None),
            UNIXAddress(None),
        ]:
            protocol = self.front.buildProtocol(address)
            assert isinstance(protocol, LineProtocol)
            protocol.makeConnection(StringTransport(peerAddress=address))
        self.assertEqual(
            self.service.names("general"), ["[::1]:7000", "guest:1", "guest:2"]
        )

    def test_disconnect_cleans_up_and_tells_the_room(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.close()
        self.assertEqual(tutu.lines(), ['[server] client disconnected "toto"'])
        self.assertEqual(self.service.names("general"), ["tutu"])
        self.assertFalse(self.service.nick_taken("toto"))

    def test_quit_relays_farewell_and_closes(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("QUIT bye bye\nMSG too late\n")
        self.assertTrue(toto.closed)
        self.assertEqual(
            tutu.lines(), ["[toto] bye bye", '[server] client disconnected "toto"']
        )
        self.assertEqual(self.service.names("general"), ["tutu"])
        toto.close()
        self.assertEqual(tutu.lines(), [])

    def test_quit_without_message(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("quit\n")
        self.assertEqual(tutu.lines(), ['[server] client disconnected "toto"'])


class CommandTests(LineFrontTestCase):
    def test_assignment_session(self) -> None:
        toto, tutu, tata = self.connect_all("toto", "tutu", "tata")
        tata.send("NAMES\n")
        self.assertEqual(tata.lines(), ["[server] toto tutu tata"])
        tata.send("MSG hello world!\n")
        self.assertEqual(toto.lines(), ["[tata] hello world!"])
        self.assertEqual(tutu.lines(), ["[tata] hello world!"])
        self.assertEqual(tata.lines(), [])
        toto.send("QUIT bye bye\n")
        toto.close()
        self.assertEqual(tutu.lines()[0], "[toto] bye bye")
        self.assertEqual(tata.lines()[0], "[toto] bye bye")
        tata.send("OPER admin secret\n")
        self.assertEqual(
            tata.lines(), ['[server] you are now a server operator ("admin")']
        )
        tata.send("KILL tutu I kill you!\n")
        self.assertEqual(tutu.lines()[0], "[tata] I kill you!")
        self.assertTrue(tutu.closed)
        tutu.close()
        self.assertEqual(tata.lines(), ['[server] "tutu" was disconnected'])
        tata.send("QUIT ciao\n")
        self.assertTrue(tata.closed)

    def test_nick_and_hello_synonym(self) -> None:
        toto = self.connect()
        other = self.connect("other")
        toto.lines()
        toto.send("Hello|toto\n")
        self.assertEqual(toto.lines(), ['[server] you are now known as "toto"'])
        self.assertEqual(other.lines(), ['[server] client "127.0.0.1:5001" => "toto"'])
        toto.send("nick Toto_2\n")
        self.assertEqual(toto.lines(), ['[server] you are now known as "Toto_2"'])

    def test_nick_errors_change_nothing(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("NICK\nNICK TUTU\nNICK bad!nick\nNICK server\n")
        self.assertEqual(
            toto.lines(),
            [
                "[server] error: usage: NICK <nick>",
                '[server] error: nick "TUTU" is already in use',
                '[server] error: invalid nick "bad!nick": use 1 to 30 letters, digits '
                "or _-[]{}\\|^",
                '[server] error: the nick "server" is reserved: choose another one',
            ],
        )
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])

    def test_msg_to_named_room(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("JOIN dev\n")
        tutu.lines(), toto.lines()
        toto.send("MSG #dev over there\n")
        self.assertEqual(tutu.lines(), ["[toto] over there"])
        toto.send("MSG #nowhere hi\nMSG #dev\nMSG\n")
        self.assertEqual(
            toto.lines(),
            [
                "[server] error: there is no room #nowhere",
                "[server] error: usage: MSG <message> or MSG #<room> <message>",
                "[server] error: usage: MSG <message> or MSG #<room> <message>",
            ],
        )

    def test_message_keeps_its_spacing(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("MSG a   b\t c\r\n")
        self.assertEqual(tutu.lines(), ["[toto] a   b\t c"])

    def test_join_moves_between_rooms(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("JOIN #dev\n")
        self.assertEqual(toto.lines(), ["[server] you are in #dev (1 member)"])
        self.assertEqual(tutu.lines(), ['[server] "toto" left #general'])
        tutu.send("join dev\n")
        self.assertEqual(tutu.lines(), ["[server] you are in #dev (2 members)"])
        self.assertEqual(toto.lines(), ['[server] "tutu" joined #dev'])
        tutu.send("JOIN DEV\nJOIN\nJOIN a/b\n")
        self.assertEqual(
            tutu.lines(),
            [
                "[server] error: you are already in #dev",
                "[server] error: usage: JOIN <room> [key]",
                '[server] error: invalid room name "a/b": use 1 to 50 letters, digits or _-.',
            ],
        )
        self.assertEqual(
            [(r.name, r.members) for r in self.service.list_rooms()], [("dev", 2)]
        )

    def test_part_list_and_names(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("LIST\n")
        self.assertEqual(toto.lines(), ["[server] rooms: #general (2 members)"])
        toto.send("PART\n")
        self.assertEqual(
            toto.lines(), ["[server] you left #general; JOIN a room to chat"]
        )
        self.assertEqual(tutu.lines(), ['[server] "toto" left #general'])
        toto.send("PART\nMSG hi\nNAMES\nKICK tutu\nNAMES #general\n")
        self.assertEqual(
            toto.lines(),
            ["[server] error: you are not in a room; JOIN one first"] * 4
            + ["[server] tutu"],
        )
        tutu.send("PART\nLIST\n")
        self.assertEqual(
            tutu.lines()[-1], "[server] no rooms yet; JOIN <room> creates one"
        )

    def test_kick(self) -> None:
        toto, tutu, tata = self.connect_all("toto", "tutu", "tata")
        tutu.send("KICK tata\n")
        self.assertEqual(
            tutu.lines(), ["[server] error: you are not an operator of #general"]
        )
        toto.send("KICK tata flooding\nKICK\nKICK nobody\n")
        self.assertEqual(
            toto.lines(),
            [
                '[server] "tata" was kicked from #general: flooding',
                "[server] error: usage: KICK <nick> [reason]",
                '[server] error: no user is called "nobody"',
            ],
        )
        kicked = '[server] "tata" was kicked from #general by "toto": flooding'
        self.assertEqual(tata.lines(), [kicked])
        self.assertEqual(tutu.lines(), [kicked])
        self.assertFalse(tata.closed)
        tata.send("MSG hello?\n")
        self.assertEqual(
            tata.lines(), ["[server] error: you are not in a room; JOIN one first"]
        )

    def test_oper_and_kill_errors(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("KILL tutu\nOPER admin\nOPER admin wrong\n")
        self.assertEqual(
            toto.lines(),
            [
                "[server] error: you are not a server operator (use OPER first)",
                "[server] error: usage: OPER <name> <password>",
                "[server] error: wrong operator name or password",
            ],
        )
        toto.send("OPER admin secret\nKILL\nKILL nobody\n")
        self.assertEqual(
            toto.lines()[1:],
            [
                "[server] error: usage: KILL <nick> [message]",
                '[server] error: no user is called "nobody"',
            ],
        )

    def test_kill_default_message(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("OPER admin secret\nKILL tutu\n")
        self.assertEqual(
            tutu.lines()[0], "[toto] you have been disconnected by an operator"
        )

    def test_unknown_command_and_help(self) -> None:
        toto = self.connect("toto")
        toto.send("FOO bar\nhello there\n\n   \n")
        self.assertEqual(
            toto.lines(),
            [
                '[server] error: unknown command "FOO"; type HELP for the commands',
                '[server] error: unknown command "hello"; type HELP for the commands',
            ],
        )
        toto.send("help\n")
        lines = toto.lines()
        self.assertEqual(lines[0], "[server] commands (case-insensitive):")
        for command in [
            "NICK",
            "MSG",
            "NAMES",
            "JOIN",
            "PART",
            "LIST",
            "KICK",
            "OPER",
            "KILL",
            "QUIT",
        ]:
            self.assertTrue(any(f"  {command} " in line for line in lines), command)


class HostileInputTests(LineFrontTestCase):
    def test_overlong_line_is_refused_and_reading_goes_on(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send(b"MSG " + b"x" * 100 + b"\nMSG after\n")
        self.assertEqual(
            toto.lines(), ["[server] error: line too long (over 64 bytes), ignored"]
        )
        self.assertEqual(tutu.lines(), ["[toto] after"])
        self.assertFalse(toto.closed)

    def test_overlong_line_in_pieces(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send(b"MSG " + b"y" * 70)
        toto.send(b"y" * 500)
        toto.send(b"yyy\nMSG ok")
        toto.send(b"\n")
        self.assertEqual(
            toto.lines(), ["[server] error: line too long (over 64 bytes), ignored"]
        )
        self.assertEqual(tutu.lines(), ["[toto] ok"])

    def test_utf8_split_across_reads(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        data = "MSG café ☕\n".encode()
        for i in range(len(data)):
            toto.send(data[i : i + 1])
        self.assertEqual(tutu.lines(), ["[toto] café ☕"])

    def test_invalid_utf8_is_replaced(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send(b"MSG bad \xff\xfe bytes\n")
        self.assertEqual(tutu.lines(), ["[toto] bad \ufffd\ufffd bytes"])

    def test_terminal_controls_never_reach_others(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send(b"MSG \x1b[2J\x1b]0;pwned\x07 \xc2\x9b31m\x7f hi\n")
        (line,) = tutu.lines()
        self.assertEqual(
            line, "[toto] \ufffd[2J\ufffd]0;pwned\ufffd \ufffd31m\ufffd hi"
        )

    def test_failing_command_answers_and_keeps_connection(self) -> None:
        toto = self.connect("toto")

        def explode(session: object, argument: str) -> None:
            raise RuntimeError("bug")

        toto.protocol.line_LIST = explode  # type: ignore[method-assign]
        toto.send("LIST\nNAMES\n")
        self.assertEqual(
            toto.lines(),
            ["[server] error: internal error, nothing was done", "[server] toto"],
        )
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class NoDefaultRoomTests(LineFrontTestCase):
    default_room = None

    def test_must_join_before_msg(self) -> None:
        toto = Client(self.front, 6000)
        self.assertEqual(toto.lines()[1:], ["[server] JOIN a room to start chatting"])
        toto.send("MSG hello\n")
        self.assertEqual(
            toto.lines(), ["[server] error: you are not in a room; JOIN one first"]
        )
        toto.send("JOIN lobby\n")
        self.assertEqual(toto.lines(), ["[server] you are in #lobby (1 member)"])


class RendererTests(SynchronousTestCase):
    def test_renders_each_event_once(self) -> None:
        renderer = RenderOnce(render_event)
        toto = User("1", "toto", 33)
        event = Message(0.0, "general", toto, "hi")
        first = renderer.render(event)
        self.assertIs(renderer.render(event), first)
        self.assertEqual(first, b"[toto] hi\r\n")
        self.assertEqual(
            render_event(Joined(0.0, "dev", toto)), b'[server] "toto" joined #dev\r\n'
        )


class FuzzTests(SynchronousTestCase):
    """Whatever bytes arrive, in whatever pieces: no crash, bounded buffers, clean output."""

    @settings(max_examples=300, deadline=None)
    @given(
        chunks=st.lists(
            st.one_of(
                st.binary(max_size=200),
                st.sampled_from(
                    [
                        b"\n",
                        b"\r\n",
                        b"MSG ",
                        b"NICK ",
                        b"JOIN ",
                        b"Hello|",
                        b"\x1b[2J",
                        b"\xc3",
                    ]
                ),
            ),
            max_size=40,
        )
    )
    def test_random_input(self, chunks: list[bytes]) -> None:
        service = ChatService(Clock(), "general", delivery=Fanout())
        front = LineFront(service, max_line=64)
        observer, fuzzer = Client(front, 1), Client(front, 2)
        observer.lines()
        for chunk in chunks:
            fuzzer.send(chunk)
            self.assertLessEqual(len(fuzzer.protocol._buffer), 64 + 1)
        fuzzer.send(b"\nMSG #general still here\n")
        front.outbox.flush()
        seen = observer.transport.value().decode("utf-8")
        for character in seen:  # no C0 (but CR, LF, tab), DEL or C1 control
            code = ord(character)
            self.assertTrue(
                character in "\r\n\t" or not (code < 0x20 or 0x7F <= code < 0xA0),
                repr(character),
            )
        if not fuzzer.closed:  # random bytes may spell QUIT
            self.assertTrue(seen.endswith("] still here\r\n"), seen[-200:])
        self.assertEqual(self.flushLoggedErrors(), [])


class ActionTests(SynchronousTestCase):
    def test_irc_me_reads_as_an_action(self) -> None:
        toto = User("1", "toto", 33)
        self.assertEqual(
            render_event(Action(0.0, "general", toto, "waves")),
            b"* toto waves\r\n",
        )
        # As a client of the framed protocol could still send it
        self.assertEqual(
            render_event(Message(0.0, "general", toto, "\x01ACTION waves\x01")),
            b"* toto waves\r\n",
        )
        self.assertEqual(
            render_event(PrivateAction(0.0, toto, "tutu", "hugs you")),
            b"(private) * toto hugs you\r\n",
        )

    def test_other_ctcp_is_not_shown(self) -> None:
        """A CTCP request (VERSION, PING, an empty ACTION...) is for IRC clients."""
        toto = User("1", "toto", 33)
        for text in ["\x01VERSION\x01", "\x01PING 123\x01", "\x01ACTION\x01"]:
            self.assertEqual(render_event(Message(0.0, "general", toto, text)), b"")
            self.assertEqual(render_event(PrivateMessage(0.0, toto, "tutu", text)), b"")

    def test_formatting_stripped(self) -> None:
        """IRC's bold, colours, italics... are dropped; other controls neutralised."""
        toto = User("1", "toto", 33)
        cases = {
            "\x02bold\x02 \x0304,12red\x03 \x1ditalic\x1d \x1funder\x1f": (
                "bold red italic under"
            ),
            "\x0412AB9F,000000hex\x0f \x11mono\x11 \x16rev\x16 \x1estrike\x1e": (
                "hex mono rev strike"
            ),
            "\x03,5comma \x031digit": ",5comma digit",
            "bell\x07 esc\x1b[2J": "bell\N{REPLACEMENT CHARACTER} esc\N{REPLACEMENT CHARACTER}[2J",
        }
        for text, shown in cases.items():
            self.assertEqual(
                render_event(Message(0.0, "general", toto, text)),
                f"[toto] {shown}\r\n".encode(),
            )
