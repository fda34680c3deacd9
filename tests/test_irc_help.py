"""HELP and HELPOP on the IRC front: a text for every command of the table."""

from __future__ import annotations

from twistedchat.fronts.irc import COMMANDS
from twistedchat.fronts.irc.help import TOPICS

from .test_irc_front import IRCFrontTestCase


class HelpTests(IRCFrontTestCase):
    def test_every_command_has_a_help_text(self) -> None:
        self.assertEqual(sorted(set(COMMANDS) - set(TOPICS)), [])
        self.assertEqual(sorted(set(TOPICS) - set(COMMANDS)), [])

    def test_help_on_a_command_in_any_case(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("HELP privmsg")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 704 toto privmsg :PRIVMSG <target>[,<target>...] :<text>",
                ":twistedchat 705 toto privmsg :Sends <text> to channels (#name) and "
                "nicks, whatever front their",
                ":twistedchat 705 toto privmsg :users came through; to @#name, to the "
                "channel's operators only.",
                ":twistedchat 706 toto privmsg :End of /HELP",
            ],
        )

    def test_helpop_without_subject_lists_the_commands(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("HELPOP")
        lines = toto.lines()
        self.assertTrue(lines[0].startswith(":twistedchat 704 toto * :"))
        self.assertEqual(lines[-1], ":twistedchat 706 toto * :End of /HELP")
        listed = " ".join(line.split(" :", 1)[1] for line in lines[2:-1]).split()
        self.assertEqual(listed, sorted(COMMANDS))
        self.assertTrue(all(" 705 toto * :" in line for line in lines[1:-1]))

    def test_unknown_subject(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("HELP NOSUCHTHING")
        self.assertEqual(
            toto.lines(),
            [":twistedchat 524 toto NOSUCHTHING :No help available on this topic"],
        )
