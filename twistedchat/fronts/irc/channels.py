"""
Channels, which are the rooms of every front: JOIN (with the topic, the names
and recent history that follow it), PART, NAMES, LIST, TOPIC, MODE, KICK and
INVITE. The rules of a channel's modes (keys, limits, bans, invitations,
secrecy, voices) are the core's (L{twistedchat.core.access}): here they are
only parsed and shown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.words.protocols import irc

from ...core import errors
from ...core.session import Session
from ...core.views import RoomView
from . import markread, users
from .listing import room_filter
from .numerics import (
    RPL_CREATIONTIME,
    RPL_ENDOFINVITELIST,
    RPL_INVITELIST,
    RPL_TOPICWHOTIME,
    room_name,
)
from .render import (
    HOST,
    channel,
    clean,
    compose,
    member_prefix,
    prefix,
    rows,
    server_time,
)
from .server import KICKLEN, TOPICLEN

if TYPE_CHECKING:
    from .protocol import IRCProtocol

LIST_PAGE = 100  # channels listed between two turns of the reactor
NAMES_PAGE = 25  # lines of nicks (about 1,000 nicks) between two turns


async def irc_JOIN(client: IRCProtocol, params: list[str]) -> None:
    session = client.registered_session()
    if params[0] == "0":
        for name in session.rooms:
            client.factory.service.part(session, name, "Left all channels")
        return
    keys = params[1].split(",") if len(params) > 1 else []
    for index, name in enumerate(client.each(params[0].split(","))):
        key = keys[index] if index < len(keys) else ""  # the same place's key
        try:
            await join(client, session, room_name(name), key)
        except errors.AlreadyInRoom:
            pass  # as IRC servers do: joining a channel you are on is a no-op
        except errors.ChatError as e:
            client.refused(e)


async def join(client: IRCProtocol, session: Session, name: str, key: str) -> None:
    """Join (with C{key} if not empty), then what a client is told of the channel."""
    service = client.factory.service
    # later, with a shared state
    await maybeDeferred(service.join, session, name, join_key=key)
    room = service.room(name)
    if room.topic:
        send_topic(client, room)
    if markread.CAPABILITY in client.caps:
        markread.send_marker(client, channel(room.name))
    await send_names(client, room)
    replay(client, room)


def replay(client: IRCProtocol, room: RoomView) -> None:
    """
    Recent history, as NOTICEs (with their time, and id with message-tags,
    when the client asked): a room's last entries, or, when the connection
    comes back to a room, what was said there while it was out.
    """
    session = client.registered_session()
    entries = client.factory.service.reading.replay(session, room.name).entries
    for entry in entries:
        source = f"{clean(entry.nick)}!history@{HOST}"
        lines = rows(entry.text) or [""]
        if entry.kind == "image":
            lines = ["shows a picture:", *lines]
        acted = entry.kind == "action"
        for row in lines:
            if "server-time" in client.caps:
                tags = f"@time={server_time(entry.time)}"
                if "message-tags" in client.caps:
                    tags += f";msgid={entry.id}"
                tags += " "
                text = f"\x01ACTION {clean(row)}\x01" if acted else clean(row) or " "
                client.send_line(
                    tags + compose(source, "PRIVMSG", channel(room.name), text)
                )
            else:
                stamp = time.strftime("%H:%M", time.localtime(entry.time))
                said = f"* {entry.nick}" if acted else f"<{entry.nick}>"
                client.send_line(
                    compose(
                        client.server_name,
                        "NOTICE",
                        channel(room.name),
                        f"[{stamp}] {said} {clean(row)}",
                    )
                )


def irc_PART(client: IRCProtocol, params: list[str]) -> None:
    reason = params[1] if len(params) > 1 else ""
    for name in client.each(params[0].split(",")):
        try:
            client.factory.service.part(
                client.registered_session(), room_name(name), reason
            )
        except errors.ChatError as e:
            client.refused(e)


async def irc_NAMES(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    if not params or not params[0]:
        client.reply(irc.RPL_ENDOFNAMES, "*", "End of /NAMES list.")
        return
    viewer = client.registered_session()
    names = params[0].split(",")
    several = len(names) > 1  # then one 366 ends them all (TARGMAX's NAMES)
    for name in client.each(names):
        try:
            await send_names(client, service.room(room_name(name), viewer), not several)
        except errors.ChatError:
            if not several:
                client.reply(irc.RPL_ENDOFNAMES, name, "End of /NAMES list.")
        if client.gone:
            return
    if several:
        client.reply(irc.RPL_ENDOFNAMES, params[0], "End of /NAMES list.")


async def send_names(client: IRCProtocol, room: RoomView, end: bool = True) -> None:
    """
    The room's nicks, about 400 characters a line, paced like a listing; a
    secret room is shown as such (C{@}), a public one with C{=}; then, if
    C{end}, their end (366).
    """
    line: list[str] = []
    sent = 0
    kind = "@" if "s" in room.modes else "="
    every = "multi-prefix" in client.caps
    masks = "userhost-in-names" in client.caps
    for user in room.members:
        ranks = users.room_ranks(room.is_operator(user), room.is_voiced(user))
        line.append(
            member_prefix(ranks, every) + (prefix(user) if masks else user.nick)
        )
        if len(" ".join(line)) > 400:
            client.reply(irc.RPL_NAMREPLY, kind, channel(room.name), " ".join(line))
            line = []
            sent += 1
            if sent % NAMES_PAGE == 0:
                await client.pace(NAMES_PAGE)
                if client.gone:
                    return
    if line:
        client.reply(irc.RPL_NAMREPLY, kind, channel(room.name), " ".join(line))
    if end:
        client.reply(irc.RPL_ENDOFNAMES, channel(room.name), "End of /NAMES list.")


async def irc_LIST(client: IRCProtocol, params: list[str]) -> None:
    """
    Every channel the client may see (not the secret ones it is not in), or
    those its filters keep (L{listing}), a page at a time, paced (see
    L{FrontProtocol.pace}): the client's next command waits for the end of
    the list.
    """
    service = client.factory.service
    viewer = client.registered_session()
    keep = room_filter(params[0]) if params else None
    client.reply(irc.RPL_LISTSTART, "Channel", "Users  Name")
    after = ""
    while True:
        page = service.list_rooms(after, LIST_PAGE, viewer)
        for room in page if keep is None else filter(keep, page):
            client.reply(
                irc.RPL_LIST, channel(room.name), str(room.members), clean(room.topic)
            )
        if len(page) < LIST_PAGE:
            break
        await client.pace(len(page))
        if client.gone:
            return
        after = page[-1].name
    client.reply(irc.RPL_LISTEND, "End of /LIST")


async def irc_TOPIC(client: IRCProtocol, params: list[str]) -> None:
    service = client.factory.service
    name = room_name(params[0])
    if len(params) > 1:
        topic = params[1][:TOPICLEN]
        await maybeDeferred(service.set_topic, client.registered_session(), name, topic)
        return
    room = service.room(name)
    if room.topic:
        send_topic(client, room)
    else:
        client.reply(irc.RPL_NOTOPIC, channel(room.name), "No topic is set")


def send_topic(client: IRCProtocol, room: RoomView) -> None:
    client.reply(irc.RPL_TOPIC, channel(room.name), clean(room.topic))
    client.reply(
        RPL_TOPICWHOTIME, channel(room.name), room.topic_by, str(int(room.topic_time))
    )


def irc_MODE(client: IRCProtocol, params: list[str]) -> Deferred[None] | None:
    service = client.factory.service
    session = client.registered_session()
    target = params[0]
    if not target.startswith("#"):
        return Deferred.fromCoroutine(users.irc_user_MODE(client, params))
    room = service.room(room_name(target))
    if len(params) == 1:
        letters, arguments = channel_modes(room, room.has_member(session.user))
        client.reply(irc.RPL_CHANNELMODEIS, channel(room.name), letters, *arguments)
        client.reply(RPL_CREATIONTIME, channel(room.name), str(int(room.created)))
        return None
    changes, lists = parse_modes(params[1], params[2:])
    if changes:
        service.change_modes(session, room.name, changes)
    for letter in lists:
        send_list(client, service.room(room.name), letter)
    return None


def channel_modes(room: RoomView, member: bool) -> tuple[str, list[str]]:
    """The letters of RPL_CHANNELMODEIS and their arguments (the key for members)."""
    letters = "".join(sorted(room.modes))
    arguments = []
    if room.join_key:
        letters += "k"
        arguments.append(room.join_key if member else "*")
    if room.limit:
        letters += "l"
        arguments.append(str(room.limit))
    return "+" + letters, arguments


# Lists of masks: the numeric of each entry and of the end, and the end's text.
LISTS = {
    "b": (irc.RPL_BANLIST, irc.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": ("348", "349", "End of channel exception list"),
    "I": ("346", "347", "End of channel invite exception list"),
}


def send_list(client: IRCProtocol, room: RoomView, letter: str) -> None:
    """A list of the room's masks: the mask, who set it and when (Modern IRC)."""
    numeric, end, text = LISTS[letter]
    for entry in room.listed(letter):
        client.reply(
            numeric, channel(room.name), entry.mask, entry.by, str(int(entry.time))
        )
    client.reply(end, channel(room.name), text)


