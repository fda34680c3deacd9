"""
The figures of a benchmark run against a server, and the one way they are printed.

C{fanout.py} and C{load.py} both end with a L{Figures}: what was delivered,
lost and duplicated, the rates (per second of wall time and per second of
server CPU time), the latencies, the time connecting took, the server's
memory, its history and its log, how busy each generator process was and the
verdict on which one was the limit. L{summarise} makes it from what
L{generators.measure} collected; L{rows} gives each figure's line of a
report, L{problems} what a report shouts about, L{report} lays them out. A
benchmark adds its own lines and its own fields beside them (its JSON is the
two, flat).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from generators import Measurement, span_seconds
from harness import (
    MIB,
    SECOND_NS,
    LogReport,
    NoProgress,
    server_ending_problems,
)

OURS = "twistedchat"  # the server of a run, when it is not a reference one
# A send phase's outcome as the processes report it, the worst first.
OUTCOMES = ("timed out", "drain timed out", "stalled")


@dataclass(frozen=True)
class Stopped:
    """What is known of a server once it has stopped: how, and what it left."""

    exit_code: int | None
    shut_down: bool  # cleanly (see Figures.server_shut_down)
    history: tuple[int, int] | None = None  # on disk, and twice; None: not checked
    log: LogReport | None = None  # None: not scanned


@dataclass
class Figures:
    server: str  # OURS, or a reference server's name and version
    outcome: str  # completed, or how the send phase ended short of it
    expected: int
    deliveries: int  # unique (sender, seq) arrivals at a receiver
    sent: int
    lost: int
    duplicated: int
    unexpected: int  # garbled, misattributed or unknown records
    dropped_connections: int
    unclosed_connections: int
    server_errors: list[str]
    wall_seconds: float  # first send to last delivery
    deliveries_per_second: float
    server_cpu_seconds: float
    server_cpu_share: float
    deliveries_per_server_cpu_second: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    connect_seconds: float
    connect_server_cpu_seconds: float
    connect_generator_cpu_seconds: list[float]
    server_rss_start_mib: float
    server_rss_connected_mib: float
    server_rss_mib: float  # after sending
    server_peak_rss_mib: float
    generator_cpu_seconds: list[float]  # each process's, over the send phase
    generator_cpu_shares: list[float]
    bottleneck: str  # a short verdict, a colon, why
    # Messages of this run found in the history file, and found twice; None:
    # not checked (a reference server keeps no history).
    history_on_disk: int | None
    history_duplicates: int | None
    # Our server's log; None: not scanned (a reference server's output).
    server_log_bytes: int | None
    server_log_problems: int | None
    server_log_samples: list[str]
    server_exit_code: int | None
    # Ours: the log ends with twistd's "Server Shut Down."; a reference
    # server: its exit status is the one it gives on SIGTERM.
    server_shut_down: bool

    @property
    def faultless(self) -> bool:
        return (
            self.outcome == "completed"
            and not (
                self.lost
                or self.duplicated
                or self.unexpected
                or self.dropped_connections
            )
            and self.history_on_disk in (None, self.sent)
            and not self.history_duplicates
        )


def percentile_ms(ordered: Sequence[int], fraction: float) -> float | None:
    """Nearest-rank percentile of nanosecond values, in milliseconds."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] / 1e6


def gathered(replies: Sequence[dict[str, Any]], key: str) -> list[int]:
    """The nanosecond values every process sent under C{key}, in order."""
    values = array("q")
    for reply in replies:
        values.frombytes(reply[key])
    return sorted(values)


def _total(replies: Sequence[dict[str, Any]], key: str) -> int:
    return sum(int(reply[key]) for reply in replies)


def _wall_seconds(send: Sequence[dict[str, Any]]) -> float:
    first = min(reply["first_send_ns"] for reply in send)
    last = max(reply["last_delivery_ns"] for reply in send)
    return max(0.0, (last - first) / SECOND_NS) if last else 0.0


