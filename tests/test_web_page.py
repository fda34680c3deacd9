"""
The web page's files as shipped (twistedchat/fronts/web/static): its words
are the terminal client's, in both languages, and nothing in it would let
the Content-Security-Policy block it or another user's text run in it.
The page in a real browser is tested in e2e/test_web_page.py.

After changing the page's words, C{python -m tests.test_web_page} rewrites
fr.js: the client's French for its msgids, the French already in fr.js for
the page's own words (a new one must be added there by hand).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

import twistedchat
from twistedchat.client.i18n import translations
from twistedchat.core.identity import PALETTE

STATIC = Path(twistedchat.__file__).parent / "fronts" / "web" / "static"
LITERAL = r'"((?:[^"\\]|\\.)*)"'
# t("..."), tn("...", ...) and N_("...") in the modules; the page's fixed
# words are its elements' data-t, data-t-placeholder and data-t-label.
CALL = re.compile(r"\b(?:t|tn|N_)\(\s*" + LITERAL)
FIXED = re.compile(r'data-t(?:-placeholder|-label)?="([^"]*)"')
FIELD = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def modules() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(STATIC.glob("*.js"))
        if path.name != "fr.js"
    }


def page_msgids(sources: dict[str, str], page: str) -> list[str]:
    """The English texts the page shows, each once, in order of appearance."""
    found = [
        json.loads(f'"{match.group(1)}"')
        for source in sources.values()
        for match in CALL.finditer(source)
    ]
    found += [html.unescape(match.group(1)) for match in FIXED.finditer(page)]
    return list(dict.fromkeys(found))


def french() -> dict[str, str | list[str]]:
    """fr.js's catalog (a JSON object after "export const FRENCH =")."""
    source = (STATIC / "fr.js").read_text(encoding="utf-8")
    body = source[source.index("=") + 1 :].strip().removesuffix(";")
    catalog: dict[str, str | list[str]] = json.loads(body)
    return catalog


HEADER = """\
// The page's French: the terminal client's texts for its msgids
// (twistedchat/client/locale/fr), then the page's own words; a plural is
// [singular, plural]. tests/test_web_page.py holds it to the client's catalog
// ("python -m tests.test_web_page" rewrites it).
export const FRENCH = """


def write_french() -> list[str]:
    """Rewrites fr.js from the page's msgids; the msgids it has no French for."""
    client = translations("fr")
    kept = french()
    catalog: dict[str, str | list[str]] = {}
    missing = []
    for msgid in page_msgids(
        modules(), (STATIC / "index.html").read_text(encoding="utf-8")
    ):
        if client.gettext(msgid) != msgid:
            catalog[msgid] = client.gettext(msgid)
        elif client.ngettext(msgid, msgid, 2) != msgid:
            catalog[msgid] = [client.ngettext(msgid, msgid, n) for n in (1, 2)]
        elif msgid in kept:
            catalog[msgid] = kept[msgid]
        else:
            missing.append(msgid)
    body = json.dumps(catalog, ensure_ascii=False, indent=2)
    (STATIC / "fr.js").write_text(f"{HEADER}{body};\n", encoding="utf-8")
    return missing


class WordsTests(SynchronousTestCase):
    """The page says what the terminal client says, in English and French."""

    def setUp(self) -> None:
        self.used = page_msgids(
            modules(), (STATIC / "index.html").read_text(encoding="utf-8")
        )
        self.french = french()
        self.client = translations("fr")

    def test_scanFinds(self) -> None:
        """The scan finds the page's words (a scan that finds none proves nothing)."""
        for msgid in ("You said: {text}", "Send", "— live —", "banned {arg}"):
            self.assertIn(msgid, self.used)

    def test_everyWordTranslated(self) -> None:
        """Each text the page shows has its French text, and no other is kept."""
        self.assertEqual(
            sorted(msgid for msgid in self.used if msgid not in self.french), []
        )
        self.assertEqual(
            sorted(msgid for msgid in self.french if msgid not in self.used), []
        )

    def test_clientWording(self) -> None:
        """Where the client has the text, the page's French is the client's."""
        shared = 0
        for msgid, text in self.french.items():
            if isinstance(text, list):
                forms = [self.client.ngettext(msgid, msgid, n) for n in (1, 2)]
                self.assertEqual(text, forms, msgid)
                shared += 1
            elif self.client.gettext(msgid) != msgid:
                self.assertEqual(text, self.client.gettext(msgid), msgid)
                shared += 1
        self.assertGreater(shared, 100)
        self.assertEqual(self.french["You said: {text}"], "Vous avez dit : {text}")

    def test_placeholdersKept(self) -> None:
        """Each French text fills the same fields as its English one."""
        for msgid, text in self.french.items():
            for form in text if isinstance(text, list) else [text]:
                self.assertEqual(
                    sorted(FIELD.findall(form)), sorted(FIELD.findall(msgid)), msgid
                )

    def test_frenchTypography(self) -> None:
        """A space before the French double punctuation of the page's own words."""
        for msgid, text in self.french.items():
            for form in text if isinstance(text, list) else [text]:
                self.assertIsNone(
                    re.search(r"[^\s(](?<!/)[:;?!](?=\s|$)", form), f"{msgid}: {form}"
                )


class ColourTests(SynchronousTestCase):
    def test_samePalette(self) -> None:
        """
        The page picks a history entry's colour from its user id as the
        server picks identities' colours: from the same palette.
        """
        source = (STATIC / "colours.js").read_text(encoding="utf-8")
        found = re.search(r"const PALETTE = \[([\d, ]+)\];", source)
        assert found is not None
        self.assertEqual(tuple(int(n) for n in found.group(1).split(",")), PALETTE)


class SecurityTests(SynchronousTestCase):
    """
    Nothing the CSP (C{default-src 'self'}) would block, nothing fetched from
    elsewhere, and no HTML parsed from data: text goes in as text.
    """

    def test_noInlineScriptOrStyle(self) -> None:
        page = (STATIC / "index.html").read_text(encoding="utf-8")
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
        self.assertEqual(scripts, [""])  # one module, by its src
        self.assertIn('<script type="module" src="main.js">', page)
        self.assertNotRegex(page, r"<style\b|\sstyle=|\son\w+=|javascript:")

    def test_nothingFromElsewhere(self) -> None:
        """No CDN, no font or script from the internet: it works offline."""
        for path in STATIC.iterdir():
            text = path.read_text(encoding="utf-8")
            self.assertNotRegex(
                re.sub(r"//.*|/\*.*?\*/", "", text, flags=re.S),
                r"(src|href)=\"(https?:)?//|url\(|@import|(?<![\w.])import\(",
                path.name,
            )

    def test_noHtmlFromStrings(self) -> None:
        """
        The modules never parse a string as HTML (innerHTML and its kin) nor
        run one as code; elements get text through textContent, text nodes
        and attributes.
        """
        sinks = re.compile(
            r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|"
            r"createContextualFragment|DOMParser|\beval\(|new Function|"
            r"setAttribute\(\s*\"(on\w+|style|href|src)\""
        )
        for name, source in modules().items():
            self.assertIsNone(sinks.search(source), name)

    def test_linksOnlyHttp(self) -> None:
        """Only http and https text is made a link (a javascript: one stays text)."""
        view = modules()["view.js"]
        self.assertIn(r"const LINK = /\bhttps?:\/\/", view)
        self.assertEqual(view.count(".href ="), 1)


if __name__ == "__main__":
    for msgid in write_french():
        print(f"no French for {msgid!r}: add it to fr.js")