# Letters taking an argument: always, or only when set (+l); a list letter
# without one asks for the list.
ARGUMENT_ALWAYS = "ovbeIk"
ARGUMENT_WHEN_SET = "l"


def parse_modes(
    letters: str, arguments: list[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """
    C{"+o-t", ["toto"]} as C{[("+o", "toto"), ("-t", "")]}, and the lists
    asked for (C{"+b"} without an argument: C{["b"]}).
    """
    changes: list[tuple[str, str]] = []
    lists: list[str] = []
    sign = "+"
    remaining = list(arguments)
    for letter in letters:
        if letter in "+-":
            sign = letter
            continue
        takes = letter in ARGUMENT_ALWAYS or (
            letter in ARGUMENT_WHEN_SET and sign == "+"
        )
        if letter in LISTS and not remaining:
            if letter not in lists:
                lists.append(letter)
            continue
        argument = remaining.pop(0) if takes and remaining else ""
        changes.append((sign + letter, argument))
    return changes, lists


async def irc_KICK(client: IRCProtocol, params: list[str]) -> None:
    """
    C{KICK #a nick1,nick2}: each nick from one channel; C{KICK #a,#b n1,n2}:
    as many channels as nicks, in pairs (RFC 2812). One KICK line each.
    """
    reason = params[2][:KICKLEN] if len(params) > 2 else ""
    rooms, nicks = params[0].split(","), params[1].split(",")
    if len(rooms) == 1:
        rooms = rooms * len(nicks)
    elif len(rooms) != len(nicks):
        client.reply(irc.ERR_NEEDMOREPARAMS, "KICK", "As many channels as nicks")
        return
    for room, nick in client.each(zip(rooms, nicks, strict=True)):
        try:
            await maybeDeferred(
                client.factory.service.kick,
                client.registered_session(),
                room_name(room),
                nick,
                reason,
            )
        except errors.ChatError as e:
            client.refused(e)


async def irc_INVITE(client: IRCProtocol, params: list[str]) -> None:
    if not params:  # the channels one is invited to
        user = client.factory.service.user_of(client.registered_session())
        for name in user.invited:
            client.reply(RPL_INVITELIST, channel(name))
        client.reply(RPL_ENDOFINVITELIST, "End of /INVITE list")
        return
    if len(params) < 2 or not all(params[:2]):
        client.reply(irc.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
        return
    event = await maybeDeferred(
        client.factory.service.invite,
        client.registered_session(),
        params[0],
        room_name(params[1]),
    )
    client.reply(irc.RPL_INVITING, event.to, channel(event.room))
