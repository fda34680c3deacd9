"""
HELP and HELPOP: what each command of this server does, in a few lines.

A subject is a command (in any case); without one, the index. The answer is
Modern IRC's: 704 with the first line, 705 with each of the others, 706 to
end it, every one naming the subject; a subject we have no text for is
answered with 524. L{TOPICS} holds a text for every command of the table
(the tests hold it to that), so that HELP never lags behind what the server
understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocol import IRCProtocol

RPL_HELPSTART = "704"
RPL_HELPTXT = "705"
RPL_ENDOFHELP = "706"
ERR_HELPNOTFOUND = "524"

INDEX = "*"  # the subject of HELP without one

TOPICS: Mapping[str, tuple[str, ...]] = {
    "ADMIN": (
        "ADMIN [<server>]",
        "Who runs this server: its name; no contact details are configured.",
    ),
    "AWAY": (
        "AWAY [:<message>]",
        "Marks you away with <message>, or back without one. Whoever sends",
        "you a private message is told you are away.",
    ),
    "CAP": (
        "CAP LS|LIST|REQ|END [...]",
        "Capability negotiation (IRCv3): LS lists what the server offers,",
        "REQ asks for capabilities, END ends the negotiation.",
    ),
    "CHATHISTORY": (
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND <#channel> <ref> <limit>",
        "CHATHISTORY BETWEEN <#channel> <ref> <ref> <limit>",
        "CHATHISTORY TARGETS <timestamp=...> <timestamp=...> <limit>",
        "Past messages of a channel you are in, from its history, by message",
        "id (msgid=...) or time (timestamp=...; * for the latest), at most",
        "<limit> (100), in a chathistory batch (IRCv3 draft/chathistory).",
    ),
    "HELP": (
        "HELP [<subject>]",
        "Help on a command (<subject>), or the list of commands without one.",
    ),
    "HELPOP": (
        "HELPOP [<subject>]",
        "The same as HELP.",
    ),
    "INFO": (
        "INFO [<server>]",
        "The server's version and when it was started.",
    ),
    "INVITE": (
        "INVITE <nick> <#channel>",
        "Invites <nick> to a channel you are in.",
    ),
    "ISON": (
        "ISON <nick> [<nick> ...]",
        "Which of these nicks are connected.",
    ),
    "JOIN": (
        "JOIN <#channel>[,<#channel>...]",
        "Joins each channel, creating it if need be (you are then its",
        "operator). JOIN 0 leaves every channel you are in.",
    ),
    "KICK": (
        "KICK <#channel>[,<#channel>...] <nick>[,<nick>...] [:<reason>]",
        "Removes each <nick> from the channel (channel operators only); with",
        "several channels, as many as nicks: each nick from its channel.",
    ),
    "KILL": (
        "KILL <nick> [:<reason>]",
        "Disconnects <nick> (server operators only).",
    ),
    "LINKS": (
        "LINKS [[<server>] <mask>]",
        "The servers linked: this one alone, with its description.",
    ),
    "LIST": (
        "LIST [<filter>[,<filter>...]]",
        "Channels, with their number of members and their topics: every one,",
        "or those matching a mask (#a*), matching none (!#a*), with more",
        "members than n (>n) or fewer (<n).",
    ),
    "LUSERS": (
        "LUSERS",
        "How many users, operators and channels there are.",
    ),
    "MARKREAD": (
        "MARKREAD <target> [timestamp=<time>]",
        "Where you have read <target> (a channel or a nick) up to, or sets it",
        "(it only moves forward); kept while you are connected (IRCv3",
        "draft/read-marker).",
    ),
    "MODE": (
        "MODE <#channel> [<modes> [<nick>...]]",
        "Shows or changes a channel's modes (channel operators only):",
        "+o <nick> operator, +m moderated, +n no messages from outside,",
        "+t only operators set the topic. MODE <your nick> shows yours.",
    ),
    "MONITOR": (
        "MONITOR +|-|C|L|S [<nick>[,<nick>...]]",
        "Tells you when nicks come online (730) or go offline (731), on every",
        "front: + adds nicks, - removes them, C clears the list, L lists it,",
        "S shows who of it is online.",
    ),
    "MOTD": (
        "MOTD",
        "The message of the day.",
    ),
    "NAMES": (
        "NAMES <#channel>[,<#channel>...]",
        "Who is in each channel; operators are marked @.",
    ),
    "NICK": (
        "NICK <nick>",
        "Picks your nick, or changes it: 1 to 30 letters, digits or _-[]{}\\|^.",
    ),
    "NOTICE": (
        "NOTICE <target>[,<target>...] :<text>",
        "As PRIVMSG, but never answered automatically, not even by an error.",
    ),
    "OPER": (
        "OPER <name> <password>",
        "Makes you a server operator, if the name and password are right.",
    ),
    "PART": (
        "PART <#channel>[,<#channel>...] [:<reason>]",
        "Leaves each channel.",
    ),
    "PASS": (
        "PASS <password>",
        "Accepted before registering, and ignored: there is no server password.",
    ),
    "PING": (
        "PING <token>",
        "The server answers PONG <token>.",
    ),
    "PONG": (
        "PONG <token>",
        "The answer to the server's PING.",
    ),
    "PRIVMSG": (
        "PRIVMSG <target>[,<target>...] :<text>",
        "Sends <text> to channels (#name) and nicks, whatever front their",
        "users came through; to @#name, to the channel's operators only.",
    ),
    "QUIT": (
        "QUIT [:<message>]",
        "Leaves the server; others see <message>.",
    ),
    "SETNAME": (
        "SETNAME :<real name>",
        "Changes your real name (IRCv3 setname); users sharing a channel with",
        "you who hold the setname capability are told.",
    ),
    "TAGMSG": (
        "TAGMSG <target>[,<target>...]",
        "Sends tags alone (a reaction, a typing notice: @+tag=value before",
        "the command) to channels and nicks, for clients holding message-tags.",
    ),
    "TIME": (
        "TIME [<server>]",
        "The server's time, in UTC.",
    ),
    "TOPIC": (
        "TOPIC <#channel> [:<topic>]",
        "Shows the channel's topic, or sets it (an empty one clears it).",
    ),
    "USER": (
        "USER <user name> <mode> <unused> :<real name>",
        "Completes registration, with your user name and real name.",
    ),
    "USERHOST": (
        "USERHOST <nick> [<nick> ...]",
        "The user name and host of up to five nicks.",
    ),
    "VERSION": (
        "VERSION [<server>]",
        "The server's version, and what it supports (005).",
    ),
    "WALLOPS": (
        "WALLOPS :<text>",
        "Sends <text> to every other server operator (server operators only).",
    ),
    "WHO": (
        "WHO <#channel>|<nick>",
        "Who is in a channel, or who a nick is.",
    ),
    "WHOIS": (
        "WHOIS [<server>] <nick>",
        "Who a user is: names, channels, server, operator, away.",
    ),
    "WHOWAS": (
        "WHOWAS <nick> [<count>]",
        "Who had a nick lately, newest first.",
    ),
}


def irc_HELP(client: IRCProtocol, params: list[str]) -> None:
    subject = params[0] if params and params[0] else INDEX
    lines = _index(client) if subject == INDEX else TOPICS.get(subject.upper())
    if lines is None:
        client.reply(ERR_HELPNOTFOUND, subject, "No help available on this topic")
        return
    client.reply(RPL_HELPSTART, subject, lines[0])
    for line in lines[1:]:
        client.reply(RPL_HELPTXT, subject, line)
    client.reply(RPL_ENDOFHELP, subject, "End of /HELP")


def _index(client: IRCProtocol) -> tuple[str, ...]:
    """The commands the client may use, a few to a line."""
    names = sorted(client.factory.commands)
    rows = [" ".join(names[start : start + 10]) for start in range(0, len(names), 10)]
    return (
        "twistedchat: IRC, netcat and twistedchat users in the same rooms.",
        "Commands (HELP <command> for one of them):",
        *rows,
    )
