"""
Smoke test of the fan-out benchmark (benchmarks/fanout.py) at a tiny size.

The benchmark runs the global reactor and starts the real server, so it runs
here as a subprocess (a reactor cannot be restarted within one process); its
last line of output is its result as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "fanout.py"
TIMEOUT = 120  # seconds: the run itself takes about one


class FanoutBenchmarkTests(SynchronousTestCase):
    def run_benchmark(self, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
        done = subprocess.run(
            [sys.executable, str(BENCHMARK), *args, "--timeout", "30", "--json"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        lines = done.stdout.splitlines()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertTrue(lines, done.stderr)
        return done, json.loads(lines[-1])

    def test_every_message_reaches_every_other_client_once(self) -> None:
        """
        Five clients, two senders, twenty messages each: each message reaches
        the four other clients exactly once, and the report says so.
        """
        done, result = self.run_benchmark(
            "--clients", "5", "--senders", "2", "--messages", "20"
        )
        self.assertEqual(result["outcome"], "completed", done.stdout)
        self.assertEqual(result["deliveries"], 2 * 20 * 4)
        self.assertEqual(result["expected"], 2 * 20 * 4)
        self.assertEqual(result["lost"], 0)
        self.assertEqual(result["duplicated"], 0)
        self.assertEqual(result["unexpected"], 0)
        self.assertEqual(result["dropped_connections"], 0)
        self.assertEqual(result["server_log_problems"], 0, result["server_log_samples"])
        self.assertTrue(result["server_shut_down"])
        self.assertIsNotNone(result["latency_p50_ms"])
        self.assertIn("deliveries         160 of 160 expected", done.stdout)
        self.assertNotIn("!!!", done.stdout)

    def test_server_that_cannot_start_is_an_error(self) -> None:
        """A bad server option ends the run with a non-zero status and the reason."""
        done = subprocess.run(
            [
                sys.executable,
                str(BENCHMARK),
                "--clients",
                "2",
                "--messages",
                "1",
                "--senders",
                "1",
                "--timeout",
                "30",
                "--server-args=--max-line nonsense",
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("server exited", done.stderr)
        self.assertIn("not a positive whole number", done.stderr)
