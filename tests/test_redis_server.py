"""The tests' redis-server helper: it starts, keeps data over restarts, pauses."""

from __future__ import annotations

import socket
import time
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import TestCase

from .redis_server import RedisReplyError, RedisServer, encode_command, started_redis

CLOCK: IReactorTime = reactor


class RedisServerTests(TestCase):
    @defer.inlineCallbacks
    def test_starts_answers_and_stops(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        self.assertEqual(server.call("SET", "room", "general"), "OK")
        self.assertEqual(server.call("GET", "room"), b"general")
        self.assertTrue(server.url().startswith(f"redis://127.0.0.1:{server.port}/"))
        yield server.stop(CLOCK)
        self.assertFalse(server.answers_ping())

    @defer.inlineCallbacks
    def test_persistent_restart_keeps_data_even_after_sigkill(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, persistent=True)
        server.call("XADD", "chat:log", "*", "e", "one")
        yield server.restart(CLOCK, crash=True)
        self.assertEqual(server.call("XLEN", "chat:log"), 1)
        plain: RedisServer = yield started_redis(self, CLOCK)
        plain.call("SET", "k", "v")
        yield plain.restart(CLOCK)
        self.assertIsNone(plain.call("GET", "k"))

    @defer.inlineCallbacks
    def test_password(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, password="s3cret")
        self.assertEqual(server.call("PING"), "PONG")
        self.assertEqual(server.address().password, "s3cret")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(encode_command("GET", "k"))
            self.assertIn(b"NOAUTH", sock.recv(100))

    @defer.inlineCallbacks
    def test_tls(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, tls=True)
        self.assertNotEqual(server.port, server.plain_port)
        self.assertTrue(server.url().startswith("rediss://"))
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
            server.tls_context().wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(encode_command("PING"))
            self.assertEqual(sock.recv(100), b"+PONG\r\n")

    @defer.inlineCallbacks
    def test_pause_and_debug_sleep_make_it_silent(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        server.pause()
        with socket.create_connection(("127.0.0.1", server.port), timeout=0.3) as sock:
            sock.sendall(encode_command("PING"))
            self.assertRaises(socket.timeout, sock.recv, 100)
        server.resume()
        self.assertEqual(server.call("PING"), "PONG")
        server.debug_sleep(0.5)
        started = time.monotonic()
        self.assertEqual(server.call("PING"), "PONG")
        self.assertGreater(time.monotonic() - started, 0.2)

    def test_error_replies_raise(self) -> None:
        server = RedisServer(self.mktemp())
        d = server.start(CLOCK)
        self.addCleanup(server.cleanup, CLOCK)

        def check(_: object) -> None:
            self.assertRaises(RedisReplyError, server.call, "NOSUCHCOMMAND")

        return d.addCallback(check)  # type: ignore[return-value]
