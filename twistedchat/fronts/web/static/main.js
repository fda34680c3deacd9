// The page's entry point: finds its elements, translates its fixed words,
// connects to the server's /ws and wires the person's actions (the message
// box, the buttons, the room list, the picture chooser) to the Chat.

import { Chat } from "./chat.js";
import { ServerConnection } from "./connection.js";
import { format, t, translatePage } from "./i18n.js";
import { element, nickChip } from "./view.js";

const $ = (id) => document.getElementById(id);

function start() {
  translatePage(document);
  const page = {
    state: $("state"),
    me: $("me"),
    log: $("log"),
    title: $("title"),
    topic: $("topic"),
    picture: $("picture"),
  };
  const chat = new Chat(page, window.localStorage, window.location.host);
  const dialog = $("welcome");
  const menu = $("menu");

  page.askNick = (error) => {
    $("nick-error").textContent = error;
    const saved = chat.saved;
    if (!$("nick").value && saved.nick) $("nick").value = saved.nick;
    if (!dialog.open) dialog.showModal();
    $("nick").focus();
  };
  page.closeNick = () => {
    if (dialog.open) {
      dialog.close();
      $("message").focus();
    }
  };

  function setMenu(open) {
    document.body.classList.toggle("menu-open", open);
    menu.setAttribute("aria-expanded", String(open));
  }
  menu.addEventListener("click", () => {
    const open = !document.body.classList.contains("menu-open");
    setMenu(open);
    if (open) $("sidebar").querySelector("button, input")?.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("menu-open")) {
      setMenu(false);
      menu.focus();
    }
  });

  function entry(label, count, unread, current, open) {
    const item = element("li");
    const button = element("button", "conversation-button");
    button.type = "button";
    button.append(element("span", "name", label));
    if (count !== null) {
      const members = element("span", "count", String(count));
      members.title = t("members");
      members.setAttribute("aria-label", format(t("{count} members"), { count }).textContent);
      button.append(members);
    }
    if (unread) {
      const badge = element("span", "unread", String(unread));
      badge.setAttribute("aria-label", format(t("{count} unread"), { count: unread }).textContent);
      button.append(badge);
    }
    if (current) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => {
      open();
      setMenu(false);
      $("message").focus();
    });
    item.append(button);
    return item;
  }

  page.refresh = () => {
    const { rooms, privates, others, counts } = chat.sidebar();
    $("rooms").replaceChildren(
      ...rooms.map((room) =>
        entry(
          `#${room.name}`,
          room.members.size || counts.get(room.name.toLowerCase()) || 0,
          room.unread,
          room.key === chat.current,
          () => chat.show(room.key),
        ),
      ),
    );
    $("privates").replaceChildren(
      ...privates.map((talk) =>
        entry(talk.name, null, talk.unread, talk.key === chat.current, () => chat.show(talk.key)),
      ),
    );
    $("other-rooms").replaceChildren(
      ...others.map((room) =>
        entry(`#${room.name}`, room.members, 0, false, () => chat.typed(`/join ${room.name}`)),
      ),
    );
    const members = chat.membersOfCurrent().map((user) => {
      const item = element("li");
      const button = element("button", "member");
      button.type = "button";
      button.append(nickChip(user.nick, user.colour));
      button.title = t("Private messages");
      button.addEventListener("click", () => chat.typed(`/msg ${user.nick}`));
      item.append(button);
      return item;
    });
    $("members").replaceChildren(...members);
    const unread = [...chat.conversations.values()].reduce((sum, c) => sum + c.unread, 0);
    document.title = unread ? `(${unread}) twistedchat` : "twistedchat";
    menu.classList.toggle("has-unread", unread > 0);
  };

  $("nick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    chat.nickChosen($("nick").value.trim(), $("first-room").value.trim());
  });
  dialog.addEventListener("cancel", (event) => event.preventDefault()); // a nick is needed

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("message");
    const typed = box.value;
    box.value = "";
    chat.typed(typed);
  });
  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("join-room").value.trim();
    $("join-room").value = "";
    if (room) chat.typed(`/join ${room}`);
    setMenu(false);
    $("message").focus();
  });
  for (const button of document.querySelectorAll("[data-command]")) {
    button.addEventListener("click", () => {
      const command = button.dataset.command;
      if (command.endsWith(" ")) {
        $("message").value = command;
        $("message").focus();
      } else {
        chat.typed(command);
      }
    });
  }
  page.picture.addEventListener("change", () => {
    for (const file of page.picture.files) chat.sendPicture(file);
    page.picture.value = "";
  });

  chat.show("");
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  chat.connection = new ServerConnection(`${scheme}//${window.location.host}/ws`, chat);
  chat.connection.open();
  // A page left for another keeps no connection (the browser may keep the
  // page itself, frozen, to come back to): the others see the person go, and
  // what they say meanwhile is what was missed on return.
  window.addEventListener("pagehide", () => chat.connection.stop("closed"));
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) chat.connection.open();
  });
}

start();
