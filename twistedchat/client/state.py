"""
What the terminal client remembers between runs: one resume token per server,
with the nick its identity last had.

A server hands out a resume token when someone logs in; presenting it on the
next connection gets the same identity back, so the client presents it with
the identity's nick and asks no nick. The tokens live in C{tokens.json} in a
state directory private to the user, keyed by C{"host:port"}; several clients
of the same user share it (each rewrites only its own server's entry).
Losing them only costs an identity, so a missing, unreadable or damaged file
is taken as empty rather than stopping the client.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping

from twisted.logger import Logger, LogLevel

TOKENS_FILE = "tokens.json"


def default_state_dir(environ: Mapping[str, str]) -> str:
    """
    C{$XDG_STATE_HOME/twistedchat}, or C{~/.local/state/twistedchat} when that
    variable is unset, empty or not an absolute path (as the XDG base
    directory specification says).
    """
    return os.path.join(
        xdg_base(environ, "XDG_STATE_HOME", ".local/state"), "twistedchat"
    )


def xdg_base(environ: Mapping[str, str], variable: str, fallback: str) -> str:
    """An XDG base directory: the variable if it is absolute, else under HOME."""
    base = environ.get(variable, "")
    if os.path.isabs(base):
        return base
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, *fallback.split("/"))


class TokenStore:
    """
    The resume tokens kept in C{tokens.json} in C{directory}, by server.

    The file is read here and again before each L{put} (another client of
    the same user may have written it meanwhile); a missing, unreadable or
    corrupt file is taken as empty (a corrupt one is replaced at the next
    L{put}), never an error. Each server's entry is C{{"token": ..., "nick":
    ...}}; a bare token string (as earlier versions wrote) has no nick.
    """

    log = Logger()

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, TOKENS_FILE)
        self._tokens = self._read()

    def get(self, server: str) -> str:
        """The token for C{server} (C{"host:port"}), or C{""} when there is none."""
        return self._tokens.get(server, ("", ""))[0]

    def nick(self, server: str) -> str:
        """The nick kept with C{server}'s token, or C{""} when there is none."""
        return self._tokens.get(server, ("", ""))[1]

    def put(self, server: str, token: str, nick: str = "") -> None:
        """
        Remember C{token} for C{server} (C{""} forgets it), with C{nick}, the
        nick its identity has; save every token.

        The file is replaced atomically, readable by the user alone; the
        directory is made (private to the user) if missing. A failure to save
        is logged, not raised: the token is still kept for this run.
        """
        if os.path.exists(self.path):  # what other clients of ours wrote
            self._tokens = {**self._tokens, **self._read()}
        if token:
            self._tokens[server] = (token, nick)
        else:
            self._tokens.pop(server, None)
        try:
            self._write()
        except OSError:
            self.log.failure(
                "could not save the resume token for {server} in {path}",
                level=LogLevel.error,
                server=server,
                path=self.path,
            )

    def _read(self) -> dict[str, tuple[str, str]]:
        try:
            with open(self.path, "rb") as file:
                content = json.loads(file.read())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            # ValueError covers bad JSON and bad UTF-8 alike.
            self.log.warn(
                "ignoring unreadable resume tokens in {path}: {error}",
                path=self.path,
                error=e,
            )
            return {}
        if not isinstance(content, dict):
            self.log.warn(
                "ignoring resume tokens in {path}: no mapping", path=self.path
            )
            return {}
        entries = {}
        for server, entry in content.items():
            token, nick = entry, ""
            if isinstance(entry, dict):
                token, nick = entry.get("token"), entry.get("nick", "")
            if isinstance(token, str) and token and isinstance(nick, str):
                entries[server] = (token, nick)
        return entries

    def _write(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        # mkstemp makes the file with mode 0o600; in the same directory, so
        # that os.replace is an atomic rename.
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=".tokens-", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                entries = {
                    server: {"token": token, "nick": nick}
                    for server, (token, nick) in self._tokens.items()
                }
                json.dump(entries, file, indent=1, sort_keys=True)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
