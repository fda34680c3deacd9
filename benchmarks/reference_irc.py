"""
Reference IRC servers for the fan-out benchmark: ngIRCd and InspIRCd, the C
and C++ servers Debian installs, run on this machine as a yardstick.

A shared machine's figures drift by up to 2x from one hour to the next, so our
IRC front's figures mean more as ratios to a mature server's, measured minutes
apart with the same clients and plan. A L{ReferenceServer} writes a
configuration of its own into the run's directory: 127.0.0.1 on a free port,
no DNS or ident lookups, no flood throttling (the benchmark floods on purpose,
from one address), connection and queue limits above what the plan needs. It
runs the installed binary in the foreground, in a session of its own, until
its port accepts connections, and is stopped with SIGTERM (then killed) by
L{harness.stop_server}. Neither server has a setting for TCP_NODELAY, which
our server sets: they run with Nagle's algorithm on, and their notes say so.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import textwrap
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import HOST, BenchmarkFailed, Server, log_tail, stop_server

# Debian installs both daemons in /usr/sbin, which a user's PATH may lack.
SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", os.defpath), "/usr/sbin", "/usr/local/sbin"]
)
PORT_ATTEMPTS = 3  # a free port may be taken by someone else before the server binds
SPARE_CONNECTIONS = 100  # beyond the plan's: the probe of the port, a margin
OUTPUT = "server.out"  # the server's stdout and stderr, in the run's directory


class ReferenceServer(ABC):
    """An installed IRC server: its configuration, its command line."""

    name: str  # as given to --against, and the binary's name
    title: str  # as the project writes it
    config_file: str
    clean_exits: frozenset[int]  # its exit status when stopped by SIGTERM
    tuning: tuple[str, ...]  # what its configuration changes, for the report
    # Idle connections registering at once, per generator process; None: the
    # benchmark's default.
    idle_concurrency: int | None = None
    # The most connections it leaves waiting to be accepted, if it has a small
    # listen backlog of its own; None: the kernel's (net.core.somaxconn).
    backlog: int | None = None

    @abstractmethod
    def config(self, directory: Path, port: int, connections: int) -> str:
        """Its configuration for a run in C{directory}: the text of the file."""

    @abstractmethod
    def arguments(self, config: Path) -> list[str]:
        """Its command line after the binary: in the foreground, with C{config}."""

    def binary(self) -> str | None:
        """Where it is installed, or None."""
        return shutil.which(self.name, path=SEARCH_PATH)

    def installed_binary(self) -> str:
        binary = self.binary()
        if binary is None:
            raise BenchmarkFailed(
                f"{self.name} is not installed (not in PATH, /usr/sbin or "
                f"/usr/local/sbin; on Debian: apt install {self.name})"
            )
        return binary

    def version(self) -> str:
        """Its title and version as C{--version} gives them: C{ngIRCd 26.1}."""
        done = subprocess.run(
            [self.installed_binary(), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        found = re.search(r"\d+(?:\.\d+)+", done.stdout + done.stderr)
        return f"{self.title} {found.group()}" if found else self.title

    def notes(self) -> list[str]:
        """How it ran, for the report."""
        return [
            *self.tuning,
            f"Nagle's algorithm on: {self.title} has no TCP_NODELAY setting (our "
            "server sets it), so a small write can wait for the client's delayed "
            "ACK of the one before (up to 40 ms)",
        ]


class Ngircd(ReferenceServer):
    """ngIRCd (C): one process, one poll loop."""

    name = "ngircd"
    title = "ngIRCd"
    config_file = "ngircd.conf"
    clean_exits = frozenset({0})
    backlog = 10  # its listen(2) backlog, compiled in
    tuning = (
        "ngIRCd: penalty delays off (MaxPenaltyTime = 0), no connection limits, "
        "no DNS or ident lookups; it still reads at most 3 commands of a client "
        "per pass of its loop (built in)",
        "ngIRCd listens with a backlog of 10 (built in): clients connect at most "
        "10 at a time, or the kernel drops their attempts",
    )

    def config(self, directory: Path, port: int, connections: int) -> str:
        # Left to its default, IncludeDir would read the machine's snippets.
        includes = directory / "ngircd.conf.d"
        includes.mkdir(exist_ok=True)
        return textwrap.dedent(
            f"""\
            [Global]
            Name = fanout.ngircd
            Info = fan-out benchmark reference
            AdminInfo1 = fan-out benchmark
            AdminEMail = root@localhost
            Listen = {HOST}
            Ports = {port}
            MotdPhrase = fan-out benchmark

            [Limits]
            MaxConnections = 0
            MaxConnectionsIP = 0
            MaxJoins = 0
            ; Each command a client sends would otherwise delay its next ones.
            MaxPenaltyTime = 0

            [Options]
            DNS = no
            Ident = no
            PAM = no
            IncludeDir = {includes}
            """
        )

    def arguments(self, config: Path) -> list[str]:
        return ["--nodaemon", "--config", str(config)]


class Inspircd(ReferenceServer):
    """InspIRCd 3 (C++): one process, an epoll loop, core modules only."""

    name = "inspircd"
    title = "InspIRCd"
    config_file = "inspircd.conf"
    clean_exits = frozenset({10})  # its EXIT_STATUS_SIGTERM
    tuning = (
        "InspIRCd: flood limits out of reach (threshold 1,000,000 commands, "
        "commandrate 1,000,000 a second, softsendq 16 MiB), no DNS or ident "
        "lookups, connection limits above the plan's",
        "InspIRCd completes a registration on its once-a-second pass: connecting "
        "includes that wait",
    )
    # Registrations complete once a second, however few are under way.
    idle_concurrency = 1000

    def config(self, directory: Path, port: int, connections: int) -> str:
        limit = connections + SPARE_CONNECTIONS
        # threshold counts commands (x 1000 inside, in 32 bits) and commandrate
        # millicommands a second: neither can be reached by a benchmark client.
        # softsendq: a client whose send queue passes it has its commands held.
        return textwrap.dedent(
            f"""\
            <server name="fanout.inspircd" description="fan-out benchmark reference"
                    network="fanout">
            <admin name="fan-out benchmark" nick="fanout" email="root@localhost">
            <bind address="{HOST}" port="{port}" type="clients">
            <connect name="benchmark" allow="*"
                     localmax="{limit}" globalmax="{limit}" limit="{limit}"
                     threshold="1000000" commandrate="1000000000" fakelag="no"
                     softsendq="16M" hardsendq="64M" recvq="1M"
                     resolvehostnames="no" useident="no">
            <performance softlimit="{limit}">
            <pid file="{directory / "inspircd.pid"}">
            <log method="file" type="* -USERINPUT -USEROUTPUT" level="default"
                 target="{directory / "ircd.log"}">
            """
        )

    def arguments(self, config: Path) -> list[str]:
        # It refuses to run as root unless told it may.
        as_root = ["--runasroot"] if os.geteuid() == 0 else []
        return ["--nofork", *as_root, f"--config={config}"]


REFERENCES: dict[str, ReferenceServer] = {
    server.name: server for server in (Ngircd(), Inspircd())
}


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on, as the kernel picks one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """
    Wait until C{port} accepts connections (True) or the server exits first
    (False); blocks.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.02)
    raise BenchmarkFailed(f"server not listening on port {port} after {timeout:g} s")


