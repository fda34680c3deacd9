"""
README as a new user reads it: its links lead to files of the repository,
and its netcat session, played with real processes, goes as written.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from .processes import ROOT, LineClient, ServerProcess, server_environment

README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = os.path.dirname(sys.executable)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def netcat_section() -> str:
    start = README.index("## Chatting with netcat")
    return README[start : README.index("\n## ", start + 1)]


def session_rows() -> list[str]:
    """The lines of the three-terminal session (the text block after `toto$`)."""
    section = netcat_section()
    block = section[section.index("toto$ nc localhost 7777") :]
    return block[: block.index("```")].rstrip("\n").split("\n")


class LinkTests(SynchronousTestCase):
    def test_links_lead_to_files_of_the_repository(self) -> None:
        links = LINK.findall(README)
        self.assertGreater(len(links), 3)
        for link in links:
            if link.startswith(("https://", "http://")):
                continue
            if link.startswith("#"):  # a heading of README itself
                heading = link[1:].replace("-", " ")
                self.assertRegex(README.lower(), rf"\n#+ {re.escape(heading)}\n")
                continue
            path = (ROOT / link.split("#")[0]).resolve()
            self.assertTrue(
                path.is_relative_to(ROOT) and path.exists(),
                f"README links to {link}, not a file of the repository",
            )


class NetcatSessionTests(SynchronousTestCase):
    """The session as README shows it: its commands, then the three terminals."""

    def test_the_session_goes_as_written(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        section = netcat_section()
        self.assertIn("netcat-openbsd", section)  # where nc comes from
        commands = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
        self.assertEqual(len(commands), 1, "the commands that start the session")
        server_arguments: list[str] = []
        for line in commands[0].strip().split("\n"):
            line = line.replace(".venv/bin/", BIN + "/")
            if "twistd -n twistedchat" in line:
                server_arguments = shlex.split(line.split("twistedchat", 1)[1])
            else:
                subprocess.run(
                    line,
                    shell=True,
                    cwd=folder,
                    env=server_environment(),
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
        server = ServerProcess(folder, *server_arguments).start()
        self.addCleanup(server.stop)
        self.play(server, session_rows())

    def play(self, server: ServerProcess, rows: list[str]) -> None:
        """
        Each row, column by column: a command is typed by that terminal, a
        line is expected there (after whatever README leaves out).
        """
        header = rows[0]
        starts = [header.index(f"{who}$") for who in ("toto", "tutu", "tata")]
        terminals: list[LineClient] = []
        for row in rows:
            # Cells are apart by two spaces or more; a cell may run past the
            # start of the next column when that one is empty.
            for found in re.finditer(r"\S+(?: \S+)*", row):
                cell = found.group()
                column = max(i for i, at in enumerate(starts) if at <= found.start())
                if cell.endswith("$ nc localhost 7777"):
                    terminal = LineClient(server.ports["line"])
                    self.addCleanup(terminal.close)
                    terminal.expect("[server] you are in #general")
                    terminals.append(terminal)
                elif cell == "(disconnected)":
                    terminals[column].expect_closed()
                elif cell.startswith("["):
                    try:
                        terminals[column].expect(cell)
                    except AssertionError as e:
                        raise AssertionError(
                            f"terminal {column + 1}: {cell!r}: {e}"
                        ) from None
                else:
                    terminals[column].send(cell)
                    if cell.startswith("NICK "):  # taken before the next row
                        nick = cell.split()[1]
                        terminals[column].expect(
                            f'[server] you are now known as "{nick}"'
                        )
        terminals[2].expect_closed()  # tata's QUIT ciao
