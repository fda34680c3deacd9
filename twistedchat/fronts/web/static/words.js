// What the terminal client says of errors and room mode changes
// (twistedchat/client/render.py: _ERRORS and MODE_WORDS), by error code
// (twistedchat/codec.py: ErrorCode) and by mode, so the page says the same.

import { N_ } from "./i18n.js";

export const ErrorCode = {
  MALFORMED: 1,
  UNKNOWN_TYPE: 2,
  TOO_LARGE: 3,
  INCOMPATIBLE_VERSION: 4,
  NOT_REGISTERED: 5,
  ALREADY_REGISTERED: 6,
  NICK_IN_USE: 10,
  INVALID_NICK: 11,
  INVALID_ROOM: 12,
  NO_SUCH_ROOM: 13,
  NO_SUCH_NICK: 14,
  NOT_IN_ROOM: 15,
  ALREADY_IN_ROOM: 16,
  USER_NOT_IN_ROOM: 17,
  NOT_ROOM_OPERATOR: 18,
  NOT_SERVER_OPERATOR: 19,
  EMPTY_MESSAGE: 20,
  TOKEN_REFUSED: 21,
  FLOODING: 22,
  LIMIT: 23,
  TOO_MANY_ROOMS: 24,
  NICK_RESERVED: 25,
  CANNOT_SEND: 26,
  BAD_HISTORY_COUNT: 30,
  NO_HISTORY: 31,
  BAD_ROOM_KEY: 40,
  ROOM_FULL: 41,
  INVITE_ONLY: 42,
  BANNED: 43,
  INTERNAL: 99,
};

const MODERATED = -1;
const BANNED_SPEAKING = -2;

// An error's words naming what its details name (null: nothing to name),
// and its words when they name nothing ({text}: the server's own words).
const ERRORS = new Map([
  [ErrorCode.MALFORMED, [null, N_("the server could not read a request ({text})")]],
  [ErrorCode.UNKNOWN_TYPE, [null, N_("the server does not know that request")]],
  [ErrorCode.TOO_LARGE, [null, N_("that was too large for the server")]],
  [ErrorCode.INCOMPATIBLE_VERSION, [null, N_("this client is too old or too new for the server")]],
  [ErrorCode.NOT_REGISTERED, [null, N_("the server does not know you yet")]],
  [ErrorCode.ALREADY_REGISTERED, [null, N_("the server knows you already")]],
  [ErrorCode.NICK_IN_USE, [N_("the nick {nick} is already taken"), N_("this nick is already taken")]],
  [ErrorCode.INVALID_NICK, [null, N_("invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^")]],
  [
    ErrorCode.NICK_RESERVED,
    [N_("the nick {nick} is reserved: choose another one"), N_("this nick is reserved: choose another one")],
  ],
  [ErrorCode.INVALID_ROOM, [null, N_("invalid room name: use 1 to 50 letters, digits or _-.")]],
  [ErrorCode.NO_SUCH_ROOM, [N_("there is no room #{room}"), N_("there is no such room")]],
  [ErrorCode.NO_SUCH_NICK, [N_("no user is called {nick}"), N_("there is no such user")]],
  [ErrorCode.NOT_IN_ROOM, [N_("you are not in #{room}"), N_("you are not in that room")]],
  [ErrorCode.ALREADY_IN_ROOM, [N_("you are already in #{room}"), N_("you are already in that room")]],
  [ErrorCode.USER_NOT_IN_ROOM, [N_("{nick} is not in #{room}"), N_("that user is not in the room")]],
  [
    ErrorCode.NOT_ROOM_OPERATOR,
    [N_("you are not an operator of #{room}"), N_("you are not an operator of this room")],
  ],
  [ErrorCode.NOT_SERVER_OPERATOR, [null, N_("you are not a server operator")]],
  [ErrorCode.EMPTY_MESSAGE, [null, N_("empty message, nothing sent")]],
  [ErrorCode.TOKEN_REFUSED, [null, N_("the server did not recognise you: you have a new identity")]],
  [ErrorCode.FLOODING, [null, N_("slow down: the server ignored that")]],
  [ErrorCode.LIMIT, [null, N_("refused by the server's limits ({text})")]],
  [ErrorCode.TOO_MANY_ROOMS, [null, N_("you are in as many rooms as one may be: leave one first")]],
  [
    ErrorCode.CANNOT_SEND,
    [N_("only the members of #{room} may speak there"), N_("you may not speak in that room")],
  ],
  [
    MODERATED,
    [
      N_("#{room} is moderated: only its operators and voiced members may speak"),
      N_("that room is moderated: only its operators and voiced members may speak"),
    ],
  ],
  [
    BANNED_SPEAKING,
    [
      N_("you are banned from #{room}: you may not speak there"),
      N_("you are banned from that room: you may not speak there"),
    ],
  ],
  [
    ErrorCode.BAD_ROOM_KEY,
    [N_("#{room} needs a key, and not that one: /join #{room} <key>"), N_("that room needs a key, and not that one")],
  ],
  [ErrorCode.ROOM_FULL, [N_("#{room} is full"), N_("that room is full")]],
  [
    ErrorCode.INVITE_ONLY,
    [N_("#{room} is invite only: ask one of its operators for an invitation"), N_("that room is invite only")],
  ],
  [ErrorCode.BANNED, [N_("you are banned from #{room}"), N_("you are banned from that room")]],
  [ErrorCode.BAD_HISTORY_COUNT, [null, N_("ask for 1 to 200 older messages at a time")]],
  [ErrorCode.NO_HISTORY, [null, N_("this server keeps no history")]],
  [ErrorCode.INTERNAL, [null, N_("internal error on the server, nothing was done")]],
]);

