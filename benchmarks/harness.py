"""
What the benchmarks share: the real server under test and the means to watch it.

The server is C{twistd -n twistedchat} from the same bin directory as this
Python, running the source tree these scripts sit in (on C{PYTHONPATH}, via
L{tests.processes}), not a possibly stale installed copy. It listens on
127.0.0.1, every front on port 0, in a directory of its own (so its data,
history included, lands in C{./twistedchat-data} there), and keeps its normal
logging, but to a file, so that a terminal never throttles it; each front's
port is read from that log. Around it: its CPU time and memory from C{/proc},
the lines of its log worth a look, what its history file holds once it has
stopped, and running the reactor until a piece of work ends. Linux only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent  # the source tree under test
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twisted.internet import defer  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402

from tests.processes import (  # noqa: E402
    FRONTS,
    LISTENING,
    TWISTD,
    server_command,
    server_environment,
)
from twistedchat.core.history import HistoryEntry  # noqa: E402
from twistedchat.persistence import file_name  # noqa: E402

HOST = "127.0.0.1"
# Lines in the server's log that deserve a look (twistd writes [namespace#level]).
LOG_PROBLEM = re.compile(rb"#(?:warn|error|critical)\]|Traceback|Unhandled")
SECOND_NS = 1_000_000_000
MIB = 1024 * 1024
SATURATED = 0.9  # CPU time / wall time at or above this: that process was busy
DATA_DIR = "twistedchat-data"  # the server's default, relative to its directory

T = TypeVar("T")


class BenchmarkFailed(Exception):
    """The benchmark could not run (server did not start, clients not connected...)."""


class NoProgress(BenchmarkFailed):
    """The measured phase ended without a single delivery."""


# The server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]  # front name ("line", "framed", "irc") -> port

    @property
    def port(self) -> int:
        """The line front's port."""
        return self.ports["line"]


def twistd_command(log_path: Path, server_args: Sequence[str]) -> list[str]:
    if not Path(TWISTD).exists():
        raise BenchmarkFailed(f"no twistd next to {sys.executable}")
    # The benchmarks flood on purpose, from one address.
    return server_command(
        *("--flood-rate", "0", "--max-per-address", "0"),
        *server_args,
        log_file=log_path,
    )


