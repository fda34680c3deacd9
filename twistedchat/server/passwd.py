"""
C{twistedchat-passwd FILE NAME}: add or replace a server operator's entry.

The password is asked twice on a terminal, or read as one line from standard
input when it is not a terminal (for scripts). Only its scrypt hash is written;
the file is replaced atomically and readable by its owner only.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile

from .operators import OperatorsFileError, hash_password, parse_operators


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise SystemExit("twistedchat-passwd: the passwords differ, nothing written")
    return first


def update_operators(path: str, name: str, password: str) -> None:
    """Write C{name}'s hashed C{password} into the operators file at C{path}."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except FileNotFoundError:
        lines = []
    parse_operators("\n".join(lines), path)  # refuse to rewrite a broken file
    kept = [line for line in lines if line.partition(":")[0].strip() != name]
    kept.append(f"{name}:{hash_password(password)}")
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".operators-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("\n".join(kept) + "\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="twistedchat-passwd",
        description="Add or replace a server operator in an operators file.",
    )
    parser.add_argument("file", help="operators file (created if missing)")
    parser.add_argument("name", help="operator name, as given to OPER")
    arguments = parser.parse_args(argv)
    name: str = arguments.name
    if not name or ":" in name or name != name.strip() or "#" in name[:1]:
        parser.error(f"invalid operator name {name!r}: no ':', no surrounding spaces")
    password = _read_password()
    if not password:
        parser.error("empty password, nothing written")
    try:
        update_operators(arguments.file, name, password)
    except (OSError, OperatorsFileError) as e:
        print(f"twistedchat-passwd: {e}", file=sys.stderr)
        return 1
    print(f"twistedchat-passwd: operator {name!r} written to {arguments.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