function details(error) {
  let found = error.details;
  if (typeof found === "string") {
    try {
      found = found ? JSON.parse(found) : {};
    } catch {
      found = {};
    }
  }
  const named = {};
  if (found && typeof found === "object" && !Array.isArray(found)) {
    for (const [key, value] of Object.entries(found)) named[key] = String(value);
  }
  return named;
}

/** The words of an error answer, in the reader's language (t: the catalog). */
export function errorText(error, t, text) {
  let code = Number(error.code);
  const named = details(error);
  const why = named.why || "";
  if (code === ErrorCode.CANNOT_SEND && why.includes("(+m)")) code = MODERATED;
  else if (code === ErrorCode.CANNOT_SEND && why.includes("(+b)")) code = BANNED_SPEAKING;
  const words = ERRORS.get(code);
  if (words === undefined) return String(error.text || "");
  const [withNames, plain] = words;
  if (
    withNames !== null &&
    ["room", "nick"].every((key) => !withNames.includes(`{${key}}`) || key in named)
  ) {
    return text(t(withNames), named);
  }
  return text(t(plain), { text: String(error.text || "") });
}

export const MODE_WORDS = {
  "+o": N_("made {arg} an operator"),
  "-o": N_("took the operator rights of {arg}"),
  "+v": N_("gave {arg} a voice"),
  "-v": N_("took the voice of {arg}"),
  "+k": N_("set the key to {arg}"),
  "-k": N_("removed the key"),
  "+l": N_("limited it to {arg} members"),
  "-l": N_("removed its member limit"),
  "+b": N_("banned {arg}"),
  "-b": N_("lifted the ban on {arg}"),
  "+e": N_("exempted {arg} from its bans"),
  "-e": N_("removed the ban exception of {arg}"),
  "+I": N_("let {arg} in without an invitation"),
  "-I": N_("removed the invite exception of {arg}"),
  "+i": N_("made it invite only"),
  "-i": N_("opened it to everyone"),
  "+s": N_("made it secret"),
  "-s": N_("made it public"),
  "+m": N_("made it moderated"),
  "-m": N_("ended its moderation"),
  "+n": N_("closed it to messages from outside"),
  "-n": N_("opened it to messages from outside"),
  "+t": N_("let only operators set the topic"),
  "-t": N_("let every member set the topic"),
};

/** "+o toto -t +l 5" as [["+o", "toto"], ["-t", ""], ["+l", "5"]]. */
export function modeChanges(changes) {
  const words = String(changes).split(/\s+/).filter(Boolean);
  const pairs = [];
  while (words.length) {
    const mode = words.shift();
    const letter = mode.slice(1);
    const takes = "ovbeIk".includes(letter) || (letter === "l" && mode.startsWith("+"));
    pairs.push([mode, takes && words.length ? words.shift() : ""]);
  }
  return pairs;
}

// Why a picture was refused (twistedchat/core/errors.py: PICTURE_REASONS),
// in the terminal client's words for the problems it has too.
const PICTURE_REASONS = {
  not_base64: N_("its data is not base64"),
  not_an_image: N_("not a picture (or in a format we cannot read)"),
  damaged: N_("the picture is damaged"),
  empty: N_("the picture is empty"),
  blank: N_("the picture comes out blank (all dark)"),
};

/** The words of a refused picture ("Cannot show that picture: …"), or null. */
export function pictureProblem(error, t, text) {
  const code = Number(error.code);
  const named = details(error);
  let why = null;
  if (code === ErrorCode.MALFORMED && Object.hasOwn(PICTURE_REASONS, named.why)) {
    why = t(PICTURE_REASONS[named.why]);
  } else if (code === ErrorCode.TOO_LARGE && named.unit && named.limit) {
    why = `${t("the picture is too large")} (${named.limit} ${named.unit})`;
  }
  return why === null ? null : text(t("Cannot show that picture: {why}"), { why });
}
