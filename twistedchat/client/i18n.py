"""
The terminal client's languages: which one a reader gets, and its catalog.

The client's words are English msgids wrapped in C{_("...")}; their French and
English texts live in ordinary GNU gettext catalogs under C{locale/} next to
this module, the C{.po} sources and the compiled C{.mo} files both shipped in
the package. The small C{.po} compiler here keeps the project free of a
build-time dependency on GNU gettext: C{python -m twistedchat.client.i18n}
recompiles every catalog after a translator edits it, and the tests check
that the committed C{.mo} files match their sources and cover every msgid in
the client's code.
"""

from __future__ import annotations

import ast
import gettext
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DOMAIN = "twistedchat"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")

# Most specific first, as POSIX looks them up; LANGUAGE is GNU's list ("fr:en").
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")

_MO_MAGIC = 0x950412DE
_UTF8_HEADER = "Content-Type: text/plain; charset=UTF-8\n"


def choose_language(option: str | None, environ: Mapping[str, str]) -> str:
    """
    The reader's language: the one asked for on the command line, else French
    when the locale says so, else English.

    @raise ValueError: C{option} is not one of L{LANGUAGES}.
    """
    if option is not None:
        if option not in LANGUAGES:
            raise ValueError(
                f"unknown language {option!r}: choose one of {', '.join(LANGUAGES)}"
            )
        return option
    for variable in _LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if value:
            return "fr" if value.startswith("fr") else "en"
    return "en"


def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of C{language}, one of L{LANGUAGES}."""
    return gettext.translation(DOMAIN, LOCALE_DIR, [language])


# Compiling catalogs

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"\s*$')
_ESCAPE = re.compile(r"\\(.?)")
_KEYWORD = re.compile(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(.*)$")


def _unquote(text: str, line_number: int) -> str:
    """The string a C{.po} line's C{"..."} stands for."""
    match = _QUOTED.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"line {line_number}: expected a quoted string: {text!r}")

    def unescape(escape: re.Match[str]) -> str:
        try:
            return _ESCAPES[escape.group(1)]
        except KeyError:
            raise ValueError(
                f"line {line_number}: unknown escape {escape.group(0)!r}"
            ) from None

    return _ESCAPE.sub(unescape, match.group(1))


@dataclass
class _Entry:
    """One message of a C{.po} file, as it is being read."""

    fuzzy: bool = False
    fields: dict[str, str] = field(default_factory=dict)

    def key_and_value(self) -> tuple[str, str] | None:
        """What the C{.mo} file maps, or L{None} for an entry it leaves out."""
        if "msgid" not in self.fields:
            return None
        msgid = self.fields["msgid"]
        if "msgid_plural" in self.fields:
            msgid += "\0" + self.fields["msgid_plural"]
            forms = sorted(
                (int(name[7:-1]), text)
                for name, text in self.fields.items()
                if name.startswith("msgstr[")
            )
            msgstr = "\0".join(text for _, text in forms)
            translated = any(text for _, text in forms)
        else:
            msgstr = self.fields.get("msgstr", "")
            translated = bool(msgstr)
        if "msgctxt" in self.fields:
            msgid = self.fields["msgctxt"] + "\x04" + msgid
        if self.fuzzy or not translated:
            return None
        return msgid, msgstr


