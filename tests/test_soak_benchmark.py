"""
The soak benchmark (benchmarks/soak.py): a tiny run, with churn faster than
the default so that every kind of change happens, against the real server.

The benchmark runs reactors and starts the real server, so it runs here as a
subprocess; its last line of output is its result as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "soak.py"
TINY = [*("--clients", "60", "--rooms", "4"), *("--seconds", "8", "--interval", "1")]
TINY += ["--churn", "3"]
TIMEOUT = 120  # seconds: the run takes about 12


class SoakBenchmarkTests(SynchronousTestCase):
    def test_well_behaved_members_get_everything_despite_the_others(self) -> None:
        """
        60 clients in 4 rooms for 8 seconds, each member talking every second
        and changing something every 3 (moving, joining, parting, renaming,
        reconnecting), slow readers and the three hostile clients alongside:
        every message reaches every well-behaved member it is owed to, once;
        after the SIGTERM every accepted message is on disk; the server logs
        no error and shuts down cleanly; exit status 0.
        """
        done = subprocess.run(
            [sys.executable, str(BENCHMARK), *TINY, "--json"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        result = json.loads(done.stdout.splitlines()[-1])
        self.assertTrue(result["faultless"], done.stdout)
        self.assertEqual(result["outcome"], "completed")
        self.assertGreater(result["expected"], 1000)
        self.assertEqual(result["deliveries"], result["expected"])
        for fault in ("lost", "duplicated", "unexpected", "dropped_connections"):
            self.assertEqual(result[fault], 0, fault)
        self.assertEqual(result["server_errors"], [])
        self.assertEqual(result["server_log_problems"], 0)
        self.assertTrue(result["server_shut_down"])
        self.assertGreater(result["accepted"], result["sent"])  # the flooder's too
        self.assertEqual(result["on_disk"], result["accepted"])
        self.assertEqual(result["rooms_differing"], {})
        churn = result["churn"]
        for change in ("moves", "joins", "parts", "renames", "reconnects"):
            self.assertGreater(churn[change], 0, change)
        self.assertEqual(churn["failed changes"], 0)
        hostile = result["disruptors"]
        self.assertGreater(hostile["flooder (line)"]["flood notices"], 0)
        self.assertGreater(hostile["lister (IRC)"]["channels listed"], 0)
        self.assertGreater(hostile["fuzzer (framed)"]["closed by the server"], 0)
