"""
Which IRC numeric answers which refusal of the core, and whom it names.

The core raises a L{ChatError} when it refuses a request; the connection
answers with the numeric L{NUMERICS} gives for it, addressed to the nick or
channel at fault (L{error_target}). The numeric constants come from
C{twisted.words.protocols.irc}; those newer than its list are here.
"""

from __future__ import annotations

from twisted.words.protocols import irc

from ...core import errors
from ...core.names import fold_nick, fold_room
from .render import channel

# Newer than twisted.words' list of numerics (Modern IRC names them so).
RPL_LOCALUSERS = "265"
RPL_GLOBALUSERS = "266"
RPL_CREATIONTIME = "329"
RPL_TOPICWHOTIME = "333"
RPL_INVITELIST = "336"
RPL_ENDOFINVITELIST = "337"
ERR_UNKNOWNERROR = "400"
ERR_INVALIDCAPCMD = "410"
ERR_INPUTTOOLONG = "417"
ERR_INVALIDMODEPARAM = "696"


class NotAChannel(errors.ChatError):
    """A target that names no channel (no C{#}): answered with the name as given."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return "No such channel"


def room_name(name: str) -> str:
    """The room a channel C{#name} stands for, or L{NotAChannel}."""
    if not name.startswith("#") or len(name) < 2:
        raise NotAChannel(name)
    return name[1:]


def target_key(name: str) -> str:
    """What two spellings of one channel or nick have in common."""
    if name.startswith("#"):
        return fold_room(name[1:])
    return fold_nick(name)


# Which numeric answers which refusal of the core.
NUMERICS: dict[type[errors.ChatError], str] = {
    errors.NickInUse: irc.ERR_NICKNAMEINUSE,
    errors.InvalidNick: irc.ERR_ERRONEUSNICKNAME,
    errors.NoSuchNick: irc.ERR_NOSUCHNICK,
    errors.InvalidRoomName: irc.ERR_NOSUCHCHANNEL,
    errors.NoSuchRoom: irc.ERR_NOSUCHCHANNEL,
    NotAChannel: irc.ERR_NOSUCHCHANNEL,
    errors.NotInRoom: irc.ERR_NOTONCHANNEL,
    errors.TooManyRooms: irc.ERR_TOOMANYCHANNELS,
    errors.UserNotInRoom: irc.ERR_USERNOTINCHANNEL,
    errors.UserAlreadyInRoom: irc.ERR_USERONCHANNEL,
    errors.NotRoomOperator: irc.ERR_CHANOPRIVSNEEDED,
    errors.NotServerOperator: irc.ERR_NOPRIVILEGES,
    errors.CannotSendToRoom: irc.ERR_CANNOTSENDTOCHAN,
    errors.EmptyMessage: irc.ERR_NOTEXTTOSEND,
    errors.InvalidCredentials: irc.ERR_PASSWDMISMATCH,
    errors.OperThrottled: irc.ERR_PASSWDMISMATCH,
    errors.OperBusy: irc.ERR_PASSWDMISMATCH,
    errors.NoOperators: irc.ERR_NOOPERHOST,
    errors.UnknownMode: irc.ERR_UNKNOWNMODE,
    errors.MissingModeArgument: irc.ERR_NEEDMOREPARAMS,
    errors.BadRoomKey: irc.ERR_BADCHANNELKEY,
    errors.RoomFull: irc.ERR_CHANNELISFULL,
    errors.InviteOnlyRoom: irc.ERR_INVITEONLYCHAN,
    errors.BannedFromRoom: irc.ERR_BANNEDFROMCHAN,
    errors.InvalidModeArgument: ERR_INVALIDMODEPARAM,
    errors.MaskListFull: irc.ERR_BANLISTFULL,
}


def error_target(error: errors.ChatError) -> str:
    """
    The parameter a numeric names: the nick or channel at fault; none for
    refusals about no one (412, 481, 491 have no such parameter).
    """
    if isinstance(error, NotAChannel):
        return error.name or "*"
    room = getattr(error, "room", None)
    nick = getattr(error, "nick", None)
    if isinstance(error, errors.UserNotInRoom | errors.UserAlreadyInRoom):
        return f"{nick} #{room}"
    if isinstance(error, errors.InvalidModeArgument):  # <channel> <mode> <param>
        argument = error.argument if error.argument.isprintable() else ""
        if not argument or " " in argument or argument.startswith(":"):
            argument = "*"
        return f"{channel(error.room)} {error.mode[1:]} {argument}"
    if isinstance(error, errors.MaskListFull):  # <channel> <char>
        return f"{channel(error.room)} {error.mode[1:]}"
    if room is not None:
        return channel(room)
    if nick is not None:
        return str(nick)
    return getattr(error, "mode", "")
