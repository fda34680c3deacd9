"""
The client's settings: command-line options over a config file over defaults.

The config file holds C{KEY=VALUE} lines (C{HOST}, C{PORT}, C{NICK}, C{ROOM},
C{LANG}, C{LOG_FILE}, C{RECONNECT}; C{#} starts a comment). It is the file given
with C{--config}, or C{~/.config/twistedchat/client.conf} when that exists. A
bad value, wherever it comes from, is reported with its origin and the command
exits with status 2.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..configfile import ConfigFileError, read_config_file
from ..core.names import is_valid_nick, is_valid_room
from .i18n import LANGUAGES, choose_language
from .state import default_state_dir, xdg_base

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 9999
DEFAULT_RECONNECT = 60.0
CONFIG_KEYS = ("HOST", "PORT", "NICK", "ROOM", "LANG", "LOG_FILE", "RECONNECT")


class SettingsError(ValueError):
    """A setting that cannot be used; the text names where it came from."""


@dataclass(frozen=True)
class ClientSettings:
    host: str
    port: int
    nick: str | None
    room: str | None
    lang: str
    log_file: str
    reconnect: float
    state_dir: str

    def with_nick(self, nick: str) -> ClientSettings:
        return replace(self, nick=nick)

    @property
    def server(self) -> str:
        """How the server is named in the token store."""
        return f"{self.host}:{self.port}"


def default_config_file(environ: Mapping[str, str]) -> str:
    base = xdg_base(environ, "XDG_CONFIG_HOME", ".config")
    return os.path.join(base, "twistedchat", "client.conf")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twistedchat",
        description="Chat from the terminal on a twistedchat server.",
        epilog="In the chat, type /help for the commands.",
    )
    parser.add_argument("-a", "--address", help=f"server host (default {DEFAULT_HOST})")
    parser.add_argument("-p", "--port", help=f"server port (default {DEFAULT_PORT})")
    parser.add_argument("--nick", help="your nick (asked at start when missing)")
    parser.add_argument("--room", help="room to enter (offered at start when missing)")
    parser.add_argument("--config", help="config file of KEY=VALUE lines")
    parser.add_argument("--lang", help="fr or en (default: from the locale)")
    parser.add_argument("--log-file", help="where the conversation is logged")
    parser.add_argument(
        "--reconnect",
        help="seconds to keep trying when the server goes away, 0 to quit at once "
        f"(default {DEFAULT_RECONNECT:g})",
    )
    parser.add_argument("--state-dir", help="where resume tokens are kept")
    return parser


def settings_from(
    argv: Sequence[str] | None, environ: Mapping[str, str]
) -> ClientSettings:
    """The settings for C{argv}; L{SettingsError} names any bad value's origin."""
    arguments = parser().parse_args(argv)
    values: dict[str, tuple[str, str]] = {}
    config = arguments.config
    if config is None and os.path.exists(default_config_file(environ)):
        config = default_config_file(environ)
    if config is not None:
        try:
            values.update(read_config_file(config, CONFIG_KEYS))
        except ConfigFileError as e:
            raise SettingsError(str(e)) from None
    for key, option in [
        ("HOST", "address"),
        ("PORT", "port"),
        ("NICK", "nick"),
        ("ROOM", "room"),
        ("LANG", "lang"),
        ("LOG_FILE", "log_file"),
        ("RECONNECT", "reconnect"),
    ]:
        given = getattr(arguments, option)
        if given is not None:
            values[key] = (given, "--" + option.replace("_", "-"))

    def value(key: str) -> str | None:
        return values[key][0] if key in values else None

    def bad(key: str, why: str) -> SettingsError:
        return SettingsError(f"{values[key][1]}: {why}: {values[key][0]!r}")

    port = _number(value("PORT"), DEFAULT_PORT)
    if port is None or not 1 <= port <= 65535:
        raise bad("PORT", "not a port number (1-65535)")
    nick = value("NICK") or None
    if nick is not None and not is_valid_nick(nick):
        raise bad("NICK", "not a valid nick (1 to 30 letters, digits or _-[]{}\\|^)")
    room = (value("ROOM") or "").removeprefix("#") or None
    if room is not None and not is_valid_room(room):
        raise bad("ROOM", "not a valid room name")
    lang = value("LANG")
    if lang is not None and lang not in LANGUAGES:
        raise bad("LANG", f"not one of {', '.join(LANGUAGES)}")
    reconnect = _seconds(value("RECONNECT"), DEFAULT_RECONNECT)
    if reconnect is None:
        raise bad("RECONNECT", "not a number of seconds (0 or more)")
    state_dir = arguments.state_dir or default_state_dir(environ)
    return ClientSettings(
        host=value("HOST") or DEFAULT_HOST,
        port=port,
        nick=nick,
        room=room,
        lang=choose_language(lang, environ),
        log_file=value("LOG_FILE") or os.path.join(state_dir, "client.log"),
        reconnect=reconnect,
        state_dir=state_dir,
    )


def _number(text: str | None, default: int) -> int | None:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return None


def _seconds(text: str | None, default: float) -> float | None:
    if text is None:
        return default
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None
