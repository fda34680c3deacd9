"""
The client's settings: command-line options over a config file over defaults.

The config file holds C{KEY=VALUE} lines (C{HOST}, C{PORT}, C{NICK}, C{ROOM},
C{LANG}, C{LOG_FILE}, C{RECONNECT}, C{KEEPALIVE}, C{TLS}, C{CA_FILE}; C{#}
starts a comment).
It is the file given with C{--config}, or C{~/.config/twistedchat/client.conf}
when that exists. A bad value, wherever it comes from, is reported with its
origin and the command exits with status 2. The CA file is read here, so that
one that cannot be used is such a bad value rather than a failure at connection
time.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from OpenSSL import crypto
from twisted.internet.ssl import Certificate

from ..configfile import ConfigFileError, read_config_file
from ..core.names import is_valid_nick, is_valid_room
from .i18n import LANGUAGES, choose_language
from .state import default_state_dir, xdg_base

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 9999
DEFAULT_RECONNECT = 60.0
DEFAULT_KEEPALIVE = 30.0
CONFIG_KEYS = (
    "HOST",
    "PORT",
    "NICK",
    "ROOM",
    "LANG",
    "LOG_FILE",
    "RECONNECT",
    "KEEPALIVE",
    "TLS",
    "CA_FILE",
)
YES_NO = {"yes": True, "no": False}
PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL
)


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
    # Seconds of silence from the server before we Ping it, and then to wait
    # for its answer before reconnecting; 0: never.
    keepalive: float = DEFAULT_KEEPALIVE
    tls: bool = False
    # The authorities trusted instead of the system's (from CA_FILE), if any.
    ca_certificates: tuple[Certificate, ...] = ()

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
    parser.add_argument(
        "--keepalive",
        help="seconds of silence from the server before checking that it is "
        "still there; no answer within as many more and the client reconnects; "
        f"0 never checks (default {DEFAULT_KEEPALIVE:g})",
    )
    parser.add_argument("--state-dir", help="where resume tokens are kept")
    parser.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        help="connect with TLS, checking the server's certificate and host name "
        "(default: no)",
    )
    parser.add_argument(
        "--ca-file",
        help="PEM file of the certificate authorities to trust instead of the "
        "system's (with --tls)",
    )
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
        if "CA_FILE" in values and values["CA_FILE"][0]:
            # As in the server's file: relative to the file, not to where we run.
            path, origin = values["CA_FILE"]
            folder = os.path.dirname(os.path.abspath(config))
            values["CA_FILE"] = (os.path.join(folder, path), origin)
    for key, option in [
        ("HOST", "address"),
        ("PORT", "port"),
        ("NICK", "nick"),
        ("ROOM", "room"),
        ("LANG", "lang"),
        ("LOG_FILE", "log_file"),
        ("RECONNECT", "reconnect"),
        ("KEEPALIVE", "keepalive"),
        ("CA_FILE", "ca_file"),
    ]:
        given = getattr(arguments, option)
        if given is not None:
            values[key] = (given, "--" + option.replace("_", "-"))
    if arguments.tls is not None:
        values["TLS"] = ("yes", "--tls") if arguments.tls else ("no", "--no-tls")

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
    keepalive = _seconds(value("KEEPALIVE"), DEFAULT_KEEPALIVE)
    if keepalive is None:
        raise bad("KEEPALIVE", "not a number of seconds (0 or more)")
    tls = YES_NO.get((value("TLS") or "no").lower())
    if tls is None:
        raise bad("TLS", "not yes or no")
    ca_certificates: tuple[Certificate, ...] = ()
    ca_file = value("CA_FILE")
    if ca_file and value("TLS") is None:
        # Not a plain connection by default when someone asked for a CA.
        raise bad("CA_FILE", "only used with TLS (--tls or TLS=yes)")
    if ca_file and tls:
        try:
            ca_certificates = read_certificates(ca_file)
        except ValueError as e:
            raise bad("CA_FILE", str(e)) from None
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
        keepalive=keepalive,
        tls=tls,
        ca_certificates=ca_certificates,
    )


def read_certificates(path: str) -> tuple[Certificate, ...]:
    """
    The certificates of the PEM file at C{path} (one authority, or a bundle).

    @raise ValueError: saying why the file holds no usable certificate.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as e:
        raise ValueError(f"cannot read it ({e.strerror})") from None
    blocks = PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise ValueError("no PEM certificate in it")
    try:
        return tuple(Certificate.loadPEM(block) for block in blocks)
    except crypto.Error:
        raise ValueError("not a valid PEM certificate") from None


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
