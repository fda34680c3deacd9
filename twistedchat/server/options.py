"""
Server settings: command-line options, the C{KEY=VALUE} config file, defaults.

Every setting is declared once in L{SETTINGS}; from that table come the twistd
options (C{--default-room}), the config keys (C{DEFAULT_ROOM}) and the help
text. A value given on the command line wins over the config file, which wins
over the default. Any bad key or value stops start-up with one line on
standard error naming where it came from (file and line, or option), not
twistd's usage text.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from twisted.internet.endpoints import serverFromString
from twisted.python import usage
from twisted.python.filepath import FilePath

from .. import persistence
from ..cluster.address import RedisAddress, parse_address
from ..codec import DEFAULT_MAX_FRAME
from ..configfile import ConfigFileError, read_config_file
from ..core.names import ROOM_MAX_LENGTH, ROOM_SPECIALS, is_valid_room
from ..core.service import DEFAULT_MAX_ROOMS
from ..fronts.base import Limits
from ..fronts.irc.servername import (
    DEFAULT_SERVER_INFO,
    DEFAULT_SERVER_NAME,
    check_server_info,
    check_server_name,
)
from ..fronts.line import DEFAULT_MAX_LINE
from ..fronts.web.media import MAX_PICTURE
from .operators import OperatorsFileError, read_operators
from .startup import refuse

# More workers than this on one machine is a typo, not a plan.
MAX_WORKERS = 256

# Twisted listens with a queue of 50 pending connections by default: when a
# crowd connects at once, the rest wait for SYN retries (1 s, 2 s, 4 s...).
LISTEN_BACKLOG = 1024


class ConfigError(ValueError):
    """A setting that cannot be used; C{str()} says where it came from and why."""


@dataclass(frozen=True)
class Setting:
    key: str
    default: str
    help: str
    short: str | None = None
    is_path: bool = False  # relative paths in a config file start from its folder

    @property
    def option(self) -> str:
        return self.key.lower().replace("_", "-")


SETTINGS = [
    Setting("HOST", "0.0.0.0", "IP address the fronts listen on", "H"),
    Setting("PORT", "7777", "TCP port of the line (netcat) front", "p"),
    Setting(
        "LINE",
        "",
        "endpoint of the line front, e.g. tcp:7777 or ssl:7777:privateKey=key.pem"
        ":certKey=cert.pem (overrides HOST and PORT)",
    ),
    Setting(
        "MAX_LINE", str(DEFAULT_MAX_LINE), "longest line (bytes) the line front accepts"
    ),
    Setting("FRAMED_PORT", "9999", "TCP port of the framed (twistedchat client) front"),
    Setting(
        "FRAMED",
        "",
        "endpoint of the framed front (overrides HOST and FRAMED_PORT)",
    ),
    Setting("IRC_PORT", "6667", "TCP port of the IRC front"),
    Setting(
        "IRC",
        "",
        "endpoint of the IRC front, e.g. ssl:6697:privateKey=key.pem "
        "(overrides HOST and IRC_PORT)",
    ),
    Setting(
        "WEB_PORT", "8080", "TCP port of the web front (the page and its WebSocket)"
    ),
    Setting(
        "WEB",
        "",
        "endpoint of the web front, e.g. ssl:8443:privateKey=key.pem "
        "(overrides HOST and WEB_PORT)",
    ),
    Setting(
        "WEB_ORIGINS",
        "",
        "origins whose pages may use the WebSocket, comma-separated, e.g. "
        "https://chat.example.org (empty: the page's own origin)",
    ),
    Setting(
        "SERVER_NAME",
        DEFAULT_SERVER_NAME,
        "name the IRC front gives the server, e.g. irc.example.org (letters, "
        "digits, hyphens and dots)",
    ),
    Setting(
        "SERVER_INFO",
        DEFAULT_SERVER_INFO,
        "a line describing the server, which the IRC front's LINKS shows",
    ),
    Setting(
        "MAX_FRAME",
        str(DEFAULT_MAX_FRAME),
        "largest frame (bytes) the framed front accepts",
    ),
    Setting(
        "MAX_PICTURE",
        str(MAX_PICTURE),
        "largest image file (bytes) a web user may send as a picture",
    ),
    Setting(
        "DATA_DIR",
        "twistedchat-data",
        "folder for the server's data (identity key, history/), created if missing",
        is_path=True,
    ),
    Setting(
        "HISTORY_FLUSH_MS",
        str(persistence.DEFAULT_FLUSH_MS),
        "longest time (ms) a message waits in memory before it is written",
    ),
    Setting(
        "HISTORY_BATCH",
        str(persistence.DEFAULT_BATCH),
        "messages that, once waiting, are written at once",
    ),
    Setting(
        "HISTORY_FSYNC",
        "interval",
        "fsync after each batch (always), at most once a second (interval), or never",
    ),
    Setting(
        "HISTORY_STOP_RETRY",
        f"{persistence.DEFAULT_STOP_RETRY:g}",
        "seconds the history keeps retrying writes that fail when the server "
        "stops, before it logs what is lost",
    ),
    Setting(
        "HISTORY_REPLAY",
        str(persistence.DEFAULT_REPLAY),
        "past messages shown to whoever joins a room (0: none)",
    ),
    Setting(
        "HISTORY_MAX_BYTES",
        str(persistence.DEFAULT_MAX_BYTES),
        "size past which a room's history file is rotated",
    ),
    Setting(
        "HISTORY_KEEP",
        str(persistence.DEFAULT_KEEP),
        "rotated history files kept per room",
    ),
    Setting(
        "SENDQ",
        str(Limits.sendq),
        "bytes queued for a peer that reads too slowly before it is dropped",
    ),
    Setting(
        "MAX_CONNECTIONS",
        str(Limits.max_connections),
        "connections in all (0: no limit)",
    ),
    Setting(
        "MAX_PER_ADDRESS",
        str(Limits.max_per_address),
        "connections from one IP address (0: no limit)",
    ),
    Setting(
        "MAX_ROOMS",
        str(DEFAULT_MAX_ROOMS),
        "rooms one user may be in at once (0: no limit)",
    ),
    Setting(
        "REGISTRATION_TIMEOUT",
        f"{Limits.registration_timeout:g}",
        "seconds a framed or IRC client has to introduce itself (0: forever)",
    ),
    Setting(
        "IDLE_TIMEOUT",
        f"{Limits.idle_timeout:g}",
        "seconds of silence before a PING (0: never)",
    ),
    Setting(
        "PING_TIMEOUT",
        f"{Limits.ping_timeout:g}",
        "seconds to answer a PING before being dropped",
    ),
    Setting(
        "FLOOD_RATE",
        f"{Limits.flood_rate:g}",
        "lines or frames per second a client may send, sustained (0: no limit)",
    ),
    Setting(
        "FLOOD_BURST",
        str(Limits.flood_burst),
        "lines or frames a client may send at once",
    ),
    Setting(
        "LOG_MESSAGES",
        "no",
        "also log the text of every room message (yes or no; the history keeps them)",
    ),
    Setting(
        "DEFAULT_ROOM",
        "general",
        "room new connections land in (empty: none, clients must JOIN)",
    ),
    Setting(
        "CLUSTER",
        "",
        "Redis shared by the nodes of one chat, redis://[user:password@]host"
        "[:port][/db] or rediss://... (TLS; ?ca=ca.pem for a private authority); "
        "empty: a single node, no Redis",
    ),
    Setting(
        "LOG_QUEUE",
        "10000",
        "with CLUSTER: commands that may wait while Redis is away, in order; "
        "past that, new ones are refused with an error",
    ),
    Setting(
        "WORKERS",
        "1",
        "worker processes sharing the fronts' ports, each a node of the "
        f"CLUSTER (1 to {MAX_WORKERS}; more than 1 needs CLUSTER)",
    ),
    Setting(
        "OPERATORS",
        "",
        "file of server operators (NAME:HASH lines, made with twistedchat-passwd)",
        is_path=True,
    ),
]
_BY_KEY = {setting.key: setting for setting in SETTINGS}


@dataclass(frozen=True)
class ServerSettings:
    """Everything the service tree needs, checked."""

    line_endpoint: str
    max_line: int
    framed_endpoint: str
    max_frame: int
    data_dir: str
    default_room: str | None
    operators: str | None
    history_flush_ms: int = persistence.DEFAULT_FLUSH_MS
    history_batch: int = persistence.DEFAULT_BATCH
    history_fsync: persistence.FsyncPolicy = "interval"
    history_replay: int = persistence.DEFAULT_REPLAY
    history_max_bytes: int = persistence.DEFAULT_MAX_BYTES
    history_keep: int = persistence.DEFAULT_KEEP
    history_stop_retry: float = persistence.DEFAULT_STOP_RETRY
    irc_endpoint: str | None = None  # None (only when built in code): no IRC front
    web_endpoint: str | None = None  # None (only when built in code): no web front
    web_origins: tuple[str, ...] = ()  # empty: the page's own origin
    max_picture: int = MAX_PICTURE  # bytes of a picture sent from the web page
    server_name: str = DEFAULT_SERVER_NAME  # as the IRC front names the server
    server_info: str = DEFAULT_SERVER_INFO  # as the IRC front's LINKS describes it
    log_messages: bool = False
    limits: Limits = field(default_factory=Limits)
    max_rooms: int = DEFAULT_MAX_ROOMS
    cluster: RedisAddress | None = None  # None: a single node, no Redis
    log_queue: int = 10000  # commands waiting for Redis (cluster.log.LOG_QUEUE)
    workers: int = 1  # processes serving the same ports (cluster/workers.py)

    def history_options(self) -> dict[str, Any]:
        """How the history is written: the writer's keyword arguments."""
        return {
            "flush_interval": self.history_flush_ms / 1000,
            "batch": self.history_batch,
            "fsync": self.history_fsync,
            "replay": self.history_replay,
            "max_bytes": self.history_max_bytes,
            "keep": self.history_keep,
            "stop_retry": self.history_stop_retry,
            "max_entry": persistence.largest_entry(max(self.max_frame, self.max_line)),
        }


