"""
The live fuzz run, small: the script against a real server, judged from its JSON.

Runs C{benchmarks/live_fuzz.py} as a user would, with a few hundred inputs per
front, and checks what the full run promises: the chat between a line user and
an IRC user lost nothing, the server survived without a traceback and its
memory stayed bounded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from .processes import ROOT

INPUTS = 300
RSS_BOUND = 300 * 1024 * 1024


class LiveFuzzTests(SynchronousTestCase):
    def run_script(self) -> dict[str, Any]:
        finished = subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "live_fuzz.py"),
                "--inputs",
                str(INPUTS),
                "--seconds",
                "10",
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            report: dict[str, Any] = json.loads(finished.stdout)
        except ValueError:
            self.fail(f"no JSON report:\n{finished.stdout}\n{finished.stderr}")
        report["exit_status"] = finished.returncode
        return report

    def test_survives_fuzzing(self) -> None:
        """
        Every front takes its inputs, the chat loses nothing, the server lives on
        with a clean log and bounded memory, and the script says so.
        """
        report = self.run_script()
        details = json.dumps(report, indent=2)
        for front in ("line", "framed", "irc"):
            result = report["fronts"][front]
            self.assertTrue(
                result["inputs"] >= INPUTS or result["time_cap_reached"], details
            )
            self.assertGreater(result["inputs"], 0, details)
        self.assertEqual(report["lost"], 0, details)
        self.assertEqual(report["out_of_order"], 0, details)
        for entry in report["chat"].values():
            self.assertGreater(entry["received"], 0, details)
        self.assertTrue(report["server_alive"], details)
        self.assertEqual(report["tracebacks"], 0, details)
        self.assertIsNotNone(report["rss_after_bytes"], details)
        self.assertLess(report["rss_after_bytes"], RSS_BOUND, details)
        self.assertTrue(report["ok"], details)
        self.assertEqual(report["exit_status"], 0, details)
