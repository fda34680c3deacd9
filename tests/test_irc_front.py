"""The IRC front over StringTransport, alongside line-front and framed users."""

from __future__ import annotations

import os
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import __version__, codec
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import COMMANDS, Command, IRCFront, IRCProtocol
from twistedchat.fronts.irc.capabilities import advertised
from twistedchat.fronts.irc.render import server_time
from twistedchat.fronts.irc.tags import MAX_TAGS
from twistedchat.fronts.line import LineFront
from twistedchat.persistence import HistoryWriter

from .test_framed_front import FramedClient
from .test_history import run_now
from .test_line_front import Client as LineClient

# The 005 lines (13 tokens a line at most).
ISUPPORT_LINES = (
    "CASEMAPPING=rfc1459 CHANTYPES=# CHANLIMIT=#:100 CHANMODES=beI,k,l,imnst "
    "EXCEPTS=e INVEX=I MAXLIST=beI:100 KEYLEN=23 PREFIX=(ov)@+ NICKLEN=30 "
    "CHANNELLEN=51 TOPICLEN=390 KICKLEN=390 :are supported by this server",
    "AWAYLEN=200 MODES=4 NETWORK=twistedchat WHOX BOT=B CHATHISTORY=100 "
    "MSGREFTYPES=msgid,timestamp MONITOR=100 "
    "TARGMAX=JOIN:,KICK:,NAMES:,NOTICE:,PART:,PRIVMSG: UTF8ONLY ELIST=MNU "
    "STATUSMSG=@ :are supported by this server",
)
# 2023-11-14T22:13:20.250Z: a quarter of a second is exact in binary.
NOW = 1_700_000_000.25
NOW_TAG = "@time=2023-11-14T22:13:20.250Z"
# What CAP LS 302 lists: the front's table of capabilities.
OFFERED = " ".join(advertised(302))


class IRCClient:
    """One IRC client (irssi, WeeChat...): an IRCProtocol on a StringTransport."""

    def __init__(self, front: IRCFront, port: int) -> None:
        address = IPv4Address("TCP", "127.0.0.1", port)
        self.transport = StringTransport(peerAddress=address)
        protocol = front.buildProtocol(address)
        assert isinstance(protocol, IRCProtocol)
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def send(self, *lines: str) -> None:
        """Each line with its CRLF, all in one read."""
        self.feed("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def feed(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def lines(self) -> list[str]:
        """The IRC lines the client received since the last call (front has written)."""
        self.protocol.factory.outbox.flush()
        data: bytes = self.transport.value()
        self.transport.clear()
        assert not data or data.endswith(b"\r\n"), data[-100:]
        return data.decode("utf-8").split("\r\n")[:-1]

    def close(self) -> None:
        self.protocol.connectionLost(None)

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


class IRCFrontTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        checker = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        self.service = self.make_service(checker)
        self.front = IRCFront(self.service)
        self.line_front = LineFront(self.service)
        self.framed_front = FramedFront(self.service)
        self.next_port = 5000
        self.transports: list[StringTransport] = []

    def make_service(
        self, checker: InMemoryUsernamePasswordDatabaseDontUse
    ) -> ChatService:
        return ChatService(self.clock, "general", checker, delivery=Fanout())

    def port(self) -> int:
        self.next_port += 1
        return self.next_port

    def client(self) -> IRCClient:
        client = IRCClient(self.front, self.port())
        self.transports.append(client.transport)
        return client

    def settle(self) -> None:
        """Forget what every client received so far."""
        for front in (self.front, self.line_front, self.framed_front):
            front.outbox.flush()
        for transport in self.transports:
            transport.clear()

    def register(self, nick: str, *channels: str, tagged: bool = False) -> IRCClient:
        """A registered IRC user, in C{channels}; what it received is left unread."""
        client = self.client()
        if tagged:
            client.send("CAP LS 302", "CAP REQ :server-time")
        client.send(f"NICK {nick}", f"USER {nick} 0 * :Real {nick}")
        if tagged:
            client.send("CAP END")
        if channels:
            client.send("JOIN " + ",".join(channels))
        return client

    def connect_all(self, *nicks: str) -> list[IRCClient]:
        """IRC users in #general (the first is its operator); all read."""
        clients = [self.register(nick, "#general") for nick in nicks]
        for client in clients:
            client.lines()
        return clients

    def line_user(self, nick: str) -> LineClient:
        """A netcat user, in #general, renamed C{nick}; everyone's output read."""
        client = LineClient(self.line_front, self.port())
        self.transports.append(client.transport)
        client.send(f"NICK {nick}\n")
        self.settle()
        return client

    def framed_user(self, nick: str) -> FramedClient:
        """A twistedchat client in #general; everyone's output read."""
        client = FramedClient(self.framed_front, self.port())
        self.transports.append(client.transport)
        client.send(codec.Hello(codec.PROTOCOL_VERSION, nick, "", "en", ("general",)))
        self.settle()
        return client

    def mask(self, nick: str) -> str:
        """How IRC names C{nick}'s user: C{nick!id@twistedchat}."""
        return f"{nick}!{self.service.user(nick).user.id[:10]}@twistedchat"


class RegistrationTests(IRCFrontTestCase):
    def welcome(self, nick: str, users: int = 1, channels: int = 0) -> list[str]:
        server = ":twistedchat"
        return [
            f"{server} 001 {nick} :Welcome to the twistedchat IRC network, {nick}",
            f"{server} 002 {nick} :Your host is twistedchat, running twistedchat "
            f"{__version__}",
            f"{server} 003 {nick} :This server was created {self.front.started}",
            f"{server} 004 {nick} twistedchat {__version__} Bio beiIklmnostv beIklov",
            *(f"{server} 005 {nick} {line}" for line in ISUPPORT_LINES),
            f"{server} 251 {nick} :There are {users} users and 0 invisible on 1 server",
            f"{server} 252 {nick} 0 :operator(s) online",
            f"{server} 254 {nick} {channels} :channels formed",
            f"{server} 255 {nick} :I have {users} clients and 0 servers",
            f"{server} 265 {nick} :Current local users: {users}",
            f"{server} 266 {nick} :Current global users: {users}",
            f"{server} 375 {nick} :- twistedchat Message of the day -",
            f"{server} 372 {nick} :- Welcome to twistedchat. Channels here are the "
            "rooms of every front:",
            f"{server} 372 {nick} :- #general is the room netcat and twistedchat "
            "users land in.",
            f"{server} 376 {nick} :End of /MOTD command.",
        ]

    def test_nick_then_user_welcomes(self) -> None:
        toto = self.client()
        toto.send("NICK toto")
        self.assertEqual(toto.lines(), [])
        toto.send("USER toto 0 * :Toto Tata")
        self.assertEqual(toto.lines(), self.welcome("toto"))
        self.assertEqual(self.service.user("TOTO").nick, "toto")

    def test_user_then_nick_welcomes_and_counts_everyone(self) -> None:
        self.line_user("lina")  # creates #general
        tutu = self.client()
        tutu.send("USER tutu 0 * :Tutu")
        self.assertEqual(tutu.lines(), [])
        tutu.send("NICK tutu")
        self.assertEqual(tutu.lines(), self.welcome("tutu", users=2, channels=1))

    def test_isupport_announces_the_rules_clients_rely_on(self) -> None:
        toto = self.register("toto")
        isupport = [line for line in toto.lines() if line.split()[1] == "005"]
        tokens = [t for line in isupport for t in line.split(" :")[0].split()[3:]]
        for line in isupport:  # 15 parameters at most (RFC 1459): 13 tokens
            self.assertLessEqual(len(line.split(" :")[0].split()[3:]), 13, line)
        for token in [
            "CASEMAPPING=rfc1459",
            "CHANTYPES=#",
            "CHANLIMIT=#:100",
            "CHANMODES=beI,k,l,imnst",
            "PREFIX=(ov)@+",
            "NICKLEN=30",
            "WHOX",
            "BOT=B",
            "CHATHISTORY=100",
            "MSGREFTYPES=msgid,timestamp",
        ]:
            self.assertIn(token, tokens)

    def test_cap_negotiation_holds_registration_until_end(self) -> None:
        toto = self.client()
        toto.send("CAP LS 302")
        self.assertEqual(toto.lines(), [f":twistedchat CAP * LS :{OFFERED}"])
        toto.send("NICK toto", "USER toto 0 * :Toto")
        self.assertEqual(toto.lines(), [])
        self.assertFalse(self.service.nick_taken("toto"))
        toto.send("CAP REQ :server-time")
        self.assertEqual(toto.lines(), [":twistedchat CAP toto ACK server-time"])
        toto.send("CAP LIST")
        self.assertEqual(
            toto.lines(), [":twistedchat CAP toto LIST :cap-notify server-time"]
        )
        toto.send("CAP END")
        self.assertEqual(toto.lines(), self.welcome("toto"))
        toto.send("CAP END")
        self.assertEqual(toto.lines(), [])

    def test_cap_req_of_an_unknown_capability_is_refused_whole(self) -> None:
        toto = self.client()
        toto.send("CAP LS 302", "CAP REQ :server-time sasl", "CAP LIST")
        self.assertEqual(
            toto.lines(),
            [
                f":twistedchat CAP * LS :{OFFERED}",
                ":twistedchat CAP * NAK :server-time sasl",
                ":twistedchat CAP * LIST cap-notify",
            ],
        )
        toto.send("CAP FOO", "CAP")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 410 * FOO :Invalid CAP command",
                ":twistedchat 461 * CAP :Not enough parameters",
            ],
        )

    def test_commands_before_registration_get_451(self) -> None:
        toto = self.client()
        toto.send("JOIN #general", "PRIVMSG #general :hi", "WHOIS toto", "FOO")
        self.assertEqual(
            toto.lines(), [":twistedchat 451 * :You have not registered"] * 4
        )
        self.assertEqual(self.service.counts().rooms, 0)

    def test_user_or_pass_after_registration_get_462(self) -> None:
        toto = self.register("toto")
        toto.lines()
        toto.send("USER again 0 * :Again", "PASS secret")
        self.assertEqual(
            toto.lines(), [":twistedchat 462 toto :You may not reregister"] * 2
        )

    def test_user_needs_four_parameters(self) -> None:
        toto = self.client()
        toto.send("USER toto 0 *", "NICK toto")
        self.assertEqual(
            toto.lines(), [":twistedchat 461 * USER :Not enough parameters"]
        )
        toto.send("USER toto 0 * :Toto")
        self.assertEqual(toto.lines()[0].split()[1], "001")

    def test_missing_and_erroneous_nicks(self) -> None:
        toto = self.client()
        toto.send("NICK", "NICK :", "NICK bad!nick", "NICK server", "NICK " + "x" * 31)
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 431 * :No nickname given",
                ":twistedchat 431 * :No nickname given",
                ":twistedchat 432 * bad!nick :Erroneous nickname",
                ":twistedchat 432 * server :Erroneous nickname",
                f":twistedchat 432 * {'x' * 31} :Erroneous nickname",
            ],
        )
        self.assertEqual(self.service.counts().users, 0)

    def test_nick_in_use_with_rfc1459_case_mapping_then_another(self) -> None:
        self.register("[a]").lines()
        other = self.client()
        other.send("NICK {A}", "NICK [A]", "USER a 0 * :A")
        self.assertEqual(
            other.lines(),
            [
                ":twistedchat 433 * {A} :Nickname is already in use",
                ":twistedchat 433 * [A] :Nickname is already in use",
            ],
        )
        other.send("NICK b|c")
        self.assertEqual(other.lines(), self.welcome("b|c", users=2))

    def test_nick_taken_between_nick_and_user(self) -> None:
        slow = self.client()
        slow.send("NICK toto")
        self.register("toto").lines()
        slow.send("USER toto 0 * :Slow")
        self.assertEqual(
            slow.lines(),
            [':twistedchat 433 toto toto :nick "toto" is already in use'],
        )
        slow.send("NICK toto2")
        self.assertEqual(slow.lines()[0].split()[1:3], ["001", "toto2"])

    def test_quit_before_registration(self) -> None:
        toto = self.client()
        toto.send("NICK toto", "QUIT :changed my mind", "USER toto 0 * :Toto")
        self.assertEqual(
            toto.lines(),
            ["ERROR :Closing Link: 127.0.0.1:5001 (Quit: changed my mind)"],
        )
        self.assertTrue(toto.closed)
        self.assertEqual(self.service.counts().users, 0)


