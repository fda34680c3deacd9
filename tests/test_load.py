"""
Smoke test of the load benchmark (benchmarks/load.py) at a CI size.

The benchmark runs the global reactor and starts the real server, so it runs
here as a subprocess (a reactor cannot be restarted within one process); its
last line of output is its result as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "load.py"
TIMEOUT = 120  # seconds: the run itself takes about seven


class LoadBenchmarkTests(SynchronousTestCase):
    def test_every_message_reaches_its_room_once_and_in_order(self) -> None:
        """
        Sixty clients in three rooms chat for five seconds: every message
        reaches the other nineteen members of its room once, in order, and the
        report says so.
        """
        done = subprocess.run(
            [
                sys.executable,
                str(BENCHMARK),
                "--clients",
                "60",
                "--rooms",
                "3",
                "--seconds",
                "5",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        lines = done.stdout.splitlines()
        self.assertTrue(lines, done.stderr)
        result = json.loads(lines[-1])
        self.assertEqual(result["outcome"], "completed", done.stdout)
        self.assertGreater(result["messages_sent"], 0)
        self.assertEqual(result["expected"], result["messages_sent"] * 19)
        self.assertEqual(result["deliveries"], result["expected"])
        self.assertEqual(result["lost"], 0)
        self.assertEqual(result["duplicated"], 0)
        self.assertEqual(result["out_of_order"], 0)
        self.assertEqual(result["unexpected"], 0)
        self.assertEqual(result["dropped_connections"], 0)
        self.assertEqual(result["server_log_problems"], 0, result["server_log_samples"])
        self.assertTrue(result["server_shut_down"])
        self.assertIsNotNone(result["latency_p99_ms"])
        self.assertGreater(result["server_peak_rss_mib"], 0)
        self.assertNotIn("!!!", done.stdout)

    def test_too_few_clients_for_the_rooms_is_a_usage_error(self) -> None:
        """Rooms need two members each; fewer clients are refused before starting."""
        done = subprocess.run(
            [sys.executable, str(BENCHMARK), "--clients", "5", "--rooms", "3"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("need at least 2 clients per room", done.stderr)
