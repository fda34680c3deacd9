"""
The IRC front's WHOWAS, the USER name kept, LUSERS' 265/266 and a no-op
NICK: each as irctest (progval/irctest) expects of it.
"""

from __future__ import annotations

from .test_irc_front import IRCFrontTestCase


class WhowasTests(IRCFrontTestCase):
    def quit(self, nick: str, username: str) -> None:
        client = self.client()
        client.send(f"NICK {nick}", f"USER {username} 0 * :Realname", "QUIT :bye")

    def test_whowas_newest_first_with_count(self) -> None:
        (toto,) = self.connect_all("toto")
        self.quit("nick2", "ident2")
        self.clock.advance(60)
        self.quit("nick2", "ident3")
        toto.lines()
        third = ":twistedchat 312 toto nick2 twistedchat :Tue Nov 14 22:14:20 2023 UTC"
        first = ":twistedchat 312 toto nick2 twistedchat :Tue Nov 14 22:13:20 2023 UTC"
        newest = [":twistedchat 314 toto nick2 ident3 twistedchat * Realname", third]
        oldest = [":twistedchat 314 toto nick2 ident2 twistedchat * Realname", first]
        end = [":twistedchat 369 toto NICK2 :End of WHOWAS"]
        for command in ("WHOWAS NICK2", "WHOWAS NICK2 2", "WHOWAS NICK2 0"):
            toto.send(command)
            self.assertEqual(toto.lines(), newest + oldest + end)
        toto.send("WHOWAS NICK2 -1")
        self.assertEqual(toto.lines(), newest + oldest + end)
        toto.send("WHOWAS NICK2 1")
        self.assertEqual(toto.lines(), newest + end)

    def test_whowas_after_a_nick_change_and_of_a_netcat_user(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        lina_id = self.service.user("lina").user.id[:10]
        toto.send("NICK titi")
        lina.send("QUIT\n")
        toto.lines()
        left = "twistedchat :Tue Nov 14 22:13:20 2023 UTC"  # the tests' clock
        toto.send("WHOWAS toto", "WHOWAS lina")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 314 titi toto toto twistedchat * :Real toto",
                f":twistedchat 312 titi toto {left}",
                ":twistedchat 369 titi toto :End of WHOWAS",
                f":twistedchat 314 titi lina {lina_id} twistedchat * lina",
                f":twistedchat 312 titi lina {left}",
                ":twistedchat 369 titi lina :End of WHOWAS",
            ],
        )

    def test_whowas_of_nobody_and_without_a_nick(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("WHOWAS nick2", "WHOWAS", "WHOWAS nick2 many")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 406 toto nick2 :There was no such nickname",
                ":twistedchat 369 toto nick2 :End of WHOWAS",
                ":twistedchat 461 toto WHOWAS :Not enough parameters",
                ":twistedchat 406 toto nick2 :There was no such nickname",
                ":twistedchat 369 toto nick2 :End of WHOWAS",
            ],
        )


class UserNameTests(IRCFrontTestCase):
    def test_user_name_as_given_in_who_whois_and_userhost(self) -> None:
        (toto,) = self.connect_all("toto")
        cool = self.client()
        cool.send("NICK coolNick", "USER myusernam 0 * :My UniqueReal Name")
        cool.send("JOIN #general")
        toto.lines()
        toto.send("WHO coolNick", "WHOIS coolNick", "USERHOST coolNick")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 352 toto #general myusernam twistedchat twistedchat "
                "coolNick H :0 My UniqueReal Name",
                ":twistedchat 315 toto coolNick :End of /WHO list.",
                ":twistedchat 311 toto coolNick myusernam twistedchat * "
                ":My UniqueReal Name",
                ":twistedchat 319 toto coolNick #general",
                ":twistedchat 312 toto coolNick twistedchat twistedchat",
                ":twistedchat 318 toto coolNick :End of /WHOIS list.",
                ":twistedchat 302 toto coolNick=+myusernam@twistedchat",
            ],
        )


class LusersTests(IRCFrontTestCase):
    def test_lusers_counts_local_and_global_users(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        self.line_user("lina")
        toto.send("LUSERS")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 251 toto :There are 3 users and 0 invisible on 1 server",
                ":twistedchat 252 toto 0 :operator(s) online",
                ":twistedchat 254 toto 1 :channels formed",
                ":twistedchat 255 toto :I have 3 clients and 0 servers",
                ":twistedchat 265 toto :Current local users: 3",
                ":twistedchat 266 toto :Current global users: 3",
            ],
        )


class NoOpNickTests(IRCFrontTestCase):
    def test_the_same_nick_again_is_not_echoed_to_anyone(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("NICK toto")
        self.assertEqual((toto.lines(), tutu.lines()), ([], []))
        toto.send("NICK Toto")  # a change of case is a change
        mask = self.mask("Toto").replace("Toto!", "toto!")
        self.assertEqual(toto.lines(), [f":{mask} NICK Toto"])
        self.assertEqual(tutu.lines(), [f":{mask} NICK Toto"])
