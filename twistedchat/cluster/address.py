"""
Where the cluster's Redis is: the C{CLUSTER} setting's URL, checked.

C{redis://[user:password@]host[:port][/db]} for plain TCP, C{rediss://...}
for TLS (the server's certificate is checked against the host name; C{?ca=}
names a PEM file of the private authority that signed it). L{parse_address}
turns the URL into a L{RedisAddress} or raises C{ValueError} with a text that
says what is wrong, for the settings to report with where the URL came from.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

DEFAULT_PORT = 6379
SCHEMES = ("redis", "rediss")


@dataclass(frozen=True)
class RedisAddress:
    """A Redis server and how to reach it; C{str()} hides the password."""

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca: str | None = None  # PEM file of the authority the server's cert comes from

    def __post_init__(self) -> None:
        if self.ca is not None and not self.tls:
            raise ValueError("?ca= is for rediss:// (TLS) only")

    def __repr__(self) -> str:
        return f"RedisAddress({str(self)!r})"

    def __str__(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        credentials = ""
        if self.username is not None or self.password is not None:
            user = quote(self.username or "", safe="")
            credentials = f"{user}:***@" if self.password is not None else f"{user}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?ca={quote(self.ca)}" if self.ca is not None else ""
        return f"{scheme}://{credentials}{host}:{self.port}/{self.db}{query}"


def _host(netloc_host: str | None, url: str) -> str:
    if not netloc_host:
        raise ValueError(f"no host in the Redis URL: {url!r}")
    try:
        return str(ipaddress.ip_address(netloc_host))
    except ValueError:
        pass
    # Host names: letters, digits, hyphens and dots, as DNS allows.
    if not all(c.isalnum() or c in "-._" for c in netloc_host) or not any(
        c.isalnum() for c in netloc_host
    ):
        raise ValueError(f"not a host name: {netloc_host!r} in {url!r}")
    return netloc_host.lower()


def _db(path: str, url: str) -> int:
    number = path.removeprefix("/")
    if not number:
        return 0
    if not number.isdigit() or not number.isascii():
        raise ValueError(
            f"the path of a Redis URL is a database number (/0, /1...): {url!r}"
        )
    return int(number)


def parse_address(url: str) -> RedisAddress:
    """
    The L{RedisAddress} of C{url}; C{ValueError} with a clear text for a URL
    that is not C{redis://[user:password@]host[:port][/db]} or C{rediss://...}
    (optionally C{?ca=/path/ca.pem}).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise ValueError(
            "a Redis URL starts with redis:// (or rediss:// for TLS), "
            f"as in redis://localhost:6379/0: {url!r}"
        )
    if parts.fragment:
        raise ValueError(f"a Redis URL has no #fragment: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"not a port number (1-65535) in {url!r}") from None
    if port == 0:
        raise ValueError(f"not a port number (1-65535) in {url!r}")
    host = _host(parts.hostname, url)
    db = _db(parts.path, url)
    tls = parts.scheme == "rediss"
    ca = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "ca":
            raise ValueError(f"unknown option {key!r} in {url!r} (only ca=)")
        if not tls:
            raise ValueError(f"?ca= is for rediss:// (TLS) only: {url!r}")
        if not value:
            raise ValueError(f"?ca= needs the path of a PEM file: {url!r}")
        ca = value
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password == "":
        raise ValueError(f"empty password in {url!r} (leave out the ':')")
    if username is not None and password is None:
        raise ValueError(
            f"a user name needs a password (redis://user:password@host): {url!r}"
        )
    return RedisAddress(
        host=host,
        port=port if port is not None else DEFAULT_PORT,
        db=db,
        username=username,
        password=password,
        tls=tls,
        ca=ca,
    )
