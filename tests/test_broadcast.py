"""
Room events written together, a moment after the first (twistedchat.fronts.broadcast):
what each connection gets, in which order, in how many writes.
"""

from __future__ import annotations

import contextlib
import socket

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat import codec
from twistedchat.codec import frame_bytes
from twistedchat.core.service import ChatService
from twistedchat.fronts.base import FrontProtocol, Limits
from twistedchat.fronts.fanout import WRITE_DELAY, Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront, LineProtocol

FrontFactory = LineFront | FramedFront | IRCFront


def decode_frames(data: bytes) -> list[codec.Frame]:
    frames = []
    while data:
        length = int.from_bytes(data[:4], "big")
        frames.append(codec.decode(data[4 : 4 + length]))
        data = data[4 + length :]
    return frames


class CountingTransport(StringTransport):
    """A StringTransport that also keeps each write apart."""

    def __init__(self, port: int) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "127.0.0.1", port))
        self.writes: list[bytes] = []
        self.connection: Protocol | None = None  # the server's side

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)

    def take(self) -> list[bytes]:
        """The writes since the last call."""
        writes, self.writes = self.writes, []
        self.clear()
        return writes


def read_lines(transport: CountingTransport) -> list[str]:
    """The IRC lines a transport got since the last read."""
    lines: list[str] = b"".join(transport.take()).decode().split("\r\n")[:-1]
    return lines


def index_of(lines: list[str], part: str) -> int:
    return next(n for n, line in enumerate(lines) if part in line)


class BroadcastTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.service = ChatService(self.clock, "general", delivery=Fanout())
        self.line = LineFront(self.service)
        self.framed = FramedFront(self.service)
        self.irc = IRCFront(self.service)
        self.port = 5000
        self.transports: list[CountingTransport] = []

    def connect(self, front: FrontFactory, *greeting: bytes) -> CountingTransport:
        self.port += 1
        transport = CountingTransport(self.port)
        protocol = front.buildProtocol(transport.getPeer())
        assert isinstance(protocol, FrontProtocol)
        protocol.makeConnection(transport)
        transport.connection = protocol
        for data in greeting:
            protocol.dataReceived(data)
        self.transports.append(transport)
        return transport

    def netcat(self, nick: str) -> CountingTransport:
        """A line-front user in #general."""
        return self.connect(self.line, f"NICK {nick}\n".encode())

    def irc_user(self, nick: str) -> CountingTransport:
        """A registered IRC user, in no channel."""
        greeting = f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode()
        return self.connect(self.irc, greeting)

    def send(self, transport: CountingTransport, data: bytes) -> None:
        assert transport.connection is not None
        transport.connection.dataReceived(data)

    def let_write(self) -> None:
        """Let the write delay pass: the fronts write what they owe."""
        self.clock.advance(WRITE_DELAY)

    def settle(self) -> None:
        """Let the fronts write, and forget what everyone received so far."""
        self.let_write()
        for transport in self.transports:
            transport.take()


