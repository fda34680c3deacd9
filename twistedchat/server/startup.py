"""
What can keep the server from doing its job, checked before it runs.

A front that cannot listen, a data folder that cannot be used or that another
server is using, an unusable identity key: each is a L{StartupError} whose
text is the one line the operator reads (C{twistedchat: cannot listen on
tcp:7777 for the line front: address already in use}), and the process stops
with a non-zero status, nothing left half running.

All of it happens in C{makeService}, that is before twistd forks into a
daemon: the failure reaches the terminal that started it, in C{-n} mode and in
daemon mode alike (twistd's own report of a daemon's start-up error is a
truncated C{repr} after the fork). The sockets and the data folder's lock
belong to open files, which the daemon inherits.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import sys
from typing import Any, NoReturn

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import Service
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

LOCK_FILE = "server.lock"

log = Logger()


class StartupError(Exception):
    """The server cannot start; C{str()} is the one line that says what and why."""


def refuse(line: str) -> NoReturn:
    """Stop the start-up: C{line} on standard error, and a non-zero exit."""
    sys.stderr.write(f"twistedchat: {line}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def reason(error: BaseException | None) -> str:
    """An OS error as a person reads it: C{address already in use}."""
    if isinstance(error, CannotListenError) and error.socketError is not None:
        error = error.socketError
    if isinstance(error, OSError) and error.errno is not None:
        text = os.strerror(error.errno)
    else:
        text = str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def shown_endpoint(description: str) -> str:
    """An endpoint as the operator knows it: without the backlog we add."""
    return re.sub(r":backlog=\d+$", "", description)


class FrontListener(StreamServerEndpointService):
    """
    A front's listening port, opened by L{listen_now} while the server starts
    (before twistd forks), so that a failure stops the start-up.
    """

    def __init__(
        self,
        front: str,
        description: str,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
        reactor: Any,
    ) -> None:
        super().__init__(endpoint, factory)  # type: ignore[no-untyped-call]
        self.front = front
        self.description = description
        self._reactor = reactor
        self.port: IListeningPort | None = None  # once listening

    @property
    def listening(self) -> bool:
        """Whether the front's port is open (what the server's health checks)."""
        # A Twisted port is connected while it listens, disconnecting as it closes.
        port = self.port
        return (
            bool(self.running)
            and bool(getattr(port, "connected", False))
            and not getattr(port, "disconnecting", False)
        )

    def listen_now(self) -> None:
        """Listen, or raise L{StartupError} naming the front and why not."""
        failures: list[Failure] = []
        listening = self.endpoint.listen(self.factory)
        listening.addErrback(failures.append)
        if failures:
            raise StartupError(self._cannot(failures[0].value))
        # An endpoint that answers later: its failure stops the server then.
        listening.addCallbacks(self._listening, self._failed_later)
        self._waitingForPort = listening

    def _cannot(self, error: BaseException | None) -> str:
        return (
            f"cannot listen on {shown_endpoint(self.description)} "
            f"for the {self.front} front: {reason(error)}"
        )

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        return port

    def _failed_later(self, failure: Failure) -> None:
        log.critical("{why}; stopping", why=self._cannot(failure.value))
        self._reactor.stop()

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        if self._waitingForPort is None:  # not opened at start-up (tests)
            self.listen_now()


class DataFolder(Service):
    """
    The data folder, claimed for this process: made if missing, checked
    writable, and locked (C{flock} on L{LOCK_FILE}) for the process's life,
    so that a second server on it stops instead of sharing its files. The
    lock file holds the pid of the server that holds it.

    The nodes of a cluster on one machine share the folder (the history's
    lease decides which of them writes the history): C{shared} claims it
    with a shared lock, which the other nodes share and which a single
    server's exclusive lock excludes, both ways.
    """

    def __init__(self, path: str, *, shared: bool = False) -> None:
        self.path = path
        self.lock_path = os.path.join(path, LOCK_FILE)
        self.shared = shared
        self._lock: int | None = None

    def claim(self) -> None:
        """Make, check and lock the folder, or raise L{StartupError}."""
        if os.path.lexists(self.path) and not os.path.isdir(self.path):
            raise StartupError(f"the data folder {self.path} is not a folder")
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as e:
            raise StartupError(
                f"cannot create the data folder {self.path}: {reason(e)}"
            ) from None
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StartupError(
                f"cannot write in the data folder {self.path}: {reason(e)}"
            ) from None
        try:
            fcntl.flock(
                fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
            )
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StartupError(
                    f"cannot lock the data folder {self.path}: {reason(e)}"
                ) from None
            by = "another server" if holder is None else f"the server of pid {holder}"
            raise StartupError(
                f"the data folder {self.path} is in use by {by} "
                f"(locked: {self.lock_path})"
            ) from None
        self._lock = fd
        self.write_pid()
        for part in ("history",):
            self._check_subfolder(part)

    def _check_subfolder(self, name: str) -> None:
        path = os.path.join(self.path, name)
        if os.path.lexists(path) and not os.path.isdir(path):
            raise StartupError(f"the {name} folder {path} is not a folder")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise StartupError(
                f"cannot create the {name} folder {path}: {reason(e)}"
            ) from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise StartupError(
                f"cannot write in the {name} folder {path}: "
                f"{reason(PermissionError(errno.EACCES, ''))}"
            )

    def write_pid(self) -> None:
        """
        Put this process's pid in the lock file (again after a fork); a node
        sharing the folder leaves it empty (no pid names all the nodes).
        """
        if self._lock is None:
            return
        try:
            os.ftruncate(self._lock, 0)
            if self.shared:
                return
            os.pwrite(self._lock, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as e:
            log.warn(
                "cannot write the pid in {path}: {why}", path=self.lock_path, why=e
            )

    def release(self) -> None:
        """Let another server use the folder (the lock goes with the process too)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.write_pid()  # twistd may have forked since the claim: a new pid


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError):
        return None
