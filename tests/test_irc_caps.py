"""
The IRC front's capability negotiation (CAP LS, LIST, REQ, END) and its
rendering variants: one broadcaster per set of rendering capabilities.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.fronts.irc.capabilities import (
    CAPABILITIES,
    RENDERING,
    Capability,
    advertised,
    requested,
    split_lines,
)
from twistedchat.fronts.irc.render import member_prefix
from twistedchat.fronts.irc.tags import client_only, escape, format_tags, parse_tags

from .test_irc_front import NOW_TAG, OFFERED, IRCClient, IRCFrontTestCase


class TableTests(SynchronousTestCase):
    table: ClassVar[dict[str, Capability]] = {
        "plain": Capability("plain"),
        "valued": Capability("valued", "a,b"),
    }

    def test_values_only_for_cap_302(self) -> None:
        self.assertEqual(advertised(301, self.table), ["plain", "valued"])
        self.assertEqual(advertised(302, self.table), ["plain", "valued=a,b"])

    def test_lines_keep_within_their_budget(self) -> None:
        words = [f"capability-{n}" for n in range(40)]
        lines = split_lines(words, 100)
        self.assertGreater(len(lines), 1)
        self.assertTrue(all(len(line.encode()) <= 100 for line in lines), lines)
        self.assertEqual(" ".join(lines).split(), words)
        self.assertEqual(split_lines([]), [""])

    def test_req_is_all_or_nothing(self) -> None:
        held = frozenset({"plain"})
        self.assertEqual(requested(held, "valued", self.table), {"plain", "valued"})
        self.assertEqual(requested(held, "-plain valued", self.table), {"valued"})
        self.assertIsNone(requested(held, "valued nope", self.table))
        self.assertIsNone(requested(held, "-nope", self.table))
        self.assertIsNone(requested(held, "", self.table))

    def test_rendering_capabilities_are_those_that_say_so(self) -> None:
        self.assertIn("server-time", RENDERING)
        self.assertNotIn("cap-notify", RENDERING)
        self.assertLessEqual(RENDERING, set(CAPABILITIES))


class NegotiationTests(IRCFrontTestCase):
    def test_cap_ls_without_302_is_one_line_without_values(self) -> None:
        toto = self.client()
        toto.send("CAP LS")
        self.assertEqual(toto.lines(), [f":twistedchat CAP * LS :{OFFERED}"])
        toto.send("CAP LIST")
        self.assertEqual(toto.lines(), [":twistedchat CAP * LIST :"])

    def test_cap_302_holds_cap_notify(self) -> None:
        toto = self.client()
        toto.send("CAP LS 302", "CAP LIST")
        self.assertEqual(toto.lines()[-1:], [":twistedchat CAP * LIST cap-notify"])

    def test_req_of_several_is_acked_at_once_and_listed(self) -> None:
        toto = self.client()
        toto.send("CAP LS", "CAP REQ :server-time cap-notify", "CAP LIST")
        self.assertEqual(
            toto.lines()[1:],
            [
                ":twistedchat CAP * ACK :server-time cap-notify",
                ":twistedchat CAP * LIST :cap-notify server-time",
            ],
        )

    def test_a_refused_req_changes_nothing(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("CAP REQ :server-time", "CAP REQ :-server-time sasl", "CAP LIST")
        self.assertEqual(
            toto.lines()[-3:],
            [
                ":twistedchat CAP toto ACK server-time",
                ":twistedchat CAP toto NAK :-server-time sasl",
                ":twistedchat CAP toto LIST server-time",
            ],
        )

    def test_empty_req_is_refused(self) -> None:
        toto = self.client()
        toto.send("CAP REQ")
        self.assertEqual(toto.lines(), [":twistedchat CAP * NAK :"])


class VariantTests(IRCFrontTestCase):
    def test_clients_of_one_variant_share_a_broadcaster(self) -> None:
        tata = self.register("tata", "#general", tagged=True)
        titi = self.register("titi", "#general", tagged=True)
        plain = self.register("plain", "#general")
        self.assertIs(tata.protocol.broadcaster, titi.protocol.broadcaster)
        self.assertIsNot(tata.protocol.broadcaster, plain.protocol.broadcaster)
        self.assertIs(plain.protocol.broadcaster, self.front.broadcaster)
        self.assertIs(
            tata.protocol.broadcaster,
            self.front.broadcaster_of(frozenset({"server-time"})),
        )

    def test_giving_up_the_last_rendering_capability_renders_plain(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("CAP REQ :server-time cap-notify")
        tutu.send("PRIVMSG #general :one")
        toto.send("CAP REQ :-server-time")
        tutu.send("PRIVMSG #general :two")
        line = f":{self.mask('tutu')} PRIVMSG #general"
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat CAP toto ACK :server-time cap-notify",
                f"{NOW_TAG} {line} one",
                ":twistedchat CAP toto ACK -server-time",
                f"{line} two",
            ],
        )
        self.assertIs(toto.protocol.broadcaster, self.front.broadcaster)


class NamesTests(IRCFrontTestCase):
    def test_multi_prefix_and_userhost_in_names_are_granted(self) -> None:
        toto = self.client()
        toto.send("CAP LS 302", "CAP REQ :multi-prefix userhost-in-names")
        self.assertEqual(
            toto.lines()[-1], ":twistedchat CAP * ACK :multi-prefix userhost-in-names"
        )

    def test_userhost_in_names_shows_each_members_mask(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("CAP REQ userhost-in-names", "NAMES #general")
        toto.send("NAMES #general")
        self.assertEqual(
            tutu.lines()[1],
            f":twistedchat 353 tutu = #general :@{self.mask('toto')} "
            f"{self.mask('tutu')}",
        )
        self.assertEqual(
            toto.lines()[0], ":twistedchat 353 toto = #general :@toto tutu"
        )

    def test_every_prefix_only_with_multi_prefix(self) -> None:
        self.assertEqual(member_prefix("@+", every=True), "@+")
        self.assertEqual(member_prefix("@+", every=False), "@")
        self.assertEqual(member_prefix("", every=True), "")

    def test_who_and_whois_mark_operators_with_multi_prefix_too(self) -> None:
        _toto, tutu = self.connect_all("toto", "tutu")
        tutu.send("CAP REQ multi-prefix", "WHO #general", "WHOIS toto")
        lines = tutu.lines()
        self.assertIn("352 tutu #general toto twistedchat twistedchat toto", lines[1])
        self.assertIn(" toto H@ :0 ", lines[1])
        self.assertIn(":twistedchat 319 tutu toto @#general", lines)


class TagWireTests(SynchronousTestCase):
    def test_parse_unescapes_values(self) -> None:
        self.assertEqual(
            parse_tags(r"a=b;+c=d\se\:f\\g;h;+i=j\;k=\x"),
            {"a": "b", "+c": "d e;f\\g", "h": "", "+i": "j", "k": "x"},
        )

    def test_escape_is_the_inverse(self) -> None:
        value = "a; b\\c\r\nd"
        self.assertEqual(escape(value), "a\\:\\sb\\\\c\\r\\nd")
        self.assertEqual(parse_tags(f"+x={escape(value)}"), {"+x": value})

    def test_only_client_tags_are_relayed(self) -> None:
        tags = {"label": "1", "+a": "b", "time": "x", "+c": ""}
        self.assertEqual(client_only(tags), (("+a", "b"), ("+c", "")))
        self.assertEqual(format_tags((("+a", "b c"), ("+c", ""))), "+a=b\\sc;+c")


class MessageTagsTests(IRCFrontTestCase):
    def four(self) -> list[IRCClient]:
        """alice: message-tags; bob: also echo-message; carol: none; dave: server-time."""
        alice = self.with_caps("alice", "message-tags")
        bob = self.with_caps("bob", "message-tags echo-message")
        carol = self.with_caps("carol", "")
        dave = self.with_caps("dave", "server-time")
        self.settle()
        return [alice, bob, carol, dave]

    def with_caps(self, nick: str, caps: str) -> IRCClient:
        client = self.client()
        if caps:
            client.send("CAP LS 302", f"CAP REQ :{caps}")
        client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END")
        client.send("JOIN #general")
        return client

    def msgid(self, line: str) -> str:
        tags = parse_tags(line[1 : line.index(" ")])
        self.assertTrue(tags["msgid"])
        return tags["msgid"]

    def test_client_tags_and_msgid_only_to_message_tags_clients(self) -> None:
        alice, bob, carol, dave = self.four()
        alice.send("@+baz=bat;fizz=buzz PRIVMSG #general hi")
        line = f":{self.mask('alice')} PRIVMSG #general hi"
        self.assertEqual(alice.lines(), [])
        (got,) = bob.lines()
        self.assertEqual(got, f"@msgid={self.msgid(got)};+baz=bat {line}")
        self.assertEqual(carol.lines(), [line])
        self.assertEqual(dave.lines(), [f"{NOW_TAG} {line}"])

    def test_echo_message_gives_the_sender_the_same_message(self) -> None:
        alice, bob, carol, _dave = self.four()
        bob.send("@+bat=baz;+fizz=buzz PRIVMSG #general :hi yourself")
        (echo,) = bob.lines()
        (relayed,) = alice.lines()
        self.assertEqual(echo, relayed)
        self.assertIn(";+bat=baz;+fizz=buzz :bob!", echo)
        self.assertEqual(
            carol.lines(), [f":{self.mask('bob')} PRIVMSG #general :hi yourself"]
        )
        bob.send("NOTICE alice :psst", "PRIVMSG carol :hello")
        (notice, private) = bob.lines()
        self.assertTrue(notice.endswith(f" :{self.mask('bob')} NOTICE alice psst"))
        self.assertEqual(notice, alice.lines()[0])
        self.assertEqual(carol.lines(), [f":{self.mask('bob')} PRIVMSG carol hello"])
        self.assertTrue(private.endswith(f" :{self.mask('bob')} PRIVMSG carol hello"))

    def test_echo_message_asked_after_registration(self) -> None:
        toto, _tutu = self.connect_all("toto", "tutu")
        toto.send("PRIVMSG #general :not echoed")
        self.assertEqual(toto.lines(), [])
        toto.send("CAP REQ echo-message", "PRIVMSG #general :echoed")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat CAP toto ACK echo-message",
                f":{self.mask('toto')} PRIVMSG #general echoed",
            ],
        )

    def test_tagmsg_reaches_message_tags_clients_only(self) -> None:
        alice, bob, carol, dave = self.four()
        netcat = self.line_user("nc")
        bob.send(r"@+buzz=fizz\:buzz;cat=dog;+steel=wootz TAGMSG #general")
        (echo,) = bob.lines()
        self.assertEqual(alice.lines(), [echo])
        self.assertEqual(
            echo,
            f"@msgid={self.msgid(echo)};+buzz=fizz\\:buzz;+steel=wootz "
            f":{self.mask('bob')} TAGMSG #general",
        )
        self.assertEqual(carol.lines(), [])
        self.assertEqual(dave.lines(), [])
        self.line_front.outbox.flush()
        self.assertEqual(netcat.transport.value(), b"")
        bob.send("@+typing=active TAGMSG alice")
        (private,) = alice.lines()
        self.assertTrue(
            private.endswith(f";+typing=active :{self.mask('bob')} TAGMSG alice")
        )
        self.assertEqual(bob.lines(), [private])

    def test_tagmsg_is_refused_as_privmsg_is(self) -> None:
        alice, *_ = self.four()
        alice.send("@+a=b TAGMSG", "@+a=b TAGMSG nobody", "@+a=b TAGMSG #nowhere")
        self.assertEqual(
            alice.lines(),
            [
                ":twistedchat 411 alice :No recipient given (TAGMSG)",
                ':twistedchat 401 alice nobody :no user is called "nobody"',
                ":twistedchat 403 alice #nowhere :there is no room #nowhere",
            ],
        )

    def test_tags_of_4094_bytes_pass_and_longer_get_417(self) -> None:
        alice, bob, *_ = self.four()
        most = "@foo=bar;+baz=" + "a" * 4081 + " TAGMSG #general"
        self.assertEqual(most.index("TAGMSG"), 4096)
        alice.send(most)
        (relayed,) = bob.lines()
        self.assertIn(";+baz=" + "a" * 4081 + " :alice!", relayed)
        alice.send("@foo=bar;+baz=" + "a" * 4082 + " TAGMSG #general")
        self.assertEqual(
            alice.lines(), [":twistedchat 417 alice :Input line was too long"]
        )
        self.assertEqual(bob.lines(), [])
        alice.send("@+baz=a PRIVMSG #general :" + "b" * 500)
        self.assertEqual(
            alice.lines(), [":twistedchat 417 alice :Input line was too long"]
        )
        alice.send("PRIVMSG #general :" + "b" * 500)
        self.assertEqual(
            alice.lines(), [":twistedchat 417 alice :Input line was too long"]
        )
        self.assertEqual(bob.lines(), [])
        alice.send("@+baz=a PRIVMSG #general :still here")
        self.assertTrue(bob.lines()[0].endswith(" :still here"))


class AwayNotifyTests(IRCFrontTestCase):
    def test_away_and_back_reach_away_notify_clients_sharing_a_room(self) -> None:
        toto, tutu, titi = self.connect_all("toto", "tutu", "titi")
        alone = self.register("alone", "#elsewhere")
        for client in (toto, alone):
            client.send("CAP REQ away-notify")
        self.settle()
        tutu.send("AWAY :gone fishing")
        self.assertEqual(
            tutu.lines(), [":twistedchat 306 tutu :You have been marked as being away"]
        )
        self.assertEqual(toto.lines(), [f":{self.mask('tutu')} AWAY :gone fishing"])
        self.assertEqual(titi.lines(), [])
        self.assertEqual(alone.lines(), [])
        tutu.send("AWAY")
        self.assertEqual(toto.lines(), [f":{self.mask('tutu')} AWAY"])

    def test_someone_away_joining_is_told_as_away(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("CAP REQ away-notify")
        titi = self.register("titi", "#general")
        tutu = self.register("tutu")
        tutu.send("AWAY :busy")
        self.settle()
        tutu.send("JOIN #general")
        mask = self.mask("tutu")
        self.assertEqual(toto.lines(), [f":{mask} JOIN #general", f":{mask} AWAY busy"])
        self.assertEqual(titi.lines(), [f":{mask} JOIN #general"])

    def test_a_netcat_user_going_away_is_told_too(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("CAP REQ away-notify")
        netcat = self.line_user("nc")
        toto.lines()
        netcat.send("AWAY lunch\n")
        self.assertEqual(toto.lines(), [f":{self.mask('nc')} AWAY lunch"])


class SetnameTests(IRCFrontTestCase):
    def test_setname_is_seen_by_those_who_asked_and_in_whois(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("CAP REQ setname")
        tutu = self.register("tutu", "#general")
        tutu.send("CAP REQ setname")
        titi = self.register("titi", "#general")
        self.settle()
        toto.send("SETNAME :Toto Le Héros")
        line = f":{self.mask('toto')} SETNAME :Toto Le Héros"
        self.assertEqual(toto.lines(), [line])
        self.assertEqual(tutu.lines(), [line])
        self.assertEqual(titi.lines(), [])
        titi.send("WHOIS toto")
        self.assertIn(
            ":twistedchat 311 titi toto toto twistedchat * :Toto Le Héros", titi.lines()
        )

    def test_an_empty_or_long_real_name_is_refused(self) -> None:
        toto = self.register("toto")
        toto.send("CAP REQ setname")
        toto.lines()
        toto.send("SETNAME :", "SETNAME :" + "x" * 391)
        fail = (
            ":twistedchat FAIL SETNAME INVALID_REALNAME "
            ":a real name must be 1 to 390 characters"
        )
        self.assertEqual(toto.lines(), [fail, fail])
        toto.send("WHOIS toto")
        self.assertIn(
            ":twistedchat 311 toto toto toto twistedchat * :Real toto", toto.lines()
        )


class InviteNotifyTests(IRCFrontTestCase):
    def test_the_rooms_operators_who_asked_see_invitations(self) -> None:
        toto, tutu, tata = self.connect_all("toto", "tutu", "tata")
        for client in (toto, tata):
            client.send("CAP REQ invite-notify")
        titi = self.register("titi")
        self.settle()
        tutu.send("INVITE titi #general")
        line = f":{self.mask('tutu')} INVITE titi #general"
        self.assertEqual(toto.lines(), [line])  # the room's operator
        self.assertEqual(tata.lines(), [])  # not one
        self.assertEqual(titi.lines(), [line])
        self.assertEqual(tutu.lines(), [":twistedchat 341 tutu titi #general"])

    def test_operators_without_it_and_of_other_fronts_see_nothing(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        self.register("titi")
        self.settle()
        tutu.send("INVITE titi #general")
        self.assertEqual(toto.lines(), [])