Verdict = Callable[[float, Sequence[float]], str]  # server share, generators' shares


def summarise(
    measured: Measurement, stopped: Stopped, verdict: Verdict, server: str = OURS
) -> Figures:
    """The figures of a measured run; C{verdict} names its limit."""
    send, settled = measured.send, measured.settled
    wall = _wall_seconds(send)
    outcomes = {reply["outcome"] for reply in send}
    unique, expected = _total(settled, "unique"), _total(settled, "expected")
    latencies = gathered(settled, "latencies")
    generator_cpu = [reply["cpu_seconds"] for reply in send]
    generator_shares = [cpu / wall if wall > 0 else 0.0 for cpu in generator_cpu]
    server_cpu = measured.server_cpu_seconds
    server_share = server_cpu / wall if wall > 0 else 0.0
    return Figures(
        server=server,
        outcome=next((bad for bad in OUTCOMES if bad in outcomes), "completed"),
        expected=expected,
        deliveries=unique,
        sent=_total(send, "sent"),
        lost=expected - unique,
        duplicated=_total(settled, "duplicated"),
        unexpected=_total(settled, "unexpected"),
        dropped_connections=_total(measured.closed, "dropped"),
        unclosed_connections=_total(measured.closed, "unclosed"),
        server_errors=[text for reply in settled for text in reply["server_errors"]][
            :10
        ],
        wall_seconds=wall,
        deliveries_per_second=unique / wall if wall > 0 else 0.0,
        server_cpu_seconds=server_cpu,
        server_cpu_share=server_share,
        deliveries_per_server_cpu_second=unique / server_cpu if server_cpu else None,
        latency_p50_ms=percentile_ms(latencies, 0.50),
        latency_p99_ms=percentile_ms(latencies, 0.99),
        latency_max_ms=percentile_ms(latencies, 1.0),
        connect_seconds=span_seconds(measured.connected),
        connect_server_cpu_seconds=measured.connect_server_cpu_seconds,
        connect_generator_cpu_seconds=[r["cpu_seconds"] for r in measured.connected],
        server_rss_start_mib=measured.server_rss_start_mib,
        server_rss_connected_mib=measured.server_rss_connected_mib,
        server_rss_mib=measured.server_rss_mib,
        server_peak_rss_mib=measured.server_peak_rss_mib,
        generator_cpu_seconds=generator_cpu,
        generator_cpu_shares=generator_shares,
        bottleneck=verdict(server_share, generator_shares),
        **_left_behind(stopped),
    )


def _left_behind(stopped: Stopped) -> dict[str, Any]:
    """The figures of a stopped server: its history, its log, its exit."""
    on_disk, on_disk_twice = stopped.history or (None, None)
    log = stopped.log
    return {
        "history_on_disk": on_disk,
        "history_duplicates": on_disk_twice,
        "server_log_bytes": None if log is None else log.bytes,
        "server_log_problems": None if log is None else log.problems,
        "server_log_samples": [] if log is None else log.samples,
        "server_exit_code": stopped.exit_code,
        "server_shut_down": stopped.shut_down,
    }


def check_progress(label: str, figures: Figures) -> None:
    """A run that delivered nothing measured nothing: say so, with the server's log."""
    if figures.deliveries == 0:
        raise NoProgress(
            f"{label}: the send phase {figures.outcome} without a single delivery"
            + "".join(f"\n  server log: {line}" for line in figures.server_log_samples)
        )


def as_json(result: Any) -> dict[str, Any]:
    """A benchmark's result (its fields and C{figures}), as one flat object."""
    fields = asdict(result)
    return {**fields.pop("figures"), **fields}


# Printing


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _history(figures: Figures) -> str:
    if figures.history_on_disk is None:
        return "n/a (a reference server keeps none)"
    return f"{figures.history_on_disk:,} of {figures.sent:,} on disk" + (
        f", {figures.history_duplicates:,} twice" if figures.history_duplicates else ""
    )