def start(
    reference: ReferenceServer, directory: Path, connections: int, timeout: float
) -> tuple[subprocess.Popen[bytes], int]:
    """Start C{reference} on a free port, trying another if it exits first."""
    binary = reference.installed_binary()
    output_path = directory / OUTPUT
    config = directory / reference.config_file
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        config.write_text(reference.config(directory, port, connections))
        with output_path.open("wb") as output:
            # A session of its own: Ctrl+C reaches only us, and we stop it.
            process = subprocess.Popen(
                [binary, *reference.arguments(config)],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if listening(process, port, timeout):
                return process, port
        except BaseException:
            stop_server(process, timeout)
            raise
    raise BenchmarkFailed(
        f"{reference.title} exited with status {process.returncode} before "
        f"listening ({PORT_ATTEMPTS} tries):\n" + log_tail(output_path)
    )


@contextmanager
def running_reference(
    reference: ReferenceServer, directory: Path, connections: int, timeout: float
) -> Iterator[Server]:
    """
    Run C{reference} in C{directory}, ready for C{connections} clients, until
    the block ends, whatever happens; its IRC port is the server's C{irc} port.
    """
    process, port = start(reference, directory, connections, timeout)
    try:
        yield Server(process, {"irc": port})
    finally:
        stop_server(process, timeout)
