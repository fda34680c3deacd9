"""
The fronts of a real node of a cluster: `twistd twistedchat --cluster` on a
real redis-server, talked to as people do (netcat, a raw IRC client).

A node answers the commands decided by the log's order when it reads them
back from Redis; what the fronts show must not change for that: a topic
set, a kick, an IRC client's capabilities taken after it registered.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

from .processes import LineClient, ServerTestCase
from .redis_server import free_port, require_redis


class RedisProcess:
    """A plain redis-server on a free loopback port, for a test's node."""

    def __init__(self, folder: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                require_redis(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not answer within 15 s")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class ClusterNodeFrontsTests(ServerTestCase):
    def setUp(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        self.redis = RedisProcess(folder)
        self.addCleanup(self.redis.stop)
        self.server_arguments = ("--cluster", self.redis.url)
        super().setUp()

    def irc_user(self, nick: str) -> LineClient:
        irc = self.connect("irc")
        irc.send(f"NICK {nick}\r")
        irc.send(f"USER {nick} 0 * :{nick}\r")
        irc.expect(f":twistedchat 376 {nick} :End of /MOTD command.")
        irc.send("JOIN #general\r")
        irc.expect(f":twistedchat 366 {nick} #general :End of /NAMES list.")
        return irc

    def test_answers_that_come_from_the_log(self) -> None:
        toto = self.netcat("toto")  # the room's first member: its operator
        tata = self.netcat("tata")
        toto.send("TOPIC le sujet du jour")
        toto.expect("[server] you set the topic of #general: le sujet du jour")
        toto.send("KICK tata dehors")
        toto.expect('[server] "tata" was kicked from #general: dehors')
        tata.expect('[server] "tata" was kicked from #general by "toto": dehors')
        toto.send("NICK tata")  # free again? no: tata is still connected
        toto.expect('[server] error: nick "tata" is already in use')

    def test_capabilities_taken_after_registering(self) -> None:
        alice = self.irc_user("alice")
        alice.send("CAP REQ :server-time\r")
        ack = ""
        while " ACK " not in ack:
            ack = alice.read_line() or ""
        self.assertTrue(ack.endswith("server-time"), ack)
        netcat = self.netcat("toto")
        netcat.send("MSG bonjour à tous")
        line = ""
        while "PRIVMSG" not in line:
            line = alice.read_line() or ""
        self.assertTrue(line.startswith("@time="), line)  # rendered with its tag
        self.assertTrue(line.endswith("PRIVMSG #general :bonjour à tous"), line)