@contextmanager
def running_server(
    directory: Path, server_args: Sequence[str], timeout: float
) -> Iterator[Server]:
    """Run the server in C{directory} until the block ends, whatever happens."""
    log_path = directory / "server.log"
    output_path = directory / "server.out"
    command = twistd_command(log_path, server_args)
    with output_path.open("wb") as output:
        # A session of its own: Ctrl+C reaches only us, and we stop the server.
        process = subprocess.Popen(
            command,
            cwd=directory,
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ports = await_ports(process, log_path, output_path, timeout)
        yield Server(process, ports)
    finally:
        stop_server(process, timeout)


@contextmanager
def run_directory(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary directory for a server's run; removed at the end unless C{keep}."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield directory
    finally:
        if keep:
            print(f"server directory kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def await_ports(
    process: subprocess.Popen[bytes], log_path: Path, output_path: Path, timeout: float
) -> dict[str, int]:
    """Each front's port, as the server announces it in its log; blocks."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(LISTENING)
    while time.monotonic() < deadline:
        if log_path.exists():
            text = log_path.read_text("utf-8", "replace")
            ports = {m.group(1): int(m.group(3)) for m in pattern.finditer(text)}
            if all(front in ports for front in FRONTS):
                return ports
        if process.poll() is not None:
            raise BenchmarkFailed(
                f"server exited with status {process.returncode} before listening:\n"
                + log_tail(output_path)
                + log_tail(log_path)
            )
        time.sleep(0.02)
    raise BenchmarkFailed(
        f"server not listening after {timeout:g} s:\n" + log_tail(log_path)
    )


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a server's log or output, indented, for an error message."""
    if not path.exists():
        return ""
    text = path.read_text("utf-8", "replace").splitlines()[-lines:]
    return "".join(f"  | {line}\n" for line in text)


def stop_server(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (the server drains its history and says so), then wait."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_cpu_seconds(pid: int) -> float:
    """
    The CPU time of C{pid}, all its threads: from its CPU-time clock (to the
    nanosecond), else utime + stime (fields 14 and 15 of /proc/<pid>/stat, in
    clock ticks: 10 ms, too coarse for a send phase of a fraction of a second).
    """
    # Linux's clock id for a process's CPU time: MAKE_PROCESS_CPUCLOCK(pid, SCHED).
    with suppress(OSError):
        return time.clock_gettime(((~pid) << 3) | 2)
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields are counted after the command name, which may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_memory_mib(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory (VmRSS, VmHWM) of C{pid}, in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / MIB
    return values.get("VmRSS", math.nan), values.get("VmHWM", math.nan)


def raise_file_limit(needed: int) -> int:
    """
    Raise this process's soft descriptor limit to the hard limit; return it.

    Processes started afterwards inherit it: the server holds as many sockets
    as the load generators.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise BenchmarkFailed(
            f"this run needs {needed} file descriptors; the hard limit is "
            f"{hard} (raise it with ulimit -Hn)"
        )
    return soft


@dataclass
class LogReport:
    bytes: int
    problems: int
    samples: list[str]
    shut_down: bool


def scan_log(directory: Path, problem: re.Pattern[bytes] = LOG_PROBLEM) -> LogReport:
    """
    Size of the server's log (rotated parts included) and lines worth a look:
    those C{problem} matches.
    """
    size, problems = 0, 0
    samples: list[str] = []
    paths = [*sorted(directory.glob("server.log*")), directory / "server.out"]
    for path in paths:
        if not path.exists():
            continue
        data = path.read_bytes()
        size += len(data)
        for line in data.splitlines():
            if problem.search(line):
                problems += 1
                if len(samples) < 5:
                    samples.append(line.decode("utf-8", "replace")[:300])
    log = directory / "server.log"
    shut_down = log.exists() and log.read_bytes().rstrip().endswith(
        b"Server Shut Down."
    )
    return LogReport(size, problems, samples, shut_down)


def server_ending_problems(
    exit_code: int | None, shut_down: bool, log_samples: Sequence[str]
) -> list[str]:
    """What a report shouts about the server itself: its exit, its log."""
    problems = []
    # twistd stopped by SIGTERM shuts down cleanly, then exits by that signal.
    if exit_code not in (0, -signal.SIGTERM) or not shut_down:
        problems.append(
            f"server exited with status {exit_code}, "
            + ("after" if shut_down else "WITHOUT")
            + " a clean shutdown"
        )
    problems.extend(f"server log: {line}" for line in log_samples)
    return problems


def data_directory(directory: Path, server_args: Sequence[str]) -> Path:
    """The server's data folder: its C{--data-dir}, else the default."""
    found = DATA_DIR
    for index, argument in enumerate(server_args):
        if argument == "--data-dir" and index + 1 < len(server_args):
            found = server_args[index + 1]
        elif argument.startswith("--data-dir="):
            found = argument.partition("=")[2]
    return directory / found  # an absolute path stays as it is


def history_texts(data_dir: Path, room: str) -> list[str]:
    """
    The text of every entry of C{room}'s history file and its rotated parts,
    oldest part first; read once the server has stopped (it writes everything
    still queued on SIGTERM).
    """
    path = data_dir / "history" / file_name(room)
    parts = sorted(
        path.parent.glob(path.name + ".*"),
        key=lambda part: int(part.suffix[1:]) if part.suffix[1:].isdigit() else 0,
        reverse=True,
    )
    texts = []
    for part in [*parts, path]:
        if not part.exists():
            continue
        for line in part.read_text("utf-8", "replace").splitlines():
            try:
                texts.append(str(json.loads(line)["text"]))
            except (ValueError, KeyError, TypeError):
                texts.append("")  # counted as not ours
    return texts


# A server's messages: accepted, as its log says, and kept, as its history says

# Logged with --log-messages yes for every room message the server accepted,
# once it is in the history's queue; likewise for every picture.
ACCEPTED = re.compile(
    rb"(?m)^[^\n]*?#info\] (?:message|image) from \S+ in (\S+) (?:relayed to|\()"
)


def accepted_in_log(directory: Path) -> Counter[str]:
    """
    Messages and pictures the server in C{directory} accepted, by room, as its
    log says (run with C{--log-messages yes}; rotated parts included).
    """
    accepted: Counter[str] = Counter()
    for path in directory.glob("server.log*"):
        for match in ACCEPTED.finditer(path.read_bytes()):
            accepted[match.group(1).decode("utf-8", "replace")] += 1
    return accepted


@dataclass
class HistoryOnDisk:
    """Every entry of every room's history files, once the server has stopped."""

    by_room: Counter[str]
    entries: int
    distinct: int  # entries with distinct ids: fewer means some are there twice
    unreadable: int  # lines that are no entry


def history_on_disk(data_dir: Path) -> HistoryOnDisk:
    """What the history files under C{data_dir} hold, rotated parts included."""
    by_room: Counter[str] = Counter()
    ids: set[str] = set()
    unreadable = 0
    folder = data_dir / "history"
    paths = sorted(folder.iterdir()) if folder.is_dir() else []
    for path in paths:
        for line in path.read_text("utf-8", "replace").splitlines():
            try:
                entry = HistoryEntry.from_json(line)
            except ValueError:
                unreadable += 1
                continue
            by_room[entry.room] += 1
            ids.add(entry.id)
    return HistoryOnDisk(by_room, sum(by_room.values()), len(ids), unreadable)


# Watching the server over time


@contextmanager
def sampled(pid: int, every: float) -> Iterator[list[tuple[float, float, float]]]:
    """
    While the block runs, the server C{pid}'s resident memory (MiB) and CPU
    time (seconds) every C{every} seconds, from a thread: (seconds since the
    block began, RSS, CPU), from the block's start to its end.
    """
    samples: list[tuple[float, float, float]] = []
    stop = threading.Event()
    start = time.monotonic()

    def sample_now() -> None:
        with suppress(OSError):  # the server has gone
            rss = server_memory_mib(pid)[0]
            samples.append((time.monotonic() - start, rss, server_cpu_seconds(pid)))

    def sample() -> None:
        while True:
            sample_now()
            if stop.wait(every):
                return

    sampler = threading.Thread(target=sample, name="server-sampler", daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join()
        sample_now()  # the block's end


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute; None under 2."""
    if len(points) < 2:
        return None
    count = len(points)
    mean_t = sum(t for t, _ in points) / count
    mean_v = sum(v for _, v in points) / count
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return None
    covariance = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return covariance / spread * 60


# The reactor


async def within(reactor: Any, seconds: float, what: str, work: Deferred[T]) -> T:
    timed_out = BenchmarkFailed(f"{what}: not done after {seconds:g} s")
    try:
        return await work.addTimeout(seconds, reactor)
    except defer.TimeoutError:
        raise timed_out from None
    except defer.FirstError as e:  # one client failed, or the timeout cancelled all
        if e.subFailure.check(defer.CancelledError):
            raise timed_out from None
        if e.subFailure.check(BenchmarkFailed):
            e.subFailure.raiseException()
        raise BenchmarkFailed(f"{what}: {e.subFailure.getErrorMessage()}") from None


def drive(reactor: Any, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """
    Run the reactor until C{work} ends; return its result or raise its error.

    If the reactor is stopped from outside (Ctrl+C), raise KeyboardInterrupt,
    whatever C{work} made of its connections being closed meanwhile.
    """
    outcome: list[T | Failure] = []
    interrupted: list[bool] = []

    def start() -> None:
        done = Deferred.fromCoroutine(work())
        done.addBoth(outcome.append)
        done.addBoth(stop)

    def stop(_: object) -> None:
        if not interrupted:  # else the reactor is already shutting down
            reactor.stop()

    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: interrupted.append(not outcome)
    )
    reactor.callWhenRunning(start)
    reactor.run()
    if not outcome or interrupted[:1] == [True]:
        raise KeyboardInterrupt("the reactor stopped before the benchmark ended")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


# The command line


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark of the real server takes."""
    parser.add_argument(
        "--server-args",
        default="",
        help='extra twistedchat options, one string: --server-args="--max-line 8192"',
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the server's directory"
    )


def guarded(name: str, work: Callable[[], T]) -> T | int:
    """
    C{work()}, or the exit status of its failure, said on stderr: 2 when
    nothing was delivered, 1 when the benchmark could not run, 130 on Ctrl+C.
    """
    try:
        return work()
    except NoProgress as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    except BenchmarkFailed as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
