"""The history benchmark still runs and proves every message reaches the disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "history_bench.py"


class HistoryBenchmarkSmokeTests(SynchronousTestCase):
    def test_small_run(self) -> None:
        done = subprocess.run(
            [
                sys.executable,
                str(BENCHMARK),
                "--messages",
                "3000",
                "--rooms",
                "3",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout.splitlines()[-1])
        self.assertEqual(result["on_disk"], "all 3000, in order")
        self.assertGreater(result["events_per_second"], 0)
        self.assertGreater(result["heartbeats"], 0)
