// The /commands of the terminal client (twistedchat/client/console.py), as
// a table: command_<name>(chat, argument). An unknown one gets the client's
// "Unknown command" notice; the buttons under the message box type them.

import { N_, t, text } from "./i18n.js";

const DEFAULT_PAGE = 20;
const MAX_PAGE = 200;

export const HELP = [
  N_("Commands:"),
  N_("  /nick <nick>            change your nick"),
  N_("  /join <room> [key]      enter a room, or go back to one (also /room)"),
  N_("  /part [room]            leave the room"),
  N_("  /list                   the rooms"),
  N_("  /names [room]           who is in the room"),
  N_("  /msg <nick> <message>   a private message"),
  N_("  /me <action>            say what you do (/me waves: * you waves)"),
  N_("  /describe <nick> <action>  the same, privately"),
  N_("  /topic [topic]          show or set the room's topic"),
  N_("  /away [message]         mark yourself away (none: back)"),
  N_("  /history [#room] [N]    N older messages of the room (20 by default)"),
  N_("  /kick <nick> [reason]   put someone out of the room (its operators)"),
  N_("  /image                  send a picture (also /di)"),
  N_("  /quit [message]         leave the chat"),
  N_("Anything else is said in your current room."),
];

const ALIASES = { room: "join", di: "image", query: "msg" };

const COMMANDS = {
  help(chat) {
    for (const words of HELP) chat.notice(t(words), "help");
  },

  nick(chat, argument) {
    if (!argument) chat.notice(t("Usage: /nick <nick>"));
    else chat.send({ type: "change_nick", nick: argument });
  },

  join(chat, argument) {
    const [room, ...rest] = argument.replace(/^#/, "").split(" ");
    const key = rest.join(" ").trim();
    if (!room || key.includes(" ")) chat.notice(t("Usage: /join <room> [key]"));
    else if (chat.inRoom(room)) chat.show(chat.roomKey(room));
    else if (key) chat.send({ type: "join_with_key", room, key });
    else chat.send({ type: "join", room });
  },

  part(chat, argument) {
    const room = argument.replace(/^#/, "") || chat.roomOrNotice();
    if (room) chat.send({ type: "part", room, reason: "" });
  },

  list(chat) {
    chat.listWanted = true;
    chat.send({ type: "list_rooms" });
  },

  names(chat, argument) {
    const room = argument.replace(/^#/, "") || chat.roomOrNotice();
    if (room) {
      chat.namesWanted.add(room.toLowerCase());
      chat.send({ type: "list_names", room });
    }
  },

  history(chat, argument) {
    const words = argument.split(/\s+/).filter(Boolean);
    let room = words.length && words[0].startsWith("#") ? words.shift().slice(1) : null;
    const count = words.length ? words[0] : String(DEFAULT_PAGE);
    if (words.length > 1 || room === "" || !/^[0-9]+$/.test(count)) {
      chat.notice(t("Usage: /history [#room] [count]"));
    } else if (Number(count) < 1 || Number(count) > MAX_PAGE) {
      chat.notice(t("ask for 1 to 200 older messages at a time"));
    } else if ((room = room || chat.roomOrNotice())) {
      chat.send({ type: "fetch_history", room, count: Number(count) });
    }
  },

  msg(chat, argument) {
    const [nick, ...rest] = argument.split(" ");
    const message = rest.join(" ");
    if (!nick) {
      chat.notice(t("Usage: /msg <nick> <message>"));
    } else if (!message.trim()) {
      chat.show(chat.privateKey(nick), nick); // opens the conversation
    } else {
      chat.show(chat.privateKey(nick), nick);
      chat.send({ type: "whisper", nick, text: message });
    }
  },

  me(chat, argument) {
    if (!argument) {
      chat.notice(t("Usage: /me <action>"));
      return;
    }
    const private_ = chat.currentPrivate();
    if (private_) chat.send({ type: "act_privately", nick: private_, text: argument });
    else {
      const room = chat.roomOrNotice();
      if (room) chat.send({ type: "act", room, text: argument });
    }
  },

  describe(chat, argument) {
    const [nick, ...rest] = argument.split(" ");
    const action = rest.join(" ");
    if (!nick || !action.trim()) chat.notice(t("Usage: /describe <nick> <action>"));
    else chat.send({ type: "act_privately", nick, text: action });
  },

  topic(chat, argument) {
    const room = chat.roomOrNotice();
    if (!room) return;
    if (argument) {
      chat.send({ type: "set_topic", room, topic: argument });
      return;
    }
    const topic = chat.topicOf(room);
    if (topic) chat.notice(text(t("Topic of #{room}: {topic}"), { room, topic }));
    else chat.notice(text(t("#{room} has no topic; /topic <topic> sets one"), { room }));
  },

  away(chat, argument) {
    chat.send({ type: "set_away", message: argument });
  },

  kick(chat, argument) {
    const [nick, ...rest] = argument.split(" ");
    const room = nick ? chat.roomOrNotice() : null;
    if (!nick) chat.notice(t("Usage: /kick <nick> [reason]"));
    else if (room) chat.send({ type: "kick", room, nick, reason: rest.join(" ") });
  },

  image(chat) {
    chat.choosePicture();
  },

  quit(chat, argument) {
    chat.quit(argument);
  },
};

/** Runs a typed line: a /command, or else something said where one is. */
export function dispatch(chat, typed) {
  // No control characters: a stray one must not turn "/msg" into text.
  const line = typed.replace(/[\u0000-\u001f\u007f]/g, "");
  if (!line.trim()) return;
  if (!line.startsWith("/")) {
    chat.say(line);
    return;
  }
  const space = line.indexOf(" ");
  let name = (space < 0 ? line.slice(1) : line.slice(1, space)).toLowerCase();
  const argument = space < 0 ? "" : line.slice(space + 1).trim();
  name = ALIASES[name] || name;
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    chat.notice(text(t("Unknown command /{command}; type /help"), { command: name }));
  } else {
    command(chat, argument);
  }
}
