"""
The cluster benchmark (benchmarks/cluster.py): tiny runs over today's single
node and over two nodes sharing a real redis-server, and its counting: lost,
duplicated and out-of-order deliveries found, same-node and cross-node
latencies kept apart, Redis's commands counted.

The benchmark runs reactors and starts real servers, so it runs here as a
subprocess; its last line is its result as JSON, an object per setup. Its
counting is checked in process, on receivers fed through C{StringTransport}s
and on the orders the receivers report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from tests.redis_server import require_redis

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
BENCHMARK = BENCHMARKS / "cluster.py"
TIMEOUT = 180  # seconds: each setup takes a few
sys.path.insert(0, str(BENCHMARKS))

from cluster import (  # noqa: E402
    OrderCheck,
    calls_between,
    check_order,
    node_of,
    split_log,
)
from fanout_clients import LineChatClient, Tally, order_key  # noqa: E402


def benchmark(*args: str) -> subprocess.CompletedProcess[str]:
    """A run of the benchmark with C{args}, in a process of its own, to its end."""
    return subprocess.run(
        [sys.executable, str(BENCHMARK), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class ClusterBenchmarkTests(SynchronousTestCase):
    """Runs of the benchmark, as a subprocess, over real nodes and a real Redis."""

    def run_benchmark(self, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
        done = benchmark(*args, "--timeout", "30", "--json")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        lines = done.stdout.splitlines()
        self.assertTrue(lines, done.stderr)
        return done, json.loads(lines[-1])

    def assertFaultless(self, result: Any, deliveries: int, sent: int) -> None:
        """Every message reached every other client once, in one order, and is on disk."""
        self.assertEqual(result["outcome"], "completed", result)
        self.assertEqual(result["deliveries"], deliveries, result)
        self.assertEqual(result["expected"], deliveries)
        self.assertEqual(result["lost"], 0)
        self.assertEqual(result["duplicated"], 0)
        self.assertEqual(result["unexpected"], 0)
        self.assertEqual(result["out_of_order"], 0)
        self.assertEqual(result["order"]["out_of_order"], 0)
        self.assertEqual(result["sent"], sent)
        self.assertEqual(result["history_on_disk"], sent)
        self.assertEqual(result["history_duplicates"], 0)
        self.assertEqual(result["server_log_problems"], 0, result["server_log_samples"])
        self.assertTrue(result["server_shut_down"])
        self.assertTrue(result["faultless"])

    def test_single_node_and_two_nodes_over_redis(self) -> None:
        """
        Six line clients, two senders of twenty messages: over today's single
        node (no Redis), then over two nodes sharing one redis-server (three
        clients each). Each message reaches the five others once; on two
        nodes, each sender's messages reach receivers on its own node and on
        the other (client k is on node k mod 2), every receiver, whatever its
        node, sees the room in the same order, Redis ran commands for the
        messages and both nodes spent CPU time. The summary and the verdict
        lines follow the reports.
        """
        require_redis()
        done, results = self.run_benchmark(
            *("--nodes", "2", "--front", "line"),
            *("--clients", "6", "--senders", "2", "--messages", "20"),
        )
        self.assertEqual(sorted(results), ["2 nodes", "single"])
        single, pair = results["single"], results["2 nodes"]
        for result in (single, pair):
            self.assertFaultless(result, 2 * 20 * 5, 2 * 20)
        self.assertEqual(single["cross_node_deliveries"], 0)
        self.assertIsNone(single["redis_commands_per_message"])
        self.assertEqual(list(single["cpu_seconds"]), ["node 0"])
        # Sender 0 (node 0) reaches clients 2 and 4 on its node, 1, 3 and 5 on
        # the other; sender 1 (node 1) likewise: 2 x 20 x (2 + 3) deliveries.
        self.assertEqual(pair["same_node_deliveries"], 2 * 20 * 2)
        self.assertEqual(pair["cross_node_deliveries"], 2 * 20 * 3)
        self.assertIsNotNone(pair["cross_node_p99_ms"])
        self.assertEqual(sorted(pair["cpu_seconds"]), ["node 0", "node 1", "redis"])
        self.assertTrue(all(cpu > 0 for cpu in pair["cpu_seconds"].values()))
        self.assertGreater(pair["redis_commands_per_message"], 0)
        busiest = max(pair["cpu_seconds"]["node 0"], pair["cpu_seconds"]["node 1"])
        self.assertAlmostEqual(pair["busiest_node_rate"], 2 * 20 * 5 / busiest)
        self.assertEqual(pair["order"]["compared"], 6)
        self.assertNotIn("!!!", done.stdout)
        self.assertIn("cluster, 2 nodes sharing one Redis, Redis ", done.stdout)
        self.assertIn("wall-clock rate, 2 nodes / single: ", done.stdout)
        self.assertIn("p99 cross-node / same-node, 2 nodes: ", done.stdout)

    def test_bad_node_counts_refused(self) -> None:
        """A node count below 1, or more nodes than clients, is refused at once."""
        for args, why in [
            (("--nodes", "0"), "each count at least 1"),
            (("--nodes", "1,x"), "node counts separated by commas"),
            (("--nodes", "3", "--clients", "2", "--senders", "1"), "3 nodes need"),
        ]:
            done = benchmark(*args)
            self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
            self.assertIn(why, done.stderr)
            self.assertEqual(done.stdout, "")

    def test_without_redis_server(self) -> None:
        """
        Without redis-server on the PATH, a run that needs one stops before
        starting anything, and says what to install; today's single node
        alone still runs.
        """
        path = str(Path(sys.executable).parent)  # twistd, but no redis-server
        tiny = ("--clients", "2", "--senders", "1", "--messages", "1")
        done = subprocess.run(
            [sys.executable, str(BENCHMARK), *tiny],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={**os.environ, "PATH": path},
        )
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("redis-server is not installed", done.stderr)
        self.assertEqual(done.stdout, "")
        alone = subprocess.run(
            [sys.executable, str(BENCHMARK), "--nodes=", *tiny],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={**os.environ, "PATH": path},
        )
        self.assertEqual(alone.returncode, 0, alone.stdout + alone.stderr)
        self.assertIn("cluster, a single node, no Redis", alone.stdout)


# What the line front sends for a message of sender s, seq q.


def line_message(sender: int, seq: int) -> bytes:
    return f"[b{sender:04x}] {sender:04x}:{seq:08x}:{1000 + seq:016x}\r\n".encode()


SENDERS, SEQS = 2, 30


class CountingTests(SynchronousTestCase):
    """What a receiver of a cluster run keeps, and how receivers are compared."""

    def receiver(self, index: int, nodes: int = 2) -> LineChatClient:
        """Client C{index} counting the messages of senders 0 and 1, on C{nodes}."""
        tally = Tally(SENDERS, SEQS, SEQS)
        tally.nodes, tally.keep_order = nodes, True
        client = LineChatClient(index, tally)
        client.makeConnection(StringTransport())
        client.start_counting({})
        tally.receivers = 1
        return client

    def room(self) -> list[bytes]:
        """The room's messages in the order the log gave them."""
        return [
            line_message(sender, seq)
            for seq in range(SEQS)
            for sender in range(SENDERS)
        ]

    def test_same_and_cross_node_latencies_apart(self) -> None:
        """
        On two nodes, client 4 (node 0) has sender 0 on its node and sender 1
        on the other: their latencies are kept apart; its order of arrival is
        the room's, read across chunks cut anywhere.
        """
        self.assertEqual([node_of(index, 2) for index in (0, 1, 4)], [0, 1, 0])
        client = self.receiver(4)
        stream = b"".join(self.room())
        for start in range(0, len(stream), 97):
            client.dataReceived(stream[start : start + 97])
        settled = client.settle()
        self.assertEqual(settled.unique, SENDERS * SEQS)
        self.assertEqual(len(settled.latencies), SEQS)
        self.assertEqual(len(settled.cross_latencies), SEQS)
        self.assertEqual(settled.reordered, 0)
        wanted = [order_key(sender, seq) for seq in range(SEQS) for sender in (0, 1)]
        self.assertEqual(settled.order.tolist(), wanted)

    def test_lost_duplicated_and_reordered_found(self) -> None:
        """
        A message missing, one twice and two of one sender swapped are each
        found: one fewer unique delivery, one duplicate, one behind a later
        message of its sender; the duplicate is kept once in the order.
        """
        client = self.receiver(5)
        room = self.room()
        del room[20]  # sender 0, seq 10
        room.insert(30, room[30])  # a duplicate
        room[40], room[42] = room[42], room[40]  # sender 0: 21 before 20
        for record in room:
            client.dataReceived(record)
        settled = client.settle()
        self.assertEqual(settled.unique, SENDERS * SEQS - 1)
        self.assertEqual(settled.duplicated, 1)
        self.assertEqual(settled.reordered, 1)
        self.assertEqual(len(settled.order), SENDERS * SEQS - 1)

    def test_receivers_disagreeing_on_the_room_order(self) -> None:
        """
        Three receivers that got every message once: the one whose order puts
        a message of sender 1 before one of sender 0 that the others got
        first is out of order, once; a sender without its own messages is
        compared with the rest of the room's order and agrees.
        """
        room = [order_key(sender, seq) for seq in range(5) for sender in (0, 1)]
        swapped = list(room)
        swapped[4], swapped[5] = swapped[5], swapped[4]  # (1, 2) before (0, 2)
        orders = {
            2: array("q", room),
            3: array("q", swapped),
            1: array("q", [key for key in room if key >> 32 != 1]),
        }
        self.assertEqual(
            check_order(orders, senders=2),
            OrderCheck(reference=2, out_of_order=1, receivers=1, compared=3),
        )
        orders[3] = array("q", room)
        self.assertEqual(check_order(orders, senders=2).out_of_order, 0)

    def test_redis_commands_between_two_looks(self) -> None:
        """
        The commands Redis ran between two INFO commandstats, without the
        first INFO (counted once it has run) and without unchanged ones.
        """
        before = {"xadd": 10, "info": 3, "ping": 4}
        after = {"xadd": 30, "info": 4, "ping": 4, "xread": 7}
        self.assertEqual(calls_between(before, after), {"xadd": 20, "xread": 7})


class NodeLogTests(SynchronousTestCase):
    """A node's log is read in two parts: while it ran, and while it stopped."""

    def test_problems_while_running_apart_from_stopping(self) -> None:
        """
        Warning and error lines written before the mark (the stop's start),
        in a rotated part too, are the run's; those after it, the stop's.
        """
        folder = Path(self.mktemp())
        folder.mkdir()
        (folder / "server.log.1").write_bytes(b"t [x#error] rotated trouble\n")
        running = b"t [x#info] fine\nt [x#warn] while running\n"
        stopping = b"t [x#warn] while stopping\nt [-] Server Shut Down.\n"
        (folder / "server.log").write_bytes(running + stopping)
        report, late = split_log(folder, len(running))
        self.assertEqual(report.problems, 2)
        self.assertEqual(
            report.samples, ["t [x#error] rotated trouble", "t [x#warn] while running"]
        )
        self.assertTrue(report.shut_down)
        self.assertEqual(late, ["t [x#warn] while stopping"])
