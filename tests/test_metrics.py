"""The server's metrics: what /metrics shows follows what the chat did."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.core.service import ChatService
from twistedchat.fronts.base import ConnectionCounter, Limits
from twistedchat.fronts.fanout import WRITE_DELAY, Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront
from twistedchat.persistence import HistoryWriter
from twistedchat.server.metrics import ChatCollector, metrics_registry

from .test_framed_front import FramedClient
from .test_history import run_now
from .test_irc_front import IRCClient
from .test_line_front import Client as LineClient

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """The registry's text, as Prometheus reads it: each sample by name and labels."""
    text = generate_latest(registry).decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def front(name: str) -> tuple[tuple[str, str]]:
    return (("front", name),)


class MetricsTestCase(SynchronousTestCase):
    limits = Limits(flood_rate=0)

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.folder = os.path.abspath(self.mktemp())
        self.history = HistoryWriter(
            self.folder, self.clock, run_in_thread=run_now, flush_interval=0.2
        )
        self.history.startService()
        self.service = ChatService(
            self.clock, "general", history=self.history, delivery=Fanout()
        )
        connections = ConnectionCounter(self.limits)
        self.line = LineFront(self.service, 4096, self.limits, connections)
        self.framed = FramedFront(self.service, 65536, self.limits, connections)
        self.irc = IRCFront(self.service, None, self.limits, connections)
        self.registry = metrics_registry(
            ChatCollector(
                self.service,
                self.history,
                {"line": self.line, "framed": self.framed, "irc": self.irc},
            )
        )
        self.port = 5000

    def line_client(self, nick: str) -> LineClient:
        self.port += 1
        client = LineClient(self.line, self.port)
        client.send(f"NICK {nick}\n")
        client.lines()
        return client

    def irc_client(self, nick: str) -> IRCClient:
        self.port += 1
        client = IRCClient(self.irc, self.port)
        client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", "JOIN #general")
        client.lines()
        return client

    def framed_client(self, nick: str) -> FramedClient:
        self.port += 1
        client = FramedClient(self.framed, self.port)
        client.send(codec.Hello(codec.PROTOCOL_VERSION, nick, "", "", ("general",)))
        client.received()
        return client

    def change(self, before: Samples, after: Samples) -> Samples:
        """The samples whose value changed, by how much (a twistedchat metric)."""
        return {
            key: value - before.get(key, 0)
            for key, value in after.items()
            if key[0].startswith("twistedchat_") and value != before.get(key, 0)
        }


