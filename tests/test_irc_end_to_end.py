"""
A real IRC client library, a netcat user and a twistedchat client in one room.

The IRC side is jaraco's C{irc} package (the C{test} extra), driven from the
test itself: its reactor's C{process_once} runs in bounded polling loops, and
every event it reports is kept so that a failed wait shows what did arrive. The
server, the netcat user and the C{twistedchat} client are the real ones of
L{tests.processes}, on loopback.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from .processes import ClientProcess, LineClient, ServerProcess

try:
    from irc.client import Reactor
except ImportError:  # pragma: no cover - the test extra installs it
    Reactor = None

WELCOME = re.compile(r'^\[server\] welcome, you are "([^"]+)"')


@dataclass(frozen=True)
class Seen:
    """One event the IRC library reported, in plain types."""

    type: str  # the library's name: "welcome", "pubmsg", "kick"...
    nick: str  # who it came from (the server's name for numerics)
    target: str
    arguments: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type} from {self.nick} to {self.target}: {list(self.arguments)}"


class IRCUser:
    """One connection of the IRC library to the server, polled on demand."""

    def __init__(self, port: int, nick: str) -> None:
        self.events: list[Seen] = []
        self._seen = 0  # how far expect() has read
        self.reactor = Reactor()
        self.reactor.add_global_handler("all_events", self._record, -10)
        self.connection = self.reactor.server().connect(
            "127.0.0.1", port, nick, username="tester", ircname="An IRC tester"
        )

    def _record(self, connection: Any, event: Any) -> None:
        if event.type == "all_raw_messages":
            return
        self.events.append(
            Seen(
                event.type,
                getattr(event.source, "nick", None) or str(event.source or ""),
                str(event.target or ""),
                tuple(str(argument) for argument in event.arguments),
            )
        )

    def expect(
        self,
        kind: str,
        wanted: Callable[[Seen], bool] = lambda seen: True,
        timeout: float = 10,
    ) -> Seen:
        """Poll until an event of C{kind} that is C{wanted} comes after the last one found."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._seen, len(self.events)):
                seen = self.events[index]
                if seen.type == kind and wanted(seen):
                    self._seen = index + 1
                    return seen
            left = deadline - time.monotonic()
            if left <= 0:
                so_far = "\n".join(str(seen) for seen in self.events[self._seen :])
                raise AssertionError(
                    f"no {kind!r} event as wanted within {timeout}s; since the "
                    f"last one found:\n{so_far}"
                )
            self.reactor.process_once(min(left, 0.1))

    def close(self) -> None:
        self.connection.close()


