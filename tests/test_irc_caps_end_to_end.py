"""
Real processes: IRC clients on a raw TCP connection negotiate capabilities
with the real server (several at once, as irssi and WeeChat ask for them),
and a message's client tags and id reach the IRC clients that asked for
them, not the others, nor a netcat user.
"""

from __future__ import annotations

from .processes import LineClient, ServerTestCase


class CapabilitiesEndToEndTests(ServerTestCase):
    def irc_user(self, nick: str, caps: str = "") -> LineClient:
        irc = self.connect("irc")
        if caps:
            irc.send("CAP LS 302\r")
            irc.send(f"CAP REQ :{caps}\r")
        irc.send(f"NICK {nick}\r")
        irc.send(f"USER {nick} 0 * :{nick}\r")
        if caps:
            irc.send("CAP END\r")
            seen = irc.expect(
                f":twistedchat 001 {nick} :Welcome to the twistedchat IRC network, {nick}"
            )
            self.assertIn(f":twistedchat CAP * ACK :{caps}", seen)
        irc.expect(f":twistedchat 376 {nick} :End of /MOTD command.")
        irc.send("JOIN #general\r")
        irc.expect(f":twistedchat 366 {nick} #general :End of /NAMES list.")
        return irc

    def synchronized(self, irc: LineClient) -> list[str]:
        """What C{irc} received until the answer to a PING sent now."""
        irc.send("PING sync\r")
        return irc.expect(":twistedchat PONG twistedchat sync")

    def test_tags_and_msgid_reach_only_those_who_asked(self) -> None:
        netcat = self.connect("line")
        netcat.expect("[server] you are in #general")
        alice = self.irc_user(
            "alice", "message-tags echo-message multi-prefix userhost-in-names"
        )
        bob = self.irc_user("bob")
        self.synchronized(alice)
        alice.send("@+draft/react=\\s;label=1 PRIVMSG #general :hi all\r")
        (echo,) = self.synchronized(alice)
        tags, _, line = echo.partition(" ")
        self.assertTrue(line.startswith(":alice!"), echo)
        self.assertTrue(line.endswith(" PRIVMSG #general :hi all"), echo)
        names = dict(tag.partition("=")[::2] for tag in tags[1:].split(";"))
        self.assertEqual(set(names), {"msgid", "+draft/react"})
        self.assertEqual(names["+draft/react"], "\\s")
        self.assertTrue(names["msgid"])
        plain = self.synchronized(bob)
        self.assertEqual(plain, [line])
        netcat.expect("[alice] hi all")

        alice.send("@+typing=active TAGMSG #general\r")
        (tagmsg,) = self.synchronized(alice)
        self.assertIn(";+typing=active :alice!", tagmsg)
        self.assertTrue(tagmsg.endswith(" TAGMSG #general"), tagmsg)
        self.assertEqual(self.synchronized(bob), [])
        bob.send("PRIVMSG #general :after\r")
        self.assertEqual(netcat.read_line(), "[bob] after")  # nothing before it