def _server_log(figures: Figures) -> str:
    if figures.server_log_bytes is None:
        return "n/a (not ours)"
    return (
        f"{figures.server_log_bytes / MIB:.1f} MiB, "
        f"{figures.server_log_problems} warning/error lines"
    )


def rows(figures: Figures, clients: int, where: str) -> dict[str, str]:
    """Each figure's line of a report, by its label; C{where}: the clients' rooms."""
    f = figures
    shares = ", ".join(f"{share:.0%}" for share in f.generator_cpu_shares)
    return {
        "outcome": f.outcome,
        "deliveries": f"{f.deliveries:,} of {f.expected:,} expected",
        "wall": f"{f.wall_seconds:.3f} s (first send to last delivery)",
        "deliveries/s": f"{f.deliveries_per_second:,.0f} (wall)",
        "per server CPU-s": f"{count(f.deliveries_per_server_cpu_second)} deliveries"
        f" (server CPU {f.server_cpu_seconds:.2f} s = "
        f"{f.server_cpu_share:.0%} of one core)",
        "latency ms": f"p50 {ms(f.latency_p50_ms)}  p99 {ms(f.latency_p99_ms)}  "
        f"max {ms(f.latency_max_ms)}",
        "lost": f"{f.lost:,}",
        "duplicated": f"{f.duplicated:,}",
        "connect": f"{f.connect_seconds:.3f} s ({clients} clients connected and "
        f"{where}; CPU: server {f.connect_server_cpu_seconds:.2f} s, generators "
        f"{sum(f.connect_generator_cpu_seconds):.2f} s)",
        "server RSS": f"{f.server_rss_mib:.1f} MiB after sending (peak "
        f"{f.server_peak_rss_mib:.1f} MiB, {f.server_rss_connected_mib:.1f} MiB "
        f"before sending, {f.server_rss_start_mib:.1f} MiB at the start)",
        "history": _history(f),
        "generator CPU": f"{sum(f.generator_cpu_seconds):.2f} s; each process "
        f"{shares} of wall",
        "bottleneck": f.bottleneck,
        "server log": _server_log(f),
    }


def _server_ending(figures: Figures) -> list[str]:
    """What a report shouts about the way the server stopped."""
    if figures.server == OURS:
        return server_ending_problems(
            figures.server_exit_code,
            figures.server_shut_down,
            figures.server_log_samples,
        )
    if figures.server_shut_down:
        return []
    return [
        f"{figures.server} exited with status {figures.server_exit_code}, not the "
        "one it gives on SIGTERM"
    ]


def problems(figures: Figures) -> list[str]:
    """What a report shouts about, but for how the send phase ended."""
    f = figures
    loud = []
    if f.lost:
        loud.append(f"LOST {f.lost:,} of {f.expected:,} deliveries")
    if f.duplicated:
        loud.append(f"DUPLICATED {f.duplicated:,} deliveries")
    if f.unexpected:
        loud.append(f"{f.unexpected:,} garbled, misattributed or unknown records")
    if f.dropped_connections:
        loud.append(f"{f.dropped_connections} connections dropped during the run")
    on_disk = f.history_on_disk
    if on_disk is not None and on_disk != f.sent:
        loud.append(f"HISTORY MISSING {f.sent - on_disk:,} of {f.sent:,} messages")
    if f.unclosed_connections:
        loud.append(f"{f.unclosed_connections} connections did not close at the end")
    loud.extend(f"server error reply: {text}" for text in f.server_errors)
    loud.extend(_server_ending(f))
    return loud


def report(
    title: str,
    lines: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
    loud: Sequence[str] = (),
) -> str:
    """A report: its title, a line per figure (label, text), notes, then alarms."""
    return "\n".join(
        [
            title,
            *(f"  {label:<18} {text}" for label, text in lines),
            *(f"  note: {text}" for text in notes),
            *(f"!!! {text}" for text in loud),
        ]
    )
