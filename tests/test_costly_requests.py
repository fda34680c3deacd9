"""
Every costly request is paid for (issue 13): each target of a command that
names several counts against flood control, a user may be in a bounded
number of rooms, and an error quotes a bounded excerpt of what it refuses.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.codec import ErrorCode
from twistedchat.core.service import ChatService
from twistedchat.core.session import Session
from twistedchat.core.views import RoomSummary
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront

from .test_core import RecordingClient
from .test_framed_front import FramedClient
from .test_irc_front import IRCClient
from .test_line_front import Client as LineClient


def short_names(count: int) -> list[str]:
    """C{count} different two-letter names, to fit many in one IRC line."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [a + b for a in letters for b in letters][:count]


class CostTestCase(SynchronousTestCase):
    max_rooms = 100

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.service = ChatService(
            self.clock, "general", delivery=Fanout(), max_rooms=self.max_rooms
        )
        self.irc = IRCFront(self.service)
        self.framed = FramedFront(self.service)
        self.line = LineFront(self.service)
        self.ports = iter(range(5000, 6000))

    def irc_user(self, nick: str) -> IRCClient:
        client = IRCClient(self.irc, next(self.ports))
        client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        client.lines()
        return client

    def framed_user(self, nick: str, *rooms: str) -> FramedClient:
        client = FramedClient(self.framed, next(self.ports))
        client.send(codec.Hello(codec.PROTOCOL_VERSION, nick, "", "", rooms))
        return client


class MultipleTargetTests(CostTestCase):
    def test_one_nick_named_many_times_gets_one_message(self) -> None:
        victim = self.irc_user("v")
        flooder = self.irc_user("flooder")
        targets = ",".join(["v"] * 240)  # as many as an IRC line holds
        for _ in range(15):
            flooder.send(f"PRIVMSG {targets} :x")
        received = [line for line in victim.lines() if " PRIVMSG v " in line]
        self.assertEqual(len(received), 15)

    def test_each_target_is_paid_for(self) -> None:
        """150 targets in one line cost what 150 lines would: the bucket."""
        flooder = self.irc_user("flooder")
        targets = ",".join(short_names(150))
        flooder.send(f"PRIVMSG {targets} :x")
        lines = flooder.lines()
        answered = [line for line in lines if " 401 " in line]
        self.assertLess(len(answered), 60)  # FLOOD_BURST is 50
        self.assertIn("flood control", lines[-1])

    def test_each_channel_of_a_join_is_paid_for(self) -> None:
        joiner = self.irc_user("joiner")
        joiner.send("JOIN " + ",".join("#" + name for name in short_names(120)))
        self.assertLess(len(self.service.user("joiner").rooms), 60)
        self.assertIn("flood control", joiner.lines()[-1])

    def test_each_room_of_a_hello_is_paid_for(self) -> None:
        rooms = tuple(f"room{n}" for n in range(6000))
        hello = self.framed_user("many", *rooms)
        frames = hello.received()
        self.assertLess(len(self.service.list_rooms()), 60)
        flooding = [f for f in frames if isinstance(f, codec.Error)]
        self.assertEqual(flooding[-1].code, ErrorCode.FLOODING)


class RoomLimitTests(CostTestCase):
    max_rooms = 3

    def test_irc_is_told_the_limit_and_refused_past_it(self) -> None:
        client = IRCClient(self.irc, next(self.ports))
        client.send("NICK toto", "USER toto 0 * :Toto")
        self.assertTrue(any("CHANLIMIT=#:3" in line for line in client.lines()))
        client.send("JOIN #a,#b,#c,#d")
        lines = client.lines()
        self.assertIn(
            ":twistedchat 405 toto #d :cannot join #d: you are in 3 rooms, "
            "the most one may be in",
            lines,
        )
        self.assertEqual(len(self.service.user("toto").rooms), 3)

    def test_framed_is_refused_past_it(self) -> None:
        client = self.framed_user("toto", "a", "b", "c", "d")
        errors = [f for f in client.received() if isinstance(f, codec.Error)]
        self.assertEqual([e.code for e in errors], [ErrorCode.TOO_MANY_ROOMS])
        self.assertFalse(errors[0].fatal)
        self.assertEqual(self.service.user("toto").rooms, ("a", "b", "c"))

    def test_a_line_user_moves_between_rooms_within_it(self) -> None:
        user = LineClient(self.line, next(self.ports))
        user.send("JOIN a\nJOIN b\nJOIN c\nJOIN d\n")
        self.assertEqual(user.lines()[-1], "[server] you are in #d (1 member)")


