"""The server's health: every front listening, the history being written."""

from __future__ import annotations

import os
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.test.requesthelper import DummyRequest

from twistedchat.core.events import Message, User
from twistedchat.fronts.web.health import HealthResource
from twistedchat.persistence import HistoryWriter
from twistedchat.server.health import Health
from twistedchat.server.startup import FrontListener

from .test_history import run_now

TOTO = User("u1", "toto", 33)


def said(n: int) -> Message:
    return Message(1000.0 + n, "general", TOTO, f"message {n}")


class HistoryHealthTests(SynchronousTestCase):
    """A server with no front: its health is its history's."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.folder = os.path.abspath(self.mktemp())

    def health(self, **options: Any) -> tuple[Health, HistoryWriter]:
        options.setdefault("run_in_thread", run_now)
        writer = HistoryWriter(self.folder, self.clock, flush_interval=0.2, **options)
        writer.startService()
        self.addCleanup(lambda: writer.running and writer.stopService())
        return Health(self.clock, MultiService(), writer, stuck_after=30), writer

    def test_writing_is_healthy(self) -> None:
        health, writer = self.health()
        writer.record(said(0))
        self.assertIsNone(health.problem())
        self.clock.advance(0.2)
        self.assertIsNone(health.problem())

    def test_writes_that_fail_say_why_since_when_and_what_waits(self) -> None:
        health, writer = self.health()
        blocked = os.path.join(self.folder, "general.jsonl")
        os.makedirs(blocked)  # a folder where the room's file goes
        for n in range(7):
            writer.record(said(n))
        self.clock.advance(0.2)
        self.assertEqual(
            health.problem(),
            "history: cannot write for 0 s: general.jsonl: Is a directory "
            "(7 entries waiting)",
        )
        for _ in range(60):  # retried five times a second
            self.clock.advance(0.2)
        self.assertEqual(
            health.problem(),
            "history: cannot write for 12 s: general.jsonl: Is a directory "
            "(7 entries waiting)",
        )
        os.rmdir(blocked)
        self.clock.advance(0.2)
        self.assertIsNone(health.problem())

    def test_a_write_under_way_too_long_is_stuck(self) -> None:
        never: Deferred[Any] = Deferred()
        health, writer = self.health(run_in_thread=lambda *_: never)
        writer.record(said(0))
        self.clock.advance(0.2)  # handed to the thread, which never answers
        writer.record(said(1))
        self.clock.advance(30)
        self.assertIsNone(health.problem())
        self.clock.advance(1)
        self.assertEqual(
            health.problem(),
            "history: a write has been under way for 31 s (2 entries waiting)",
        )

    def test_a_stopped_writer(self) -> None:
        health, writer = self.health()
        writer.stopService()
        self.assertEqual(health.problem(), "history: the writer is not running")


class ListeningHealthTests(TestCase):
    """Fronts on real loopback ports."""

    def listener(self, name: str, services: MultiService) -> FrontListener:
        endpoint = serverFromString(reactor, "tcp:0:interface=127.0.0.1")
        listener = FrontListener(
            name, "tcp:0", endpoint, Factory.forProtocol(Protocol), reactor
        )
        listener.setServiceParent(services)
        return listener

    def test_each_front_must_listen(self) -> Deferred[None]:
        services = MultiService()
        self.listener("line", services)
        irc = self.listener("irc", services)
        health = Health(Clock(), services, None)
        self.assertEqual(health.problem(), "front line is not listening")
        services.privilegedStartService()
        services.startService()
        self.addCleanup(services.stopService)
        self.assertIsNone(health.problem())
        assert irc.port is not None
        closed = irc.port.stopListening()  # (not by stopping its service)
        self.assertEqual(health.problem(), "front irc is not listening")
        return Deferred.fromCoroutine(self.still_not(closed, health))

    async def still_not(self, closed: Any, health: Health) -> None:
        await closed
        self.assertEqual(health.problem(), "front irc is not listening")


class HealthResourceTests(SynchronousTestCase):
    def answer(self, problem: str | None) -> DummyRequest:
        class Known(Health):
            def problem(self) -> str | None:
                return problem

        request = DummyRequest([b""])
        body = HealthResource(Known(Clock(), MultiService(), None)).render(request)
        request.write(body)
        return request

    def test_ok(self) -> None:
        request = self.answer(None)
        self.assertIsNone(request.responseCode)  # left as it is: 200
        self.assertEqual(b"".join(request.written), b"ok\n")
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-type"),
            [b"text/plain; charset=utf-8"],
        )
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"cache-control"), [b"no-store"]
        )

    def test_unavailable_with_the_reason(self) -> None:
        request = self.answer("front irc is not listening")
        self.assertEqual(request.responseCode, 503)
        self.assertEqual(b"".join(request.written), b"front irc is not listening\n")
