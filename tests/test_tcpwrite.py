"""
twistedchat.fronts.tcpwrite.write_now relies on the private state of Twisted's
TCP server transport: these tests fail if a Twisted release changes it.

They make real loopback connections, and check each attribute write_now reads
against what Twisted itself does with it, then write_now's own behaviour.
"""

from __future__ import annotations

import contextlib
import socket
import time

from twisted.internet import reactor, tcp
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import deferLater
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat.fronts.tcpwrite import write_now


class Accepted(Protocol):
    """The server side of a test connection, handing its transport over."""

    def __init__(self, accepted: Deferred[Accepted]) -> None:
        self.accepted = accepted
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.accepted.callback(self)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


class LoopbackTests(TestCase):
    async def connect(self, rcvbuf: int = 0) -> tuple[tcp.Server, socket.socket]:
        """A connection on 127.0.0.1: Twisted's server transport, and its peer."""
        accepted: Deferred[Accepted] = Deferred()
        factory = ServerFactory.forProtocol(lambda: Accepted(accepted))
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        port = await endpoint.listen(factory)
        self.addCleanup(port.stopListening)
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        peer = socket.socket()
        self.addCleanup(peer.close)
        if rcvbuf:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        peer.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            peer.connect((address.host, address.port))
        protocol = await accepted
        transport = protocol.transport
        self.addCleanup(self.close, protocol)
        return transport, peer  # type: ignore[return-value]

    async def close(self, protocol: Accepted) -> None:
        transport = protocol.transport
        if transport is not None and not protocol.lost.called:
            transport.abortConnection()  # type: ignore[attr-defined]
            await protocol.lost

    async def receive(self, peer: socket.socket, size: int) -> bytes:
        """Exactly C{size} bytes from C{peer}, letting the reactor run."""
        received = bytearray()
        deadline = time.monotonic() + 10
        while len(received) < size:
            with contextlib.suppress(BlockingIOError):
                received += peer.recv(size - len(received))
                continue
            self.assertLess(time.monotonic(), deadline, "the peer got too little")
            await deferLater(reactor, 0.001)
        return bytes(received)

    async def drained(self, transport: tcp.Server) -> None:
        """Let the reactor run until the transport holds nothing."""
        deadline = time.monotonic() + 10
        while transport.dataBuffer or transport._tempDataLen:
            self.assertLess(time.monotonic(), deadline, "the transport never drained")
            await deferLater(reactor, 0.001)

    def test_the_transport_state_write_now_reads(self) -> Deferred[None]:
        """
        A plain TCP connection's transport is exactly tcp.Server, not TLS, and
        holds its unsent bytes in dataBuffer / _tempDataBuffer (counted by
        _tempDataLen), both empty once everything is sent; writeSomeData sends
        at once and returns an int.
        """

        async def scenario() -> None:
            transport, peer = await self.connect()
            self.assertIs(type(transport), tcp.Server)
            self.assertIs(transport.TLS, False)
            self.assertTrue(transport.connected)
            self.assertIs(transport._writeDisconnected, False)
            self.assertEqual(transport.dataBuffer, b"")
            self.assertEqual(transport._tempDataLen, 0)
            self.assertIsInstance(transport.SEND_LIMIT, int)

            # write buffers, counted in _tempDataLen; the reactor sends it.
            transport.write(b"abc")
            self.assertEqual(transport._tempDataBuffer, [b"abc"])
            self.assertEqual(transport._tempDataLen, 3)
            self.assertEqual(await self.receive(peer, 3), b"abc")
            await self.drained(transport)
            self.assertEqual(transport.dataBuffer, b"")
            self.assertEqual(transport._tempDataLen, 0)

            # writeSomeData: one send, now, returning how many bytes went.
            sent = transport.writeSomeData(b"defg")
            self.assertIs(type(sent), int)
            self.assertEqual(sent, 4)
            self.assertEqual(peer.recv(10), b"defg")  # no reactor turn needed
            self.assertEqual(transport._tempDataLen, 0)

        return Deferred.fromCoroutine(scenario())

    def test_unsent_bytes_wait_in_data_buffer(self) -> Deferred[None]:
        """
        Bytes the kernel did not take wait in dataBuffer (from offset): while
        they do, write_now sends nothing; once they are gone, it sends again.
        """

        async def scenario() -> None:
            transport, peer = await self.connect(rcvbuf=4096)
            big = bytes(range(256)) * 16384  # 4 MiB: more than the kernel holds
            transport.write(big)
            for _ in range(20):
                await deferLater(reactor, 0.001)
            self.assertTrue(transport.dataBuffer)
            self.assertLess(transport.offset, len(transport.dataBuffer))
            self.assertEqual(write_now(transport, b"later"), b"later")
            transport.write(b"later")
            self.assertEqual(transport._tempDataLen, 5)
            received = await self.receive(peer, len(big) + 5)
            self.assertEqual(received, big + b"later")  # in order
            await self.drained(transport)
            self.assertEqual(write_now(transport, b"now"), b"")
            self.assertEqual(await self.receive(peer, 3), b"now")

        return Deferred.fromCoroutine(scenario())

    def test_write_now_sends_at_once_or_returns_the_rest(self) -> Deferred[None]:
        async def scenario() -> None:
            transport, peer = await self.connect(rcvbuf=4096)
            self.assertEqual(write_now(transport, b"hello"), b"")
            self.assertEqual(peer.recv(10), b"hello")  # sent before any reactor turn
            self.assertEqual(write_now(transport, b""), b"")
            # More than the kernel takes: what is left comes back, the start went.
            big = b"x" * (1 << 20)
            rest = write_now(transport, big)
            self.assertTrue(0 < len(rest) < len(big))
            self.assertEqual(rest, big[len(big) - len(rest) :])
            self.assertEqual(transport.dataBuffer, b"")  # nothing was buffered
            self.assertEqual(transport._tempDataLen, 0)
            # Once the kernel is full, writeSomeData takes nothing (0, not an error).
            while rest:
                sent = transport.writeSomeData(rest)
                assert type(sent) is int
                if not sent:
                    break
                rest = rest[sent:]
            self.assertEqual(write_now(transport, rest), rest)

        return Deferred.fromCoroutine(scenario())

    def test_a_half_closed_transport_is_left_alone(self) -> Deferred[None]:
        """
        After loseWriteConnection, once the transport shut its write side,
        _writeDisconnected is true and write ignores bytes; so does write_now.
        """

        async def scenario() -> None:
            transport, _peer = await self.connect()
            transport.loseWriteConnection()
            deadline = time.monotonic() + 10
            while not transport._writeDisconnected:
                self.assertLess(time.monotonic(), deadline)
                await deferLater(reactor, 0.001)
            self.assertTrue(transport.connected)
            transport.write(b"ignored")
            self.assertEqual(transport._tempDataLen, 0)
            self.assertEqual(write_now(transport, b"ignored"), b"ignored")

        return Deferred.fromCoroutine(scenario())

    def test_a_send_error_comes_back_as_connection_lost(self) -> Deferred[None]:
        """
        writeSomeData on a reset connection returns a ConnectionLost (not an
        int, nor raises): write_now leaves the bytes to the transport.
        """

        async def scenario() -> None:
            transport, peer = await self.connect()
            peer.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            peer.close()  # a reset
            # No reactor turn: the transport has not noticed yet.
            result: object = 0
            for _ in range(100):
                result = transport.writeSomeData(b"into the void")
                if not isinstance(result, int):
                    break
                time.sleep(0.01)
            self.assertIsInstance(result, ConnectionLost)
            self.assertEqual(write_now(transport, b"more"), b"more")

        return Deferred.fromCoroutine(scenario())

    def test_a_lost_connection_is_left_alone(self) -> Deferred[None]:
        async def scenario() -> None:
            transport, peer = await self.connect()
            protocol = transport.protocol
            assert isinstance(protocol, Accepted)
            peer.close()
            await protocol.lost
            self.assertFalse(transport.connected)
            self.assertEqual(write_now(transport, b"late"), b"late")

        return Deferred.fromCoroutine(scenario())

    def test_a_transport_after_start_tls_is_left_alone(self) -> Deferred[None]:
        """startTLS sets TLS: writeSomeData would then skip the encryption."""

        async def scenario() -> None:
            transport, _peer = await self.connect()
            transport.startTLS(CertificateOptions())
            self.assertIs(transport.TLS, True)
            self.assertEqual(write_now(transport, b"secret"), b"secret")

        return Deferred.fromCoroutine(scenario())


class OtherTransportTests(SynchronousTestCase):
    def test_other_transports_are_left_alone(self) -> None:
        transport = StringTransport()
        self.assertEqual(write_now(transport, b"data"), b"data")
        self.assertEqual(transport.value(), b"")
