"""
The counts of an irctest run, per selection, from its JUnit XML report.

usage: summary.py REPORT.xml [NAME=IDS_FILE | NAME=all]...

Each C{NAME=IDS_FILE} names a selection by the test ids pytest collected for
it (C{--collect-only -q}, one C{path::Class::test} per line) and prints its
line: C{NAME: 83 passed, 2 failed, 0 errors, 8 skipped (93 tests)}. Then the
failures and errors of the whole run, one per line, and its skips grouped by
reason. Exits 1 if anything failed or errored, or if the report is missing.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

OUTCOMES = ("passed", "failed", "errors", "skipped")


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """Test id -> (outcome, message) for every test case of C{report}."""
    found = {}
    for case in ElementTree.parse(report).iter("testcase"):
        *module, cls = case.get("classname", "").split(".")
        test_id = f"{'/'.join(module)}.py::{cls}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag, name in [
            ("failure", "failed"),
            ("error", "errors"),
            ("skipped", "skipped"),
        ]:
            element = case.find(tag)
            if element is not None:
                outcome, message = name, element.get("message", "")
                break
        found[test_id] = (outcome, message)
    return found


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__)
        return 2
    report = Path(arguments[0])
    if not report.exists():
        print(f"summary.py: no report {report}: the run did not finish")
        return 1
    results = outcomes(report)
    for selection in arguments[1:]:
        name, _, ids_file = selection.partition("=")
        if ids_file == "all":
            ids = list(results)
        else:
            ids = [line.strip() for line in Path(ids_file).read_text().splitlines()]
            ids = [test_id for test_id in ids if test_id]
        counts = Counter(results.get(test_id, ("not run", ""))[0] for test_id in ids)
        line = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES)
        if counts["not run"]:
            line += f", {counts['not run']} not in the run"
        print(f"irctest {name}: {line} ({len(ids)} tests)")
    bad = [
        (test_id, outcome, message)
        for test_id, (outcome, message) in results.items()
        if outcome in ("failed", "errors")
    ]
    for test_id, outcome, message in sorted(bad):
        print(f"  {outcome.upper()} {test_id}: {message[:200]}")
    skips = Counter(
        message for outcome, message in results.values() if outcome == "skipped"
    )
    if skips:
        print("  skipped, by reason:")
        for message, count in skips.most_common():
            print(f"    {count:4d}  {message[:160]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
