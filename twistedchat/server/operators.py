"""
Server operators: hashed credentials in a file, checked through twisted.cred.

The operators file holds one C{name:hash} line per operator (C{#} starts a
comment). Hashes are scrypt with a random salt, written as
C{scrypt$N$r$p$salt$digest} (base64 fields); passwords are never stored. Hashing
is deliberately slow, so L{OperatorsChecker} runs it on the reactor's thread
pool and answers with a Deferred; the file is re-read there too, so operators
added with C{twistedchat-passwd} count without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.filepath import FilePath
from zope.interface import implementer

SCHEME = "scrypt"
# 2**14 costs ~16 MiB and some tens of milliseconds per check: slow for an
# attacker, cheap for a login now and then.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16


class OperatorsFileError(ValueError):
    """A line of the operators file cannot be read."""

    def __init__(self, path: str, line: int, why: str) -> None:
        super().__init__(path, line, why)
        self.path, self.line, self.why = path, line, why

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: {self.why}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The storable hash of C{password}."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True)
class _Hash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> _Hash:
        fields = text.split("$")
        if len(fields) != 6 or fields[0] != SCHEME:
            raise ValueError(f"not a {SCHEME} hash (make one with twistedchat-passwd)")
        try:
            n, r, p = (int(field) for field in fields[1:4])
            salt = base64.b64decode(fields[4], validate=True)
            digest = base64.b64decode(fields[5], validate=True)
        except ValueError as e:
            raise ValueError(f"malformed {SCHEME} hash ({e})") from None
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or not digest:
            raise ValueError(f"malformed {SCHEME} hash (bad parameters)")
        return cls(n, r, p, salt, digest)

    def matches(self, password: bytes) -> bool:
        candidate = hashlib.scrypt(
            password,
            salt=self.salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=256 * self.n * self.r * self.p + 1024 * 1024,
            dklen=len(self.digest),
        )
        return hmac.compare_digest(candidate, self.digest)


def parse_operators(text: str, path: str) -> dict[str, str]:
    """Map each operator name to its stored hash; L{OperatorsFileError} on a bad line."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, stored = line.partition(":")
        name = name.strip()
        if not colon or not name:
            raise OperatorsFileError(path, number, "expected NAME:HASH")
        try:
            _Hash.parse(stored.strip())
        except ValueError as e:
            raise OperatorsFileError(path, number, f"operator {name!r}: {e}") from None
        if name in entries:
            raise OperatorsFileError(path, number, f"operator {name!r} appears twice")
        entries[name] = stored.strip()
    return entries


def read_operators(path: FilePath[str]) -> dict[str, str]:
    """Read and check the operators file at C{path}."""
    try:
        text = path.getContent().decode("utf-8")
    except OSError as e:
        raise OperatorsFileError(path.path, 0, f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise OperatorsFileError(path.path, 0, "not UTF-8 text") from None
    return parse_operators(text, path.path)


# Checked when the name is unknown, so that a wrong name costs as much time
# as a wrong password and does not reveal which operators exist.
_DECOY = _Hash.parse(hash_password("", salt=b"\0" * SALT_BYTES))


@implementer(ICredentialsChecker)
class OperatorsChecker:
    """Checks C{OPER name password} against the operators file, off the reactor thread."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, reactor: IReactorThreads, path: FilePath[str]) -> None:
        self._reactor = reactor
        self.path = path
        read_operators(path)  # fail at start-up, not at the first OPER

    def requestAvatarId(
        self, credentials: IUsernamePassword
    ) -> Deferred[bytes | tuple[()]]:
        name = credentials.username
        password = credentials.password
        return deferToThreadPool(
            self._reactor,
            self._reactor.getThreadPool(),
            self._check,
            name,
            password,
        )

    def _check(self, name: bytes, password: bytes) -> bytes:
        """Runs in a worker thread: read the file, compare the hashes."""
        try:
            entries = read_operators(self.path)
        except OperatorsFileError as e:
            raise UnauthorizedLogin(f"operators file unusable: {e}") from None
        stored = entries.get(name.decode("utf-8", "replace"))
        expected = _DECOY if stored is None else _Hash.parse(stored)
        if not expected.matches(password) or stored is None:
            raise UnauthorizedLogin("wrong operator name or password")
        return name