def _entries(po_text: str) -> Iterator[_Entry]:
    """The entries of a C{.po} file, in order, obsolete ones left out."""
    entry = _Entry()
    current: str | None = None  # the field continuation lines add to
    for line_number, raw in enumerate(po_text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            if line.startswith("#~"):
                continue
            if "msgid" in entry.fields:  # a comment starts the next entry
                yield entry
                entry, current = _Entry(), None
            if line.startswith("#,") and "fuzzy" in line[2:].replace(",", " ").split():
                entry.fuzzy = True
        elif line.startswith('"'):
            if current is None:
                raise ValueError(f"line {line_number}: string outside an entry")
            entry.fields[current] += _unquote(line, line_number)
        elif line:
            match = _KEYWORD.fullmatch(line)
            if match is None:
                raise ValueError(f"line {line_number}: cannot read {raw!r}")
            keyword, rest = match.groups()
            starts_entry = keyword in ("msgctxt", "msgid")
            if starts_entry and ("msgid" in entry.fields or keyword in entry.fields):
                yield entry
                entry = _Entry()
            if keyword in entry.fields:
                raise ValueError(f"line {line_number}: {keyword} given twice")
            entry.fields[keyword] = _unquote(rest, line_number)
            current = keyword
    yield entry


def _check_header(header: str) -> None:
    """Refuse a header that makes gettext decode the catalog as other than UTF-8."""
    for line in header.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            charset = value.lower().partition("charset=")[2].strip()
            if charset.replace("-", "") != "utf8":
                raise ValueError(
                    f"the catalog must declare charset=UTF-8, not {charset!r}"
                )
            return
    raise ValueError(f"the catalog header needs a line {_UTF8_HEADER.strip()!r}")


def read_catalog(po_text: str) -> dict[str, str]:
    """
    The messages of a C{.po} file as gettext looks them up: msgid (with its
    context and plural, if any) to msgstr, the header under C{""}, fuzzy and
    untranslated entries left out.

    @raise ValueError: C{po_text} is not a well-formed catalog.
    """
    messages: dict[str, str] = {}
    for entry in _entries(po_text):
        item = entry.key_and_value()
        if item is not None:
            messages[item[0]] = item[1]
    return messages


def compile_catalog(po_text: str) -> bytes:
    """
    The GNU C{.mo} file of a C{.po} file, as C{msgfmt} writes it, without the
    optional hash table.

    Fuzzy and untranslated entries are left out. A catalog without a header
    entry gets one saying it is UTF-8, the encoding of the result; one whose
    header says otherwise is refused.

    @raise ValueError: C{po_text} is not a well-formed UTF-8 catalog.
    """
    messages = read_catalog(po_text)
    if "" in messages:
        _check_header(messages[""])
    else:
        messages[""] = _UTF8_HEADER

    # gettext binary-searches the originals, so they are sorted as bytes.
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in messages.items())
    count = len(pairs)
    originals_offset = 7 * 4
    translations_offset = originals_offset + count * 8
    strings_offset = translations_offset + count * 8

    tables: list[int] = []
    strings = bytearray()
    for column in (0, 1):
        for pair in pairs:
            tables += [len(pair[column]), strings_offset + len(strings)]
            strings += pair[column] + b"\0"

    header = struct.pack(
        "<7I",
        _MO_MAGIC,
        0,  # revision
        count,
        originals_offset,
        translations_offset,
        0,  # hash table size
        strings_offset,  # hash table offset: no table, so where it would start
    )
    return header + struct.pack(f"<{len(tables)}I", *tables) + bytes(strings)


# Finding msgids in the code

# What xgettext would be told with -k: "_" translates, "N_" only marks a text
# translated later, where it is shown (the client's help lines).
_MARKERS = frozenset({"_", "N_"})


def _msgid(node: ast.AST) -> str | None:
    """
    The msgid of C{node} if it is a marker call with one string literal, or
    a call of C{ngettext} with two (the catalog's key for a plural: the
    singular, a NUL, the plural).
    """
    match node:
        case ast.Call(
            func=ast.Name(id=name) | ast.Attribute(attr=name),
            args=[ast.Constant(value=str(text))],
            keywords=[],
        ) if name in _MARKERS:
            return text
        case ast.Call(
            func=ast.Name(id="ngettext") | ast.Attribute(attr="ngettext"),
            args=[ast.Constant(value=str(one)), ast.Constant(value=str(many)), _],
            keywords=[],
        ):
            return f"{one}\0{many}"
    return None


def extract_msgids(source: str) -> list[str]:
    """
    The msgids in Python C{source}: the string literals that are the one
    argument of a call of C{_} (or C{N_}, which marks a text without
    translating it), in order of appearance, once each.

    The source is parsed rather than searched so that docstrings and comments
    that show such a call are not taken for one.
    """
    found = [
        (node.lineno, node.col_offset, msgid)
        for node in ast.walk(ast.parse(source))
        if (msgid := _msgid(node)) is not None and isinstance(node, ast.expr)
    ]
    return list(dict.fromkeys(msgid for _, _, msgid in sorted(found)))


def main() -> None:
    """Compile every C{locale/<language>/LC_MESSAGES/twistedchat.po}."""
    for po in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(compile_catalog(po.read_text(encoding="utf-8")))
        print(f"wrote {mo}")


if __name__ == "__main__":
    main()
