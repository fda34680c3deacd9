// The pieces the page shows, built with DOM calls only: every text that
// came from the server (nicks, messages, room names, pictures' art) goes in
// as a text node. Links are made clickable only for http and https, as
// anchors built here (rel="noopener noreferrer"); anything else, a
// "javascript:" link included, stays text.

import { chipColours } from "./colours.js";

const LINK = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const PICTURE = /^\/media\/[A-Za-z0-9._-]+$/;

export function element(name, className, text) {
  const node = document.createElement(name);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "[hh:mm]" in the reader's time zone, as the terminal client shows it. */
export function clock(milliseconds) {
  const moment = new Date(Number(milliseconds));
  const two = (n) => String(n).padStart(2, "0");
  return `[${two(moment.getHours())}:${two(moment.getMinutes())}]`;
}

/** A nick on its colour (the xterm colour the terminal client shows). */
export function nickChip(nick, colour) {
  const chip = element("span", "nick", nick);
  if (colour !== undefined && colour !== null) {
    const { background, text } = chipColours(colour);
    chip.style.backgroundColor = background; // CSSOM: allowed by the CSP
    chip.style.color = text;
  }
  return chip;
}

/** Text with its http(s) links as anchors and every other part as text. */
export function linkified(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of String(text).matchAll(LINK)) {
    let url = match[0];
    const trailing = /[.,;:!?)\]]+$/.exec(url);
    if (trailing) url = url.slice(0, -trailing[0].length);
    fragment.append(document.createTextNode(text.slice(last, match.index)));
    const anchor = element("a", "", url);
    anchor.href = url;
    anchor.rel = "noopener noreferrer";
    anchor.target = "_blank";
    fragment.append(anchor);
    last = match.index + url.length;
  }
  fragment.append(document.createTextNode(String(text).slice(last)));
  return fragment;
}

/** A picture: the image the server re-encoded, else its ASCII art. */
export function picture(reference, art, description) {
  if (typeof reference === "string" && PICTURE.test(reference)) {
    const image = element("img", "picture");
    image.src = reference;
    image.alt = description;
    image.loading = "lazy";
    return image;
  }
  const pre = element("pre", "art", String(art || ""));
  pre.setAttribute("aria-label", description);
  return pre;
}

/** One line of a conversation: its time, then its content. */
export function line(kind, milliseconds, content) {
  const row = element("div", `line ${kind}`);
  if (milliseconds !== undefined && milliseconds !== null) {
    const time = element("time", "clock", clock(milliseconds));
    time.dateTime = new Date(Number(milliseconds)).toISOString();
    row.append(time, document.createTextNode(" "));
  }
  row.append(content);
  return row;
}