def read_config(path: str) -> dict[str, tuple[str, str]]:
    """Each setting in the config file at C{path}, with where it was found."""
    try:
        found = read_config_file(path, _BY_KEY)
    except ConfigFileError as e:
        raise ConfigError(str(e)) from None
    folder = os.path.dirname(os.path.abspath(path))
    for key, (value, origin) in found.items():
        if value and _BY_KEY[key].is_path:
            found[key] = (os.path.join(folder, value), origin)
    return found


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"not a port number (0-65535): {value!r}")
    return port


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"not a positive whole number: {value!r}")
    return number


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"not a whole number (0 or more): {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ValueError(f"not a number (0 or more): {value!r}")
    return number


def _origins(value: str) -> tuple[str, ...]:
    origins = []
    for item in value.split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ValueError(
                f"not an origin (http:// or https://, a host, maybe a port): {item!r}"
            )
        origins.append(origin.lower())
    return tuple(origins)


def _fsync(value: str) -> persistence.FsyncPolicy:
    for policy in persistence.FSYNC_POLICIES:
        if value == policy:
            return policy
    raise ValueError(f"not one of {', '.join(persistence.FSYNC_POLICIES)}: {value!r}")


def _yes_no(value: str) -> bool:
    if value.lower() in ("yes", "no"):
        return value.lower() == "yes"
    raise ValueError(f"not yes or no: {value!r}")