class ChatMetricsTests(MetricsTestCase):
    maxDiff = None

    def test_connections_rooms_and_users(self) -> None:
        first = scrape(self.registry)
        self.assertEqual(first[("twistedchat_connections", front("line"))], 0)
        self.assertEqual(first[("twistedchat_users", ())], 0)
        toto, tutu = self.line_client("toto"), self.line_client("tutu")
        irc = self.irc_client("ira")
        tutu.send("JOIN other\n")
        now = scrape(self.registry)
        self.assertEqual(now[("twistedchat_connections", front("line"))], 2)
        self.assertEqual(now[("twistedchat_connections", front("irc"))], 1)
        self.assertEqual(now[("twistedchat_connections", front("framed"))], 0)
        self.assertEqual(now[("twistedchat_users", ())], 3)
        self.assertEqual(now[("twistedchat_rooms", ())], 2)
        for client in (toto, tutu, irc):
            client.close()
        last = scrape(self.registry)
        self.assertEqual(last[("twistedchat_connections", front("line"))], 0)
        self.assertEqual(last[("twistedchat_connections", front("irc"))], 0)
        self.assertEqual(last[("twistedchat_users", ())], 0)
        self.assertEqual(last[("twistedchat_rooms", ())], 0)

    def test_messages_by_kind_and_each_copy_delivered_by_front(self) -> None:
        toto, tutu = self.line_client("toto"), self.line_client("tutu")
        irc = self.irc_client("ira")
        framed = self.framed_client("fred")
        for client in (toto, tutu):
            client.lines()  # the others' arrivals
        irc.lines()
        before = scrape(self.registry)
        for n in range(3):
            toto.send(f"MSG hello {n}\n")
        toto.send("ME waves\n")
        framed.send(codec.Say("general", "from the client"))
        for client in (toto, tutu):
            client.lines()
        irc.lines()
        framed.received()
        # The line front echoes nothing: toto's 4 reach tutu, fred's 1 both.
        # The framed client echoes: fred gets all 5; ira (IRC) gets all 5.
        self.assertEqual(
            self.change(before, scrape(self.registry)),
            {
                ("twistedchat_messages_total", (("kind", "message"),)): 4,
                ("twistedchat_messages_total", (("kind", "action"),)): 1,
                ("twistedchat_deliveries_total", front("line")): 4 + 2,
                ("twistedchat_deliveries_total", front("framed")): 5,
                ("twistedchat_deliveries_total", front("irc")): 5,
                ("twistedchat_history_waiting", ()): 5,
            },
        )
        self.clock.advance(0.2)  # the history's flush interval
        written = scrape(self.registry)
        self.assertEqual(written[("twistedchat_history_waiting", ())], 0)
        self.assertEqual(written[("twistedchat_history_written_total", ())], 5)

    def test_messages_by_kind_since_the_start_of_the_history(self) -> None:
        toto = self.line_client("toto")
        toto.send("MSG before\nME acts\n")
        session = toto.protocol.session
        assert session is not None
        self.service.show_image(session, "general", "::\n::")
        kinds = ("message", "action", "image")
        samples = scrape(self.registry)
        self.assertEqual(
            [samples[("twistedchat_messages_total", (("kind", k),))] for k in kinds],
            [1, 1, 1],
        )
        self.clock.advance(0.2)
        self.successResultOf(self.history.stopService())
        self.history.startService()  # (what is on disk is not news)
        toto.send("MSG after\n")
        samples = scrape(self.registry)
        self.assertEqual(
            [samples[("twistedchat_messages_total", (("kind", k),))] for k in kinds],
            [1, 0, 0],
        )

    def test_private_messages_are_delivered_one_by_one(self) -> None:
        ira, irb = self.irc_client("ira"), self.irc_client("irb")
        ira.lines()
        before = scrape(self.registry)
        ira.send("PRIVMSG irb :psst")
        (line,) = irb.lines()
        self.assertTrue(line.endswith(" PRIVMSG irb psst"), line)
        self.assertEqual(
            self.change(before, scrape(self.registry)),
            {("twistedchat_deliveries_total", front("irc")): 1},
        )

    def test_history_write_errors_and_entries_waiting(self) -> None:
        toto = self.line_client("toto")
        os.makedirs(os.path.join(self.folder, "general.jsonl"))  # in the way
        toto.send("MSG one\nMSG two\n")
        self.clock.advance(0.2)
        self.clock.advance(0.2)  # retried
        failing = scrape(self.registry)
        self.assertEqual(failing[("twistedchat_history_write_errors_total", ())], 2)
        self.assertEqual(failing[("twistedchat_history_waiting", ())], 2)
        self.assertEqual(failing[("twistedchat_history_written_total", ())], 0)
        os.rmdir(os.path.join(self.folder, "general.jsonl"))
        self.clock.advance(0.2)
        back = scrape(self.registry)
        self.assertEqual(back[("twistedchat_history_write_errors_total", ())], 2)
        self.assertEqual(back[("twistedchat_history_waiting", ())], 0)
        self.assertEqual(back[("twistedchat_history_written_total", ())], 2)

    def test_a_write_that_fails_for_one_room_counts_what_it_wrote(self) -> None:
        toto, tutu = self.line_client("toto"), self.line_client("tutu")
        tutu.send("JOIN other\n")
        os.makedirs(os.path.join(self.folder, "general.jsonl"))
        toto.send("MSG blocked\n")
        tutu.send("MSG written\n")
        self.clock.advance(0.2)
        samples = scrape(self.registry)
        self.assertEqual(samples[("twistedchat_history_written_total", ())], 1)
        self.assertEqual(samples[("twistedchat_history_waiting", ())], 1)

    def test_the_process_is_described_too(self) -> None:
        samples = scrape(self.registry)
        self.assertGreater(samples[("process_resident_memory_bytes", ())], 0)
        self.assertIn(("python_info", ()), {(name, ()) for name, _ in samples})

    def test_two_servers_in_one_process_keep_their_own_figures(self) -> None:
        other = metrics_registry(ChatCollector(self.service, None, {}))
        self.line_client("toto")
        self.assertEqual(
            scrape(self.registry)[("twistedchat_connections", front("line"))], 1
        )
        self.assertNotIn(
            ("twistedchat_connections", front("line")), scrape(other).keys()
        )


class LimitMetricsTests(MetricsTestCase):
    limits = Limits(flood_rate=2, flood_burst=5, flood_strikes=4, sendq=10_000)

    def test_flood_refusals_by_front(self) -> None:
        flooder = self.line_client("flooder")
        self.clock.advance(10)  # a full bucket again
        before = scrape(self.registry)
        for n in range(7):
            flooder.send(f"MSG {n}\n")
        self.assertIn("flood control", flooder.lines()[-1])
        refused = self.change(before, scrape(self.registry))
        self.assertEqual(
            refused[("twistedchat_flood_refusals_total", front("line"))], 2
        )
        self.assertNotIn(("twistedchat_flood_refusals_total", front("irc")), refused)

    def test_a_slow_reader_dropped_is_counted_once(self) -> None:
        talker, slow = self.line_client("talker"), self.line_client("slow")
        slow.protocol.output.pauseProducing()  # the peer stopped reading
        for n in range(300):
            talker.send(f"MSG message number {n:03d} with some padding\n")
            self.clock.advance(max(WRITE_DELAY, 0.5))  # within the flood rate
        self.assertTrue(slow.protocol.dropped)
        samples = scrape(self.registry)
        self.assertEqual(
            samples[("twistedchat_slow_readers_dropped_total", front("line"))], 1
        )
        self.assertEqual(
            samples[("twistedchat_slow_readers_dropped_total", front("irc"))], 0
        )
