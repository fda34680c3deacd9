"""
The client's languages: which one a reader gets, that the shipped catalogs say
what the French reader should read, that they cover every msgid in the
client's code (a new C{_("...")} without its translation fails here), and that
the small C{.po} compiler writes C{.mo} files gettext reads back.
"""

from __future__ import annotations

import gettext
import io
import re
import struct
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.client import i18n
from twistedchat.client.i18n import (
    choose_language,
    compile_catalog,
    extract_msgids,
    read_catalog,
    translations,
)

CLIENT_DIR = Path(i18n.__file__).parent
_FIELD = re.compile(r"\{([^{}]*)\}")


def placeholders(text: str) -> set[str]:
    """The str.format fields of C{text}, as written between braces."""
    return set(_FIELD.findall(text))


def catalog_path(language: str, suffix: str) -> Path:
    return i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}{suffix}"


def catalog(language: str) -> dict[str, str]:
    """The messages of the shipped C{.po} file of C{language}."""
    return read_catalog(catalog_path(language, ".po").read_text(encoding="utf-8"))


class ChooseLanguageTests(SynchronousTestCase):
    """
    L{choose_language} takes the command-line option first, then the locale.
    """

    def test_optionWins(self) -> None:
        """An explicit choice beats the environment."""
        environ = {"LC_ALL": "en_GB.UTF-8", "LANG": "en_GB.UTF-8"}
        self.assertEqual(choose_language("fr", environ), "fr")
        self.assertEqual(choose_language("en", {"LANG": "fr_FR.UTF-8"}), "en")

    def test_unknownOption(self) -> None:
        """A language the client has no catalog for is refused, by name."""
        error = self.assertRaises(ValueError, choose_language, "de", {})
        self.assertIn("'de'", str(error))
        self.assertIn("fr, en", str(error))

    def test_frenchLocale(self) -> None:
        """Any French locale gives French."""
        for value in ["fr_FR.UTF-8", "fr", "fr_CA", "fr_BE.ISO-8859-1"]:
            self.assertEqual(choose_language(None, {"LANG": value}), "fr", value)

    def test_otherLocale(self) -> None:
        """Any other locale gives English."""
        for value in ["en_US.UTF-8", "C", "POSIX", "de_DE.UTF-8", "C.UTF-8"]:
            self.assertEqual(choose_language(None, {"LANG": value}), "en", value)

    def test_noLocale(self) -> None:
        """No locale at all gives English."""
        self.assertEqual(choose_language(None, {}), "en")

    def test_precedence(self) -> None:
        """LC_ALL, then LC_MESSAGES, then LANG, then LANGUAGE decides."""
        environ = {
            "LC_ALL": "fr_FR.UTF-8",
            "LC_MESSAGES": "en_US.UTF-8",
            "LANG": "en_US.UTF-8",
            "LANGUAGE": "en",
        }
        self.assertEqual(choose_language(None, environ), "fr")
        del environ["LC_ALL"]
        self.assertEqual(choose_language(None, environ), "en")
        environ["LC_MESSAGES"] = "fr_FR.UTF-8"
        self.assertEqual(choose_language(None, environ), "fr")
        self.assertEqual(choose_language(None, {"LANGUAGE": "fr:en"}), "fr")

    def test_emptyVariablesSkipped(self) -> None:
        """An empty variable counts as unset."""
        environ = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "fr_FR.UTF-8"}
        self.assertEqual(choose_language(None, environ), "fr")


class TranslationsTests(SynchronousTestCase):
    """
    L{translations} loads the shipped catalogs.
    """

    def test_french(self) -> None:
        """The French reader reads typographic French, accents decoded."""
        _ = translations("fr").gettext
        self.assertEqual(_("You said: {text}"), "Vous avez dit : {text}")
        self.assertEqual(_("{nick} said: {text}"), "{nick} a dit : {text}")
        self.assertEqual(
            _("{nick} is back in #{room}"), "{nick} est de retour dans #{room}"
        )
        self.assertEqual(_("Welcome back {nick}!"), "Bon retour, {nick} !")
        self.assertEqual(_("Welcome {nick}!"), "Bienvenue {nick} !")
        self.assertEqual(_("{nick} joined #{room}"), "{nick} a rejoint #{room}")
        self.assertEqual(_("{nick} left #{room}"), "{nick} a quitté #{room}")
        self.assertEqual(_("Error: {text}"), "Erreur : {text}")

    def test_frenchPlurals(self) -> None:
        """A French count is singular for 0 and 1, plural from 2 on."""
        ngettext = translations("fr").ngettext
        present = "  {number}) #{room} ({count} present)"
        for count, text in [(0, "présent"), (1, "présent"), (2, "présents")]:
            self.assertEqual(
                ngettext(present, present, count),
                f"  {{number}}) #{{room}} ({{count}} {text})",
            )

    def test_pluralsFound(self) -> None:
        """An ngettext call's two texts are one msgid, as the catalog keys it."""
        self.assertEqual(
            extract_msgids('self.ngettext("{n} room", "{n} rooms", n)'),
            ["{n} room\0{n} rooms"],
        )

    def test_english(self) -> None:
        """The English catalog gives the English texts back."""
        translation = translations("en")
        self.assertIsInstance(translation, gettext.GNUTranslations)
        _ = translation.gettext
        self.assertEqual(_("You said: {text}"), "You said: {text}")
        self.assertEqual(_("{nick} is back in #{room}"), "{nick} is back in #{room}")

    def test_everyLanguageShipped(self) -> None:
        """Each of L{i18n.LANGUAGES} has a compiled catalog."""
        for language in i18n.LANGUAGES:
            self.assertIsInstance(translations(language), gettext.GNUTranslations)


