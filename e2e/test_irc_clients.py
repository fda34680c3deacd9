"""
Real IRC clients, irssi and WeeChat, driven as a person drives them: typed on
in a terminal, read on their screens, sharing a room with each other
and a netcat user for an ordinary session (join, chat, /me, topic, modes,
kick, whois, whowas, oper, away, nick, quit).

Each client connects through a L{RecordingProxy}, which keeps every line each
way: no error numeric (4xx, 5xx) may reach either client, but for the few a
real server sends too for what the client itself does (L{EXPECTED}).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.utils import getProcessOutput

from e2e.programs import (
    ChatServer,
    NetcatUser,
    RecordingProxy,
    TerminalProgram,
    reactor,
)
from twistedchat.server.operators import hash_password

IRSSI = shutil.which("irssi")
WEECHAT = shutil.which("weechat")
needs_clients = pytest.mark.skipif(
    IRSSI is None or WEECHAT is None,
    reason="irssi and WeeChat are not both installed "
    "(Debian: apt-get install irssi weechat-curses)",
)

OPERATOR, PASSWORD = "admin", "earl-grey"
COLUMNS, ROWS = 140, 45
ERROR_NUMERIC = re.compile(r"^(?:@\S+ )?:\S+ ([45]\d\d) ")


@dataclass(frozen=True)
class Expected:
    """An error numeric a real server sends too, for what the client did."""

    client: str
    numeric: str
    sent: str  # a regular expression: what the client sent before it
    reason: str


EXPECTED = [
    Expected(
        "irssi",
        "451",
        r"^JOIN :$",
        "irssi sends 'JOIN :' after 'CAP LS 302' to tell a server without "
        "CAP from a silent one (irssi's irc-servers.c): servers answer 451, "
        "which irssi needs (a 461 leaves it waiting for CAP)",
    ),
]


@dataclass
class IRCClient:
    """An IRC client program on a terminal, connected through its proxy."""

    name: str
    program: TerminalProgram
    proxy: RecordingProxy
    # The server's window (its answers to WHOIS, OPER...): how to go there,
    # how to come back to the room's, and what shows one is back.
    server_window: str
    room_window: str
    room_shown: str

    def type(self, line: str) -> None:
        self.program.line(line)

    async def sees(self, text: str, timeout: float = 10) -> list[str]:
        return await self.program.wait_for_screen(text, timeout)

    async def shows(self, pattern: str, timeout: float = 10) -> list[str]:
        """The screen, once a row of it matches C{pattern} (a regular
        expression)."""
        regex = re.compile(pattern)

        def found() -> list[str] | None:
            rows = self.program.display()
            return rows if any(regex.search(row) for row in rows) else None

        return await self.program.waits.until(found, timeout, f"{pattern!r} shown")

    async def no_longer_sees(self, text: str, timeout: float = 10) -> list[str]:
        def gone() -> list[str] | None:
            rows = self.program.display()
            return None if any(text in row for row in rows) else rows

        return await self.program.waits.until(gone, timeout, f"{text!r} gone")

    async def sees_in_server_window(self, text: str) -> list[str]:
        """Look at the server's window for C{text}, then back at the room."""
        self.type(self.server_window)
        try:
            return await self.sees(text)
        finally:
            self.type(self.room_window)
            await self.sees(self.room_shown)

    def unexpected_errors(self) -> list[str]:
        """Error numerics the client got, other than L{EXPECTED}, each with
        the last lines the client had sent before it."""
        found = []
        sent: list[str] = []
        for _, direction, line in self.proxy.transcript:
            if direction == ">":
                sent.append(line)
                continue
            match = ERROR_NUMERIC.match(line)
            if match is None:
                continue
            if any(
                expected.client == self.name
                and expected.numeric == match.group(1)
                and any(re.search(expected.sent, earlier) for earlier in sent)
                for expected in EXPECTED
            ):
                continue
            found.append(f"{line!r} after {sent[-3:]!r}")
        return found

    async def stop(self) -> None:
        await self.program.stop(timeout=5)
        await self.proxy.stop()


async def start_irssi(folder: Path, server: ChatServer, nick: str) -> IRCClient:
    """irssi as a person starts it: C{irssi -c HOST -p PORT -n NICK}."""
    assert IRSSI is not None
    home = folder / "irssi"
    home.mkdir(parents=True)
    (home / "config").write_text(
        "settings = {\n"
        f'  core = {{ real_name = "{nick.title()} Liddell"; user_name = "{nick}"; }};\n'
        # irssi's flood control sends a line every 2.2 s once 5 are sent: the
        # same session, in seconds rather than minutes.
        '  "irc/core" = { cmd_queue_speed = "100msec"; };\n'
        "};\n"
    )
    proxy = await RecordingProxy.start(server.ports["irc"])
    program = TerminalProgram.spawn(
        [IRSSI, f"--home={home}", "-c", "127.0.0.1", "-p", str(proxy.port), "-n", nick],
        cwd=folder,
        columns=COLUMNS,
        rows=ROWS,
    )
    return IRCClient("irssi", program, proxy, "/window 1", "/window 2", "[#tea]")


