"""The nodes' Redis client against a real redis-server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat.cluster.address import RedisAddress
from twistedchat.cluster.redis import (
    RedisClient,
    RedisError,
    RedisUnavailable,
    Script,
    _Incomplete,
    _parse,
    encode,
)

from .redis_server import RedisServer, eventually, started_client, started_redis, within

CLOCK: IReactorTime = reactor


class RespTests(SynchronousTestCase):
    def test_encode(self) -> None:
        self.assertEqual(
            encode(("SET", b"k\r\n", 3, 1.5)),
            b"*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$1\r\n3\r\n$3\r\n1.5\r\n",
        )

    def test_parse_every_kind_and_incomplete_replies(self) -> None:
        reply = b"*5\r\n+OK\r\n:-7\r\n$-1\r\n$5\r\na\r\nbc\r\n*1\r\n-ERR no\r\n"
        value, end = _parse(reply, 0)
        self.assertEqual(end, len(reply))
        self.assertEqual(value[:4], ["OK", -7, None, b"a\r\nbc"])
        self.assertIsInstance(value[4][0], RedisError)
        self.assertEqual(str(value[4][0]), "ERR no")
        for cut in range(len(reply)):
            self.assertRaises(_Incomplete, _parse, reply[:cut], 0)


class ClientTests(TestCase):
    @defer.inlineCallbacks
    def test_commands_and_replies(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client: RedisClient = yield started_client(self, reactor, server.address(), "t")
        self.assertEqual((yield client.command("SET", "k", b"\xff\x00")), "OK")
        self.assertEqual((yield client.command("GET", "k")), b"\xff\x00")
        self.assertIsNone((yield client.command("GET", "missing")))
        entry_id = yield client.command("XADD", "s", "*", "e", "x")
        self.assertRegex(entry_id.decode(), r"^\d+-\d+$")
        error = yield self.assertFailure(client.command("INCR", "k"), RedisError)
        self.assertIn("not an integer", str(error))
        # The connection carries on after an error reply.
        self.assertEqual((yield client.command("PING")), "PONG")
        self.assertEqual(server.call("CLIENT", "LIST").count(b"name=t "), 1)

    @defer.inlineCallbacks
    def test_pipelined_replies_come_back_in_order(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client: RedisClient = yield started_client(self, reactor, server.address(), "t")
        replies = yield defer.gatherResults(
            [client.command("INCR", "n") for _ in range(2000)]
        )
        self.assertEqual(replies, list(range(1, 2001)))
        big = b"x" * 300_000
        yield client.command("SET", "big", big)
        self.assertEqual((yield client.command("GET", "big")), big)

    @defer.inlineCallbacks
    def test_fails_at_once_while_disconnected_and_comes_back(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client = RedisClient(reactor, server.address(), "t")
        yield self.assertFailure(client.command("PING"), RedisUnavailable)
        events: list[str] = []
        client.on_connected(lambda: events.append("connected"))
        client.on_lost(lambda: events.append("lost"))
        client.start()
        self.addCleanup(client.stop)
        yield within(client.when_connected(), 10, CLOCK)
        yield server.stop(CLOCK)
        yield eventually(lambda: not client.connected, CLOCK, what="lost")
        yield self.assertFailure(client.command("PING"), RedisUnavailable)
        waiting = client.when_connected()
        self.assertFalse(waiting.called)
        yield server.restart(CLOCK)
        yield within(waiting, 10, CLOCK)
        self.assertEqual((yield client.command("PING")), "PONG")
        self.assertEqual(events, ["connected", "lost", "connected"])
        yield client.stop()
        self.assertFalse(client.connected)
        yield self.assertFailure(client.when_connected(), RedisUnavailable)

    @defer.inlineCallbacks
    def test_a_silent_server_is_dropped_after_the_reply_timeout(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client: RedisClient = yield started_client(
            self, reactor, server.address(), "t", reply_timeout=0.5
        )
        server.pause()
        try:
            yield within(
                self.assertFailure(client.command("PING"), RedisUnavailable), 5, CLOCK
            )
            self.assertFalse(client.connected)
        finally:
            server.resume()
        yield within(client.when_connected(), 10, CLOCK)
        # A blocking read gives its own, longer, time.
        reply = yield client.command("BLPOP", "nothing", "1", timeout=3)
        self.assertIsNone(reply)
        self.assertTrue(client.connected)

    @defer.inlineCallbacks
    def test_password_user_and_database(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, password="s3cret")
        client: RedisClient = yield started_client(
            self, reactor, server.address(db=2), "t"
        )
        yield client.command("SET", "where", "db2")
        self.assertIsNone(server.call("GET", "where"))  # db 0
        server.call("ACL", "SETUSER", "chat", "on", ">pw2", "~*", "+@all")
        user = replace(server.address(), username="chat", password="pw2")
        as_user: RedisClient = yield started_client(self, reactor, user, "u")
        self.assertEqual((yield as_user.command("ACL", "WHOAMI")), b"chat")
        wrong = RedisClient(reactor, replace(server.address(), password="nope"), "w")
        wrong.start()
        self.addCleanup(wrong.stop)
        yield self.assertFailure(
            within(wrong.when_connected(), 1.5, CLOCK), defer.TimeoutError
        )
        self.assertFalse(wrong.connected)

    @defer.inlineCallbacks
    def test_tls_checks_the_authority_and_the_name(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, tls=True)
        client: RedisClient = yield started_client(self, reactor, server.address(), "t")
        self.assertEqual((yield client.command("PING")), "PONG")
        by_name: RedisClient = yield started_client(
            self, reactor, server.address(host="localhost"), "n"
        )
        self.assertEqual((yield by_name.command("PING")), "PONG")
        assert server.pki is not None
        for address in [
            replace(server.address(), ca=server.pki.other_ca),  # unknown authority
            RedisAddress("127.0.0.1", server.port, tls=False),  # TLS port, plain
        ]:
            refused = RedisClient(reactor, address, "r")
            refused.start()
            self.addCleanup(refused.stop)
            yield self.assertFailure(
                within(refused.when_connected(), 1.5, CLOCK), defer.TimeoutError
            )

    @defer.inlineCallbacks
    def test_tls_refuses_a_certificate_for_another_name(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK, tls=True, tls_ips=())
        good: RedisClient = yield started_client(
            self, reactor, server.address(host="localhost"), "n"
        )
        self.assertEqual((yield good.command("PING")), "PONG")
        wrong_name = RedisClient(reactor, server.address(host="127.0.0.1"), "r")
        wrong_name.start()
        self.addCleanup(wrong_name.stop)
        yield self.assertFailure(
            within(wrong_name.when_connected(), 1.5, CLOCK), defer.TimeoutError
        )

    @defer.inlineCallbacks
    def test_scripts_are_sent_whole_once(self) -> Any:
        server: RedisServer = yield started_redis(self, CLOCK)
        client: RedisClient = yield started_client(self, reactor, server.address(), "t")
        script = Script("return {KEYS[1], ARGV[1]}")
        self.assertEqual((yield script.run(client, ["k"], ["v"])), [b"k", b"v"])
        self.assertEqual(server.call("SCRIPT", "EXISTS", script.sha), [1])
        self.assertEqual((yield script.run(client, ["k2"], [3])), [b"k2", b"3"])
        yield self.assertFailure(
            Script("return redis.call('NOPE')").run(client), RedisError
        )