class ShippedCatalogTests(SynchronousTestCase):
    """
    The committed catalogs are complete and consistent.
    """

    def test_compiledFromSource(self) -> None:
        """
        Each committed C{.mo} file is its C{.po} file compiled: run
        C{python -m twistedchat.client.i18n} after editing a catalog.
        """
        for language in i18n.LANGUAGES:
            po = catalog_path(language, ".po").read_text(encoding="utf-8")
            self.assertEqual(
                catalog_path(language, ".mo").read_bytes(),
                compile_catalog(po),
                f"{language}: the .mo file is stale",
            )

    def test_everyMsgidTranslated(self) -> None:
        """
        Every msgid in the client's code has a French text and an English
        entry; the code is read now, so a new C{_("...")} must come with its
        translations.
        """
        used: dict[str, list[str]] = {}
        for path in sorted(CLIENT_DIR.glob("*.py")):
            for msgid in extract_msgids(path.read_text(encoding="utf-8")):
                used.setdefault(msgid, []).append(path.name)
        # Guard against a scan that silently finds nothing.
        self.assertIn("You said: {text}", used)

        for language in i18n.LANGUAGES:
            messages = catalog(language)
            missing = [
                f"{msgid!r} ({', '.join(files)})"
                for msgid, files in used.items()
                if not messages.get(msgid)
            ]
            if missing:
                self.fail(f"untranslated in {language}: {'; '.join(missing)}")

    def test_placeholdersKept(self) -> None:
        """Each translation formats with the same fields as its msgid."""
        for language in i18n.LANGUAGES:
            for msgid, msgstr in catalog(language).items():
                if msgid:  # not the header
                    self.assertEqual(
                        placeholders(msgstr),
                        placeholders(msgid),
                        f"{language}: {msgid!r}",
                    )

    def test_englishIsTheMsgid(self) -> None:
        """The English catalog says what the code says."""
        for msgid, msgstr in catalog("en").items():
            if msgid:
                self.assertEqual(msgstr, msgid)

    def test_frenchTypography(self) -> None:
        """French puts a space before : ! ? ; and never leaves a space before."""
        for msgid, msgstr in catalog("fr").items():
            if msgid:
                self.assertNotRegex(msgstr, r"\S[:!?;](\s|$)", msgid)


PO = r"""# A comment.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

#: somewhere.py
#, python-brace-format
msgid ""
"A long message "
"over two lines: {text}"
msgstr ""
"Un long message "
"sur deux lignes : {text}"

msgid "Tab\there, \"quoted\", back\\slash\nnew line"
msgstr "Tab\tici, \"cité\", barre\\oblique\nnouvelle ligne"

#, fuzzy
msgid "Not sure"
msgstr "Pas sûr"

msgid "Untranslated"
msgstr ""

msgctxt "menu"
msgid "Open"
msgstr "Ouvrir"

msgid "{count} room"
msgid_plural "{count} rooms"
msgstr[0] "{count} salon"
msgstr[1] "{count} salons"

#~ msgid "Obsolete"
#~ msgstr "Obsolète"
"""


def load(mo: bytes) -> gettext.GNUTranslations:
    return gettext.GNUTranslations(io.BytesIO(mo))