def _room(value: str) -> str | None:
    room = value.removeprefix("#")
    if not room:
        return None
    if not is_valid_room(room):
        raise ValueError(
            f"not a room name (1 to {ROOM_MAX_LENGTH} letters, digits or "
            f"{ROOM_SPECIALS}): {value!r}"
        )
    return room


def _endpoint(value: str) -> str:
    try:
        # Parsing only: the endpoint keeps the reactor for listen(), which is
        # never called on this one, so no reactor is needed (or installed).
        serverFromString(None, value)
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise ValueError(f"not a usable endpoint ({e}): {value!r}") from None
    return value


def _check_certificate(path: str) -> None:
    # Only with rediss://...?ca=: a single node never loads OpenSSL for this.
    from OpenSSL.crypto import Error as OpenSSLError
    from twisted.internet.ssl import Certificate

    try:
        with open(path, "rb") as pem:
            Certificate.loadPEM(pem.read())
    except (OSError, OpenSSLError, ValueError) as e:
        raise ValueError(f"not a PEM certificate (?ca=): {path!r} ({e})") from None


def _cluster(value: str) -> RedisAddress | None:
    if not value:
        return None
    address = parse_address(value)
    if address.ca is not None:
        ca = os.path.abspath(address.ca)
        if not os.path.isfile(ca):
            raise ValueError(f"no such file (?ca=): {address.ca!r}")
        _check_certificate(ca)
        address = replace(address, ca=ca)
    return address


