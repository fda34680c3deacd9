"""
The server's identity key: the secret that signs resume tokens.

Kept in the data folder (C{identity.key}, readable by the server's user only)
so that tokens survive a restart. Read or made once at start-up, before the
reactor runs.
"""

from __future__ import annotations

import os

from ..core.identity import Identities
from .startup import StartupError, reason

KEY_FILE = "identity.key"


class KeyFileError(StartupError):
    """The key file cannot be read, made or used: the server cannot start."""


def load_identities(data_dir: str) -> Identities:
    """The identities of this server, making its key on first start."""
    path = os.path.join(data_dir, KEY_FILE)
    try:
        os.makedirs(data_dir, exist_ok=True)
        return Identities(_read_or_make(path))
    except OSError as e:
        why = reason(e)
    except ValueError as e:  # not hex, or too short a secret
        why = f"not a key of this server ({e})"
    raise KeyFileError(f"unusable identity key {path}: {why}")


def _read_or_make(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return bytes.fromhex(file.read().decode("ascii").strip())
    except FileNotFoundError:
        pass
    secret = Identities.new_secret()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret.hex() + "\n")
    return secret
