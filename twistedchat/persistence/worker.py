"""
One thread for a persistence service's disk work, run in the order asked.

The history writer and the read markers each own one: their writes must
land in order and never on the reactor thread. Tests pass a C{run_in_thread}
of their own (running the work at once, say) instead of a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool


class DiskWorker:
    """Runs functions in order on one thread of its own, or by C{run_in_thread}."""

    def __init__(
        self,
        reactor: IReactorFromThreads,
        name: str,
        run_in_thread: Callable[..., Deferred[Any]] | None = None,
    ) -> None:
        self._reactor = reactor
        self.name = name
        self._run_in_thread = run_in_thread
        self._pool: ThreadPool | None = None

    def start(self) -> None:
        if self._run_in_thread is None:
            self._pool = ThreadPool(minthreads=1, maxthreads=1, name=self.name)
            self._pool.start()

    def stop(self) -> None:
        """Stop the thread once what it was given is done (this waits for it)."""
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    def run(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        """C{function(*args)} on the thread; fires with its result."""
        if self._run_in_thread is not None:
            return self._run_in_thread(function, *args)
        assert self._pool is not None, f"{self.name} service not started"
        return deferToThreadPool(self._reactor, self._pool, function, *args)
