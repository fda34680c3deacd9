"""
Watching nicks: the core's watch (core/watch.py), and IRC's MONITOR on it,
told of users of every front (netcat, twistedchat client, IRC).
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core import errors
from twistedchat.core.events import User
from twistedchat.core.service import ChatService, Session
from twistedchat.core.watch import Watch
from twistedchat.fronts.irc.monitor import LIST_WIDTH

from .test_core import RecordingClient
from .test_irc_front import IRCClient, IRCFrontTestCase
from .test_line_front import Client as LineClient


class WatchTests(SynchronousTestCase):
    """The core tells watchers when a nick is taken or given up."""

    def setUp(self) -> None:
        self.service = ChatService(Clock(), "general")
        self.news: list[tuple[str, str, str | None]] = []

    def watcher(self, nick: str, *watched: str) -> Session:
        session = self.service.connect(RecordingClient(), nick)
        for target in watched:

            def tell(name: str, user: User | None, who: str = nick) -> None:
                self.news.append((who, name, user.nick if user else None))

            self.assertTrue(self.service.watch.add(session, target, tell))
        return session

    def test_connect_rename_and_leave_are_told(self) -> None:
        self.watcher("alice", "bob", "carol")
        bob = self.service.connect(RecordingClient(), "bob")
        self.assertEqual(self.news, [("alice", "bob", "bob")])
        self.service.change_nick(bob, "carol")
        self.assertEqual(
            self.news[1:], [("alice", "bob", None), ("alice", "carol", "carol")]
        )
        self.service.disconnect(bob)
        self.assertEqual(self.news[3:], [("alice", "carol", None)])

    def test_a_change_of_case_is_no_news(self) -> None:
        self.watcher("alice", "bob")
        bob = self.service.connect(RecordingClient(), "bob")
        del self.news[:]
        self.service.change_nick(bob, "BOB")
        self.assertEqual(self.news, [])
        self.service.disconnect(bob)
        self.assertEqual(self.news, [("alice", "BOB", None)])

    def test_a_second_session_of_a_user_is_no_news(self) -> None:
        self.watcher("alice", "bob")
        first = self.service.connect(RecordingClient(), "bob")
        token = self.service.token(first)
        second = self.service.connect(RecordingClient(), "bob", token=token)
        self.service.disconnect(first)
        self.assertEqual(self.news, [("alice", "bob", "bob")])
        self.service.disconnect(second)
        self.assertEqual(self.news[1:], [("alice", "bob", None)])

    def test_a_watcher_that_leaves_is_forgotten(self) -> None:
        alice = self.watcher("alice", "bob")
        self.service.disconnect(alice)
        self.service.connect(RecordingClient(), "bob")
        self.assertEqual(self.news, [])
        self.assertEqual(self.service.watch.watched(alice), [])

    def test_one_broken_watcher_does_not_keep_the_others_from_hearing(self) -> None:
        first = self.service.connect(RecordingClient(), "alice")

        def broken(name: str, user: User | None) -> None:
            raise RuntimeError("boom")

        self.service.watch.add(first, "bob", broken)
        self.watcher("carol", "bob")
        self.service.connect(RecordingClient(), "bob")
        self.assertEqual(self.news, [("carol", "bob", "bob")])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_bounded_and_masks_refused(self) -> None:
        watch = Watch(limit=2)
        session = self.service.connect(RecordingClient(), "alice")

        def ignore(name: str, user: User | None) -> None:
            pass

        self.assertTrue(watch.add(session, "a", ignore))
        self.assertTrue(watch.add(session, "B", ignore))
        self.assertTrue(watch.add(session, "b", ignore))  # the same nick
        self.assertFalse(watch.add(session, "c", ignore))
        self.assertEqual(watch.watched(session), ["a", "B"])
        self.assertRaises(errors.InvalidNick, watch.add, session, "*!u@host", ignore)
        watch.remove(session, ["A", "zz"])
        self.assertEqual(watch.watched(session), ["B"])
        self.assertTrue(watch.add(session, "c", ignore))
        watch.clear(session)
        self.assertEqual(watch.watched(session), [])


class MonitorTests(IRCFrontTestCase):
    """IRC's MONITOR, told of users of every front."""

    def mask_of(self, nick: str) -> str:
        return f"{nick}!{self.service.user(nick).user.id[:10]}@twistedchat"

    def test_netcat_user_online_and_offline(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("MONITOR + lina,zed")
        self.assertEqual(toto.lines(), [":twistedchat 731 toto lina,zed"])
        lina = LineClient(self.line_front, self.port())
        self.assertEqual(news(toto), [])  # under its address:port: nobody waits
        lina.send("NICK lina\n")
        lina_id = self.service.user("lina").user.id[:10]
        self.assertEqual(
            news(toto), [f":twistedchat 730 toto lina!{lina_id}@twistedchat"]
        )
        lina.send("QUIT\n")
        lina.close()
        self.assertEqual(news(toto), [":twistedchat 731 toto lina"])

    def test_framed_user_online_when_added_then_offline(self) -> None:
        (toto,) = self.connect_all("toto")
        tata = self.framed_user("tata")
        toto.send("MONITOR + tata")
        self.assertEqual(
            toto.lines(), [f":twistedchat 730 toto {self.mask_of('tata')}"]
        )
        tata.send(codec.Goodbye(""))
        self.assertEqual(news(toto), [":twistedchat 731 toto tata"])

    def test_irc_nick_change_and_status(self) -> None:
        toto, titi = self.connect_all("toto", "titi")
        toto.send("MONITOR + qux,titi")
        toto.lines()
        titi.send("NICK qux")
        mask = self.mask_of("qux")
        self.assertEqual(
            news(toto),
            [":twistedchat 731 toto titi", f":twistedchat 730 toto {mask}"],
        )
        toto.send("MONITOR S")
        self.assertEqual(
            toto.lines(),
            [f":twistedchat 730 toto {mask}", ":twistedchat 731 toto titi"],
        )

    def test_list_remove_clear(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("MONITOR + a,B,b", "MONITOR - a", "MONITOR L")
        self.assertEqual(
            toto.lines()[-2:],
            [":twistedchat 732 toto B", ":twistedchat 733 toto :End of MONITOR list"],
        )
        toto.send("MONITOR C", "MONITOR L")
        self.assertEqual(toto.lines(), [":twistedchat 733 toto :End of MONITOR list"])

    def test_long_list_is_cut_into_lines(self) -> None:
        (toto,) = self.connect_all("toto")
        nicks = [f"nick{n:03d}xxxxxxxxxx" for n in range(100)]
        for start in range(0, 100, 20):
            toto.send("MONITOR + " + ",".join(nicks[start : start + 20]))
        toto.lines()
        toto.send("MONITOR L")
        lines = toto.lines()
        listed = [line.split()[-1] for line in lines if " 732 " in line]
        self.assertGreater(len(listed), 1)
        self.assertTrue(all(len(chunk) <= LIST_WIDTH for chunk in listed))
        self.assertEqual(",".join(listed).split(","), nicks)

    def test_full_list_says_which_were_not_added(self) -> None:
        (toto,) = self.connect_all("toto")
        nicks = [f"n{n}" for n in range(99)]
        toto.send("MONITOR + " + ",".join(nicks))
        toto.lines()
        toto.send("MONITOR + last,over1,over2")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 734 toto 100 over1,over2 :Monitor list is full.",
                ":twistedchat 731 toto last",
            ],
        )

    def test_bad_input_gets_clear_errors(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("MONITOR + *!user@host", "MONITOR +", "MONITOR X", "MONITOR")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 432 toto *!user@host :invalid nick "
                '"*!user@host": use 1 to 30 letters, digits or _-[]{}\\|^',
                ":twistedchat 461 toto MONITOR :Not enough parameters",
                ":twistedchat 400 toto MONITOR X :Unknown MONITOR subcommand",
                ":twistedchat 461 toto MONITOR :Not enough parameters",
            ],
        )

    def test_isupport_announces_the_limit(self) -> None:
        toto = self.register("toto")
        self.assertIn("MONITOR=100", " ".join(toto.lines()).split())


def news(client: IRCClient) -> list[str]:
    """What MONITOR told C{client} (730 and 731) since it last read."""
    return [line for line in client.lines() if line.split()[1] in ("730", "731")]
