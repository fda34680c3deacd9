"""
Whether the server does its job, in one line: what C{/health} answers.

The server is healthy while every front listens (each L{FrontListener} of
the service tree has its port open), a cluster's node is caught up and
reaches Redis (L{twistedchat.cluster.node.ClusterNode.problem}), and the
history is being written (the
L{HistoryWriter} runs, its last write did not fail, and no write has been
under way for longer than C{stuck_after}). Otherwise L{Health.problem} says
the first thing wrong, in the words an operator reads in a probe's log:
C{front irc is not listening}, C{history: cannot write for 12 s:
general.jsonl: No space left on device (7 entries waiting)}.

It is read when asked, from what the listeners and the writer already know:
being watched costs the chat nothing.
"""

from __future__ import annotations

from twisted.application.service import IServiceCollection, MultiService
from twisted.internet.interfaces import IReactorTime

from ..persistence.writer import HistoryStatus, HistoryWriter
from .startup import FrontListener

STUCK_AFTER = 30.0  # seconds a history write may take before it is "stuck"


class Health:
    """The health of one server: its listening fronts and its history."""

    def __init__(
        self,
        clock: IReactorTime,
        services: MultiService,
        history: HistoryWriter | None,
        stuck_after: float = STUCK_AFTER,
    ) -> None:
        """
        C{services}: the service tree, whose L{FrontListener}s are the
        fronts (all of them, however many the server has).
        """
        self.clock = clock
        self.services = services
        self.history = history
        self.stuck_after = stuck_after

    def problem(self) -> str | None:
        """What is wrong, in one line; None when all is well."""
        for service in IServiceCollection(self.services):
            if isinstance(service, FrontListener) and not service.listening:
                return f"front {service.front} is not listening"
            # A service that can tell what is wrong with it: a cluster's node.
            problem = getattr(service, "problem", None)
            if problem is not None and (said := problem()) is not None:
                return str(said)
        if self.history is not None:
            return history_problem(
                self.history.status(), self.clock.seconds(), self.stuck_after
            )
        return None


def history_problem(
    status: HistoryStatus, now: float, stuck_after: float
) -> str | None:
    """What is wrong with the history's writing, in one line, or None."""
    if not status.running:
        return "history: the writer is not running"
    if status.last_error is not None:
        since = now - (status.failing_since or now)
        return (
            f"history: cannot write for {since:.0f} s: {status.last_error} "
            f"({_entries(status.waiting)} waiting)"
        )
    if status.writing_since is not None:
        taken = now - status.writing_since
        if taken > stuck_after:
            return (
                f"history: a write has been under way for {taken:.0f} s "
                f"({_entries(status.waiting)} waiting)"
            )
    return None


def _entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"