async def start_weechat(folder: Path, server: ChatServer, nick: str) -> IRCClient:
    """WeeChat with a server added and connected to, from its command line."""
    assert WEECHAT is not None
    home = folder / "weechat"
    home.mkdir(parents=True)
    version = (await getProcessOutput(WEECHAT, ["--version"], reactor=reactor)).decode()
    # WeeChat 4 uses TLS for a new server unless told; 3 knows no -notls.
    major = int(version.split(".")[0])
    plain = " -notls" if major >= 4 else ""
    proxy = await RecordingProxy.start(server.ports["irc"])
    commands = [
        f"/set irc.server_default.nicks {nick}",
        f"/set irc.server_default.username {nick}",
        f'/set irc.server_default.realname "{nick.title()} Builder"',
        # WeeChat's flood control sends a line every 2 s: the same session in
        # less time (WeeChat 3's names for it).
        *(["/set irc.server_default.anti_flood_prio_high 0"] if major < 4 else []),
        f"/server add chat 127.0.0.1/{proxy.port}{plain}",
        "/connect chat",
    ]
    program = TerminalProgram.spawn(
        [WEECHAT, "-d", str(home), "-r", ";".join(commands)],
        cwd=folder,
        columns=COLUMNS,
        rows=ROWS,
    )
    return IRCClient("weechat", program, proxy, "/buffer 1", "/buffer 2", "2:#tea")


async def told(user: NetcatUser, pattern: str, after: int) -> str:
    """
    The first line from the server to the netcat user, from index C{after}
    of its lines, that matches C{pattern} (a regular expression) past
    C{[server] }: what they read of a change in the room, whatever its
    wording.
    """
    regex = re.compile(r"^\[server\] " + pattern)

    def found() -> str | None:
        return next((line for line in user.lines[after:] if regex.search(line)), None)

    return await user.waits.until(found, 10, f"a line matching {pattern!r}")


@pytest_twisted.async_yield_fixture
async def server_with_operator(tmp_path: Path) -> AsyncIterator[ChatServer]:
    operators = tmp_path / "operators"
    operators.write_text(f"{OPERATOR}:{hash_password(PASSWORD)}\n")
    server = await ChatServer.start(tmp_path / "server", "--operators", str(operators))
    try:
        yield server
    finally:
        await server.stop()