class IRCEndToEndTests(SynchronousTestCase):
    def setUp(self) -> None:
        if Reactor is None:
            raise SkipTest(
                "the irc package is not installed: pip install '.[test]' brings it"
            )
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def test_irc_client_with_netcat_and_twistedchat_users(self) -> None:
        server = ServerProcess(self.folder).start()
        self.addCleanup(server.stop)

        # Registration: the welcome burst, with what 005 announces.
        irc = IRCUser(server.ports["irc"], "ircy")
        self.addCleanup(irc.close)
        welcome = irc.expect("welcome")
        self.assertEqual(welcome.target, "ircy")
        self.assertIn("Welcome to the twistedchat IRC network, ircy", welcome.arguments)
        irc.expect("endofmotd")
        self.assertEqual(irc.connection.features.casemapping, "rfc1459")
        self.assertEqual(irc.connection.features.network, "twistedchat")

        irc.connection.join("#general")
        irc.expect("join", lambda e: e.nick == "ircy" and e.target == "#general")
        irc.expect("endofnames", lambda e: e.arguments[0] == "#general")

        # A netcat user lands in #general under its provisional address:port.
        netcat = LineClient(server.ports["line"])
        self.addCleanup(netcat.close)
        greeting = netcat.read_line() or ""
        match = WELCOME.match(greeting)
        assert match is not None, greeting
        address = match.group(1)
        netcat.expect("[server] you are in #general")
        irc.expect("join", lambda e: e.nick == address and e.target == "#general")

        netcat.send("MSG hello irc")
        said = irc.expect("pubmsg", lambda e: e.nick == address)
        self.assertEqual((said.target, said.arguments), ("#general", ("hello irc",)))

        irc.connection.privmsg("#general", "hello netcat")
        netcat.expect("[ircy] hello netcat")

        # A twistedchat client in the same room.
        bob = ClientProcess(
            "-a",
            "127.0.0.1",
            "-p",
            str(server.ports["framed"]),
            "--state-dir",
            os.path.join(self.folder, "state-bob"),
            "--nick",
            "bob",
            "--room",
            "general",
            "--lang",
            "en",
            cwd=self.folder,
        )
        self.addCleanup(bob.stop)
        bob.expect("Welcome bob!")
        irc.expect("join", lambda e: e.nick == "bob" and e.target == "#general")

        irc.connection.privmsg("#general", "hello bob")
        bob.expect("ircy said: hello bob")
        netcat.expect("[ircy] hello bob")

        bob.send("hello ircy")
        said = irc.expect("pubmsg", lambda e: e.nick == "bob")
        self.assertEqual((said.target, said.arguments), ("#general", ("hello ircy",)))

        # A picture: a CTCP ACTION heading, then the ASCII art line by line.
        picture = os.path.join(self.folder, "square.png")
        image = Image.new("RGB", (40, 40), "white")
        image.paste((0, 0, 0), (10, 10, 30, 30))
        image.save(picture)
        bob.send(f"/image {picture}")
        action = irc.expect("action", lambda e: e.nick == "bob")
        self.assertEqual(
            (action.target, action.arguments), ("#general", ("shows a picture:",))
        )
        art = irc.expect("pubmsg", lambda e: e.nick == "bob")
        self.assertEqual(art.target, "#general")
        self.assertNotIn("\x1b", art.arguments[0])

        # A nick change, seen by the others.
        irc.connection.nick("ircy2")
        changed = irc.expect("nick", lambda e: e.nick == "ircy")
        self.assertEqual(changed.target, "ircy2")
        self.assertEqual(irc.connection.get_nickname(), "ircy2")
        netcat.expect('[server] client "ircy" => "ircy2"')
        bob.expect("ircy is now known as ircy2")

        # The creator of a room operates it: it may kick.
        irc.connection.join("#irctest")
        irc.expect("join", lambda e: e.nick == "ircy2" and e.target == "#irctest")
        names = irc.expect("namreply", lambda e: "#irctest" in e.arguments)
        self.assertEqual(names.arguments[-1], "@ircy2")
        netcat.send("JOIN irctest")
        netcat.expect("[server] you are in #irctest (2 members)")
        irc.expect("join", lambda e: e.nick == address and e.target == "#irctest")

        irc.connection.kick("#irctest", address, "enough")
        kicked = irc.expect("kick", lambda e: e.nick == "ircy2")
        self.assertEqual(
            (kicked.target, kicked.arguments), ("#irctest", (address, "enough"))
        )
        netcat.expect(
            f'[server] "{address}" was kicked from #irctest by "ircy2": enough'
        )

        # Back in #general, the netcat user sees the IRC user leave.
        netcat.send("JOIN general")
        netcat.expect("[server] you are in #general (3 members)")
        irc.expect("join", lambda e: e.nick == address and e.target == "#general")

        irc.connection.quit("bye all")
        irc.expect("error", lambda e: "Quit: bye all" in e.target)
        irc.expect("disconnect")
        netcat.expect("[ircy2] bye all")
        netcat.expect('[server] client disconnected "ircy2"')
        server.wait_for('client disconnected "ircy2"')

        bob.close_input()
        self.assertEqual(bob.wait(), 0)
        server.wait_for('client disconnected "bob"')
        netcat.send("QUIT")
        netcat.expect_closed()
        server.wait_for(re.escape(f'client disconnected "{address}"'))
