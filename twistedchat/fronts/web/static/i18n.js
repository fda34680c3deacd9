// The page's words in its reader's language: English (the msgids) or French.
//
// The msgids are the terminal client's (twistedchat/client/locale), so the
// page says what the client says; fr.js holds their French texts, plus the
// page's own words (tests/test_web_page.py holds the two to the same text).
// format() builds DOM nodes: the fields are put in as text or as nodes,
// never parsed as HTML.

import { FRENCH } from "./fr.js";

export function pickLanguage(languages) {
  for (const tag of languages || []) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary === "fr") return "fr";
    if (primary === "en") return "en";
  }
  return "en";
}

export const language = pickLanguage(
  typeof navigator === "undefined" ? [] : navigator.languages || [navigator.language],
);
const catalog = language === "fr" ? FRENCH : {};

/** Marks msgid for translation where it is defined, not where it is shown. */
export function N_(msgid) {
  return msgid;
}

/** The reader's text for msgid (the English text itself without a French one). */
export function t(msgid) {
  const found = catalog[msgid];
  return typeof found === "string" ? found : msgid;
}

/** The plural form for count (French counts 0 and 1 as singular). */
export function tn(singular, plural, count) {
  const forms = catalog[singular];
  if (Array.isArray(forms)) return forms[count > 1 ? 1 : 0];
  return count === 1 ? singular : plural;
}

/** The template's text with each {field} replaced by its value, as a string. */
export function text(template, fields = {}) {
  return template.replace(/\{(\w+)(?::[^}]*)?\}/g, (whole, name) =>
    name in fields ? String(fields[name]) : whole,
  );
}

/**
 * A fragment of the template's words with each {field} replaced by a node
 * (a nick chip, a link) or by a text node for a string: user data is never
 * parsed as HTML.
 */
export function format(template, fields = {}) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of template.matchAll(/\{(\w+)(?::[^}]*)?\}/g)) {
    fragment.append(document.createTextNode(template.slice(last, match.index)));
    const value = fields[match[1]];
    if (value === undefined) {
      fragment.append(document.createTextNode(match[0]));
    } else if (value instanceof Node) {
      fragment.append(value);
    } else {
      fragment.append(document.createTextNode(String(value)));
    }
    last = match.index + match[0].length;
  }
  fragment.append(document.createTextNode(template.slice(last)));
  return fragment;
}

/** The page's fixed words (data-t, data-t-placeholder, data-t-label) translated. */
export function translatePage(root) {
  root.documentElement.lang = language;
  for (const element of root.querySelectorAll("[data-t]")) {
    element.textContent = t(element.dataset.t);
  }
  for (const element of root.querySelectorAll("[data-t-placeholder]")) {
    element.placeholder = t(element.dataset.tPlaceholder);
  }
  for (const element of root.querySelectorAll("[data-t-label]")) {
    element.setAttribute("aria-label", t(element.dataset.tLabel));
  }
}
