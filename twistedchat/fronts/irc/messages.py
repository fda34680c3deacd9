"""
PRIVMSG and NOTICE, to channels and to users. A NOTICE is never answered
with an error (RFC 1459), so its refusals go unsaid. A CTCP ACTION (C{/me})
becomes an action of the core, which every front shows its own way; other
CTCP requests pass as they came, for the IRC clients that answer them. A
message to C{@#room} (STATUSMSG) goes to the room's operators alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from twisted.words.protocols import irc

from ...core import errors
from ...core.notices import say_to_operators
from ...text import action
from .numerics import room_name, target_key

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
    targets: Iterable[str] = params[0].split(",")
    if "," in params[0]:  # each one more is paid for (most messages have one)
        targets = client.each(targets, target_key)
    for target in targets:
        try:
            if target.startswith("#"):
                service.say(
                    session, room_name(target), text, notice=notice, action=acting
                )
            elif target.startswith("@#"):  # STATUSMSG: the room's operators
                room = room_name(target[1:])
                say_to_operators(service, session, room, text, notice)
            else:
                recipient = service.user(target)
                service.whisper(session, target, text, notice=notice, action=acting)
                if recipient.away and not notice:
                    client.reply(irc.RPL_AWAY, recipient.nick, recipient.away)
        except errors.ChatError as e:
            if not notice:  # RFC 1459: never an automatic reply to a NOTICE
                client.refused(e)