@needs_clients
@pytest_twisted.ensureDeferred
async def test_irssi_and_weechat_in_an_ordinary_session(
    server_with_operator: ChatServer, tmp_path: Path
) -> None:
    server = server_with_operator
    carol = await NetcatUser.connect(server.ports["line"], "carol")
    alice = await start_irssi(tmp_path / "alice", server, "alice")
    bob = await start_weechat(tmp_path / "bob", server, "bob")
    try:
        await alice.proxy.wait_for_received(" 001 alice ", timeout=30)
        await bob.proxy.wait_for_received(" 001 bob ", timeout=30)

        # Alice opens #tea (she is its operator); Bob and Carol join her.
        alice.type("/join #tea")
        await alice.shows(r"alice \[\w+@twistedchat\] has joined #tea")
        await alice.proxy.wait_for_received(" 366 alice #tea ")
        bob.type("/join #tea")
        await alice.shows(r"bob \[\w+@twistedchat\] has joined #tea")
        await bob.sees("2:#tea")
        carol.send("JOIN tea")
        await carol.wait_for("you are in #tea")
        await alice.shows(r"carol \[\w+@twistedchat\] has joined #tea")
        await bob.shows(r"carol \(\w+@twistedchat\) has joined #tea")

        # Chat, each way.
        alice.type("hello from irssi")
        await bob.sees("hello from irssi")
        await carol.wait_for("[alice] hello from irssi")
        bob.type("hello from weechat")
        await alice.sees("hello from weechat")
        await carol.wait_for("[bob] hello from weechat")
        carol.send("MSG hello from netcat")
        await alice.sees("hello from netcat")
        await bob.sees("hello from netcat")

        # /me
        alice.type("/me pours the tea")
        await bob.sees("alice pours the tea")
        await carol.wait_for("* alice pours the tea")
        bob.type("/me sips")
        await alice.sees("bob sips")
        await carol.wait_for("* bob sips")

        # The topic.
        alice.type("/topic Earl Grey only")
        await bob.sees('alice has changed topic for #tea to "Earl Grey only"')
        await carol.wait_for('"alice" set the topic of #tea: Earl Grey only')

        # Modes: Bob made operator moderates the room, and back; then +n.
        heard = len(carol.lines)
        alice.type("/op bob")
        await bob.sees("[+o bob] by alice")
        await told(carol, r'"alice" .*\bbob\b', heard)
        heard = len(carol.lines)
        bob.type("/mode #tea +m")
        await alice.sees("[+m] by bob")
        await told(carol, r'"bob" .*#tea', heard)
        heard = len(carol.lines)
        carol.send("MSG may I?")
        refusal = await carol.wait_for("error:", after=heard)
        assert "cannot send to #tea" in refusal, refusal
        alice.type("operators still speak")
        await bob.sees("operators still speak")
        await carol.wait_for("[alice] operators still speak")
        assert not [row for row in bob.program.display() if "may I?" in row]
        assert not [row for row in alice.program.display() if "may I?" in row]
        bob.type("/mode #tea -m")
        await alice.sees("[-m] by bob")
        alice.type("/deop bob")
        await bob.sees("[-o bob] by alice")
        heard = len(carol.lines)
        alice.type("/mode #tea +n")
        await bob.sees("[+n] by alice")
        await told(carol, r'"alice" .*#tea', heard)

        # A kick, and back.
        alice.type("/kick bob out you go")
        await bob.sees("alice has kicked bob (out you go)")
        await alice.sees("bob was kicked from #tea by alice [out you go]")
        await carol.wait_for('"bob" was kicked from #tea by "alice": out you go')
        bob.type("/join #tea")
        await carol.wait_for('"bob" joined #tea')
        bob.type("back again")
        await alice.sees("back again")
        await carol.wait_for("[bob] back again")

        # Whois, each way (irssi shows it in its status window, WeeChat in
        # the server's buffer: each looks there once the answer came).
        alice.type("/whois bob")
        await alice.proxy.wait_for_received(" 318 alice bob ")
        await alice.sees_in_server_window("Bob Builder")
        bob.type("/whois alice")
        await bob.proxy.wait_for_received(" 318 bob alice ")
        await bob.sees_in_server_window("Alice Liddell")

        # Bob becomes a server operator (the operators file's).
        bob.type(f"/oper {OPERATOR} {PASSWORD}")
        await bob.proxy.wait_for_received(" 381 bob ")
        await bob.sees_in_server_window("You are now an IRC operator")

        # Alice goes away; Bob, writing to her, is told; she comes back.
        alice.type("/away tea break")
        await alice.sees("(zZzZ)")  # irssi's status bar
        bob.type("/query alice still there?")  # a private buffer, shown
        await bob.sees("is away: tea break")
        bob.type("/buffer 2")
        await bob.sees("2:#tea")
        alice.type("/window goto bob")  # irssi opened it, without showing it
        await alice.sees("still there?")
        alice.type("/window 2")
        await alice.sees("[#tea]")
        alice.type("/away")
        await alice.no_longer_sees("(zZzZ)")

        # A new nick; who had the old one.
        bob.type("/nick robert")
        await alice.sees("bob is now known as robert")
        await carol.wait_for('client "bob" => "robert"')
        alice.type("/whowas bob")
        await alice.proxy.wait_for_received(" 369 alice bob ")
        await alice.sees_in_server_window("Bob Builder")

        # Bob quits WeeChat; who he was; Carol and Alice go too.
        bob.type("/quit cheerio")
        await alice.shows(r"robert \[\w+@twistedchat\] has quit \[cheerio\]")
        await carol.wait_for("[robert] cheerio")
        await carol.wait_for('client disconnected "robert"')
        assert await bob.program.wait_exit() == 0
        alice.type("/whowas robert")
        await alice.proxy.wait_for_received(" 369 alice robert ")
        await alice.sees_in_server_window("Bob Builder")
        carol.send("QUIT")
        await alice.shows(r"carol \[\w+@twistedchat\] has quit")
        alice.type("/quit bye")
        assert await alice.program.wait_exit() == 0
    finally:
        for client in (alice, bob):  # shown if the test fails
            print(f"{client.name}'s screen:", *client.program.display(), sep="\n")
            print(f"{client.name}'s {client.proxy.describe()}")
        carol.close()
        await alice.stop()
        await bob.stop()

    # Nothing went wrong for either client, as far as the server could tell.
    assert alice.unexpected_errors() == []
    assert bob.unexpected_errors() == []
