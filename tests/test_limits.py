"""Limits on every front: slow readers, connection counts, timeouts, floods."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.codec import ErrorCode
from twistedchat.core.service import ChatService
from twistedchat.fronts.base import ConnectionCounter, Limits
from twistedchat.fronts.fanout import WRITE_DELAY, Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront

from .test_framed_front import FramedClient
from .test_irc_front import IRCClient
from .test_line_front import Client as LineClient


class LimitsTestCase(SynchronousTestCase):
    limits = Limits()

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.service = ChatService(self.clock, "general", delivery=Fanout())
        self.connections = ConnectionCounter(self.limits)
        self.line = LineFront(self.service, 4096, self.limits, self.connections)
        self.framed = FramedFront(self.service, 65536, self.limits, self.connections)
        self.irc = IRCFront(self.service, None, self.limits, self.connections)
        self.port = 5000

    def line_client(self, nick: str | None = None) -> LineClient:
        self.port += 1
        client = LineClient(self.line, self.port)
        if nick:
            client.send(f"NICK {nick}\n")
        client.lines()
        return client


def producer_of(client: LineClient) -> IPushProducer:
    """What the connection's transport tells when it is full, and drained."""
    producer: IPushProducer | None = client.transport.producer
    assert producer is not None
    return producer


class SlowReaderTests(LimitsTestCase):
    limits = Limits(sendq=10_000, flood_rate=0)

    def test_a_reader_that_stalls_is_dropped_and_the_others_served(self) -> None:
        talker = self.line_client("talker")
        slow = self.line_client("slow")
        fast = self.line_client("fast")
        talker.lines(), fast.lines()
        # The transport tells its producer it is full: the peer stopped reading.
        producer_of(slow).pauseProducing()
        for n in range(300):
            talker.send(f"MSG message number {n:03d} with some padding\n")
            self.clock.advance(WRITE_DELAY)  # each written on its own
        self.assertTrue(slow.transport.disconnected)  # aborted, not waiting to flush
        self.assertTrue(slow.protocol.dropped)
        received = [line for line in fast.lines() if line.startswith("[talker]")]
        self.assertEqual(len(received), 300)
        self.assertEqual(received[-1], "[talker] message number 299 with some padding")
        slow.close()  # the transport reports the aborted connection lost
        self.assertFalse(self.service.nick_taken("slow"))
        self.assertEqual(self.connections.total, 2)

    def test_a_reader_that_catches_up_gets_everything_in_order(self) -> None:
        talker = self.line_client("talker")
        reader = self.line_client("reader")
        producer_of(reader).pauseProducing()
        for n in range(20):
            talker.send(f"MSG {n}\n")
        self.assertEqual(reader.lines(), [])
        producer_of(reader).resumeProducing()
        self.assertEqual(reader.lines(), [f"[talker] {n}" for n in range(20)])
        self.assertFalse(reader.protocol.dropped)


class ConnectionCountTests(LimitsTestCase):
    limits = Limits(max_connections=5, max_per_address=3)

    def test_per_address_limit_in_each_fronts_words(self) -> None:
        clients = [self.line_client() for _ in range(3)]
        refused = LineClient(self.line, 6000)
        self.assertEqual(
            refused.lines(),
            [
                "[server] error: too many connections from your address (3); "
                "disconnecting"
            ],
        )
        self.assertTrue(refused.closed)
        irc = IRCClient(self.irc, 6001)
        self.assertEqual(
            irc.lines(),
            [
                "ERROR :Closing Link: 127.0.0.1:6001 (too many connections from "
                "your address (3))"
            ],
        )
        framed = FramedClient(self.framed, 6002)
        (error,) = framed.received()
        self.assertEqual(
            error,
            codec.Error(
                ErrorCode.LIMIT, "too many connections from your address (3)", True
            ),
        )
        for gone in (refused, irc, framed):
            gone.close()
        self.assertEqual(self.connections.total, 3)
        clients[0].close()
        self.line_client("welcome_again")
        self.assertEqual(self.connections.total, 3)

    def test_total_limit(self) -> None:
        transports = []
        for n in range(6):
            address = IPv4Address("TCP", f"10.0.0.{n}", 1000)
            protocol = self.line.buildProtocol(address)
            assert protocol is not None
            transports.append(StringTransport(peerAddress=address))
            protocol.makeConnection(transports[-1])
        transport = transports[-1]
        self.assertIn(b"the server is full (5 connections)", transport.value())


