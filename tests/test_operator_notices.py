"""
Messages for operators alone, on the IRC front and beyond: WALLOPS (server
operators, on every front) and STATUSMSG (C{PRIVMSG @#room}: the room's
operators).
"""

from __future__ import annotations

from .test_irc_front import IRCFrontTestCase


class WallopsTests(IRCFrontTestCase):
    def test_operators_of_every_front_hear_it_and_nobody_else(self) -> None:
        toto, tutu, titi = self.connect_all("toto", "tutu", "titi")
        lina = self.line_user("lina")
        toto.send("OPER admin secret")
        tutu.send("OPER admin secret")
        lina.send("OPER admin secret\n")
        self.settle()
        toto.send("WALLOPS :server restarts at noon")
        mask = self.mask("toto")
        self.assertEqual(toto.lines(), [])  # not echoed
        self.assertEqual(tutu.lines(), [f":{mask} WALLOPS :server restarts at noon"])
        self.assertEqual(titi.lines(), [])
        self.assertIn(b"server restarts at noon", lina.transport.value())

    def test_refused_to_users(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("WALLOPS :hi", "WALLOPS")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 481 toto :you are not a server operator (use OPER first)",
                ":twistedchat 461 toto WALLOPS :Not enough parameters",
            ],
        )


class StatusmsgTests(IRCFrontTestCase):
    def test_to_the_room_operators_only(self) -> None:
        toto, tutu, titi = self.connect_all("toto", "tutu", "titi")
        toto.send("MODE #general +o tutu")
        self.settle()
        titi.send("PRIVMSG @#general :ops, help")
        mask = self.mask("titi")
        self.assertEqual(toto.lines(), [f":{mask} PRIVMSG @#general :ops, help"])
        self.assertEqual(tutu.lines(), [f":{mask} PRIVMSG @#general :ops, help"])
        self.assertEqual(titi.lines(), [])

    def test_room_rules_and_bad_targets(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("MODE #general +m")
        self.settle()
        tutu.send("PRIVMSG @#general :hi", "PRIVMSG @#nowhere :hi", "PRIVMSG @# :x")
        lines = tutu.lines()
        self.assertEqual([line.split()[1] for line in lines], ["404", "403", "403"])
        self.assertEqual(toto.lines(), [])
