"""
Config files of C{KEY=VALUE} lines, read the same way by the server and the client.

Blank lines and lines starting with C{#} are skipped; keys are case-insensitive;
values are stripped of surrounding spaces. Every problem is reported with the
file, the line and, once known, the key.
"""

from __future__ import annotations

from collections.abc import Collection


class ConfigFileError(ValueError):
    """A config file that cannot be used; the text says where and why."""


def read_config_file(path: str, keys: Collection[str]) -> dict[str, tuple[str, str]]:
    """Each of C{keys} found in the file at C{path}: its value, and where it was."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as e:
        raise ConfigFileError(
            f"config file {path}: cannot read it: {e.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"config file {path}: not UTF-8 text") from None
    found: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}, line {number}"
        key, equals, value = line.partition("=")
        key = key.strip().upper()
        if not equals:
            raise ConfigFileError(f"{where}: expected KEY=VALUE, got {raw!r}")
        if key not in keys:
            known = ", ".join(keys)
            raise ConfigFileError(f"{where}: unknown key {key!r} (known keys: {known})")
        if key in found:
            raise ConfigFileError(
                f"{where}, {key}: given twice (first at {found[key][1]})"
            )
        found[key] = (value.strip(), f"{where}, {key}")
    return found
