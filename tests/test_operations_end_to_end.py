"""
/health and /metrics on the real server's web port, scraped while people chat
on two fronts, a flooder floods, a reader stalls and the history's disk fails.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from twistedchat import codec

from .processes import LineClient, ServerTestCase

REFUSED = "[server] error: slow down: line ignored (flood control)"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def front(name: str) -> tuple[tuple[str, str]]:
    return (("front", name),)


MESSAGES = ("twistedchat_messages_total", (("kind", "message"),))


class OperationsTestCase(ServerTestCase):
    def get(self, path: str) -> tuple[int, str, str]:
        """Status, content type and text of C{path} on the web port."""
        url = f"http://127.0.0.1:{self.server.ports['web']}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                status, headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, error.headers, error.read()
        return status, headers["Content-Type"], body.decode("utf-8")

    def scrape(self) -> Samples:
        """/metrics, as Prometheus reads it: each sample by name and labels."""
        status, content_type, text = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"))
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


class ChatMetricsProcessTests(OperationsTestCase):
    server_arguments = ("--flood-rate", "1", "--flood-burst", "10")

    def test_what_two_fronts_did_is_what_the_metrics_say(self) -> None:
        self.assertEqual(
            self.get("/health"), (200, "text/plain; charset=utf-8", "ok\n")
        )
        netcat = self.netcat("nc")
        irc = self.connect("irc")
        irc.send("NICK ir\r")
        irc.send("USER ir 0 * :Ir\r")
        irc.expect(":twistedchat 376 ir :End of /MOTD command.")
        irc.send("JOIN #general\r")
        irc.expect(":twistedchat 366 ir #general :End of /NAMES list.")
        netcat.expect('[server] "ir" joined #general')
        before = self.scrape()
        self.assertEqual(
            [
                before[("twistedchat_connections", front(name))]
                for name in ["line", "irc", "framed", "web"]
            ],
            [1, 1, 0, 0],
        )
        self.assertEqual(before[("twistedchat_users", ())], 2)
        self.assertEqual(before[("twistedchat_rooms", ())], 1)

        for n in range(3):
            netcat.send(f"MSG hello from netcat {n}")
            expect_end(irc, f" PRIVMSG #general :hello from netcat {n}")
        for n in range(2):
            irc.send(f"PRIVMSG #general :hello from irc {n}\r")
            netcat.expect(f"[ir] hello from irc {n}")
        chatted = self.scrape()
        self.assertEqual(chatted[MESSAGES] - before[MESSAGES], 5)
        self.assertEqual(delta(before, chatted, "deliveries_total", "line"), 2)
        self.assertEqual(delta(before, chatted, "deliveries_total", "irc"), 3)

        # A flood: the first ones pass, as many as the bucket holds, the
        # others are refused, each with a notice.
        netcat.send("\n".join(f"MSG flood {n}" for n in range(20)))
        expect_end(irc, " PRIVMSG #general :flood 0")
        irc.send("PRIVMSG #general :after the flood\r")
        seen = netcat.expect("[ir] after the flood")
        refused = seen.count(REFUSED)
        self.assertEqual(seen, [REFUSED] * refused)
        self.assertGreater(refused, 0)
        passed = 20 - refused
        expect_end(irc, f" PRIVMSG #general :flood {passed - 1}")
        flooded = self.scrape()
        self.assertEqual(
            delta(chatted, flooded, "flood_refusals_total", "line"), refused
        )
        self.assertEqual(delta(chatted, flooded, "flood_refusals_total", "irc"), 0)
        self.assertEqual(flooded[MESSAGES] - chatted[MESSAGES], passed + 1)
        self.assertEqual(delta(chatted, flooded, "deliveries_total", "irc"), passed)
        # (the notices are replies, not deliveries of the chat's events)
        self.assertEqual(delta(chatted, flooded, "deliveries_total", "line"), 1)
        self.assertGreater(flooded[("process_resident_memory_bytes", ())], 0)

        irc.send("QUIT :bye\r")
        netcat.expect('[server] client disconnected "ir"')
        after = self.scrape()
        self.assertEqual(after[("twistedchat_connections", front("irc"))], 0)
        self.assertEqual(after[("twistedchat_users", ())], 1)

    def test_a_browser_tab_is_counted_on_the_web_front(self) -> None:
        netcat = self.netcat("nc")
        web = self.connect_web()
        web.send(
            {
                "type": "hello",
                "version": codec.PROTOCOL_VERSION,
                "nick": "wendy",
                "token": "",
                "rooms": ["general"],
            }
        )
        web.expect("welcome")
        web.expect("entered", room="general")
        netcat.expect('[server] "wendy" joined #general')
        before = self.scrape()
        self.assertEqual(before[("twistedchat_connections", front("web"))], 1)
        for n in range(2):
            web.send({"type": "say", "room": "general", "text": f"from a tab {n}"})
            web.expect("said", text=f"from a tab {n}")  # the page shows its own
            netcat.expect(f"[wendy] from a tab {n}")
        after = self.scrape()
        self.assertEqual(after[MESSAGES] - before[MESSAGES], 2)
        self.assertEqual(delta(before, after, "deliveries_total", "web"), 2)
        self.assertEqual(delta(before, after, "deliveries_total", "line"), 2)


def expect_end(client: LineClient, end: str) -> None:
    """Read up to a line that ends with C{end} (IRC: after its sender's prefix)."""
    while True:
        line = client.read_line()
        if line is None:
            raise AssertionError(f"closed before a line ending with {end!r}")
        if line.endswith(end):
            return


def delta(before: Samples, after: Samples, name: str, front_name: str) -> float:
    key = (f"twistedchat_{name}", front(front_name))
    return after[key] - before[key]


class SlowReaderProcessTests(OperationsTestCase):
    server_arguments = ("--sendq", "65536", "--flood-rate", "0")

    def test_a_reader_that_never_reads_is_counted_dropped(self) -> None:
        talker = self.netcat("talker")
        sloth = socket.socket()
        sloth.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sloth.connect(("127.0.0.1", self.server.ports["line"]))
        self.addCleanup(sloth.close)
        sloth.sendall(b"NICK sloth\n")  # and never reads again
        self.server.wait_for('=> "sloth"')
        dropped = re.compile(r"dropping \S+: output buffer full")
        padding = "x" * 3500
        # More than the kernel buffers of both ends hold (a few MiB on
        # loopback), so that the server's transport fills up and says so.
        for chunk in range(30):
            if any(dropped.search(line) for line in self.server.output):
                break
            talker.socket.sendall(
                "".join(f"MSG {chunk}.{n} {padding}\n" for n in range(100)).encode(
                    "ascii"
                )
            )
        self.server.wait_for('client disconnected "sloth"')
        samples = self.scrape()
        self.assertEqual(
            samples[("twistedchat_slow_readers_dropped_total", front("line"))], 1
        )
        self.assertEqual(samples[("twistedchat_connections", front("line"))], 1)


class HistoryHealthProcessTests(OperationsTestCase):
    def test_health_says_why_the_history_cannot_be_written(self) -> None:
        netcat = self.netcat("nc")
        self.assertEqual(self.get("/health")[0], 200)
        history = os.path.join(self.folder, "twistedchat-data", "history")
        blocked = os.path.join(history, "general.jsonl")
        os.makedirs(blocked)  # a folder where the room's file goes: fails for root too
        netcat.send("MSG cannot be written yet")
        self.server.wait_for("cannot write history")
        status, content_type, text = self.get("/health")
        self.assertEqual((status, content_type), (503, "text/plain; charset=utf-8"))
        self.assertRegex(
            text,
            r"^history: cannot write for \d+ s: general.jsonl: Is a directory "
            r"\(1 entry waiting\)\n$",
        )
        failing = self.scrape()
        self.assertGreaterEqual(
            failing[("twistedchat_history_write_errors_total", ())], 1
        )
        self.assertEqual(failing[("twistedchat_history_waiting", ())], 1)
        self.assertEqual(failing[("twistedchat_history_written_total", ())], 0)

        os.rmdir(blocked)  # the disk is usable again
        self.server.wait_for("history written again")
        self.assertEqual(
            self.get("/health"), (200, "text/plain; charset=utf-8", "ok\n")
        )
        back = self.scrape()
        self.assertEqual(back[("twistedchat_history_waiting", ())], 0)
        self.assertEqual(back[("twistedchat_history_written_total", ())], 1)
        with open(blocked, encoding="utf-8") as file:
            self.assertIn("cannot be written yet", file.read())
