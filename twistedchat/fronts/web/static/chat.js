// The chat as one person sees it in the page: the server's events in, what
// they type out. Chat keeps the conversations (rooms entered, private
// ones), who is in each room, topics, unread counts, and the identity
// (resume token and nick, in localStorage per server: a reload or a second
// tab is the same user). Each event is handled by on_<type>; each is shown
// with the terminal client's words (i18n.js) and DOM calls (view.js).

import { identityColour } from "./colours.js";
import { dispatch } from "./commands.js";
import { N_, format, language, t, text, tn } from "./i18n.js";
import { element, line, linkified, nickChip, picture } from "./view.js";
import { ErrorCode, MODE_WORDS, errorText, modeChanges, pictureProblem } from "./words.js";

export const PROTOCOL_VERSION = 3;
const STATUS = ""; // the key of the conversation with the server itself
const ACTION = /^\u0001ACTION (.*?)\u0001?$/s;
const CTCP = /^\u0001/;
const NICK = /^[A-Za-z0-9_\-[\]{}\\|^]{1,30}$/;
const REFUSED_NICKS = [ErrorCode.NICK_IN_USE, ErrorCode.INVALID_NICK, ErrorCode.NICK_RESERVED];

/** Text from IRC users without its formatting codes and control characters. */
export function readable(value) {
  return String(value)
    .replace(/\u0003(\d{1,2}(,\d{1,2})?)?/g, "")
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, "");
}

