"""
PRIVMSG and NOTICE, to channels and to users, and TAGMSG (tags alone). A
NOTICE is never answered with an error (RFC 1459), so its refusals go unsaid. A CTCP ACTION (C{/me})
becomes an action of the core, which every front shows its own way; other
CTCP requests pass as they came, for the IRC clients that answer them. A
message to C{@#room} (STATUSMSG) goes to the room's operators alone.

A line of 512 bytes that an IRC client sends does not fit once the server
has put its author's mask in front of it: the text is cut, between
characters, to what one relayed line holds (as ircds do, rather than
relaying two lines), for every front alike, and the author is told.
Netcat and twistedchat users may send longer texts, which reach IRC users
as several lines (L{twistedchat.fronts.irc.render.fit}).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from twisted.words.protocols import irc

from ...core import errors
from ...core.notices import say_to_operators
from ...core.tagging import tag_room, tag_user
from ...text import action
from .numerics import room_name, target_key
from .render import MAX_LINE, clean, prefix
from .tags import client_only

BOT_TAG = ("bot", "")  # IRCv3 bot mode's tag: a name alone
# A text shorter than this fits in the line that relays it whatever its
# characters (4 bytes each at most), its author's mask (54 bytes at most)
# and its target (a channel: 201 bytes at most, with its #).
SHORT = 60

if TYPE_CHECKING:
    from .protocol import IRCProtocol


def irc_NOTICE(client: IRCProtocol, params: list[str]) -> None:
    irc_PRIVMSG(client, params, True)


def irc_PRIVMSG(client: IRCProtocol, params: list[str], notice: bool = False) -> None:
    # A PRIVMSG comes straight here from the table: the hot path, one call.
    if not params or not params[0]:
        if not notice:
            client.reply(irc.ERR_NORECIPIENT, "No recipient given (PRIVMSG)")
        return
    if len(params) < 2 or not params[1]:
        if not notice:
            client.reply(irc.ERR_NOTEXTTOSEND, "No text to send")
        return
    service = client.factory.service
    session = client.session
    assert session is not None  # the table admits PRIVMSG once registered
    text, acting = params[1], False
    if text[0] == "\x01" and (did := action(text)) is not None:
        text, acting = did, True  # a /me; other CTCP requests pass as they are
    tags = client_only(client.tags) if client.tags else ()
    if client.bot:  # IRCv3 bot mode: for the clients holding message-tags
        tags = (BOT_TAG, *tags)
    targets: Iterable[str] = params[0].split(",")
    if "," in params[0]:  # each one more is paid for (most messages have one)
        targets = client.each(targets, target_key)
    for target in targets:
        given = text
        if len(text) >= SHORT:
            text = relayable(client, target, text, notice, acting)
        try:
            if target.startswith("#"):
                service.say(
                    session,
                    room_name(target),
                    text,
                    notice=notice,
                    action=acting,
                    tags=tags,
                )
            elif target.startswith("@#"):  # STATUSMSG: the room's operators
                room = room_name(target[1:])
                service.act(say_to_operators, session, room, text, notice)
            else:
                recipient = service.user(target)
                service.whisper(
                    session, target, text, notice=notice, action=acting, tags=tags
                )
                if recipient.away and not notice:
                    client.reply(irc.RPL_AWAY, recipient.nick, recipient.away)
            if len(text) < len(given) and not notice and not session.echo_messages:
                # With echo-message, the echo shows what was relayed.
                client.send(
                    client.server_name,
                    "NOTICE",
                    client.nick,
                    f"Your message to {target} was cut to its first {len(text)} "
                    "characters to fit in one IRC line (512 bytes)",
                )
        except errors.ChatError as e:
            if not notice:  # RFC 1459: never an automatic reply to a NOTICE
                client.refused(e)


def relayable(
    client: IRCProtocol, target: str, text: str, notice: bool, acting: bool
) -> str:
    """
    C{text} (what a C{/me} does, if C{acting}) cut to what fits in the one
    line relaying it to C{target}: C{:nick!id@host PRIVMSG target :text}, CR
    LF included, within 512 bytes (the author of a cut PRIVMSG is told by a
    NOTICE, unless its echo, with echo-message, shows it).
    """
    command = "NOTICE" if notice else "PRIVMSG"
    session = client.session
    assert session is not None
    head = f":{prefix(session.user)} {command} {clean(target)} :"
    budget = (
        MAX_LINE - 2 - len(head.encode()) - (len("\x01ACTION \x01") if acting else 0)
    )
    # What the relay writes is cleaned, character for character.
    encoded = clean(text).encode()
    if len(encoded) <= budget:
        return text
    kept = len(encoded[:budget].decode("utf-8", "ignore"))
    return text[:kept]


def irc_TAGMSG(client: IRCProtocol, params: list[str]) -> None:
    """
    Tags alone (a reaction, a typing notice) to channels and nicks, for the
    clients holding message-tags; refused as PRIVMSG is, with its numerics.
    """
    if not params or not params[0]:
        client.reply(irc.ERR_NORECIPIENT, "No recipient given (TAGMSG)")
        return
    service = client.factory.service
    session = client.registered_session()
    tags = client_only(client.tags)
    if client.bot:
        tags = (BOT_TAG, *tags)
    targets: Iterable[str] = params[0].split(",")
    if "," in params[0]:
        targets = client.each(targets, target_key)
    for target in targets:
        try:
            if target.startswith("#"):
                service.act(tag_room, session, room_name(target), tags)
            else:
                service.act(tag_user, session, target, tags)
        except errors.ChatError as e:
            client.refused(e)