class TogetherTests(BroadcastTestCase):
    def test_what_comes_together_is_one_write_per_member(self) -> None:
        """
        Five messages at once reach each other member in one write, in
        order, once the write delay is over; the sender gets nothing back.
        """
        toto, tutu, tata = self.netcat("toto"), self.netcat("tutu"), self.netcat("tata")
        self.settle()
        for n in range(5):
            self.send(toto, f"MSG message {n}\n".encode())
        self.assertEqual(tutu.value(), b"")
        self.let_write()
        expected = b"".join(b"[toto] message %d\r\n" % n for n in range(5))
        self.assertEqual(tutu.take(), [expected])
        self.assertEqual(tata.take(), [expected])
        self.assertEqual(toto.take(), [])

    def test_senders_get_the_others_words_only(self) -> None:
        toto, tutu, tata = self.netcat("toto"), self.netcat("tutu"), self.netcat("tata")
        self.settle()
        self.send(toto, b"MSG one\n")
        self.send(tutu, b"MSG two\n")
        self.send(toto, b"MSG three\n")
        self.send(toto, b"MSG four\n")
        self.let_write()
        self.assertEqual(toto.take(), [b"[tutu] two\r\n"])
        self.assertEqual(
            tutu.take(), [b"[toto] one\r\n[toto] three\r\n[toto] four\r\n"]
        )
        self.assertEqual(
            tata.take(),
            [b"[toto] one\r\n[tutu] two\r\n[toto] three\r\n[toto] four\r\n"],
        )

    def test_a_reply_comes_after_what_was_said_before_it(self) -> None:
        """An answer written at once waits for the broadcasts before it."""
        toto, tutu = self.netcat("toto"), self.netcat("tutu")
        self.settle()
        self.send(toto, b"MSG before\n")
        self.send(tutu, b"NAMES\n")
        self.send(toto, b"MSG after\n")
        self.let_write()
        self.assertEqual(
            b"".join(tutu.take()),
            b"[toto] before\r\n[server] toto tutu\r\n[toto] after\r\n",
        )

    def test_a_reply_to_someone_owed_nothing_leaves_the_others_waiting(self) -> None:
        """Only a connection with broadcasts pending has them written first."""
        toto, tutu, tata = self.netcat("toto"), self.netcat("tutu"), self.netcat("tata")
        self.settle()
        self.send(toto, b"MSG before\n")
        self.send(toto, b"NAMES\n")  # toto is owed nothing: its own words
        self.send(toto, b"MSG after\n")
        self.assertEqual(toto.take(), [b"[server] toto tutu tata\r\n"])
        self.assertEqual(tutu.value(), b"")
        self.let_write()
        self.assertEqual(tata.take(), [b"[toto] before\r\n[toto] after\r\n"])

    def test_members_get_what_was_said_while_they_were_in(self) -> None:
        """Who joins or leaves meanwhile gets exactly what was said while in."""
        anna, bert, cleo = (
            self.irc_user("anna"),
            self.irc_user("bert"),
            self.irc_user("cleo"),
        )
        self.send(anna, b"JOIN #side\r\n")
        self.send(bert, b"JOIN #side\r\n")
        self.settle()
        self.send(anna, b"PRIVMSG #side :first\r\n")
        self.send(cleo, b"JOIN #side\r\n")
        self.send(bert, b"PART #side\r\n")
        self.send(anna, b"PRIVMSG #side :second\r\n")
        self.let_write()
        seen_by_cleo = read_lines(cleo)
        self.assertEqual(
            [
                line.split(" ", 1)[1]
                for line in seen_by_cleo
                if " JOIN " in line or "PRIVMSG" in line or " PART " in line
            ],
            ["JOIN #side", "PART #side", "PRIVMSG #side second"],
        )
        self.assertLess(
            index_of(seen_by_cleo, " 366 "), index_of(seen_by_cleo, "second")
        )
        self.assertEqual(
            [line.split(" ", 1)[1] for line in read_lines(bert)],
            ["PRIVMSG #side first", "JOIN #side", "PART #side"],
        )

    def test_rooms_heard_together_keep_the_order_they_were_said_in(self) -> None:
        anna, bert = self.irc_user("anna"), self.irc_user("bert")
        for user in (anna, bert):
            self.send(user, b"JOIN #general,#side\r\n")
        self.settle()
        self.send(anna, b"PRIVMSG #general :one\r\n")
        self.send(anna, b"PRIVMSG #side :two\r\n")
        self.send(anna, b"PRIVMSG #general :three\r\n")
        self.let_write()
        self.assertEqual(len(bert.writes), 1)
        self.assertEqual(
            [line.split(" ", 1)[1] for line in read_lines(bert)],
            ["PRIVMSG #general one", "PRIVMSG #side two", "PRIVMSG #general three"],
        )

    def test_peers_sharing_several_rooms_hear_of_a_nick_or_a_quit_once(self) -> None:
        anna, bert, cleo = (
            self.irc_user("anna"),
            self.irc_user("bert"),
            self.irc_user("cleo"),
        )
        for user in (anna, bert):
            self.send(user, b"JOIN #general,#side\r\n")
        self.send(cleo, b"JOIN #side\r\n")
        self.settle()
        self.send(anna, b"NICK anne\r\n")
        self.send(anna, b"QUIT :bye\r\n")
        self.let_write()
        for user in (bert, cleo):
            self.assertEqual(
                [line.split(" ", 1)[1] for line in read_lines(user)],
                ["NICK anne", "QUIT bye"],
            )


