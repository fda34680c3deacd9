"""
The client's connection to the server: kept alive both ways, each attempt and
failure said once, the nick asked once the server is there, the log private.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace

from twisted.internet.address import IPv4Address
from twisted.internet.defer import CancelledError
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import (
    MemoryReactorClock,
    StringTransport,
    StringTransportWithDisconnection,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twistedchat import codec
from twistedchat.client.connection import (
    IServerListener,
    ReportedEndpoint,
    ServerConnection,
    ServerConnectionFactory,
    ServerSilent,
)
from twistedchat.client.console import ChatConsole
from twistedchat.client.main import open_log_file
from twistedchat.client.options import SettingsError, settings_from
from twistedchat.client.state import TokenStore, make_private_folder
from twistedchat.codec import Frame, frame_bytes

from .test_client_console import ConsoleTestCase


@implementer(IServerListener)
class Listener:
    """What a connection tells the console, kept in order."""

    def __init__(self) -> None:
        self.heard: list[object] = []

    def connecting(self) -> None:
        self.heard.append("connecting")

    def still_connecting(self) -> None:
        self.heard.append("still connecting")

    def connection_failed(self, reason: Failure) -> None:
        self.heard.append(reason.value)

    def connected(self, connection: ServerConnection) -> None:
        self.heard.append("connected")

    def frame_received(self, frame: Frame) -> None:
        self.heard.append(frame)

    def bad_frame(self, why: str) -> None:
        self.heard.append(why)

    def disconnected(self, reason: Failure | None = None) -> None:
        self.heard.append(None if reason is None else reason.value)


class KeepAliveTests(SynchronousTestCase):
    def connection(
        self, keepalive: float
    ) -> tuple[ServerConnection, StringTransport, Listener, Clock]:
        clock, listener = Clock(), Listener()
        factory = ServerConnectionFactory(listener, clock, keepalive)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 9999))
        assert isinstance(protocol, ServerConnection)
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return protocol, transport, listener, clock

    def sent(self, transport: StringTransport) -> list[Frame]:
        data, frames = transport.value(), []
        transport.clear()
        while data:
            size = int.from_bytes(data[:4], "big")
            frames.append(codec.decode(data[4 : 4 + size]))
            data = data[4 + size :]
        return frames

    def test_answers_the_servers_ping(self) -> None:
        protocol, transport, listener, _ = self.connection(keepalive=0)
        protocol.dataReceived(frame_bytes(codec.Ping(41)))
        self.assertEqual(self.sent(transport), [codec.Pong(41)])
        self.assertEqual(listener.heard, ["connected", codec.Ping(41)])

    def test_pings_a_quiet_server_and_drops_a_silent_one(self) -> None:
        protocol, transport, listener, clock = self.connection(keepalive=30)
        clock.advance(20)
        protocol.dataReceived(frame_bytes(codec.Pong(0)))  # any word will do
        clock.advance(29)
        self.assertEqual(self.sent(transport), [])
        clock.advance(1)
        self.assertEqual(self.sent(transport), [codec.Ping(1)])
        protocol.dataReceived(frame_bytes(codec.Pong(1)))
        clock.advance(30)
        self.assertEqual(self.sent(transport), [codec.Ping(2)])
        clock.advance(29.9)
        self.assertTrue(transport.connected)
        clock.advance(0.1)  # no answer: given up, not waiting for TCP to agree
        self.assertFalse(transport.connected)
        self.assertTrue(transport.disconnected)  # aborted
        reason = listener.heard[-1]
        assert isinstance(reason, ServerSilent)
        self.assertEqual(reason.seconds, 60)  # before our Ping and after it
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_no_keepalive(self) -> None:
        _, transport, _, clock = self.connection(keepalive=0)
        clock.advance(3600)
        self.assertEqual(self.sent(transport), [])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_lost_connection_stops_the_clock(self) -> None:
        protocol, _, listener, clock = self.connection(keepalive=30)
        protocol.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertIsInstance(listener.heard[-1], ConnectionLost)


class ReportedEndpointTests(SynchronousTestCase):
    def test_each_attempt_and_failure_is_reported(self) -> None:
        reactor, listener = MemoryReactorClock(), Listener()
        endpoint = ReportedEndpoint(
            TCP4ClientEndpoint(reactor, "127.0.0.1", 9999), listener, reactor
        )
        attempt = endpoint.connect(Factory.forProtocol(ServerConnection))
        self.assertEqual(listener.heard, ["connecting"])
        reactor.advance(1)
        self.assertEqual(listener.heard, ["connecting", "still connecting"])
        _, _, factory, _, _ = reactor.tcpClients[0]
        factory.clientConnectionFailed(
            reactor.connectors[0], Failure(ConnectionRefusedError())
        )
        self.failureResultOf(attempt, ConnectionRefusedError)
        self.assertIsInstance(listener.heard[-1], ConnectionRefusedError)

    def test_a_quick_connection_is_not_slow(self) -> None:
        reactor, listener = MemoryReactorClock(), Listener()
        endpoint = ReportedEndpoint(
            TCP4ClientEndpoint(reactor, "127.0.0.1", 9999), listener, reactor
        )
        attempt = endpoint.connect(ServerConnectionFactory(listener, reactor))
        _, _, factory, _, _ = reactor.tcpClients[0]
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 9999))
        assert protocol is not None
        protocol.makeConnection(StringTransport())
        self.successResultOf(attempt)
        reactor.advance(5)
        self.assertEqual(listener.heard, ["connecting", "connected"])


class ConnectingTests(ConsoleTestCase):
    """What the person reads while the client connects, in both languages."""

    def make(
        self, reconnect: float = 10, nick: str | None = "alice", lang: str = "en"
    ) -> tuple[ChatConsole, list[str]]:
        console, shown = self.console(lang=lang)
        console.settings = replace(console.settings, reconnect=reconnect, nick=nick)
        console.nick = nick or ""
        return console, shown

    def refused(self, console: ChatConsole) -> None:
        console.connecting()
        console.connection_failed(Failure(ConnectionRefusedError()))

    def test_retrying_is_said_once(self) -> None:
        console, shown = self.make(reconnect=10)
        self.refused(console)
        self.assertEqual(
            self.text(shown),
            "Connecting to 127.0.0.1:9999…\nCannot reach 127.0.0.1:9999: connection "
            "refused. Trying again for 10 s.\n",
        )
        for _ in range(5):
            self.clock.advance(1)
            self.refused(console)
        self.assertEqual(self.text(shown), "")
        self.clock.advance(4.9)
        self.assertNoResult(console.finished)
        self.clock.advance(0.1)  # ten seconds after the first failure
        self.assertEqual(self.text(shown), "Cannot reach 127.0.0.1:9999, giving up.\n")
        self.assertEqual(self.successResultOf(console.finished), 1)

    def test_without_reconnecting(self) -> None:
        console, shown = self.make(reconnect=0, lang="fr")
        self.refused(console)
        self.assertEqual(
            self.text(shown),
            "Connexion à 127.0.0.1:9999…\n"
            "Impossible de joindre 127.0.0.1:9999 : connexion refusée.\n",
        )
        self.assertEqual(self.successResultOf(console.finished), 1)

    def test_an_attempt_called_off_is_no_failure(self) -> None:
        console, shown = self.make(reconnect=10)
        console.connecting()
        console.connection_failed(Failure(CancelledError()))  # Ctrl+C meanwhile
        self.assertEqual(self.text(shown), "Connecting to 127.0.0.1:9999…\n")
        self.assertNoResult(console.finished)

    def test_a_slow_server_then_a_refusal(self) -> None:
        console, shown = self.make(reconnect=10)
        console.connecting()
        console.still_connecting()
        console.connection_failed(Failure(ConnectionRefusedError()))
        self.assertEqual(
            self.text(shown),
            "Connecting to 127.0.0.1:9999…\n"
            "No answer from 127.0.0.1:9999 yet, still trying…\n"
            "Cannot reach 127.0.0.1:9999: connection refused. Trying again for 10 s.\n",
        )

    def test_a_port_that_hangs_up_may_be_tls(self) -> None:
        console, shown = self.make(reconnect=10)
        factory = ServerConnectionFactory(console, self.clock)
        for _ in range(3):  # what a TLS port does to a plain Hello
            console.connecting()
            connection = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 9))
            assert connection is not None
            connection.makeConnection(StringTransport())
            connection.connectionLost(Failure(ConnectionLost()))
            self.clock.advance(1)
        self.assertEqual(
            self.text(shown),
            "Connecting to 127.0.0.1:9999…\n127.0.0.1:9999 closed the connection "
            "without a word. Does it expect TLS (--tls)? Trying again for 10 s.\n",
        )

    def test_a_silent_server_then_back(self) -> None:
        console, shown = self.make(reconnect=60)
        connection, _, pump = self.connect(console)
        self.assertIn("Welcome alice!", self.text(shown))
        connection.transport.abortConnection()  # type: ignore[union-attr]
        console.disconnected(Failure(ServerSilent(60)))
        self.assertEqual(
            self.text(shown),
            "127.0.0.1:9999 stopped answering (silent for 60 s). "
            "Trying again for 60 s.\n",
        )
        pump.flush()
        self.connect(console)
        self.assertIn("Welcome back alice!", self.text(shown))
        self.assertNoResult(console.finished)
        self.clock.advance(120)
        self.assertNoResult(console.finished)

    def test_the_nick_is_asked_once_the_server_is_there(self) -> None:
        console, shown = self.make(nick=None)
        console.connecting()
        self.assertEqual(self.text(shown), "Connecting to 127.0.0.1:9999…\n")
        _, _, pump = self.connect(console)
        self.assertEqual(self.text(shown), "Nick: ")
        console.line_received("not valid!")
        self.assertEqual(
            self.text(shown),
            "invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^\nNick: ",
        )
        console.line_received("alice")
        pump.flush()
        self.assertIn("Welcome alice!", self.text(shown))

    def test_a_nick_piped_before_the_server_answered(self) -> None:
        console, shown = self.make(nick=None)
        console.line_received("alice")
        console.line_received("hello")
        self.connect(console)
        seen = self.text(shown)
        self.assertIn("Welcome alice!", seen)
        self.assertIn("You said: hello", seen)

    def test_no_nick_and_no_more_input(self) -> None:
        console, shown = self.make(nick=None)
        console.input_closed()
        self.connect(console)
        self.assertEqual(self.text(shown), "No more input: leaving.\n")
        self.assertEqual(self.successResultOf(console.finished), 1)


class PrivateFilesTests(SynchronousTestCase):
    """The conversation log holds private messages: the user's alone."""

    def mode(self, path: str) -> int:
        return stat.S_IMODE(os.stat(path).st_mode)

    def test_new_log_and_folders(self) -> None:
        top = os.path.abspath(self.mktemp())
        os.makedirs(top, mode=0o755)
        path = os.path.join(top, "state", "twistedchat", "client.log")
        with open_log_file(path) as log:
            log.write("private\n")
        self.assertEqual(self.mode(path), 0o600)
        self.assertEqual(self.mode(os.path.dirname(path)), 0o700)
        self.assertEqual(self.mode(os.path.join(top, "state")), 0o700)
        self.assertEqual(self.mode(top), 0o755)  # not ours to change

    def test_existing_log_is_tightened_and_kept(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder, mode=0o755)
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "client.log")
        with open(path, "w") as log:
            log.write("yesterday\n")
        os.chmod(path, 0o644)
        with open_log_file(path) as log:
            log.write("today\n")
        self.assertEqual(self.mode(path), 0o600)
        self.assertEqual(self.mode(folder), 0o755)
        with open(path) as log:
            self.assertEqual(log.read(), "yesterday\ntoday\n")

    def test_state_dir_for_tokens(self) -> None:
        state = os.path.join(os.path.abspath(self.mktemp()), "state")
        TokenStore(state).put("host:1", "secret")
        self.assertEqual(self.mode(state), 0o700)
        self.assertEqual(self.mode(os.path.join(state, "tokens.json")), 0o600)

    def test_private_folder_under_a_file_is_an_error(self) -> None:
        top = os.path.abspath(self.mktemp())
        os.makedirs(top)
        with open(os.path.join(top, "file"), "w"):
            pass
        self.assertRaises(
            OSError, make_private_folder, os.path.join(top, "file", "below")
        )


class KeepAliveSettingTests(SynchronousTestCase):
    def test_default_option_and_config_file(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        environ = {"HOME": folder}
        self.assertEqual(settings_from([], environ).keepalive, 30)
        self.assertEqual(settings_from(["--keepalive", "0"], environ).keepalive, 0)
        config = os.path.join(folder, "client.conf")
        with open(config, "w") as file:
            file.write("KEEPALIVE=2.5\n")
        self.assertEqual(settings_from(["--config", config], environ).keepalive, 2.5)
        error = self.assertRaises(
            SettingsError, settings_from, ["--keepalive", "-1"], environ
        )
        self.assertIn(
            "--keepalive: not a number of seconds (0 or more): '-1'", str(error)
        )
