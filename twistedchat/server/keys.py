"""
The server's identity key: the secret that signs resume tokens.

Kept in the data folder (C{identity.key}, readable by the server's user only)
so that tokens survive a restart. Read or made once at start-up, before the
reactor runs.
"""

from __future__ import annotations

import os
import time

from ..core.identity import Identities
from .startup import StartupError, reason

KEY_FILE = "identity.key"
# Seconds an empty key file is given to be written by the server that made it.
WRITING_WAIT = 2.0


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
    # The nodes of a cluster share the data folder and may start at once:
    # one makes the key, the others read it, once it is written.
    deadline = time.monotonic() + WRITING_WAIT
    while True:
        try:
            with open(path, "rb") as file:
                text = file.read().decode("ascii").strip()
        except FileNotFoundError:
            made = _make(path)
            if made is not None:
                return made
            continue  # another server made it meanwhile: read that one
        if text or time.monotonic() > deadline:
            return bytes.fromhex(text)
        time.sleep(0.01)  # made, not written yet (before the reactor runs)


def _make(path: str) -> bytes | None:
    """A new key in a new file at C{path}; None if the file exists already."""
    secret = Identities.new_secret()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(descriptor, "w") as file:
        file.write(secret.hex() + "\n")
    return secret