class FrontTests(BroadcastTestCase):
    def test_a_framed_sender_sees_its_words_in_the_rooms_order(self) -> None:
        """
        The framed front shows its user's own words with the server's time:
        they come back through the room's broadcast, between the others'.
        """
        toto = self.netcat("toto")
        fram = self.connect(
            self.framed,
            frame_bytes(
                codec.Hello(codec.PROTOCOL_VERSION, "fram", "", "en", ("general",))
            ),
        )
        self.settle()
        self.send(toto, b"MSG one\n")
        self.send(fram, frame_bytes(codec.Say("general", "two")))
        self.send(toto, b"MSG three\n")
        self.let_write()
        (data,) = fram.take()
        said = [
            (f.user.nick, f.text)
            for f in decode_frames(data)
            if isinstance(f, codec.Said)
        ]
        self.assertEqual(said, [("toto", "one"), ("fram", "two"), ("toto", "three")])
        self.assertEqual(toto.take(), [b"[fram] two\r\n"])

    def test_a_framed_sender_outside_the_room_still_sees_its_words(self) -> None:
        self.netcat("toto")
        fram = self.connect(
            self.framed,
            frame_bytes(codec.Hello(codec.PROTOCOL_VERSION, "fram", "", "en", ())),
        )
        self.settle()
        self.send(fram, frame_bytes(codec.Say("general", "from outside")))
        self.let_write()
        said = [
            f for f in decode_frames(b"".join(fram.take())) if isinstance(f, codec.Said)
        ]
        self.assertEqual([s.text for s in said], ["from outside"])

    def test_an_irc_client_that_asks_for_server_time_later_gets_tagged_lines(
        self,
    ) -> None:
        toto = self.netcat("toto")
        ircu = self.connect(
            self.irc, b"NICK ircu\r\nUSER ircu 0 * :I R C\r\nJOIN #general\r\n"
        )
        self.settle()
        self.send(toto, b"MSG plain\n")
        self.send(ircu, b"CAP REQ :server-time\r\n")
        self.send(toto, b"MSG tagged\n")
        self.let_write()
        lines = b"".join(ircu.take()).decode().split("\r\n")[:-1]
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith(":toto!"), lines)
        self.assertIn(" PRIVMSG #general ", lines[0])
        self.assertTrue(lines[0].endswith("plain"), lines)
        self.assertIn(" ACK ", lines[1])
        self.assertTrue(lines[2].startswith("@time="), lines)
        self.assertIn(" PRIVMSG #general ", lines[2])
        self.assertTrue(lines[2].endswith("tagged"), lines)
        self.send(ircu, b"PART #general\r\n")
        self.settle()
        self.send(toto, b"MSG gone\n")
        self.let_write()
        self.assertEqual(ircu.take(), [])

    def test_a_front_that_stops_listening_writes_what_it_owes(self) -> None:
        """On shutdown the listening ports stop first: nothing is left unsaid."""
        toto, tutu = self.netcat("toto"), self.irc_user("tutu")
        self.send(tutu, b"JOIN #general\r\n")
        self.settle()
        self.send(toto, b"MSG last words\n")
        for front in (self.line, self.framed, self.irc):
            front.doStart()
            front.doStop()
        self.assertIn(b"PRIVMSG #general :last words\r\n", b"".join(tutu.take()))

    def test_each_front_renders_once_for_all_its_members(self) -> None:
        """The members of a front share one piece of bytes."""
        toto = self.netcat("toto")
        others = [self.netcat(f"n{k}") for k in range(3)]
        self.settle()
        self.send(toto, b"MSG hi\n")
        self.let_write()
        pieces = [transport.take()[0] for transport in others]
        self.assertTrue(all(piece is pieces[0] for piece in pieces))


