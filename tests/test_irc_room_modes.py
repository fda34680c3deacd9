"""
Channel modes k l b e I i s v on the IRC front, over StringTransport: how
they are set, listed and shown, and how the core's refusals are answered;
with netcat and twistedchat users held by the same rules.
"""

from __future__ import annotations

from twistedchat import codec
from twistedchat.fronts.irc.render import member_prefix
from twistedchat.fronts.irc.users import room_ranks

from .test_irc_front import IRCFrontTestCase
from .test_line_front import Client as LineClient


class PrefixTests(IRCFrontTestCase):
    def test_the_highest_rank_or_every_rank(self) -> None:
        for operator, voiced, highest, every in [
            (False, False, "", ""),
            (True, False, "@", "@"),
            (False, True, "+", "+"),
            (True, True, "@", "@+"),
        ]:
            ranks = room_ranks(operator, voiced)
            self.assertEqual(member_prefix(ranks, False), highest)
            self.assertEqual(member_prefix(ranks, True), every)

    def test_names_who_and_whois_show_voices(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("MODE #general +v tutu")
        mode = f":{self.mask('toto')} MODE #general +v tutu"
        self.assertEqual(tutu.lines(), [mode])
        toto.lines()
        tutu.send("NAMES #general", "WHO #general", "WHOIS tutu")
        lines = tutu.lines()
        self.assertIn(":twistedchat 353 tutu = #general :@toto +tutu", lines)
        who = [line for line in lines if " 352 " in line]
        self.assertTrue(who[0].endswith(" toto H@ :0 Real toto"), who)
        self.assertTrue(who[1].endswith(" tutu H+ :0 Real tutu"), who)
        self.assertIn(":twistedchat 319 tutu tutu +#general", lines)


class KeyTests(IRCFrontTestCase):
    def test_join_with_keys_for_several_channels(self) -> None:
        toto = self.register("toto", "#a", "#b")
        toto.send("MODE #a +k alpha", "MODE #b +k beta")
        toto.lines()
        tutu = self.register("tutu")
        tutu.lines()
        tutu.send("JOIN #a,#b,#c wrong,beta")
        lines = tutu.lines()
        self.assertEqual(
            lines[0],
            ":twistedchat 475 tutu #a :cannot join #a: it needs a key, and not that one",
        )
        joins = [line for line in lines if " JOIN " in line]
        self.assertEqual(
            joins,
            [f":{self.mask('tutu')} JOIN #b", f":{self.mask('tutu')} JOIN #c"],
        )

    def test_channel_mode_is_shows_the_key_to_members_only(self) -> None:
        toto = self.register("toto", "#a")
        toto.lines()
        toto.send("MODE #a +kl sesame 5")
        self.assertEqual(toto.lines(), [f":{self.mask('toto')} MODE #a +kl sesame 5"])
        toto.send("MODE #a")
        self.assertEqual(toto.lines()[0], ":twistedchat 324 toto #a +tkl sesame 5")
        tutu = self.register("tutu")
        tutu.lines()
        tutu.send("MODE #a")
        self.assertEqual(tutu.lines()[0], ":twistedchat 324 tutu #a +tkl * 5")

    def test_invalid_key_and_limit_answer_696(self) -> None:
        toto = self.register("toto", "#a")
        toto.lines()
        toto.send("MODE #a +k :passphrase with spaces", "MODE #a +l :", "MODE #a +l -1")
        lines = toto.lines()
        self.assertEqual(
            [line.split(" :")[0] for line in lines],
            [
                ":twistedchat 696 toto #a k *",
                ":twistedchat 696 toto #a l *",
                ":twistedchat 696 toto #a l -1",
            ],
        )


class ListTests(IRCFrontTestCase):
    def test_ban_exception_and_invite_exception_lists(self) -> None:
        self.clock.advance(10)
        toto = self.register("toto", "#a")
        toto.lines()
        toto.send("MODE #a +beI bar baz!*@* *!*@friends")
        self.assertEqual(
            toto.lines(),
            [f":{self.mask('toto')} MODE #a +beI bar!*@* baz!*@* *!*@friends"],
        )
        toto.send("MODE #a +b", "MODE #a e", "MODE #a +I")
        when = str(int(self.clock.seconds()))
        by = "toto!toto@twistedchat"  # its mask, with the user name it gave
        self.assertEqual(
            toto.lines(),
            [
                f":twistedchat 367 toto #a bar!*@* {by} {when}",
                ":twistedchat 368 toto #a :End of channel ban list",
                f":twistedchat 348 toto #a baz!*@* {by} {when}",
                ":twistedchat 349 toto #a :End of channel exception list",
                f":twistedchat 346 toto #a *!*@friends {by} {when}",
                ":twistedchat 347 toto #a :End of channel invite exception list",
            ],
        )

    def test_a_banned_user_of_every_front_is_kept_out_and_quiet(self) -> None:
        toto, bar = self.connect_all("toto", "bar")
        lina = self.line_user("lina")
        framed = self.framed_user("fred")
        toto.send("MODE #general +bbb bar lina fred")
        self.settle()
        bar.send("PRIVMSG #general :hi")
        self.assertEqual(
            bar.lines(),
            [
                ":twistedchat 404 bar #general :cannot send to #general: "
                "you are banned from it (+b)"
            ],
        )
        lina.send("MSG hi\n")
        self.assertEqual(
            lina.lines(),
            [
                "[server] error: cannot send to #general: you are banned from it (+b)",
            ],
        )
        self.assertEqual(toto.lines(), [])
        toto.send("KICK #general bar,lina,fred")
        self.settle()
        bar.send("JOIN #general")
        self.assertEqual(
            bar.lines(),
            [
                ":twistedchat 474 bar #general :cannot join #general: "
                "you are banned from it"
            ],
        )
        lina.send("JOIN general\n")
        self.assertEqual(
            lina.lines(),
            ["[server] error: cannot join #general: you are banned from it"],
        )
        framed.send(codec.Join("general"))
        (error,) = framed.received()
        assert isinstance(error, codec.Error)
        self.assertEqual(error.code, codec.ErrorCode.BANNED)

    def test_a_ban_names_a_user_by_its_user_name_or_its_id(self) -> None:
        toto = self.register("toto", "#a", "#b")
        bar = self.register("bar")  # USER bar: WHO shows bar!bar@twistedchat
        self.settle()
        shown_by_messages = self.mask("bar").split("!")[1].split("@")[0]
        toto.send("MODE #a +b *!bar@*", f"MODE #b +b *!{shown_by_messages}@*")
        self.settle()
        bar.send("JOIN #a,#b")
        self.assertEqual(
            [line.split(" :")[0] for line in bar.lines()],
            [":twistedchat 474 bar #a", ":twistedchat 474 bar #b"],
        )


class InviteTests(IRCFrontTestCase):
    def test_invite_only_and_the_list_of_invitations(self) -> None:
        toto = self.register("toto", "#a")
        toto.send("MODE #a +i")
        tutu = self.register("tutu")
        self.settle()
        tutu.send("JOIN #a")
        self.assertEqual(
            tutu.lines(),
            [":twistedchat 473 tutu #a :cannot join #a: it is invite only"],
        )
        toto.send("INVITE tutu #a")
        self.assertEqual(toto.lines(), [":twistedchat 341 toto tutu #a"])
        self.assertEqual(tutu.lines(), [f":{self.mask('toto')} INVITE tutu #a"])
        tutu.send("INVITE")
        self.assertEqual(
            tutu.lines(),
            [
                ":twistedchat 336 tutu #a",
                ":twistedchat 337 tutu :End of /INVITE list",
            ],
        )
        tutu.send("INVITE toto")
        self.assertEqual(
            tutu.lines(), [":twistedchat 461 tutu INVITE :Not enough parameters"]
        )
        tutu.send("JOIN #a")
        self.assertEqual(tutu.lines()[0], f":{self.mask('tutu')} JOIN #a")
        tutu.send("INVITE")
        self.assertEqual(tutu.lines(), [":twistedchat 337 tutu :End of /INVITE list"])


class ArrivalTests(IRCFrontTestCase):
    def test_a_netcat_user_kept_out_of_the_default_room_is_told_why(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("MODE #general +i")
        netcat = LineClient(self.line_front, self.port())
        self.assertEqual(
            netcat.lines()[1:],
            [
                "[server] error: cannot join #general: it is invite only",
                "[server] JOIN a room to start chatting",
            ],
        )
        netcat.send("JOIN elsewhere\n")
        self.assertEqual(netcat.lines()[0], "[server] you are in #elsewhere (1 member)")


class SecretTests(IRCFrontTestCase):
    def test_secret_channels_in_list_and_names(self) -> None:
        toto = self.register("toto", "#hidden", "#open")
        toto.send("MODE #hidden +s")
        tutu = self.register("tutu")
        lina = self.line_user("lina")
        self.settle()
        toto.send("LIST", "NAMES #hidden")
        lines = toto.lines()
        self.assertIn(":twistedchat 322 toto #hidden 1 :", lines)
        self.assertIn(":twistedchat 353 toto @ #hidden @toto", lines)
        tutu.send("LIST", "NAMES #hidden")
        lines = tutu.lines()
        self.assertNotIn("#hidden 1", " ".join(lines))
        self.assertIn(":twistedchat 322 tutu #open 1 :", lines)
        self.assertIn(":twistedchat 366 tutu #hidden :End of /NAMES list.", lines)
        self.assertFalse([line for line in lines if " 353 " in line])
        lina.send("LIST\nNAMES #hidden\n")
        lines = lina.lines()
        self.assertNotIn("hidden", lines[0])
        self.assertEqual(lines[1], "[server] error: there is no room #hidden")

    def test_whois_names_a_secret_channel_to_its_members_only(self) -> None:
        toto = self.register("toto", "#hidden", "#open")
        toto.send("MODE #hidden +s")
        tutu = self.register("tutu")
        self.settle()
        tutu.send("WHOIS toto")
        self.assertIn(":twistedchat 319 tutu toto @#open", tutu.lines())
        toto.send("WHOIS toto")
        (channels,) = [line for line in toto.lines() if " 319 " in line]
        self.assertEqual(
            set(channels.split(" ", 4)[4].lstrip(":").split()), {"@#hidden", "@#open"}
        )
        tutu.send("JOIN #hidden", "WHOIS toto")
        (channels,) = [line for line in tutu.lines() if " 319 " in line]
        self.assertEqual(
            set(channels.split(" ", 4)[4].lstrip(":").split()), {"@#hidden", "@#open"}
        )
