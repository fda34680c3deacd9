"""Faults against the real server: vanishing clients, silent ones, slow readers."""

from __future__ import annotations

import os
import socket
import struct
import time

from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec

from .processes import LineClient, ServerProcess


class FaultTestCase(SynchronousTestCase):
    def start(self, *arguments: str) -> ServerProcess:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        server = ServerProcess(folder, *arguments).start()
        self.addCleanup(server.stop)
        return server

    def client(self, server: ServerProcess, nick: str) -> LineClient:
        client = LineClient(server.ports["line"])
        self.addCleanup(client.close)
        client.expect("[server] you are in #general")
        client.send(f"NICK {nick}")
        client.expect(f'[server] you are now known as "{nick}"')
        return client

    def raw(self, port: int) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(connection.close)
        return connection

    def assert_still_chatting(self, server: ServerProcess) -> None:
        first, second = self.client(server, "first"), self.client(server, "second")
        first.send("MSG still alive")
        second.expect("[first] still alive")


class VanishingClientTests(FaultTestCase):
    def test_clients_vanishing_mid_line_mid_frame_and_mid_command(self) -> None:
        server = self.start()
        watcher = self.client(server, "watcher")
        half_line = self.client(server, "halfline")
        half_line.socket.sendall(b"MSG this line never ends")
        half_line.socket.close()
        watcher.expect('[server] client disconnected "halfline"')

        framed = self.raw(server.ports["framed"])
        framed.sendall(
            codec.frame_bytes(
                codec.Hello(codec.PROTOCOL_VERSION, "halfframe", "", "", ("general",))
            )
        )
        watcher.expect('[server] "halfframe" joined #general')
        payload = codec.encode(codec.Say("general", "cut short"))
        framed.sendall(struct.pack(">I", len(payload)) + payload[:5])
        framed.close()
        watcher.expect('[server] client disconnected "halfframe"')

        irc = self.raw(server.ports["irc"])
        irc.sendall(b"NICK halfirc\r\nUSER h 0 * :H\r\nJOIN #general\r\nPRIVMSG #gen")
        watcher.expect('[server] "halfirc" joined #general')
        irc.close()
        watcher.expect('[server] client disconnected "halfirc"')

        self.assert_still_chatting(server)
        self.assertNotIn("Traceback", "".join(server.output))


class SilentClientTests(FaultTestCase):
    def test_never_registering_and_never_answering_are_dropped(self) -> None:
        server = self.start(
            "--registration-timeout", "1", "--idle-timeout", "1", "--ping-timeout", "1"
        )
        mute = self.raw(server.ports["irc"])  # connects, says nothing
        framed = self.raw(server.ports["framed"])
        asleep = self.raw(server.ports["irc"])  # registers, then stops answering
        asleep.sendall(b"NICK asleep\r\nUSER a 0 * :A\r\n")
        started = time.monotonic()
        self.assertIn(b"registration timeout", read_until_closed(mute))
        self.assertIn(b"registration timeout", read_until_closed(framed))
        received = read_until_closed(asleep)
        self.assertIn(b"PING :twistedchat", received)
        self.assertIn(b"ping timeout", received)
        self.assertLess(time.monotonic() - started, 8)
        server.wait_for("dropping .*ping timeout")


class SlowReaderTests(FaultTestCase):
    def test_a_reader_that_never_reads_is_dropped_and_the_others_keep_up(self) -> None:
        server = self.start("--sendq", "65536", "--flood-rate", "0")
        talker = self.client(server, "talker")
        reader = self.client(server, "reader")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.ports["line"]))
        self.addCleanup(slow.close)
        slow.sendall(b"NICK sloth\n")  # and never reads again
        host, port = slow.getsockname()[:2]
        reader.expect(f'[server] client "{host}:{port}" => "sloth"')
        # More than the kernel buffers of both ends hold (a few MiB on
        # loopback), so that the server's transport fills up and says so.
        padding = "x" * 3500
        latencies = []
        for n in range(2500):
            sent = time.monotonic()
            talker.send(f"MSG {n} {padding}")
            reader.expect(f"[talker] {n} {padding}")
            latencies.append(time.monotonic() - sent)
        server.wait_for("dropping .*output buffer full")
        server.wait_for('client disconnected "sloth"')
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        self.assertLess(p99, 0.25, f"p99 {p99 * 1000:.1f} ms for the readers who read")


def read_until_closed(connection: socket.socket, timeout: float = 8) -> bytes:
    """Everything the server sends until it closes the connection."""
    connection.settimeout(timeout)
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    return data