class SocketTests(TestCase):
    """
    The real TCP transport, written to at once while nothing waits in it:
    bytes the kernel does not take wait their turn, in order.
    """

    async def serve(self) -> tuple[ChatService, tuple[str, int]]:
        """A line front on 127.0.0.1, without output or flood limits."""
        clock: IReactorTime = reactor
        service = ChatService(clock, "general", delivery=Fanout())
        front = LineFront(service, limits=Limits(sendq=0, flood_rate=0))
        self.connections: list[LineProtocol] = []
        build = front.buildProtocol

        def kept(address: IAddress) -> LineProtocol | None:
            protocol = build(address)
            if protocol is not None:
                self.connections.append(protocol)
            return protocol

        front.buildProtocol = kept  # type: ignore[method-assign,assignment]
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        port = await endpoint.listen(front)
        self.addCleanup(port.stopListening)
        address = port.getHost()
        return service, (address.host, address.port)

    def connection(self, nick: str) -> LineProtocol:
        """The server's side of C{nick}'s connection."""
        return next(
            protocol
            for protocol in self.connections
            if protocol.session is not None and protocol.session.nick == nick
        )

    async def arrive(
        self, service: ChatService, address: tuple[str, int], nick: str, rcvbuf: int = 0
    ) -> socket.socket:
        """A netcat user called C{nick}, connected and named."""
        user = socket.socket()
        self.addCleanup(user.close)
        if rcvbuf:
            user.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        user.connect(address)
        user.sendall(f"NICK {nick}\n".encode())
        while not service.nick_taken(nick):
            await deferLater(reactor, 0.01)
        user.setblocking(False)
        return user

    async def leave(self, service: ChatService, *users: socket.socket) -> None:
        for user in users:
            user.close()
        while service.counts().users:
            await deferLater(reactor, 0.01)

    def test_a_reader_that_pauses_gets_everything_in_order(self) -> Deferred[None]:
        async def scenario() -> None:
            service, address = await self.serve()
            # A small receive buffer, so that the kernel soon stops taking.
            reader = await self.arrive(service, address, "reader", rcvbuf=4096)
            talker = await self.arrive(service, address, "talker")
            # Far more than the kernel's buffers hold, while the reader reads
            # nothing: most of it waits in the transport, behind the kernel.
            padding = "x" * 200
            count = 20_000
            outgoing = b"".join(
                f"MSG {n:05d} {padding}\n".encode() for n in range(count)
            )
            while outgoing:
                with contextlib.suppress(BlockingIOError):
                    outgoing = outgoing[talker.send(outgoing) :]
                await deferLater(reactor, 0.001)
            await deferLater(reactor, 0.3)
            received = bytearray()
            want = b"[talker] %05d " % (count - 1)
            while want not in received:
                with contextlib.suppress(BlockingIOError):
                    while chunk := reader.recv(1 << 20):
                        received += chunk
                await deferLater(reactor, 0.001)
            lines = [
                line
                for line in bytes(received).split(b"\r\n")
                if line.startswith(b"[talker] ")
            ]
            self.assertEqual([int(line[9:14]) for line in lines], list(range(count)))
            self.assertTrue(all(line.endswith(padding.encode()) for line in lines))
            await self.leave(service, talker, reader)

        return Deferred.fromCoroutine(scenario())

    def test_a_connection_lost_with_writes_pending_is_skipped(self) -> Deferred[None]:
        """
        A broadcast was for a member whose connection was lost
        before it was written: the others get it, nothing fails.
        """

        async def scenario() -> None:
            service, address = await self.serve()
            talker = await self.arrive(service, address, "talker")
            gone = await self.arrive(service, address, "gone")
            stays = await self.arrive(service, address, "stays")
            gone_connection = self.connection("gone")
            session = self.connection("talker").session
            assert session is not None
            service.say(session, "general", "one")
            # As the reactor does when a read finds the peer gone.
            gone_connection.transport.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
            service.say(session, "general", "two")
            await deferLater(reactor, 0.05)
            received = b""
            while received.count(b"\r\n") < 3:
                with contextlib.suppress(BlockingIOError):
                    received += stays.recv(4096)
                await deferLater(reactor, 0.01)
            self.assertEqual(
                received.split(b"\r\n")[-4:],
                [
                    b"[talker] one",
                    b'[server] client disconnected "gone"',
                    b"[talker] two",
                    b"",
                ],
            )
            self.assertEqual(self.flushLoggedErrors(), [])
            await self.leave(service, talker, gone, stays)

        return Deferred.fromCoroutine(scenario())