class ExcerptTests(CostTestCase):
    def test_a_framed_error_quotes_an_excerpt_of_a_huge_nick(self) -> None:
        client = self.framed_user("x" * 65_000)
        (error,) = client.received()
        assert isinstance(error, codec.Error)
        self.assertEqual(error.code, ErrorCode.INVALID_NICK)
        self.assertLess(len(error.text), 200)
        self.assertIn("x" * 39 + "\N{HORIZONTAL ELLIPSIS}", error.text)

    def test_a_line_error_quotes_an_excerpt(self) -> None:
        line = LineFront(self.service, max_line=100_000)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 7))
        protocol = line.buildProtocol(transport.getPeer())
        assert protocol is not None
        protocol.makeConnection(transport)
        transport.clear()
        protocol.dataReceived(b"NICK " + b"y" * 50_000 + b"\n" + b"z" * 50_000 + b"\n")
        line.outbox.flush()
        replies = transport.value().split(b"\r\n")[:-1]
        self.assertEqual(len(replies), 2)
        self.assertTrue(all(len(reply) < 200 for reply in replies), replies)


class ListingTests(CostTestCase):
    """
    LIST of 20,000 rooms: a page at a time, paced, one at a time per client,
    so that the others' messages never wait behind it.
    """

    max_rooms = 0

    def setUp(self) -> None:
        super().setUp()
        owner = self.service.connect(RecordingClient(), "owner")
        for n in range(20_000):
            self.service.join(owner, f"room{n:05d}")

    def test_a_list_storm_never_holds_up_a_conversation(self) -> None:
        lister = self.irc_user("lister")
        talker, hearer = self.irc_user("talker"), self.irc_user("hearer")
        for client in (talker, hearer):
            client.send("JOIN #chat")
        hearer.lines()
        lister.send(*["LIST"] * 15)  # as fast as it may: 15 at once
        listed = lister.lines()
        self.assertLessEqual(len(listed), 102)  # the start and the first page
        talker.send("PRIVMSG #chat :still here?")
        self.assertTrue(hearer.lines()[-1].endswith("PRIVMSG #chat :still here?"))
        # The listings go on at LISTING_RATE lines a second, one after another.
        ends = 0
        for _ in range(300):  # six seconds
            self.clock.advance(0.02)
            ends += sum(1 for line in lister.lines() if " 323 " in line)
        self.assertEqual(ends, 1)  # 20,000 lines take four seconds

    def test_a_list_is_complete_and_in_order(self) -> None:
        lister = self.irc_user("lister")
        lister.send("LIST")
        lines = lister.lines()
        while not lines[-1].endswith(":End of /LIST"):
            self.clock.advance(0.02)
            lines += lister.lines()
        rooms = [line.split()[3] for line in lines if " 322 " in line]
        self.assertEqual(len(rooms), 20_000)
        self.assertEqual(rooms, sorted(rooms, key=str.casefold))

    def test_a_listing_stops_when_its_reader_leaves(self) -> None:
        lister = self.irc_user("lister")
        pages = []
        list_rooms = self.service.list_rooms

        def counted(
            after: str = "", count: int = 0, viewer: Session | None = None
        ) -> list[RoomSummary]:
            pages.append(after)
            return list_rooms(after, count, viewer)

        self.patch(self.service, "list_rooms", counted)
        lister.send("LIST")
        lister.close()
        for _ in range(50):
            self.clock.advance(0.02)
        self.assertLessEqual(len(pages), 2)

    def test_line_and_framed_lists_are_bounded(self) -> None:
        user = LineClient(self.line, next(self.ports))
        user.lines()
        user.send("LIST\n")
        (listing,) = user.lines()
        self.assertLess(len(listing), 5_000)
        self.assertTrue(listing.endswith("and 19901 more (JOIN one by its name)"))
        client = self.framed_user("toto")
        welcome = client.received()[0]
        assert isinstance(welcome, codec.Welcome)
        self.assertEqual(len(welcome.rooms), codec.ROOM_LIST_MAX)


class CrowdTests(CostTestCase):
    """NAMES and WHO of a room of 3,000: paced like a listing."""

    def setUp(self) -> None:
        super().setUp()
        for n in range(3_000):
            member = self.service.connect(RecordingClient(), f"member{n}")
            self.service.join(member, "crowd")

    def finish(self, client: IRCClient, end: str) -> list[str]:
        lines = client.lines()
        for _ in range(1_000):  # 20 s, far more than it takes
            if lines and lines[-1].endswith(end):
                return lines
            self.clock.advance(0.02)
            lines += client.lines()
        raise AssertionError(f"no {end!r}; last lines: {lines[-3:]}")

    def test_names_a_page_at_a_time(self) -> None:
        asker = self.irc_user("asker")
        asker.send("NAMES #crowd", "PING :after")
        first = asker.lines()
        self.assertLessEqual(len(first), 25)
        lines = first + self.finish(asker, "PONG twistedchat after")
        nicks = " ".join(line.split(" :", 1)[1] for line in lines if " 353 " in line)
        self.assertEqual(len(nicks.split()), 3_000)
        self.assertTrue(lines[-2].endswith("#crowd :End of /NAMES list."))

    def test_who_a_page_at_a_time(self) -> None:
        asker = self.irc_user("asker")
        asker.send("WHO #crowd", "PING :after")
        first = asker.lines()
        self.assertLessEqual(len(first), 100)
        lines = first + self.finish(asker, "PONG twistedchat after")
        self.assertEqual(sum(1 for line in lines if " 352 " in line), 3_000)
        self.assertTrue(lines[-2].endswith("#crowd :End of /WHO list."))