class TimeoutTests(LimitsTestCase):
    limits = Limits(registration_timeout=30, idle_timeout=120, ping_timeout=60)

    def test_registration_timeout(self) -> None:
        irc = IRCClient(self.irc, 7000)
        framed = FramedClient(self.framed, 7001)
        registered = IRCClient(self.irc, 7002)
        registered.send("NICK quick", "USER q 0 * :Quick")
        self.clock.advance(29)
        self.assertFalse(irc.closed or framed.closed)
        self.clock.advance(1)
        self.assertEqual(
            irc.lines(),
            ["ERROR :Closing Link: 127.0.0.1:7000 (registration timeout (30 s))"],
        )
        self.assertEqual(
            framed.received(),
            [codec.Error(ErrorCode.LIMIT, "registration timeout (30 s)", True)],
        )
        self.assertTrue(irc.closed and framed.closed)
        self.assertFalse(registered.closed)

    def test_idle_clients_are_pinged_then_dropped(self) -> None:
        irc = IRCClient(self.irc, 7000)
        irc.send("NICK idle", "USER i 0 * :Idle")
        answers = IRCClient(self.irc, 7001)
        answers.send("NICK alive", "USER a 0 * :Alive")
        irc.lines(), answers.lines()
        self.clock.advance(120)
        self.assertEqual(irc.lines(), ["PING :twistedchat"])
        self.assertEqual(answers.lines(), ["PING :twistedchat"])
        answers.send("PONG :twistedchat")
        self.clock.advance(60)
        self.assertEqual(
            irc.lines(),
            [
                "ERROR :Closing Link: 127.0.0.1:7000 (ping timeout (60 s without an answer))"
            ],
        )
        self.assertTrue(irc.closed)
        self.assertFalse(answers.closed)

    def test_framed_clients_are_pinged_too(self) -> None:
        framed = FramedClient(self.framed, 7000)
        framed.send(codec.Hello(codec.PROTOCOL_VERSION, "toto"))
        framed.received()
        self.clock.advance(120)
        self.assertEqual(framed.received(), [codec.Ping(1)])
        framed.send(codec.Pong(1))
        self.clock.advance(100)
        self.assertFalse(framed.closed)

    def test_talking_keeps_a_connection_alive(self) -> None:
        irc = IRCClient(self.irc, 7000)
        irc.send("NICK chatty", "USER c 0 * :C", "JOIN #general")
        irc.lines()
        for _ in range(10):
            self.clock.advance(100)
            irc.send("PRIVMSG #general :still here")
        self.assertEqual(irc.lines(), [])
        self.assertFalse(irc.closed)

    def test_netcat_users_have_no_ping_and_stay(self) -> None:
        netcat = self.line_client("quiet")
        self.clock.advance(3600)
        self.assertEqual(netcat.lines(), [])
        self.assertFalse(netcat.closed)


class FloodTests(LimitsTestCase):
    limits = Limits(flood_rate=2, flood_burst=5, flood_strikes=4)

    def test_bursts_pass_floods_are_refused_then_dropped(self) -> None:
        flooder = self.line_client("flooder")
        other = self.line_client("other")
        self.clock.advance(10)  # a full bucket again after NICK
        flooder.lines(), other.lines()
        for n in range(5):
            flooder.send(f"MSG burst {n}\n")
        self.assertEqual(len(other.lines()), 5)
        flooder.send("MSG too fast\n")
        self.assertEqual(
            flooder.lines(), ["[server] error: slow down: line ignored (flood control)"]
        )
        self.assertEqual(other.lines(), [])
        self.clock.advance(1)  # two more tokens
        flooder.send("MSG after a pause\nMSG and another\n")
        self.assertEqual(
            other.lines(), ["[flooder] after a pause", "[flooder] and another"]
        )
        for _ in range(4):
            flooder.send("MSG spam\n")
        self.assertTrue(flooder.closed)
        self.assertEqual(flooder.lines()[-1], "[server] error: flooding; disconnecting")
        self.assertFalse(other.closed)

    def test_framed_and_irc_flood_notices(self) -> None:
        framed = FramedClient(self.framed, 7000)
        framed.send(codec.Hello(codec.PROTOCOL_VERSION, "framed", "", "", ("general",)))
        for _ in range(4):
            framed.send(codec.Say("general", "x"))
        framed.received()
        framed.send(codec.Say("general", "one too many"))
        self.assertEqual(
            framed.received(),
            [codec.Error(ErrorCode.FLOODING, "slow down: frame ignored")],
        )
        irc = IRCClient(self.irc, 7001)
        irc.send(
            "NICK i", "USER i 0 * :I", "JOIN #general", "PRIVMSG #general :a", "PING x"
        )
        irc.lines()
        irc.send("PRIVMSG #general :b")
        self.assertEqual(
            irc.lines(),
            [":twistedchat NOTICE i :Slow down: line ignored (flood control)"],
        )