class PingTests(IRCFrontTestCase):
    def test_ping_pong(self) -> None:
        toto = self.client()
        toto.send("PING abc123", "PING :with space", "PONG whatever")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat PONG twistedchat abc123",
                ":twistedchat PONG twistedchat :with space",
            ],
        )

    def test_ping_without_origin(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("PING")
        self.assertEqual(toto.lines(), [":twistedchat 409 toto :No origin specified"])


class ChannelTests(IRCFrontTestCase):
    def test_join_comma_list_creates_channels_with_the_joiner_as_operator(
        self,
    ) -> None:
        toto = self.register("toto")
        toto.lines()
        toto.send("JOIN #general,#dev")
        me = self.mask("toto")
        self.assertEqual(
            toto.lines(),
            [
                f":{me} JOIN #general",
                ":twistedchat 353 toto = #general @toto",
                ":twistedchat 366 toto #general :End of /NAMES list.",
                f":{me} JOIN #dev",
                ":twistedchat 353 toto = #dev @toto",
                ":twistedchat 366 toto #dev :End of /NAMES list.",
            ],
        )
        self.assertEqual(
            [(r.name, r.members) for r in self.service.list_rooms()],
            [("dev", 1), ("general", 1)],
        )

    def test_joiner_sees_topic_and_names_members_see_join(self) -> None:
        toto = self.register("toto", "#dev")
        toto.send("TOPIC #dev :Release day")
        toto.lines()
        self.clock.advance(60)
        tutu = self.register("tutu")
        tutu.lines()
        tutu.send("JOIN #DEV")
        self.assertEqual(
            tutu.lines(),
            [
                f":{self.mask('tutu')} JOIN #dev",
                ":twistedchat 332 tutu #dev :Release day",
                ":twistedchat 333 tutu #dev toto 1700000000",
                ":twistedchat 353 tutu = #dev :@toto tutu",
                ":twistedchat 366 tutu #dev :End of /NAMES list.",
            ],
        )
        self.assertEqual(toto.lines(), [f":{self.mask('tutu')} JOIN #dev"])

    def test_users_of_other_fronts_come_and_go_as_irc_users(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = LineClient(self.line_front, 6000)
        lina.send("NICK lina\nJOIN #dev\n")
        line_id = self.service.user("lina").user.id[:10]
        fram = FramedClient(self.framed_front, 6001)
        fram.send(codec.Hello(codec.PROTOCOL_VERSION, "fram", "", "en", ("general",)))
        fram_id = self.service.user("fram").user.id[:10]
        fram.send(codec.Goodbye("see you"))
        self.assertEqual(
            toto.lines(),
            [
                f":127.0.0.1:6000!{line_id}@twistedchat JOIN #general",
                f":127.0.0.1:6000!{line_id}@twistedchat NICK lina",
                f":lina!{line_id}@twistedchat PART #general",
                f":fram!{fram_id}@twistedchat JOIN #general",
                f":fram!{fram_id}@twistedchat QUIT :see you",
            ],
        )

    def test_names_shows_users_of_every_front(self) -> None:
        (toto,) = self.connect_all("toto")
        self.line_user("lina")
        self.framed_user("fram")
        toto.lines()
        toto.send("NAMES #general", "NAMES #nowhere", "NAMES")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 353 toto = #general :@toto lina fram",
                ":twistedchat 366 toto #general :End of /NAMES list.",
                ":twistedchat 366 toto #nowhere :End of /NAMES list.",
                ":twistedchat 366 toto * :End of /NAMES list.",
            ],
        )

    def test_join_invalid_names(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("JOIN general,#a/b,#,#ok")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 403 toto general :No such channel",
                ':twistedchat 403 toto #a/b :invalid room name "a/b": use 1 to 50 '
                "letters, digits or _-.",
                ":twistedchat 403 toto # :No such channel",
                f":{self.mask('toto')} JOIN #ok",
                ":twistedchat 353 toto = #ok @toto",
                ":twistedchat 366 toto #ok :End of /NAMES list.",
            ],
        )
        toto.send("JOIN")
        self.assertEqual(
            toto.lines(), [":twistedchat 461 toto JOIN :Not enough parameters"]
        )

    def test_join_0_parts_every_channel(self) -> None:
        toto = self.register("toto", "#general", "#dev")
        tutu = self.register("tutu", "#dev")
        toto.lines(), tutu.lines()
        toto.send("JOIN 0")
        me = self.mask("toto")
        self.assertEqual(
            toto.lines(),
            [
                f":{me} PART #general :Left all channels",
                f":{me} PART #dev :Left all channels",
            ],
        )
        self.assertEqual(tutu.lines(), [f":{me} PART #dev :Left all channels"])
        self.assertEqual(
            [(r.name, r.members) for r in self.service.list_rooms()], [("dev", 1)]
        )

    def test_part_with_reason_seen_by_others(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        tutu.send("PART #general :see you later")
        part = f":{self.mask('tutu')} PART #general :see you later"
        self.assertEqual(tutu.lines(), [part])
        self.assertEqual(toto.lines(), [part])
        self.assertEqual(lina.lines(), ['[server] "tutu" left #general: see you later'])
        self.assertEqual(self.service.names("general"), ["toto", "lina"])

    def test_part_of_a_channel_you_are_not_on(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("PART #dev", "PART #general,#general", "PART nope")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 442 toto #dev :you are not in #dev",
                f":{self.mask('toto')} PART #general",
                ":twistedchat 442 toto #general :you are not in #general",
                ":twistedchat 403 toto nope :No such channel",
            ],
        )

    def test_join_twice(self) -> None:
        # As IRC servers do: joining a channel one is on does nothing.
        (toto,) = self.connect_all("toto")
        toto.send("JOIN #General")
        self.assertEqual(
            toto.lines(),
            [],
        )

    def test_list(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("TOPIC #general :All welcome", "JOIN #dev")
        toto.lines()
        toto.send("LIST")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 321 toto Channel :Users  Name",
                ":twistedchat 322 toto #dev 1 :",
                ":twistedchat 322 toto #general 2 :All welcome",
                ":twistedchat 323 toto :End of /LIST",
            ],
        )


