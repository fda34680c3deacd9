"""
History benchmark: how fast the writer appends, and how long it stalls the reactor.

What it measures: N room messages spread over R rooms are handed to the real
L{HistoryWriter} (its own writer thread, the real reactor, a temporary folder),
as fast as the reactor can feed them, in slices of C{--slice} messages per
reactor turn. It reports:

 - appended events per second: N divided by the time from the first
   C{record()} to the moment the last batch is on disk (C{stopService} fired),
   and per CPU-second of the whole process;
 - the longest reactor stall while writing: a C{LoopingCall} heartbeat every
   millisecond notes how late each beat runs; the worst lateness is the longest
   time the reactor thread could not run (feeding included, so it is an upper
   bound for what the writer costs the reactor);
 - that every message is on disk, in order, once.

Usage: C{python benchmarks/history_bench.py [--messages 100000] [--rooms 10]}.
Targets (issue 4): at least 100,000 events/s and no stall over 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twisted.internet import task  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402

from twistedchat.core.events import Message, User  # noqa: E402
from twistedchat.persistence import FSYNC_POLICIES, HistoryWriter, file_name  # noqa: E402

HEARTBEAT = 0.001


def beat(lateness: list[float], last: list[float]) -> None:
    """A heartbeat: how late it runs goes to C{lateness}; C{last}: the last one's time."""
    now = time.perf_counter()
    lateness.append(now - last[0] - HEARTBEAT)
    last[0] = now


def run(
    reactor: Any,
    messages: int,
    rooms: int,
    slice_size: int,
    fsync: str,
    folder: str,
) -> dict[str, Any]:
    writer = HistoryWriter(folder, reactor, fsync=fsync)  # type: ignore[arg-type]
    writer.startService()
    user = User("bench", "bench", 33)
    names = [f"room{n}" for n in range(rooms)]
    lateness: list[float] = []
    heartbeat = task.LoopingCall(beat, lateness, [time.perf_counter()])
    done: Deferred[dict[str, Any]] = Deferred()
    started: dict[str, float] = {}

    def feed(start: int) -> None:
        if start == 0:
            started["wall"] = time.perf_counter()
            started["cpu"] = time.process_time()
        # Events are made as they come, as the server makes them per message.
        for n in range(start, min(start + slice_size, messages)):
            text = f"message number {n}"
            writer.record(
                Message(1_700_000_000 + n / 1000, names[n % rooms], user, text)
            )
        if start + slice_size < messages:
            reactor.callLater(0, feed, start + slice_size)
        else:
            writer.stopService().addCallback(finished)

    def finished(_: object) -> None:
        wall = time.perf_counter() - started["wall"]
        cpu = time.process_time() - started["cpu"]
        heartbeat.stop()
        result = figures(messages, wall, cpu, lateness)
        result.update(
            rooms=rooms, fsync=fsync, on_disk=count_on_disk(folder, rooms, messages)
        )
        done.callback(result)

    heartbeat.start(HEARTBEAT, now=False)
    reactor.callLater(0.05, feed, 0)  # let the heartbeat settle first
    return {"deferred": done}


def figures(
    messages: int, wall: float, cpu: float, lateness: list[float]
) -> dict[str, Any]:
    """Rates and stalls of a run: C{lateness}, how late each heartbeat ran."""
    return {
        "messages": messages,
        "seconds": wall,
        "events_per_second": messages / wall,
        "events_per_cpu_second": messages / cpu if cpu else float("inf"),
        "longest_stall_ms": max(lateness) * 1000 if lateness else 0.0,
        "p99_stall_ms": sorted(lateness)[int(len(lateness) * 0.99)] * 1000
        if lateness
        else 0.0,
        "heartbeats": len(lateness),
    }


def count_on_disk(folder: str, rooms: int, messages: int) -> str:
    """'all N, in order' or what is wrong."""
    found = 0
    for room in range(rooms):
        with open(
            os.path.join(folder, file_name(f"room{room}")), encoding="utf-8"
        ) as file:
            texts = [json.loads(line)["text"] for line in file]
        expected = [f"message number {n}" for n in range(room, messages, rooms)]
        if texts != expected:
            return f"room{room}: {len(texts)} lines, not the {len(expected)} expected in order"
        found += len(texts)
    return f"all {found}, in order"


def report(result: dict[str, Any]) -> str:
    return (
        f"history: {result['messages']:,} messages over {result['rooms']} rooms, "
        f"fsync={result['fsync']}\n"
        f"  appended          {result['events_per_second']:,.0f} events/s "
        f"({result['seconds']:.3f} s, first record to on disk)\n"
        f"  per CPU-second    {result['events_per_cpu_second']:,.0f} events\n"
        f"  reactor stall     longest {result['longest_stall_ms']:.2f} ms, "
        f"p99 {result['p99_stall_ms']:.2f} ms ({result['heartbeats']} heartbeats of 1 ms)\n"
        f"  on disk           {result['on_disk']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument(
        "--slice", type=int, default=200, help="messages per reactor turn"
    )
    parser.add_argument("--fsync", choices=FSYNC_POLICIES, default="interval")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    arguments = parser.parse_args(argv)

    from twisted.internet import reactor

    folder = tempfile.mkdtemp(prefix="history-bench-")
    result: dict[str, Any] = {}
    try:
        pending = run(
            reactor,
            arguments.messages,
            arguments.rooms,
            arguments.slice,
            arguments.fsync,
            folder,
        )["deferred"]

        def keep(value: dict[str, Any]) -> None:
            result.update(value)
            reactor.stop()

        def fail(failure: Any) -> None:
            result["error"] = failure.getTraceback()
            reactor.stop()

        pending.addCallbacks(keep, fail)
        reactor.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if "error" in result:
        print(result["error"], file=sys.stderr)
        return 1
    if arguments.json:
        print(json.dumps(result))
    else:
        print(report(result))
    return 0 if result["on_disk"].startswith("all") else 1


if __name__ == "__main__":
    sys.exit(main())
