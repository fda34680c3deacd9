"""
A LIST storm against the real server (issue 13, finding 8): 20,000 rooms,
an IRC client asking for the whole list as fast as it may, and two netcat
users chatting meanwhile. Their messages must not wait behind the listings.
"""

from __future__ import annotations

import socket
import threading
import time

from twistedchat import codec

from .processes import ServerProcess
from .test_faults import FaultTestCase

ROOMS = 20_000
OWNERS = 4  # framed users that open the rooms, ROOMS / OWNERS each


class ListStormTests(FaultTestCase):
    def test_a_conversation_is_not_held_up_by_list_storms(self) -> None:
        # The rooms are opened by a few framed users at once: their Hellos
        # may name thousands of rooms.
        server = self.start("--max-rooms", "0", "--flood-burst", str(ROOMS))
        self.open_rooms(server)
        stop = threading.Event()
        storm = threading.Thread(target=self.storm, args=(server, stop), daemon=True)
        storm.start()
        self.addCleanup(stop.set)
        talker, hearer = self.client(server, "talker"), self.client(server, "hearer")
        latencies = []
        for n in range(300):
            sent = time.monotonic()
            talker.send(f"MSG {n}")
            hearer.expect(f"[talker] {n}")
            latencies.append(time.monotonic() - sent)
            time.sleep(0.01)
        stop.set()
        storm.join(10)
        self.assertGreater(self.listed, ROOMS // 2)  # the storm did blow
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        self.assertLess(p99, 0.050, f"p99 {p99 * 1000:.1f} ms")

    def open_rooms(self, server: ServerProcess) -> None:
        owners = []
        for owner in range(OWNERS):
            rooms = tuple(f"r{owner}-{n}" for n in range(ROOMS // OWNERS))
            connection = socket.create_connection(("127.0.0.1", server.ports["framed"]))
            self.addCleanup(connection.close)
            connection.sendall(
                codec.frame_bytes(
                    codec.Hello(codec.PROTOCOL_VERSION, f"owner{owner}", "", "", rooms)
                )
            )
            owners.append(connection)
        counter = socket.create_connection(("127.0.0.1", server.ports["irc"]))
        self.addCleanup(counter.close)
        counter.sendall(b"NICK counter\r\nUSER c 0 * :C\r\n")
        wanted = f" 254 counter {ROOMS} :channels formed".encode()
        seen = b""
        deadline = time.monotonic() + 60
        while wanted not in seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"the rooms were not all opened: {seen[-200:]!r}")
            counter.sendall(b"LUSERS\r\n")
            time.sleep(0.2)
            seen = seen[-200:] + counter.recv(1 << 16)

    def storm(self, server: ServerProcess, stop: threading.Event) -> None:
        """An IRC client sending LIST as fast as it may, reading everything."""
        self.listed = 0
        connection = socket.create_connection(("127.0.0.1", server.ports["irc"]))
        connection.sendall(b"NICK stormy\r\nUSER s 0 * :S\r\n")
        connection.settimeout(0.05)
        while not stop.is_set():
            connection.sendall(b"LIST\r\n")
            try:
                data = connection.recv(1 << 20)
            except TimeoutError:
                continue
            self.listed += data.count(b" 322 ")
        connection.close()