function escapeRegExp(value) {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

class Conversation {
  constructor(key, kind, name) {
    this.key = key;
    this.kind = kind; // "room", "private" or "status"
    this.name = name;
    this.log = element("div", "conversation");
    this.log.dataset.conversation = key;
    this.unread = 0;
    this.members = new Map(); // user id -> user, for rooms
    this.topic = "";
  }
}

export class Chat {
  constructor(page, storage, server) {
    this.page = page; // the elements, from main.js
    this.storage = storage;
    this.storageKey = `twistedchat:${server}`;
    this.connection = null;
    this.me = null; // our User once welcomed
    this.registered = false;
    this.leaving = false;
    this.conversations = new Map();
    this.roomsEntered = []; // room keys in the order entered
    this.serverRooms = []; // [{name, members}] as the server last listed them
    this.colours = new Map(); // user id -> colour, for history entries
    this.namesWanted = new Set(); // rooms whose NameList the user asked to see
    this.listWanted = false;
    this.wantedRooms = null; // the rooms of our next Hello
    this.greeting = null; // the Welcome's line, for the first room shown
    this.current = STATUS;
    this.conversation(STATUS, "status", "twistedchat");
  }

  // The identity kept in the browser

  get saved() {
    try {
      return JSON.parse(this.storage.getItem(this.storageKey)) || {};
    } catch {
      return {};
    }
  }

  save(changes) {
    this.storage.setItem(this.storageKey, JSON.stringify({ ...this.saved, ...changes }));
  }

  // The connection's life (the ServerConnection's listener)

  state(name, seconds) {
    const words = {
      connecting: text(t("Connecting to {server}…"), { server: window.location.host }),
      connected: t("Connected"),
      reconnecting: text(t("Connection lost: reconnecting in {seconds} s"), { seconds }),
      closed: t("Disconnected"),
    };
    this.page.state.textContent = words[name] || name;
    this.page.state.dataset.state = name;
  }

  opened() {
    const saved = this.saved;
    if (saved.token && saved.nick) this.hello(saved.nick, saved.token);
    else if (this.chosenNick) this.hello(this.chosenNick, "");
    else this.page.askNick("");
  }

  closed() {
    if (this.registered && !this.leaving) {
      this.notice(t("Connection lost, reconnecting…"));
    }
    this.registered = false;
  }

  hello(nick, token) {
    const rooms =
      this.wantedRooms ||
      (this.roomsEntered.length
        ? this.roomsEntered.map((key) => this.conversations.get(key).name)
        : this.saved.rooms || []);
    this.connection.send({
      type: "hello",
      version: PROTOCOL_VERSION,
      nick,
      token,
      lang: language,
      rooms,
    });
  }

  /** The nick (and first room) the person chose in the welcome dialog. */
  nickChosen(nick, room) {
    if (!NICK.test(nick)) {
      this.page.askNick(t("invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^"));
      return;
    }
    this.chosenNick = nick;
    // A nick of one's own is a new identity, never greeted as the old one.
    this.save({ token: "", nick });
    this.wantedRooms = room ? [room.replace(/^#/, "")] : this.saved.rooms || [];
    if (this.connection.connected) this.hello(nick, "");
  }

  received(event) {
    const handler = this[`on_${event.type}`];
    if (typeof handler === "function") handler.call(this, event);
  }

  send(request) {
    if (!this.registered || !this.connection.send(request)) {
      this.notice(t("Not connected: that was not sent."));
    }
  }

  // Conversations

  roomKey(room) {
    return `#${String(room).toLowerCase()}`;
  }

  privateKey(nick) {
    return `@${String(nick).toLowerCase()}`;
  }

  conversation(key, kind, name) {
    let found = this.conversations.get(key);
    if (found === undefined) {
      found = new Conversation(key, kind, name);
      this.conversations.set(key, found);
    }
    return found;
  }

  inRoom(room) {
    return this.roomsEntered.includes(this.roomKey(room));
  }

  currentRoom() {
    const found = this.conversations.get(this.current);
    return found && found.kind === "room" ? found.name : null;
  }

  currentPrivate() {
    const found = this.conversations.get(this.current);
    return found && found.kind === "private" ? found.name : null;
  }

  roomOrNotice() {
    const room = this.currentRoom();
    if (room === null) this.notice(t("You are in no room: /join one first."));
    return room;
  }

  topicOf(room) {
    const found = this.conversations.get(this.roomKey(room));
    return found ? found.topic : "";
  }

  /** Shows the conversation key (a private one is opened if new). */
  show(key, nick) {
    if (!this.conversations.has(key)) {
      if (nick === undefined) return;
      this.conversation(key, "private", nick);
    }
    this.current = key;
    const shown = this.conversations.get(key);
    shown.unread = 0;
    // Another conversation shown is not news: screen readers are told of
    // the lines that arrive in it, not of those it already had.
    this.page.log.setAttribute("aria-live", "off");
    this.page.log.replaceChildren(shown.log);
    setTimeout(() => this.page.log.setAttribute("aria-live", "polite"), 0);
    this.page.title.textContent =
      shown.kind === "room" ? `#${shown.name}` : shown.kind === "private" ? shown.name : "twistedchat";
    this.page.topic.textContent = shown.kind === "room" ? readable(shown.topic) : "";
    this.page.log.scrollTop = this.page.log.scrollHeight;
    this.page.refresh();
  }

  /** Adds a line to a conversation; an unread one if it is not shown. */
  add(key, row, counts = false) {
    const target = this.conversations.get(key) || this.conversations.get(this.current);
    const stick =
      this.page.log.scrollTop + this.page.log.clientHeight >= this.page.log.scrollHeight - 40;
    target.log.append(row);
    if (target.key !== this.current && counts) {
      target.unread += 1;
      this.page.refresh();
    }
    if (target.key === this.current && stick) this.page.log.scrollTop = this.page.log.scrollHeight;
  }

  /** A line from the page itself, in the conversation shown. */
  notice(words, kind = "notice") {
    this.add(this.current, line(kind, null, document.createTextNode(words)));
  }

  // What the person does

  typed(lineTyped) {
    dispatch(this, lineTyped);
  }

  say(message) {
    const nick = this.currentPrivate();
    if (nick !== null) {
      this.send({ type: "whisper", nick, text: message });
      return;
    }
    const room = this.roomOrNotice();
    if (room !== null) this.send({ type: "say", room, text: message });
  }

  choosePicture() {
    this.page.picture.click();
  }

  sendPicture(file) {
    const room = this.currentRoom();
    if (room === null) {
      this.notice(t("Pictures go to rooms: show a room first."));
      return;
    }
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      const data = String(reader.result);
      this.send({ type: "send_picture", room, data: data.slice(data.indexOf(",") + 1) });
    });
    reader.addEventListener("error", () => {
      this.notice(
        text(t("Cannot show that picture: {why}"), { why: `${file.name}: ${t("cannot read it")}` }),
      );
    });
    reader.readAsDataURL(file);
  }

  quit(message) {
    this.leaving = true;
    if (this.registered) this.connection.send({ type: "goodbye", message });
    this.connection.stop();
    this.notice(t("You left the chat: reload the page to come back."));
  }

  // Pieces of lines

  nick(user) {
    if (user && user.id) this.colours.set(user.id, user.colour);
    return nickChip(user ? user.nick : "", user ? user.colour : null);
  }

  isMe(user) {
    return this.me !== null && user && user.id === this.me.id;
  }

  mentions(words) {
    if (this.me === null) return false;
    return new RegExp(`(^|[^A-Za-z0-9_])${escapeRegExp(this.me.nick)}($|[^A-Za-z0-9_])`, "i").test(
      words,
    );
  }

  /** Lines of what was said in a room (or privately): a message, counted unread. */
  message(key, time, content, from, words) {
    const mention = !this.isMe(from) && this.mentions(words);
    const row = line(mention ? "message mention" : "message", time, content);
    this.add(key, row, true);
  }

  // Events: on_<type>

  on_welcome(event) {
    this.me = event.user;
    this.registered = true;
    this.save({ token: event.token, nick: event.user.nick });
    this.wantedRooms = null;
    this.serverRooms = event.rooms || [];
    this.page.me.replaceChildren(this.nick(event.user));
    this.page.closeNick();
    const words = event.resumed ? N_("Welcome back {nick}!") : N_("Welcome {nick}!");
    const greeting = () => line("notice", null, format(t(words), { nick: this.nick(event.user) }));
    this.add(STATUS, greeting());
    // Said again where the person will read it: the room shown once in.
    if (this.current === STATUS) this.greeting = greeting;
    else this.add(this.current, greeting());
    this.page.refresh();
  }

  on_said(event) {
    const key = this.roomKey(event.room);
    const did = ACTION.exec(event.text);
    if (did) {
      this.acted(key, event.time, event.user, did[1]);
      return;
    }
    if (CTCP.test(event.text)) return;
    const words = readable(event.text);
    const content = this.isMe(event.user)
      ? format(t("You said: {text}"), { text: linkified(words) })
      : format(t("{nick} said: {text}"), { nick: this.nick(event.user), text: linkified(words) });
    this.message(key, event.time, content, event.user, words);
  }

  acted(key, time, user, did) {
    const words = readable(did);
    const content = format("* {nick} {text}", { nick: this.nick(user), text: linkified(words) });
    this.message(key, time, content, user, words);
  }

  on_acted(event) {
    this.acted(this.roomKey(event.room), event.time, event.user, event.text);
  }

  privateWith(event) {
    const nick = this.isMe(event.user) ? event.to : event.user.nick;
    const key = this.privateKey(nick);
    this.conversation(key, "private", nick);
    this.page.refresh();
    return key;
  }

  on_whispered(event) {
    if (CTCP.test(event.text)) return;
    const key = this.privateWith(event);
    const words = readable(event.text);
    const content = this.isMe(event.user)
      ? format(t("You said to {nick} (private): {text}"), { nick: event.to, text: linkified(words) })
      : format(t("{nick} said to you (private): {text}"), {
          nick: this.nick(event.user),
          text: linkified(words),
        });
    this.message(key, event.time, content, event.user, words);
  }

  on_acted_privately(event) {
    const key = this.privateWith(event);
    const words = readable(event.text);
    const content = this.isMe(event.user)
      ? format(t("(private, to {nick}) * {me} {text}"), {
          nick: event.to,
          me: this.nick(event.user),
          text: linkified(words),
        })
      : format(t("(private) * {nick} {text}"), { nick: this.nick(event.user), text: linkified(words) });
    this.message(key, event.time, content, event.user, words);
  }

  on_image_shown(event) {
    const heading = this.isMe(event.user)
      ? format(t("You showed a picture:"))
      : format(t("{nick} showed a picture:"), { nick: this.nick(event.user) });
    const content = document.createDocumentFragment();
    const description = text(t("{nick} showed a picture:"), { nick: event.user.nick });
    content.append(heading, picture(event.picture, event.art, description));
    this.add(this.roomKey(event.room), line("message picture-line", event.time, content), true);
  }

  membersChanged(key) {
    if (key === this.current) this.page.refresh();
  }

  on_entered(event) {
    const key = this.roomKey(event.room);
    if (this.isMe(event.user)) {
      const room = this.conversation(key, "room", event.room);
      room.name = event.room;
      if (!this.roomsEntered.includes(key)) this.roomsEntered.push(key);
      this.save({ rooms: this.roomsEntered.map((k) => this.conversations.get(k).name) });
      // A room entered again on reconnecting does not take the person away
      // from the conversation they read; a room they asked for is shown.
      const shown = !event.arrival || this.current === STATUS;
      if (shown && this.greeting) {
        this.add(key, this.greeting());
        this.greeting = null;
      }
      this.add(key, line("event", event.time, format(t("You are in #{room}"), { room: event.room })));
      room.members.set(event.user.id, event.user);
      this.connection.send({ type: "list_names", room: event.room });
      this.connection.send({ type: "list_rooms" }); // the other rooms' counts, anew
      if (shown) this.show(key);
      else this.page.refresh();
      return;
    }
    const words = event.returning ? N_("{nick} is back in #{room}") : N_("{nick} joined #{room}");
    this.add(key, line("event", event.time, format(t(words), { nick: this.nick(event.user), room: event.room })));
    const room = this.conversations.get(key);
    if (room) room.members.set(event.user.id, event.user);
    this.membersChanged(key);
  }

  leaveRoom(room) {
    const key = this.roomKey(room);
    this.roomsEntered = this.roomsEntered.filter((k) => k !== key);
    this.save({ rooms: this.roomsEntered.map((k) => this.conversations.get(k).name) });
    const found = this.conversations.get(key);
    if (found) found.members.clear();
    if (this.current === key) {
      const next = this.roomsEntered[this.roomsEntered.length - 1];
      if (next) {
        this.show(next);
        this.notice(text(t("What you type now goes to #{room}."), { room: this.conversations.get(next).name }));
      } else {
        this.show(STATUS);
        this.notice(t("You are in no room now: /join one."));
      }
    }
    this.page.refresh();
  }

  on_left(event) {
    const key = this.roomKey(event.room);
    let words;
    if (this.isMe(event.user)) words = format(t("You left #{room}"), { room: event.room });
    else if (event.reason) {
      words = format(t("{nick} left #{room} ({reason})"), {
        nick: this.nick(event.user),
        room: event.room,
        reason: readable(event.reason),
      });
    } else words = format(t("{nick} left #{room}"), { nick: this.nick(event.user), room: event.room });
    this.add(key, line("event", event.time, words));
    if (this.isMe(event.user)) this.leaveRoom(event.room);
    else {
      const found = this.conversations.get(key);
      if (found) found.members.delete(event.user.id);
      this.membersChanged(key);
    }
  }

  /** A user gone from every room: said in each room they were in. */
  everywhere(user, time, words) {
    for (const key of this.roomsEntered) {
      const room = this.conversations.get(key);
      if (room.members.has(user.id)) {
        room.members.delete(user.id);
        this.add(key, line("event", time, words()));
      }
    }
    this.page.refresh();
  }

  on_gone(event) {
    const nick = () => this.nick(event.user);
    this.everywhere(event.user, event.time, () =>
      event.message
        ? format(t("{nick} left the chat ({reason})"), { nick: nick(), reason: readable(event.message) })
        : format(t("{nick} left the chat"), { nick: nick() }),
    );
  }

  on_killed_off(event) {
    const words = () =>
      format(t("{nick} was disconnected by {by}: {message}"), {
        nick: this.nick(event.user),
        by: this.nick(event.by),
        message: readable(event.message),
      });
    if (this.isMe(event.user)) {
      this.notice(text(t("{nick} was disconnected by {by}: {message}"), {
        nick: event.user.nick,
        by: event.by.nick,
        message: readable(event.message),
      }));
      this.leaving = true;
      this.connection.stop();
      return;
    }
    this.everywhere(event.user, event.time, words);
  }

  on_renamed(event) {
    const mine = this.isMe(event.user);
    const talk = this.conversations.get(this.privateKey(event.old));
    if (!mine && talk && !this.conversations.has(this.privateKey(event.user.nick))) {
      // A private conversation follows its person to their new nick.
      this.conversations.delete(talk.key);
      talk.key = this.privateKey(event.user.nick);
      talk.name = event.user.nick;
      talk.log.dataset.conversation = talk.key;
      this.conversations.set(talk.key, talk);
      if (this.current === this.privateKey(event.old)) this.current = talk.key;
      if (this.current === talk.key) this.page.title.textContent = talk.name;
      const words = format(t("{old} is now known as {nick}"), { old: event.old, nick: this.nick(event.user) });
      this.add(talk.key, line("event", event.time, words));
    }
    if (mine) {
      this.me = event.user;
      this.save({ nick: event.user.nick });
      this.page.me.replaceChildren(this.nick(event.user));
    }
    const words = () =>
      mine
        ? format(t("You are now known as {nick}"), { nick: this.nick(event.user) })
        : format(t("{old} is now known as {nick}"), { old: event.old, nick: this.nick(event.user) });
    let told = false;
    for (const key of this.roomsEntered) {
      const room = this.conversations.get(key);
      if (room.members.has(event.user.id)) {
        room.members.set(event.user.id, event.user);
        this.add(key, line("event", event.time, words()));
        told = told || key === this.current;
      }
    }
    if (mine && !told) this.add(this.current, line("event", event.time, words()));
    this.page.refresh();
  }

  on_kicked_out(event) {
    const key = this.roomKey(event.room);
    const reason = event.reason ? ` (${readable(event.reason)})` : "";
    const words = this.isMe(event.user)
      ? format(t("You were kicked out of #{room} by {by}"), { room: event.room, by: this.nick(event.by) })
      : format(t("{nick} was kicked out of #{room} by {by}"), {
          nick: this.nick(event.user),
          room: event.room,
          by: this.nick(event.by),
        });
    words.append(document.createTextNode(reason));
    const said = words.textContent;
    this.add(key, line("event", event.time, words));
    if (this.isMe(event.user)) {
      this.leaveRoom(event.room);
      this.add(this.current, line("event", event.time, document.createTextNode(said)));
    } else {
      const found = this.conversations.get(key);
      if (found) found.members.delete(event.user.id);
      this.membersChanged(key);
    }
  }

  on_topic_set(event) {
    const key = this.roomKey(event.room);
    const found = this.conversations.get(key);
    if (found) found.topic = event.topic;
    const words = event.topic
      ? format(t("{nick} set the topic of #{room}: {topic}"), {
          nick: this.nick(event.user),
          room: event.room,
          topic: linkified(readable(event.topic)),
        })
      : format(t("{nick} cleared the topic of #{room}"), { nick: this.nick(event.user), room: event.room });
    this.add(key, line("event", event.time, words));
    if (key === this.current) this.page.topic.textContent = readable(event.topic);
  }

  on_topic(event) {
    const key = this.roomKey(event.room);
    const found = this.conversations.get(key);
    if (found) found.topic = event.topic;
    const words = format(t("Topic of #{room}: {topic} (set by {nick})"), {
      room: event.room,
      topic: linkified(readable(event.topic)),
      nick: event.by,
    });
    this.add(key, line("event", event.time, words));
    if (key === this.current) this.page.topic.textContent = readable(event.topic);
  }

  on_modes_set(event) {
    const changes = modeChanges(event.changes)
      .map(([mode, arg]) => (mode in MODE_WORDS ? text(t(MODE_WORDS[mode]), { arg }) : `${mode} ${arg}`.trim()))
      .join(", ");
    const words = format(t("{nick} changed #{room}: {changes}"), {
      nick: this.nick(event.user),
      room: event.room,
      changes,
    });
    this.add(this.roomKey(event.room), line("event", event.time, words));
  }

  on_invitation(event) {
    const words = format(t("{nick} invites you into #{room} (/join {room})"), {
      nick: this.nick(event.user),
      room: event.room,
    });
    this.add(this.current, line("event mention", event.time, words));
  }

  on_room_list(event) {
    this.serverRooms = event.rooms || [];
    this.page.refresh();
    if (!this.listWanted) return;
    this.listWanted = false;
    if (!this.serverRooms.length) {
      this.notice(t("No rooms yet."));
      return;
    }
    this.notice(t("Rooms:"));
    this.serverRooms.forEach((room, index) => {
      const words = tn("  {number}) #{room} ({count} present)", "  {number}) #{room} ({count} present)", room.members);
      this.notice(text(words, { number: index + 1, room: room.name, count: room.members }), "help");
    });
  }

  on_name_list(event) {
    const key = this.roomKey(event.room);
    const found = this.conversations.get(key);
    if (found) {
      found.members = new Map(event.users.map((user) => [user.id, user]));
      this.membersChanged(key);
    }
    for (const user of event.users) this.colours.set(user.id, user.colour);
    const asked = event.room.toLowerCase();
    if (!this.namesWanted.has(asked)) return;
    this.namesWanted.delete(asked);
    const names = document.createDocumentFragment();
    event.users.forEach((user, index) => {
      if (index) names.append(document.createTextNode(" "));
      names.append(this.nick(user));
    });
    this.add(this.current, line("notice", null, format(t("In #{room}: {names}"), { room: event.room, names })));
  }

  /** History entries (History, Missed, Older) as lines marked as history. */
  entries(key, entries, kind) {
    if (!Array.isArray(entries)) {
      try {
        entries = JSON.parse(entries);
      } catch {
        entries = null;
      }
    }
    if (!Array.isArray(entries)) {
      this.add(key, line("notice", null, document.createTextNode(text(t("Error: {text}"), { text: t("unreadable history") }))));
      return 0;
    }
    let shown = 0;
    for (const entry of entries) {
      if (!entry || typeof entry !== "object") continue;
      const colour =
        this.colours.get(entry.user_id) ??
        (typeof entry.user_id === "string" ? identityColour(entry.user_id) : null);
      const nick = nickChip(String(entry.nick), colour);
      const words = String(entry.text ?? "");
      let content;
      if (entry.kind === "image") {
        content = format(t("(history) {nick} showed a picture:"), { nick });
        const description = text(t("(history) {nick} showed a picture:"), { nick: entry.nick });
        content.append(picture(entry.picture, words, description));
      } else {
        const did = entry.kind === "action" ? words : (ACTION.exec(words) || [])[1];
        if (did !== undefined) {
          content = format(t("(history) * {nick} {text}"), { nick, text: linkified(readable(did)) });
        } else if (CTCP.test(words)) continue;
        else content = format(t("(history) {nick}: {text}"), { nick, text: linkified(readable(words)) });
      }
      this.add(key, line(`history ${kind}`, entry.time, content));
      shown += 1;
    }
    return shown;
  }

  separator(key, words, kind) {
    const row = element("p", `separator ${kind}`, words);
    this.add(key, row);
  }

  on_history(event) {
    const key = this.roomKey(event.room);
    this.entries(key, event.entries, "past");
    this.separator(key, t("— live —"), "live");
  }

  on_missed(event) {
    const key = this.roomKey(event.room);
    const start = element("p", "separator missed-start", "");
    this.add(key, start);
    const shown = this.entries(key, event.entries, "missed");
    const count = Number(event.skipped) + shown;
    start.textContent =
      count === 1 ? t("— 1 message since you left —") : text(t("— {count} messages since you left —"), { count });
    if (Number(event.skipped) === 1) {
      start.after(element("p", "separator missed", t("— the first one is not shown: /history shows it —")));
    } else if (Number(event.skipped) > 1) {
      start.after(
        element("p", "separator missed", text(t("— the first {count} are not shown: /history shows them —"), { count: event.skipped })),
      );
    }
    this.separator(key, t("— live —"), "live");
    const found = this.conversations.get(key);
    if (found && key !== this.current) {
      found.unread += count;
      this.page.refresh();
    }
  }

  on_older(event) {
    const key = this.roomKey(event.room);
    const target = this.conversations.get(key) ? key : this.current;
    const before = this.conversations.get(target).log.childElementCount;
    this.separator(target, text(t("— older messages of #{room} —"), { room: event.room }), "older");
    const shown = this.entries(target, event.entries, "older");
    if (!shown) {
      const log = this.conversations.get(target).log;
      while (log.childElementCount > before) log.lastElementChild.remove();
      this.notice(text(t("No older messages in #{room}."), { room: event.room }));
      return;
    }
    this.separator(
      target,
      event.more ? t("— /history for older ones —") : text(t("— start of the history of #{room} —"), { room: event.room }),
      "older",
    );
  }

  on_away(event) {
    this.add(this.current, line("notice", null, format(t("{nick} is away: {message}"), { nick: event.nick, message: readable(event.message) })));
  }

  on_away_set(event) {
    this.notice(
      event.message
        ? text(t("You are marked as away: {message}"), { message: readable(event.message) })
        : t("You are back (no longer marked as away)."),
    );
  }

  on_error(event) {
    const picture = pictureProblem(event, t, text);
    if (picture !== null) {
      this.add(this.current, line("error", null, document.createTextNode(picture)));
      return;
    }
    const words = errorText(event, t, text);
    if (!this.registered && REFUSED_NICKS.includes(Number(event.code))) {
      // Our identity's nick is someone else's now: the next one comes
      // without the token, as a new identity (docs/PROTOCOL.md).
      this.save({ token: "" });
      this.chosenNick = "";
      this.page.askNick(words);
      return;
    }
    this.add(this.current, line("error", null, document.createTextNode(text(t("Error: {text}"), { text: words }))));
    if (event.fatal) {
      this.leaving = true;
      this.connection.stop();
    }
  }

  on_ping(event) {
    this.connection.send({ type: "pong", token: event.token });
  }

  on_pong() {}

  // What the sidebar and the member list show

  sidebar() {
    const rooms = this.roomsEntered.map((key) => this.conversations.get(key));
    const privates = [...this.conversations.values()].filter((c) => c.kind === "private");
    const counts = new Map(this.serverRooms.map((room) => [room.name.toLowerCase(), room.members]));
    const others = this.serverRooms.filter((room) => !this.inRoom(room.name));
    return { rooms, privates, others, counts };
  }

  membersOfCurrent() {
    const found = this.conversations.get(this.current);
    if (!found || found.kind !== "room") return [];
    return [...found.members.values()].sort((a, b) => a.nick.localeCompare(b.nick));
  }
}