def _workers(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_WORKERS:
        raise ValueError(f"not a number of workers (1 to {MAX_WORKERS}): {value!r}")
    return number


def _data_dir(value: str) -> str:
    if not value:
        raise ValueError("a folder is needed")
    # Whether it can be used is checked when the server claims it (startup.py).
    return os.path.abspath(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:")


def _tcp_endpoint(host: str, port: int) -> str:
    return f"tcp:{port}:interface={_escape(host)}:backlog={LISTEN_BACKLOG}"


def settle(values: dict[str, tuple[str, str]]) -> ServerSettings:
    """Check the raw C{values} (key to value and origin) and build the settings."""
    raw = {s.key: (s.default, f"default {s.key}") for s in SETTINGS}
    raw.update(values)

    def check(key: str, parse: Callable[[str], Any]) -> Any:
        value, origin = raw[key]
        try:
            return parse(value)
        except ValueError as e:
            raise ConfigError(f"{origin}: {e}") from None

    host = check("HOST", _host)
    port = check("PORT", _port)
    line = check("LINE", lambda v: _endpoint(v) if v else None)
    framed_port = check("FRAMED_PORT", _port)
    framed = check("FRAMED", lambda v: _endpoint(v) if v else None)
    irc_port = check("IRC_PORT", _port)
    irc = check("IRC", lambda v: _endpoint(v) if v else None)
    web_port = check("WEB_PORT", _port)
    web = check("WEB", lambda v: _endpoint(v) if v else None)
    operators_value, operators_origin = raw["OPERATORS"]
    operators = None
    if operators_value:
        operators = os.path.abspath(operators_value)
        try:
            read_operators(FilePath(operators))
        except OperatorsFileError as e:
            raise ConfigError(f"{operators_origin}: {e}") from None
    cluster = check("CLUSTER", _cluster)
    workers = check("WORKERS", _workers)
    if workers > 1 and cluster is None:
        raise ConfigError(
            f"{raw['WORKERS'][1]}: {workers} workers need CLUSTER, the Redis "
            "through which they serve one chat (--cluster redis://host:port)"
        )
    return ServerSettings(
        line_endpoint=line or _tcp_endpoint(host, port),
        max_line=check("MAX_LINE", _positive),
        framed_endpoint=framed or _tcp_endpoint(host, framed_port),
        max_frame=check("MAX_FRAME", _positive),
        max_picture=check("MAX_PICTURE", _positive),
        data_dir=check("DATA_DIR", _data_dir),
        default_room=check("DEFAULT_ROOM", _room),
        operators=operators,
        history_flush_ms=check("HISTORY_FLUSH_MS", _positive),
        history_batch=check("HISTORY_BATCH", _positive),
        history_fsync=check("HISTORY_FSYNC", _fsync),
        history_replay=check("HISTORY_REPLAY", _count),
        history_max_bytes=check("HISTORY_MAX_BYTES", _positive),
        history_keep=check("HISTORY_KEEP", _count),
        history_stop_retry=check("HISTORY_STOP_RETRY", _seconds),
        irc_endpoint=irc or _tcp_endpoint(host, irc_port),
        web_endpoint=web or _tcp_endpoint(host, web_port),
        web_origins=check("WEB_ORIGINS", _origins),
        server_name=check("SERVER_NAME", check_server_name),
        server_info=check("SERVER_INFO", check_server_info),
        log_messages=check("LOG_MESSAGES", _yes_no),
        max_rooms=check("MAX_ROOMS", _count),
        cluster=cluster,
        log_queue=check("LOG_QUEUE", _positive),
        workers=workers,
        limits=Limits(
            sendq=check("SENDQ", _count),
            max_connections=check("MAX_CONNECTIONS", _count),
            max_per_address=check("MAX_PER_ADDRESS", _count),
            registration_timeout=check("REGISTRATION_TIMEOUT", _seconds),
            idle_timeout=check("IDLE_TIMEOUT", _seconds),
            ping_timeout=check("PING_TIMEOUT", _seconds),
            flood_rate=check("FLOOD_RATE", _seconds),
            flood_burst=check("FLOOD_BURST", _positive),
        ),
    )


class Options(usage.Options):
    """C{twistd twistedchat} options; see L{SETTINGS}."""

    synopsis = "[options]"
    longdesc = (
        "Run the twistedchat server. Settings come from the options below, "
        "then the --config file (KEY=VALUE lines, keys as shown in brackets), "
        "then the defaults."
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["config", "c", None, "config file of KEY=VALUE lines"],
        *(
            [s.option, s.short, None, f"{s.help} [{s.key}, default: {s.default!r}]"]
            for s in SETTINGS
        ),
    ]

    settings: ServerSettings

    def postOptions(self) -> None:
        values: dict[str, tuple[str, str]] = {}
        try:
            if self["config"] is not None:
                values.update(read_config(self["config"]))
            for setting in SETTINGS:
                if self[setting.option] is not None:
                    values[setting.key] = (self[setting.option], f"--{setting.option}")
            self.settings = settle(values)
        except ConfigError as e:
            refuse(str(e))