class CompileCatalogTests(SynchronousTestCase):
    """
    L{compile_catalog} writes GNU C{.mo} files that gettext reads.
    """

    def test_roundTrip(self) -> None:
        """Continued strings are joined and escapes decoded."""
        translation = load(compile_catalog(PO))
        self.assertEqual(
            translation.gettext("A long message over two lines: {text}"),
            "Un long message sur deux lignes : {text}",
        )
        self.assertEqual(
            translation.gettext('Tab\there, "quoted", back\\slash\nnew line'),
            'Tab\tici, "cité", barre\\oblique\nnouvelle ligne',
        )

    def test_context(self) -> None:
        """An entry with a msgctxt is found only in that context."""
        translation = load(compile_catalog(PO))
        self.assertEqual(translation.pgettext("menu", "Open"), "Ouvrir")
        self.assertEqual(translation.gettext("Open"), "Open")

    def test_plural(self) -> None:
        """Plural forms are chosen by the header's rule."""
        translation = load(compile_catalog(PO))
        self.assertEqual(
            translation.ngettext("{count} room", "{count} rooms", 1), "{count} salon"
        )
        self.assertEqual(
            translation.ngettext("{count} room", "{count} rooms", 3), "{count} salons"
        )

    def test_leftOut(self) -> None:
        """Fuzzy, untranslated and obsolete entries fall back to the msgid."""
        translation = load(compile_catalog(PO))
        for msgid in ["Not sure", "Untranslated", "Obsolete"]:
            self.assertEqual(translation.gettext(msgid), msgid)
        self.assertEqual(len(read_catalog(PO)), 5)

    def test_layout(self) -> None:
        """
        The file starts with the little-endian GNU header; the originals are
        sorted, since gettext implementations binary-search them.
        """
        mo = compile_catalog(PO)
        magic, revision, count, originals, translated, hash_size, _ = struct.unpack(
            "<7I", mo[:28]
        )
        self.assertEqual((magic, revision, count, hash_size), (0x950412DE, 0, 5, 0))
        self.assertEqual((originals, translated), (28, 28 + 8 * count))
        keys = []
        for index in range(count):
            length, offset = struct.unpack("<2I", mo[originals + 8 * index :][:8])
            self.assertEqual(mo[offset + length], 0)
            keys.append(mo[offset : offset + length])
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(keys[0], b"")

    def test_headerAdded(self) -> None:
        """Without a header, one saying UTF-8 is added so accents survive."""
        translation = load(compile_catalog('msgid "Yes"\nmsgstr "Oui, très"\n'))
        self.assertEqual(translation.gettext("Yes"), "Oui, très")
        self.assertEqual(translation.charset(), "UTF-8")

    def test_otherCharsetRefused(self) -> None:
        """The result is UTF-8, so a header claiming another charset is an error."""
        po = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=ISO-8859-1\\n"\n'
        error = self.assertRaises(ValueError, compile_catalog, po)
        self.assertIn("iso-8859-1", str(error))

    def test_malformed(self) -> None:
        """A line that is not .po syntax is reported with its number."""
        for po, line in [
            ('msgid "a"\nmsgstr "b"\nnonsense\n', 3),
            ('msgid "a"\nmsgstr "b\\q"\n', 2),
            ('msgid "a"\nmsgstr unquoted\n', 2),
            ('"orphan"\n', 1),
            ('msgid "a"\nmsgstr "b"\nmsgstr "c"\n', 3),
        ]:
            error = self.assertRaises(ValueError, compile_catalog, po)
            self.assertIn(f"line {line}:", str(error), po)


class ExtractMsgidsTests(SynchronousTestCase):
    """
    L{extract_msgids} finds the msgids of C{_} and C{N_} calls with one string
    literal.
    """

    def test_calls(self) -> None:
        """Plain and method calls, on one line or several, in order, once each."""
        source = (
            'print(_("One"))\n'
            'line = self._("Two {nick}").format(nick=nick)\n'
            "other = self._(\n"
            '    "Three"\n'
            ")\n"
            'again = _("One")\n'
            'HELP = [N_("Four")]\n'
        )
        self.assertEqual(extract_msgids(source), ["One", "Two {nick}", "Three", "Four"])

    def test_escapes(self) -> None:
        """Python escapes in the literal are decoded."""
        source = 'x = _("digits or _-[]{}\\\\|^ \\"q\\" \\u00e9")\n'
        self.assertEqual(extract_msgids(source), ['digits or _-[]{}\\|^ "q" é'])

    def test_notMsgids(self) -> None:
        """
        Calls that are not one literal, other functions, and mentions in
        docstrings and comments are no msgids.
        """
        source = (
            '"""Wrap words in _("...") calls."""\n'
            '# _("commented")\n'
            "a = _(name)\n"
            'b = _("a", "b")\n'
            'c = _(f"{x}")\n'
            'd = my_("other")\n'
            'e = _(b"bytes")\n'
            'f = _("x" + y)\n'
        )
        self.assertEqual(extract_msgids(source), [])


class MainTests(SynchronousTestCase):
    """
    C{python -m twistedchat.client.i18n} compiles every catalog.
    """

    def test_compilesEachCatalog(self) -> None:
        locale = Path(self.mktemp())
        for language, text in [("fr", "Oui"), ("en", "Yes")]:
            folder = locale / language / "LC_MESSAGES"
            folder.mkdir(parents=True)
            (folder / "twistedchat.po").write_text(
                f'msgid "Yes"\nmsgstr "{text}"\n', encoding="utf-8"
            )
        self.patch(i18n, "LOCALE_DIR", locale)
        output = io.StringIO()
        self.patch(sys, "stdout", output)

        i18n.main()

        for language, text in [("fr", "Oui"), ("en", "Yes")]:
            mo = locale / language / "LC_MESSAGES" / "twistedchat.mo"
            self.assertEqual(load(mo.read_bytes()).gettext("Yes"), text)
            self.assertIn(str(mo), output.getvalue())
