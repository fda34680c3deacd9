"""
Commands of several targets (TARGMAX) and LIST's filters (ELIST=MNU) on the
IRC front, over StringTransport.
"""

from __future__ import annotations

from .test_irc_front import IRCClient, IRCFrontTestCase


def listed(client: IRCClient) -> list[str]:
    lines = client.lines()
    assert lines[-1].split()[1] == "323", lines
    return [line.split()[3] for line in lines if line.split()[1] == "322"]


class SeveralTargetsTests(IRCFrontTestCase):
    def test_names_of_several_channels_end_once(self) -> None:
        toto = self.register("toto", "#a", "#b")
        toto.lines()
        toto.send("NAMES #a,#nope,#b")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 353 toto = #a @toto",
                ":twistedchat 353 toto = #b @toto",
                ":twistedchat 366 toto #a,#nope,#b :End of /NAMES list.",
            ],
        )
        toto.send("NAMES #nope")
        self.assertEqual(
            toto.lines(), [":twistedchat 366 toto #nope :End of /NAMES list."]
        )

    def test_kick_pairs_channels_and_nicks(self) -> None:
        toto, bar, baz = self.connect_all("toto", "bar", "baz")
        toto.send("JOIN #dev")
        bar.send("JOIN #dev")
        self.settle()
        toto.send("KICK #general,#dev bar,bar :bye")
        self.assertEqual(
            [line.split(" ", 1)[1] for line in baz.lines()],
            ["KICK #general bar bye"],
        )
        self.assertEqual(self.service.user("bar").rooms, ())
        toto.send("KICK #general baz,nobody :bye")
        self.assertEqual(
            toto.lines()[-1],
            ':twistedchat 401 toto nobody :no user is called "nobody"',
        )
        toto.send("KICK #general,#dev toto")
        self.assertEqual(
            toto.lines(),
            [":twistedchat 461 toto KICK :As many channels as nicks"],
        )

    def test_isupport_says_which_commands_take_several(self) -> None:
        toto = self.register("toto")
        tokens = " ".join(toto.lines()).split()
        self.assertIn("TARGMAX=JOIN:,KICK:,NAMES:,NOTICE:,PART:,PRIVMSG:", tokens)
        self.assertIn("ELIST=MNU", tokens)
        self.assertIn("UTF8ONLY", tokens)


class ListFilterTests(IRCFrontTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.foo = self.register("foo", "#chan1", "#chan2", "#other")
        self.bar = self.register("bar", "#chan2")
        self.settle()

    def test_masks_in_any_case(self) -> None:
        self.bar.send("LIST *AN1")
        self.assertEqual(listed(self.bar), ["#chan1"])
        self.bar.send("LIST #c*n?,#other")
        self.assertEqual(listed(self.bar), ["#chan1", "#chan2", "#other"])
        self.bar.send("LIST #chan2")
        self.assertEqual(listed(self.bar), ["#chan2"])

    def test_masks_not_matched(self) -> None:
        self.bar.send("LIST !#ch*")
        self.assertEqual(listed(self.bar), ["#other"])
        self.bar.send("LIST !*1,!*2")
        self.assertEqual(listed(self.bar), ["#other"])

    def test_member_counts_and_all_together(self) -> None:
        self.bar.send("LIST >1")
        self.assertEqual(listed(self.bar), ["#chan2"])
        self.bar.send("LIST <2")
        self.assertEqual(listed(self.bar), ["#chan1", "#other"])
        self.bar.send("LIST <2,!#o*")
        self.assertEqual(listed(self.bar), ["#chan1"])
        self.bar.send("LIST")
        self.assertEqual(listed(self.bar), ["#chan1", "#chan2", "#other"])
