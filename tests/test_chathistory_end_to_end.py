"""
Real processes: an IRC client pages with CHATHISTORY through what a netcat
user said before the server restarted, read back from the history files,
and gets the answer to a labeled command as one labeled batch.
"""

from __future__ import annotations

import os
import re

from twisted.trial.unittest import SynchronousTestCase

from .processes import LineClient, ServerProcess

TAGS = re.compile(r"^@(\S+) ")


def tags(line: str) -> dict[str, str]:
    match = TAGS.match(line)
    if match is None:
        return {}
    return dict(item.partition("=")[::2] for item in match.group(1).split(";"))


class ChathistoryEndToEndTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def start(self) -> ServerProcess:
        server = ServerProcess(self.folder, "--log-messages", "yes").start()
        self.addCleanup(server.stop)
        return server

    def irc(self, server: ServerProcess) -> LineClient:
        client = LineClient(server.ports["irc"])
        self.addCleanup(client.close)
        client.send("CAP REQ :batch labeled-response server-time draft/chathistory")
        client.send("NICK ircy")
        client.send("USER ircy 0 * :Ircy")
        client.send("CAP END")
        client.send("JOIN #general")
        client.send("PING :joined")
        client.expect(":twistedchat PONG twistedchat joined")
        return client

    def history(self, client: LineClient, request: str) -> list[str]:
        """The PRIVMSG lines of the chathistory batch answering C{request}."""
        client.send(f"CHATHISTORY {request}")
        opening = client.read_line()
        assert opening is not None
        self.assertRegex(opening, r"^:twistedchat BATCH \+\w+ chathistory #general$")
        reference = opening.split()[2][1:]
        lines = client.expect(f":twistedchat BATCH -{reference}")
        for line in lines:
            self.assertEqual(tags(line)["batch"], reference)
        return lines

    def test_history_from_before_a_restart(self) -> None:
        server = self.start()
        netcat = LineClient(server.ports["line"])
        netcat.expect("[server] you are in #general")
        for n in range(3):
            netcat.send(f"MSG before restart {n}")
        netcat.close()
        server.wait_for("before restart 2")
        server.stop()  # SIGTERM: the history is written before it exits

        server = self.start()
        ircy = self.irc(server)
        before = self.history(ircy, "LATEST #general * 10")
        self.assertEqual(
            [line.split(" :", 2)[2] for line in before],
            [f"before restart {n}" for n in range(3)],
        )
        first = tags(before[0])["msgid"]
        self.assertEqual(len({tags(line)["msgid"] for line in before}), 3)
        ircy.send("PRIVMSG #general :after restart")
        later = self.history(ircy, f"AFTER #general msgid={first} 10")
        self.assertEqual(
            [line.split(" :", 2)[2] for line in later],
            ["before restart 1", "before restart 2", "after restart"],
        )
        # (messages said in one millisecond have one time: a msgid tells them apart)
        second = tags(later[0])["msgid"]
        older = self.history(ircy, f"BEFORE #general msgid={second} 10")
        self.assertEqual(
            [line.split(" :", 2)[2] for line in older], ["before restart 0"]
        )

        ircy.send("@label=q1 CHATHISTORY LATEST #general * 1")
        opening = ircy.read_line()
        assert opening is not None
        self.assertTrue(opening.startswith("@label=q1 :twistedchat BATCH +"), opening)
        ircy.send("@label=q2 CHATHISTORY LATEST #elsewhere * 1")
        failed = ircy.expect(
            "@label=q2 :twistedchat FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere "
            ":Messages could not be retrieved"
        )
        self.assertEqual(len(failed), 2)  # the PRIVMSG and the batch's end