class MessageTests(IRCFrontTestCase):
    def test_channel_privmsg_reaches_every_front_but_the_sender(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        fram = self.framed_user("fram")
        toto.lines(), tutu.lines()
        toto.send("PRIVMSG #general :hello, world")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} PRIVMSG #general :hello, world"]
        )
        self.assertEqual(toto.lines(), [])
        self.assertEqual(lina.lines(), ["[toto] hello, world"])
        (said,) = fram.received()
        assert isinstance(said, codec.Said)
        self.assertEqual(
            (said.room, said.user.nick, said.text, said.time),
            ("general", "toto", "hello, world", round(NOW * 1000)),
        )

    def test_notice_to_channel(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        toto.lines(), tutu.lines()
        toto.send("NOTICE #general :the build is green")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} NOTICE #general :the build is green"]
        )
        self.assertEqual(lina.lines(), ["[toto] the build is green"])

    def test_privmsg_and_notice_to_nicks_of_every_front(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        fram = self.framed_user("fram")
        toto.lines(), tutu.lines()
        toto.send(
            "PRIVMSG TUTU :psst, over here",
            "NOTICE tutu :automatic",
            "PRIVMSG lina,fram :to you both",
        )
        me = self.mask("toto")
        self.assertEqual(
            tutu.lines(),
            [f":{me} PRIVMSG tutu :psst, over here", f":{me} NOTICE tutu automatic"],
        )
        self.assertEqual(lina.lines(), ["[toto] (private) to you both"])
        (whispered,) = fram.received()
        assert isinstance(whispered, codec.Whispered)
        self.assertEqual(
            (whispered.user.nick, whispered.to, whispered.text),
            ("toto", "fram", "to you both"),
        )
        self.assertEqual(toto.lines(), [])

    def test_other_fronts_reach_irc_users(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        fram = self.framed_user("fram")
        toto.lines(), tutu.lines()
        lina.send("MSG hi from netcat\n")
        fram.send(codec.Say("general", "hi from the client"))
        fram.send(codec.Whisper("toto", "just you"))
        self.assertEqual(
            tutu.lines(),
            [
                f":{self.mask('lina')} PRIVMSG #general :hi from netcat",
                f":{self.mask('fram')} PRIVMSG #general :hi from the client",
            ],
        )
        self.assertEqual(
            toto.lines(),
            [
                f":{self.mask('lina')} PRIVMSG #general :hi from netcat",
                f":{self.mask('fram')} PRIVMSG #general :hi from the client",
                f":{self.mask('fram')} PRIVMSG toto :just you",
            ],
        )

    def test_message_errors(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send(
            "PRIVMSG nobody :hello?",
            "PRIVMSG #nowhere :hello?",
            "PRIVMSG",
            "PRIVMSG #general",
            "PRIVMSG #general :",
            "PRIVMSG #general :   ",
            "PRIVMSG nobody,#general :partly",
        )
        self.assertEqual(
            toto.lines(),
            [
                ':twistedchat 401 toto nobody :no user is called "nobody"',
                ":twistedchat 403 toto #nowhere :there is no room #nowhere",
                ":twistedchat 411 toto :No recipient given (PRIVMSG)",
                ":twistedchat 412 toto :No text to send",
                ":twistedchat 412 toto :No text to send",
                ":twistedchat 412 toto :empty message, nothing sent",
                ':twistedchat 401 toto nobody :no user is called "nobody"',
            ],
        )

    def test_notice_errors_get_no_reply(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send(
            "NOTICE nobody :hello?",
            "NOTICE #nowhere :hello?",
            "NOTICE",
            "NOTICE #general",
            "NOTICE #general :   ",
        )
        self.assertEqual(toto.lines(), [])

    def test_privmsg_to_an_away_user_says_so(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("AWAY :out for lunch")
        tutu.lines()
        toto.send("PRIVMSG tutu :are you there?", "NOTICE tutu :no answer wanted")
        self.assertEqual(toto.lines(), [":twistedchat 301 toto tutu :out for lunch"])
        self.assertEqual(len(tutu.lines()), 2)

    def test_outsider_may_speak_unless_n(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        outsider = self.register("out")
        outsider.lines()
        outsider.send("PRIVMSG #general :knock knock")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('out')} PRIVMSG #general :knock knock"]
        )
        toto.send("MODE #general +n")
        toto.lines(), tutu.lines()
        outsider.send("PRIVMSG #general :knock knock")
        self.assertEqual(
            outsider.lines(),
            [
                ":twistedchat 404 out #general :cannot send to #general: only its "
                "members may speak (+n)"
            ],
        )
        self.assertEqual(tutu.lines(), [])

    def test_moderated_channel(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        toto.send("MODE #general +m")
        toto.lines(), tutu.lines(), lina.lines()
        tutu.send("PRIVMSG #general :may I?")
        self.assertEqual(
            tutu.lines(),
            [
                ":twistedchat 404 tutu #general :cannot send to #general: it is "
                "moderated (+m)"
            ],
        )
        lina.send("MSG me neither?\n")
        self.assertEqual(
            lina.lines(),
            ["[server] error: cannot send to #general: it is moderated (+m)"],
        )
        self.assertEqual(toto.lines(), [])
        toto.send("PRIVMSG #general :operators may")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} PRIVMSG #general :operators may"]
        )

    def test_framed_image_reaches_irc_as_plain_privmsg_lines(self) -> None:
        (toto,) = self.connect_all("toto")
        fram = self.framed_user("fram")
        toto.lines()
        fram.send(codec.ShowImage("general", "\x1b[31m/\\\x1b[0m\n\n\\/\x07"))
        lines = toto.lines()
        who = self.mask("fram")
        self.assertEqual(
            lines,
            [
                f":{who} PRIVMSG #general :\x01ACTION shows a picture:\x01",
                f":{who} PRIVMSG #general \ufffd[31m/\\\ufffd[0m",
                f":{who} PRIVMSG #general : ",
                f":{who} PRIVMSG #general \\/\ufffd",
            ],
        )
        self.assertNotIn("\x1b", "".join(lines))


class HostileTextTests(IRCFrontTestCase):
    def test_crlf_from_a_framed_user_never_makes_a_command(self) -> None:
        (toto,) = self.connect_all("toto")
        fram = self.framed_user("fram")
        toto.lines()
        fram.send(codec.Say("general", "hi\r\nQUIT :pwned\x00\x1b[2J"))
        fram.send(codec.Whisper("toto", "x\rERROR :fake\n"))
        who = self.mask("fram")
        # Each line of a message becomes its own PRIVMSG from its author.
        self.assertEqual(
            toto.lines(),
            [
                f":{who} PRIVMSG #general hi",
                f":{who} PRIVMSG #general :QUIT :pwned\ufffd\ufffd[2J",
                f":{who} PRIVMSG toto x",
                f":{who} PRIVMSG toto :ERROR :fake",
            ],
        )
        self.assertFalse(toto.closed)

    def test_cr_from_a_line_user_never_makes_a_command(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        toto.lines()
        lina.send(b"MSG a\rQUIT :x\x00\x1b]0;title\x07\n")
        who = self.mask("lina")
        self.assertEqual(
            toto.lines(),
            [
                f":{who} PRIVMSG #general a",
                f":{who} PRIVMSG #general :QUIT :x\ufffd\ufffd]0;title\ufffd",
            ],
        )

    def test_cr_inside_an_irc_line_never_makes_a_command(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.feed(b"PRIVMSG #general :one\rQUIT :two\r\n")
        who = self.mask("toto")
        self.assertEqual(
            tutu.lines(),
            [f":{who} PRIVMSG #general one", f":{who} PRIVMSG #general :QUIT :two"],
        )
        self.assertFalse(toto.closed)

    def test_irc_formatting_codes_pass(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        text = "\x0304,01red\x03 \x02bold\x02 \x1ditalic\x1d \x1estruck\x1e \x1fu\x0f"
        toto.send(f"PRIVMSG #general :{text}", "PRIVMSG tutu :\x01ACTION waves\x01")
        self.assertEqual(
            tutu.lines(),
            [
                f":{self.mask('toto')} PRIVMSG #general :{text}",
                f":{self.mask('toto')} PRIVMSG tutu :\x01ACTION waves\x01",
            ],
        )
        # A terminal shows them as they are: neutralised for netcat users.
        (shown,) = lina.lines()
        self.assertNotIn("\x03", shown)


class NickTests(IRCFrontTestCase):
    def test_nick_change_is_echoed_and_seen_once_by_each_peer(self) -> None:
        toto = self.register("toto", "#general", "#dev")
        tutu = self.register("tutu", "#general", "#dev")
        lina = self.line_user("lina")
        toto.lines(), tutu.lines()
        old = self.mask("toto")
        toto.send("NICK Toto2")
        self.assertEqual(toto.lines(), [f":{old} NICK Toto2"])
        self.assertEqual(tutu.lines(), [f":{old} NICK Toto2"])
        self.assertEqual(lina.lines(), ['[server] client "toto" => "Toto2"'])
        toto.send("FOO")
        self.assertEqual(toto.lines(), [":twistedchat 421 Toto2 FOO :Unknown command"])
        toto.send("NICK toto2")  # only the case changes
        self.assertEqual(toto.lines(), [f":{self.mask('Toto2')} NICK toto2"])

    def test_nick_change_refused(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("NICK TUTU", "NICK bad!nick", "NICK")
        self.assertEqual(
            toto.lines(),
            [
                ':twistedchat 433 toto TUTU :nick "TUTU" is already in use',
                ':twistedchat 432 toto bad!nick :invalid nick "bad!nick": use 1 to '
                "30 letters, digits or _-[]{}\\|^",
                ":twistedchat 431 toto :No nickname given",
            ],
        )


class TopicTests(IRCFrontTestCase):
    def test_topic_query_and_set_by_an_operator(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("TOPIC #general")
        self.assertEqual(
            tutu.lines(), [":twistedchat 331 tutu #general :No topic is set"]
        )
        lina = self.line_user("lina")
        self.clock.advance(10)
        toto.send("TOPIC #general :Release day")
        topic = f":{self.mask('toto')} TOPIC #general :Release day"
        self.assertEqual(toto.lines(), [topic])
        self.assertEqual(tutu.lines(), [topic])
        self.assertEqual(
            lina.lines(), ['[server] "toto" set the topic of #general: Release day']
        )
        tutu.send("TOPIC #general")
        self.assertEqual(
            tutu.lines(),
            [
                ":twistedchat 332 tutu #general :Release day",
                ":twistedchat 333 tutu #general toto 1700000010",
            ],
        )

    def test_topic_needs_an_operator_while_t(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("TOPIC #general :mine now")
        self.assertEqual(
            tutu.lines(),
            [":twistedchat 482 tutu #general :you are not an operator of #general"],
        )
        toto.send("MODE #general -t")
        toto.lines(), tutu.lines()
        tutu.send("TOPIC #general :mine now")
        self.assertEqual(
            toto.lines(), [f":{self.mask('tutu')} TOPIC #general :mine now"]
        )

    def test_topic_errors(self) -> None:
        self.connect_all("toto", "tutu")
        outsider = self.register("out")
        outsider.lines()
        outsider.send("TOPIC #general :x", "TOPIC #nowhere", "TOPIC")
        self.assertEqual(
            outsider.lines(),
            [
                ":twistedchat 442 out #general :you are not in #general",
                ":twistedchat 403 out #nowhere :there is no room #nowhere",
                ":twistedchat 461 out TOPIC :Not enough parameters",
            ],
        )


class ModeTests(IRCFrontTestCase):
    def test_channel_modes_and_creation_time(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("MODE #general", "MODE #general b", "MODE #nowhere")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 324 toto #general +t",
                ":twistedchat 329 toto #general 1700000000",
                ":twistedchat 368 toto #general :End of channel ban list",
                ":twistedchat 403 toto #nowhere :there is no room #nowhere",
            ],
        )

    def test_operator_gives_op_and_names_shows_it(self) -> None:
        toto, tutu, tata = self.connect_all("toto", "tutu", "tata")
        lina = self.line_user("lina")
        toto.send("MODE #general +o TUTU")
        mode = f":{self.mask('toto')} MODE #general +o tutu"
        self.assertEqual(toto.lines(), [mode])
        self.assertEqual(tutu.lines(), [mode])
        self.assertEqual(tata.lines(), [mode])
        self.assertEqual(
            lina.lines(), ['[server] "toto" changed #general: made "tutu" an operator']
        )
        tata.send("NAMES #general")
        self.assertEqual(
            tata.lines(),
            [
                ":twistedchat 353 tata = #general :@toto @tutu tata lina",
                ":twistedchat 366 tata #general :End of /NAMES list.",
            ],
        )
        tutu.send("MODE #general +m-t")
        both = f":{self.mask('tutu')} MODE #general +m-t"
        self.assertEqual(tutu.lines(), [both])
        self.assertEqual(toto.lines(), [both])
        toto.send("MODE #general")
        self.assertEqual(toto.lines()[0], ":twistedchat 324 toto #general +m")

    def test_a_mode_change_that_changes_nothing_sends_nothing(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("MODE #general +t", "MODE #general +o toto", "MODE #general +")
        self.assertEqual(toto.lines(), [])
        self.assertEqual(tutu.lines(), [])

    def test_mode_refusals(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("MODE #general +m", "MODE #general -o toto")
        self.assertEqual(
            tutu.lines(),
            [":twistedchat 482 tutu #general :you are not an operator of #general"] * 2,
        )
        self.line_user("lina")
        self.register("out").lines()
        toto.send(
            "MODE #general +x",
            "MODE #general +o",
            "MODE #general +o nobody",
            "MODE #general +o out",
        )
        self.assertEqual(
            toto.lines(),
            [
                ':twistedchat 472 toto +x :unknown room mode "+x" '
                "(known: o, v, t, n, m, i, s, k, l, b, e, I)",
                ':twistedchat 461 toto +o :room mode "+o" needs a nick',
                ':twistedchat 401 toto nobody :no user is called "nobody"',
                ':twistedchat 441 toto out #general :"out" is not in #general',
            ],
        )
        self.assertEqual(tutu.lines(), [])
        self.assertEqual(self.service.room("general").modes, {"t"})

    def test_user_modes(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("MODE toto", "MODE TOTO +i", "MODE toto +x", "MODE tutu")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 221 toto +",
                f":{self.mask('toto')} MODE toto +i",
                ":twistedchat 501 toto :Unknown MODE flag",
                ":twistedchat 502 toto :Cannot change mode for other users",
            ],
        )
        toto.send("OPER admin secret", "MODE toto")
        self.assertEqual(toto.lines()[-1], ":twistedchat 221 toto +io")


class KickTests(IRCFrontTestCase):
    def test_operator_kicks_everyone_sees_it_and_the_kicked_stays(self) -> None:
        toto, tutu, tata = self.connect_all("toto", "tutu", "tata")
        lina = self.line_user("lina")
        toto.send("KICK #general tata :behave yourself")
        kick = f":{self.mask('toto')} KICK #general tata :behave yourself"
        self.assertEqual(toto.lines(), [kick])
        self.assertEqual(tutu.lines(), [kick])
        self.assertEqual(tata.lines(), [kick])
        self.assertEqual(
            lina.lines(),
            ['[server] "tata" was kicked from #general by "toto": behave yourself'],
        )
        self.assertFalse(tata.closed)
        self.assertEqual(self.service.names("general"), ["toto", "tutu", "lina"])
        tata.send("JOIN #general")
        self.assertEqual(tata.lines()[0], f":{self.mask('tata')} JOIN #general")

    def test_kick_without_reason_names_the_kicker(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("KICK #general tutu")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} KICK #general tutu toto"]
        )

    def test_kick_refusals(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        self.register("out").lines()
        tutu.send("KICK #general toto")
        self.assertEqual(
            tutu.lines(),
            [":twistedchat 482 tutu #general :you are not an operator of #general"],
        )
        toto.send("KICK #general out,nobody", "KICK #nowhere tutu", "KICK #general")
        self.assertEqual(
            toto.lines(),
            [
                ':twistedchat 441 toto out #general :"out" is not in #general',
                ':twistedchat 401 toto nobody :no user is called "nobody"',
                ":twistedchat 403 toto #nowhere :there is no room #nowhere",
                ":twistedchat 461 toto KICK :Not enough parameters",
            ],
        )
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])


class InviteTests(IRCFrontTestCase):
    def test_invite(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("JOIN #dev")
        toto.lines(), tutu.lines()
        toto.send("INVITE tutu #dev")
        self.assertEqual(toto.lines(), [":twistedchat 341 toto tutu #dev"])
        self.assertEqual(tutu.lines(), [f":{self.mask('toto')} INVITE tutu #dev"])

    def test_invite_refusals(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("JOIN #dev")
        toto.lines(), tutu.lines()
        tutu.send("INVITE toto #dev")
        self.assertEqual(
            tutu.lines(), [":twistedchat 442 tutu #dev :you are not in #dev"]
        )
        toto.send("INVITE tutu #general", "INVITE nobody #dev", "INVITE tutu")
        self.assertEqual(
            toto.lines(),
            [
                ':twistedchat 443 toto tutu #general :"tutu" is already in #general',
                ':twistedchat 401 toto nobody :no user is called "nobody"',
                ":twistedchat 461 toto INVITE :Not enough parameters",
            ],
        )
        self.assertEqual(tutu.lines(), [])


class UserQueryTests(IRCFrontTestCase):
    def test_who_channel(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        self.line_user("lina")
        tutu.send("AWAY :lunch")
        toto.send("WHO #general")
        # IRC users as their USER said; a netcat user by the start of its id.
        ids = {
            "toto": "toto",
            "tutu": "tutu",
            "lina": self.service.user("lina").user.id[:10],
        }
        self.assertEqual(
            toto.lines(),
            [
                f":twistedchat 352 toto #general {ids['toto']} twistedchat "
                "twistedchat toto H@ :0 Real toto",
                f":twistedchat 352 toto #general {ids['tutu']} twistedchat "
                "twistedchat tutu G :0 Real tutu",
                f":twistedchat 352 toto #general {ids['lina']} twistedchat "
                "twistedchat lina H :0 lina",
                ":twistedchat 315 toto #general :End of /WHO list.",
            ],
        )
        toto.send("WHO #nowhere", "WHO nobody")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 315 toto #nowhere :End of /WHO list.",
                ":twistedchat 315 toto nobody :End of /WHO list.",
            ],
        )

    def test_who_nick_shows_server_operators(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send("OPER admin secret")
        toto.lines()
        toto.send("WHO TOTO")
        self.assertEqual(
            toto.lines()[0],
            ":twistedchat 352 toto #general toto "
            "twistedchat twistedchat toto H*@ :0 Real toto",
        )

    def test_whois(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("JOIN #dev", "AWAY :out for lunch", "OPER admin secret")
        tutu.lines()
        toto.send("WHOIS Tutu")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 311 toto tutu tutu twistedchat * :Real tutu",
                ":twistedchat 319 toto tutu :#general @#dev",
                ":twistedchat 312 toto tutu twistedchat twistedchat",
                ":twistedchat 313 toto tutu :is an IRC operator",
                ":twistedchat 301 toto tutu :out for lunch",
                ":twistedchat 318 toto tutu :End of /WHOIS list.",
            ],
        )

    def test_whois_of_users_of_other_fronts_and_of_nobody(self) -> None:
        (toto,) = self.connect_all("toto")
        self.line_user("lina")
        toto.lines()
        toto.send("WHOIS twistedchat lina", "WHOIS nobody")
        self.assertEqual(
            toto.lines(),
            [
                f":twistedchat 311 toto lina {self.service.user('lina').user.id[:10]} "
                "twistedchat * lina",
                ":twistedchat 319 toto lina #general",
                ":twistedchat 312 toto lina twistedchat twistedchat",
                ":twistedchat 318 toto lina :End of /WHOIS list.",
                ":twistedchat 401 toto nobody :No such nick/channel",
                ":twistedchat 318 toto nobody :End of /WHOIS list.",
            ],
        )

    def test_away_and_back(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("AWAY :brb")
        self.assertEqual(
            tutu.lines(), [":twistedchat 306 tutu :You have been marked as being away"]
        )
        self.assertEqual(self.service.user("tutu").away, "brb")
        tutu.send("AWAY")
        self.assertEqual(
            tutu.lines(),
            [":twistedchat 305 tutu :You are no longer marked as being away"],
        )
        toto.send("PRIVMSG tutu :back?")
        self.assertEqual(toto.lines(), [])

    def test_ison_and_userhost(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("AWAY :brb")
        toto.send("OPER admin secret")
        toto.lines()
        toto.send("ISON TUTU nobody :toto lina", "ISON nobody")
        self.assertEqual(
            toto.lines(),
            [":twistedchat 303 toto :tutu toto", ":twistedchat 303 toto :"],
        )
        toto.send("USERHOST tutu nobody toto", "USERHOST")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 302 toto :tutu=-tutu@twistedchat toto*=+toto@twistedchat",
                ":twistedchat 461 toto USERHOST :Not enough parameters",
            ],
        )


class OperatorTests(IRCFrontTestCase):
    def test_oper(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("OPER admin wrong", "OPER nobody secret", "OPER admin")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 464 toto :Password incorrect",
                ":twistedchat 464 toto :Password incorrect",
                ":twistedchat 461 toto OPER :Not enough parameters",
            ],
        )
        self.assertIsNone(self.service.user("toto").operator)
        toto.send("OPER admin secret", "LUSERS")
        self.assertEqual(
            toto.lines()[:4],
            [
                ":twistedchat 381 toto :You are now an IRC operator",
                f":{self.mask('toto')} MODE toto +o",
                ":twistedchat 251 toto :There are 1 users and 0 invisible on 1 server",
                ":twistedchat 252 toto 1 :operator(s) online",
            ],
        )
        self.assertEqual(self.service.user("toto").operator, "admin")

    def test_kill_needs_a_server_operator(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("KILL tutu :go away")
        self.assertEqual(
            toto.lines(),
            [":twistedchat 481 toto :you are not a server operator (use OPER first)"],
        )
        self.assertFalse(tutu.closed)
        self.assertEqual(tutu.lines(), [])
        # The table's rule comes before the handler: no 401 tells a
        # non-operator who is connected.
        toto.send("KILL nobody")
        self.assertEqual(
            toto.lines(),
            [":twistedchat 481 toto :you are not a server operator (use OPER first)"],
        )

    def test_kill(self) -> None:
        toto, tutu, tata = self.connect_all("toto", "tutu", "tata")
        lina = self.line_user("lina")
        victim = self.mask("tutu")
        toto.send("OPER admin secret")
        toto.lines()
        toto.send("KILL tutu :go away")
        killed = f":{victim} QUIT :Killed (toto (go away))"
        self.assertEqual(tata.lines(), [killed])
        self.assertEqual(toto.lines(), [killed])
        self.assertEqual(
            tutu.lines(),
            [killed, "ERROR :Closing Link: 127.0.0.1:5002 (Killed (toto (go away)))"],
        )
        self.assertTrue(tutu.closed)
        self.assertEqual(
            lina.lines(),
            ["[toto] go away", '[server] "tutu" was disconnected by "toto"'],
        )
        self.assertFalse(self.service.nick_taken("tutu"))
        tutu.close()
        self.assertEqual(tata.lines(), [])
        toto.send("KILL nobody", "KILL")
        self.assertEqual(
            toto.lines(),
            [
                ':twistedchat 401 toto nobody :no user is called "nobody"',
                ":twistedchat 461 toto KILL :Not enough parameters",
            ],
        )

    def test_kill_of_a_line_user_seen_by_the_killer(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        toto.lines()
        victim = self.mask("lina")
        toto.send("OPER admin secret", "KILL lina")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 381 toto :You are now an IRC operator",
                f":{self.mask('toto')} MODE toto +o",
                f":{victim} QUIT :Killed (toto (Killed by an operator))",
            ],
        )
        self.assertEqual(lina.lines()[0], "[toto] Killed by an operator")
        self.assertTrue(lina.closed)

    def test_kill_of_someone_in_no_shared_channel(self) -> None:
        (toto,) = self.connect_all("toto")
        tutu = self.register("tutu", "#dev")
        toto.send("OPER admin secret")
        toto.lines(), tutu.lines()
        toto.send("KILL tutu :bye")
        self.assertEqual(toto.lines(), [])
        self.assertTrue(tutu.closed)


class QuitTests(IRCFrontTestCase):
    def test_quit_closes_and_others_see_the_message(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        who = self.mask("toto")
        toto.send("QUIT :gone fishing", "PRIVMSG #general :too late")
        self.assertEqual(
            toto.lines(), ["ERROR :Closing Link: 127.0.0.1:5001 (Quit: gone fishing)"]
        )
        self.assertTrue(toto.closed)
        self.assertEqual(tutu.lines(), [f":{who} QUIT :gone fishing"])
        self.assertEqual(
            lina.lines(), ["[toto] gone fishing", '[server] client disconnected "toto"']
        )
        toto.close()
        self.assertEqual(tutu.lines(), [])
        self.assertEqual(self.service.names("general"), ["tutu", "lina"])

    def test_lost_connection_is_a_quit(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        who = self.mask("toto")
        toto.close()
        self.assertEqual(tutu.lines(), [f":{who} QUIT :Client Quit"])
        self.assertFalse(self.service.nick_taken("toto"))


class FramingTests(IRCFrontTestCase):
    def test_unknown_and_malformed_commands(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("FOO bar", "foo", ":prefix", ":only PRIVMSG", "", "   ")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 421 toto FOO :Unknown command",
                ":twistedchat 421 toto FOO :Unknown command",
                ":twistedchat 421 toto * :Malformed line",
                ":twistedchat 411 toto :No recipient given (PRIVMSG)",
            ],
        )

    def test_commands_are_case_insensitive(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("privmsg #general :lower case")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} PRIVMSG #general :lower case"]
        )

    def test_overlong_line_gets_417_and_reading_goes_on(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        who = self.mask("toto")
        longest = "PRIVMSG #general :" + "x" * (510 - 18)  # 512 bytes with CRLF
        toto.send(longest, longest + "y", "PRIVMSG #general :after")
        # Relayed with the sender's prefix, the text no longer fits in one
        # line of 512 bytes: it is cut to fit (as ircds do), and toto told.
        kept = 510 - len(f":{who} PRIVMSG #general :")
        self.assertEqual(
            toto.lines(),
            [
                f":twistedchat NOTICE toto :Your message to #general was cut to its "
                f"first {kept} characters to fit in one IRC line (512 bytes)",
                ":twistedchat 417 toto :Input line was too long",
            ],
        )
        cut, after = tutu.lines()
        self.assertEqual(cut, f":{who} PRIVMSG #general " + "x" * kept)
        self.assertLessEqual(len(cut.encode()) + 2, 512)
        self.assertEqual(after, f":{who} PRIVMSG #general after")
        self.assertFalse(toto.closed)

    def test_overlong_line_in_pieces_is_skipped_to_its_newline(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.feed(b"PRIVMSG #general :" + b"y" * 600)
        self.assertEqual(
            toto.lines(), [":twistedchat 417 toto :Input line was too long"]
        )
        toto.feed(b"y" * 1000)
        toto.feed(b"yyy QUIT\r\nPRIVMSG #general :ok")
        toto.feed(b"\r\n")
        self.assertEqual(toto.lines(), [])
        self.assertEqual(tutu.lines(), [f":{self.mask('toto')} PRIVMSG #general ok"])
        self.assertLess(len(toto.protocol._buffer), 512)

    def test_utf8_split_across_reads(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        data = "PRIVMSG #général :café ☕ 🎉\r\n".encode()
        toto.feed(b"JOIN #g\xc3")
        toto.feed(b"\xa9n\xc3\xa9ral\r")
        toto.feed(b"\n")
        tutu.send("JOIN #général")
        toto.lines(), tutu.lines()
        for i in range(len(data)):
            toto.feed(data[i : i + 1])
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} PRIVMSG #général :café ☕ 🎉"]
        )

    def test_invalid_utf8_is_refused_whole(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.feed(b"PRIVMSG #general :bad \xff\xfe bytes \xc3\r\n")
        toto.feed(b"@label=x :toto privmsg tutu :\xe9t\xe9\r\nPRIVMSG tutu :fine\r\n")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat FAIL PRIVMSG INVALID_UTF8 "
                ":Line refused: it holds bytes that are not UTF-8"
            ]
            * 2,
        )
        self.assertEqual(tutu.lines(), [f":{self.mask('toto')} PRIVMSG tutu fine"])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_bare_newlines(self) -> None:
        (tutu,) = self.connect_all("tutu")
        toto = self.client()
        toto.feed(b"NICK toto\nUSER toto 0 * :Toto\nJOIN #general\n")
        self.assertIn(f":{self.mask('toto')} JOIN #general", toto.lines())
        toto.feed(b"PRIVMSG #general :no CR here\n")
        self.assertEqual(
            tutu.lines(),
            [
                f":{self.mask('toto')} JOIN #general",
                f":{self.mask('toto')} PRIVMSG #general :no CR here",
            ],
        )

    def test_failing_command_answers_and_keeps_connection(self) -> None:
        (toto,) = self.connect_all("toto")

        def explode(client: IRCProtocol, params: list[str]) -> None:
            raise RuntimeError("bug")

        self.patch(self.front, "commands", {**COMMANDS, "LIST": Command(explode)})
        toto.send("LIST", "PING x")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 400 toto LIST :Internal error, nothing was done",
                ":twistedchat PONG twistedchat x",
            ],
        )
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class ServerTimeTests(IRCFrontTestCase):
    def test_tagged_and_plain_clients_see_the_same_event(self) -> None:
        tagged = self.register("tagged", "#general", tagged=True)
        plain = self.register("plain", "#general")
        toto = self.register("toto", "#general")
        tagged.lines(), plain.lines(), toto.lines()
        toto.send("PRIVMSG #general :hello there")
        line = f":{self.mask('toto')} PRIVMSG #general :hello there"
        self.assertEqual(tagged.lines(), [f"{NOW_TAG} {line}"])
        self.assertEqual(plain.lines(), [line])
        self.clock.advance(1.5)
        old = self.mask("toto")
        toto.send("PRIVMSG tagged :later on", "NICK toto2")
        later = "@time=2023-11-14T22:13:21.750Z"
        self.assertEqual(
            tagged.lines(),
            [
                f"{later} :{old} PRIVMSG tagged :later on",
                f"{later} :{old} NICK toto2",
            ],
        )
        self.assertEqual(plain.lines(), [f":{old} NICK toto2"])

    def test_cap_after_registration_and_removal(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        line = f":{self.mask('tutu')} PRIVMSG #general :hello there"
        toto.send("CAP REQ :server-time")
        self.assertEqual(toto.lines(), [":twistedchat CAP toto ACK server-time"])
        tutu.send("PRIVMSG #general :hello there")
        self.assertEqual(toto.lines(), [f"{NOW_TAG} {line}"])
        toto.send("CAP REQ :-server-time")
        self.assertEqual(toto.lines(), [":twistedchat CAP toto ACK -server-time"])
        tutu.send("PRIVMSG #general :hello there")
        self.assertEqual(toto.lines(), [line])

    def test_numerics_carry_no_tags(self) -> None:
        toto = self.register("toto", tagged=True)
        self.assertTrue(all(line.startswith(":") for line in toto.lines()))


class HistoryFrontTestCase(IRCFrontTestCase):
    """The fronts over a service that keeps history (real files, written at once)."""

    def make_service(
        self, checker: InMemoryUsernamePasswordDatabaseDontUse
    ) -> ChatService:
        self.history = HistoryWriter(
            os.path.abspath(self.mktemp()), self.clock, run_in_thread=run_now
        )
        self.history.startService()
        self.addCleanup(lambda: self.successResultOf(self.history.stopService()))
        return ChatService(
            self.clock, "general", checker, history=self.history, delivery=Fanout()
        )


class HistoryTests(HistoryFrontTestCase):
    def speak(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("PRIVMSG #general :first message", "PRIVMSG #general :second one")
        fram = self.framed_user("fram")
        fram.send(codec.ShowImage("general", "/\\\n\\/"))

    def test_replay_as_notices_without_server_time(self) -> None:
        self.speak()
        stamp = time.strftime("%H:%M", time.localtime(NOW))
        tutu = self.register("tutu")
        tutu.lines()
        tutu.send("JOIN #general")
        self.assertEqual(
            tutu.lines(),
            [
                f":{self.mask('tutu')} JOIN #general",
                ":twistedchat 353 tutu = #general :@toto fram tutu",
                ":twistedchat 366 tutu #general :End of /NAMES list.",
                f":twistedchat NOTICE #general :[{stamp}] <toto> first message",
                f":twistedchat NOTICE #general :[{stamp}] <toto> second one",
                f":twistedchat NOTICE #general :[{stamp}] <fram> shows a picture:",
                f":twistedchat NOTICE #general :[{stamp}] <fram> /\\",
                f":twistedchat NOTICE #general :[{stamp}] <fram> \\/",
            ],
        )
        tutu.send("JOIN #empty")
        self.assertEqual(len(tutu.lines()), 3)

    def test_replay_with_server_time(self) -> None:
        self.speak()
        self.clock.advance(3600)
        tutu = self.register("tutu", "#general", tagged=True)
        self.assertEqual(
            tutu.lines()[-8:],
            [
                f"@time=2023-11-14T23:13:20.250Z :{self.mask('tutu')} JOIN #general",
                ":twistedchat 353 tutu = #general :@toto fram tutu",
                ":twistedchat 366 tutu #general :End of /NAMES list.",
                f"{NOW_TAG} :toto!history@twistedchat PRIVMSG #general :first message",
                f"{NOW_TAG} :toto!history@twistedchat PRIVMSG #general :second one",
                f"{NOW_TAG} :fram!history@twistedchat PRIVMSG #general "
                ":shows a picture:",
                f"{NOW_TAG} :fram!history@twistedchat PRIVMSG #general /\\",
                f"{NOW_TAG} :fram!history@twistedchat PRIVMSG #general \\/",
            ],
        )

    def test_coming_back_shows_only_what_was_said_while_out(self) -> None:
        # A kick or a part, then JOIN again: the lines the client saw live are
        # not replayed a second time (irssi and WeeChat showed them twice).
        toto = self.register("toto", "#general")
        tutu = self.register("tutu", "#general")
        toto.send("PRIVMSG #general :seen live")
        toto.send("KICK #general tutu :out")
        toto.send("PRIVMSG #general :said while out")
        self.settle()
        tutu.send("JOIN #general")
        replayed = [line for line in tutu.lines() if "NOTICE #general" in line]
        self.assertEqual(len(replayed), 1)
        self.assertIn("<toto> said while out", replayed[0])
        tutu.send("PART #general", "JOIN #general")
        self.assertEqual(
            [line for line in tutu.lines() if "NOTICE #general" in line], []
        )

    def test_replay_carries_the_message_id_with_message_tags(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("PRIVMSG #general :hello")
        tutu = self.client()
        tutu.send(
            "CAP REQ :server-time message-tags", "NICK tutu", "USER t 0 * :T", "CAP END"
        )
        tutu.lines()
        tutu.send("JOIN #general")
        (kept,) = self.history.recent("general")
        self.assertEqual(
            tutu.lines()[-1],
            f"@time={server_time(kept.time)};msgid={kept.id} "
            ":toto!history@twistedchat PRIVMSG #general hello",
        )


IRC_PIECES = [
    b"\r\n",
    b"\n",
    b"\r",
    b" :",
    b":",
    b",",
    b"#general",
    b"NICK fuzz\r\n",
    b"USER fuzz 0 * :Fuzz\r\n",
    b"CAP LS 302\r\n",
    b"CAP REQ :server-time\r\n",
    b"CAP END\r\n",
    b"JOIN #general,#dev,0,general\r\n",
    b"PART #general :bye\r\n",
    b"PRIVMSG #general :",
    b"PRIVMSG observer :hi\r\n",
    b"NOTICE #general :\x1b[2J\x00\r\n",
    b"MODE #general +o-m+x fuzz\r\n",
    b"MODE fuzz +i\r\n",
    b"TOPIC #general :fuzzed\r\n",
    b"KICK #general observer\r\n",
    b"INVITE observer #dev\r\n",
    b"WHO #general\r\nWHOIS observer\r\n",
    b"AWAY :x\r\nISON observer\r\nUSERHOST fuzz\r\n",
    b"OPER admin secret\r\nKILL observer :x\r\n",
    b"NICK {fuzz}\r\n",
    b"PING\r\n",
    b"x" * 600,
    b"\xc3",
    b"\xff",
]


class FuzzTests(SynchronousTestCase):
    """Whatever an IRC client sends, in whatever pieces: no crash, others unaffected."""

    @settings(max_examples=200, deadline=None)
    @given(
        chunks=st.lists(
            st.one_of(
                st.binary(max_size=80),
                st.sampled_from(IRC_PIECES),
                st.lists(st.sampled_from(IRC_PIECES), max_size=6).map(b"".join),
            ),
            max_size=30,
        )
    )
    def test_random_input(self, chunks: list[bytes]) -> None:
        service = ChatService(Clock(), "general", delivery=Fanout())
        front = IRCFront(service)
        observer = IRCClient(front, 1)
        observer.send("NICK observer", "USER o 0 * :O", "JOIN #general")
        fuzzer = IRCClient(front, 2)
        for chunk in chunks:
            fuzzer.feed(chunk)
            # What waits for its end: a line of 512 bytes, after up to 4096
            # bytes of IRCv3 tags if it has some.
            waiting = fuzzer.protocol._buffer
            limit = MAX_TAGS + 512 if waiting.startswith(b"@") else 512
            self.assertLess(len(waiting), limit)
        for line in fuzzer.lines():
            self.assertNotIn("\r", line)
            self.assertNotIn("\x1b", line)
            self.assertNotIn("\x00", line)
        if fuzzer.closed:
            fuzzer.close()
        talker = IRCClient(front, 3)
        talker.send("NICK talker", "USER t 0 * :T", "JOIN #general")
        talker.send("PRIVMSG #general :still working")
        seen = observer.lines()
        self.assertIn(
            f":talker!{service.user('talker').user.id[:10]}@twistedchat "
            "PRIVMSG #general :still working",
            seen,
        )
        for line in seen:
            self.assertNotIn("\x1b", line)
            self.assertNotIn("\x00", line)
        self.assertEqual(self.flushLoggedErrors(), [])


class LongMessageTests(SynchronousTestCase):
    def test_long_messages_from_other_fronts_are_cut_to_fit(self) -> None:
        service = ChatService(Clock(), "general", delivery=Fanout())
        irc_front = IRCFront(service)
        line_front = LineFront(service, max_line=8000)
        reader = IRCClient(irc_front, 7000)
        reader.send("NICK reader", "USER r 0 * :R", "JOIN #general")
        netcat = LineClient(line_front, 7001)
        reader.lines()
        text = "é" * 1500 + " fin"
        netcat.send(f"MSG {text}\n")
        lines = reader.lines()
        self.assertGreater(len(lines), 1)
        for line in lines:
            self.assertLessEqual(len(line.encode()) + 2, 512)
        pieces = [line.split(" ", 3)[3].removeprefix(":") for line in lines]
        self.assertEqual("".join(pieces), text)
