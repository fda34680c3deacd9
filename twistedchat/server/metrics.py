"""
The server's figures in Prometheus' terms: what C{/metrics} shows.

L{ChatCollector} is a C{prometheus_client} collector that reads, when
scraped, counts the server keeps anyway: each front's L{FrontCounts} (its
connections, the events written one by one, flood refusals, slow readers
dropped) and its outbox's deliveries (added up once per batch of writes,
not per member), the history's L{HistoryStatus} (entries recorded by kind,
written, waiting, failed writes), and the chat's size (rooms, users). The
message path makes no call into C{prometheus_client}: relaying a message
costs the same with or without anyone scraping.

L{metrics_registry} puts it in a registry of its own, with the process,
platform and garbage-collector collectors of C{prometheus_client}, rather
than in the library's global default registry: two servers in one process
(the tests) each show their own figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from ..core.service import ChatService
from ..fronts.base import Front
from ..persistence.writer import HistoryWriter

PREFIX = "twistedchat"


class ChatCollector:
    """The chat's own metrics, read from the server's counts when scraped."""

    def __init__(
        self,
        chat: ChatService,
        history: HistoryWriter | None,
        fronts: Mapping[str, Front[Any]],
    ) -> None:
        """C{fronts}: each front's factory by the front's name (C{line}, C{irc}…)."""
        self.chat = chat
        self.history = history
        self.fronts = fronts

    def collect(self) -> Iterable[Metric]:
        yield from self._fronts()
        counts = self.chat.counts()
        yield GaugeMetricFamily(
            f"{PREFIX}_rooms", "Rooms open (with at least one member).", counts.rooms
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_users", "Users present (connected, on any front).", counts.users
        )
        if self.history is not None:
            yield from self._history()

    def _fronts(self) -> Iterable[Metric]:
        connections = GaugeMetricFamily(
            f"{PREFIX}_connections",
            "Connections open, by front.",
            labels=["front"],
        )
        deliveries = CounterMetricFamily(
            f"{PREFIX}_deliveries",
            "Events written to a connection (each copy to each member), by front.",
            labels=["front"],
        )
        slow = CounterMetricFamily(
            f"{PREFIX}_slow_readers_dropped",
            "Connections dropped for reading too slowly (output budget spent), "
            "by front.",
            labels=["front"],
        )
        flood = CounterMetricFamily(
            f"{PREFIX}_flood_refusals",
            "Lines or frames refused by flood control, by front.",
            labels=["front"],
        )
        for name, front in sorted(self.fronts.items()):
            counts = front.counts
            connections.add_metric([name], counts.connections)
            deliveries.add_metric([name], counts.delivered + front.outbox.delivered)
            slow.add_metric([name], counts.slow_readers)
            flood.add_metric([name], counts.flood_refusals)
        return connections, deliveries, slow, flood

    def _history(self) -> Iterable[Metric]:
        assert self.history is not None
        status = self.history.status()
        messages = CounterMetricFamily(
            f"{PREFIX}_messages",
            "Room messages accepted (and kept in the history), by kind: "
            "message, action, image.",
            labels=["kind"],
        )
        for kind, count in sorted(status.recorded.items()):
            messages.add_metric([kind], count)
        yield messages
        yield GaugeMetricFamily(
            f"{PREFIX}_history_waiting",
            "History entries recorded and not on disk yet.",
            status.waiting,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_history_written",
            "History entries written to disk.",
            status.written,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_history_write_errors",
            "History writes that failed (each retry counts).",
            status.write_errors,
        )


def metrics_registry(collector: ChatCollector) -> CollectorRegistry:
    """A registry of its own: the chat's metrics and the process's."""
    registry = CollectorRegistry()
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
