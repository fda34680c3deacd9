"""
Who is who on IRC: WHO by channel, nick and mask, WHOX, a user's own modes
(invisible, bot, giving up operator status), OPER's answer in command order,
and an IRC user's overlong line relayed as one line, cut to fit.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.directory import matcher
from twistedchat.core.errors import UnknownUserMode
from twistedchat.core.service import ChatService, Session
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.irc import IRCFront
from twistedchat.server.operators import hash_password

from .processes import LineClient, ServerProcess
from .test_core import RecordingClient
from .test_irc_front import IRCClient, IRCFrontTestCase
from .test_pending_commands import LaterChecker


class DirectoryTests(SynchronousTestCase):
    """The core's side: searches and a user's own modes, for every front."""

    def setUp(self) -> None:
        self.service = ChatService(Clock(), None)

    def connect(self, nick: str, username: str = "", realname: str = "") -> Session:
        return self.service.connect(
            RecordingClient(), nick, username=username, realname=realname
        )

    def test_masks_match_with_wildcards_and_the_nick_case_mapping(self) -> None:
        self.assertTrue(matcher("cool*")("CoolNick"))
        self.assertTrue(matcher("c?ol[a]")("COOL{A}"))
        self.assertTrue(matcher("*")(""))
        self.assertFalse(matcher("cool?")("cool"))
        self.assertFalse(matcher("a.c")("abc"))  # a dot is a dot

    def test_search_by_nick_user_name_and_real_name(self) -> None:
        seeker = self.connect("seeker")
        self.connect("coolNick", username="myuser", realname="My Real Name")
        self.connect("other", username="x", realname="Nobody")

        def nicks(mask: str, everyone: bool = False) -> list[str]:
            found = self.service.directory.search(seeker, mask, everyone)
            return sorted(view.nick for view in found)

        self.assertEqual(nicks("COOL*"), ["coolNick"])
        self.assertEqual(nicks("my*"), ["coolNick"])
        self.assertEqual(nicks("*real name"), ["coolNick"])
        self.assertEqual(nicks("nothing*"), [])
        self.assertEqual(
            nicks("nothing*", everyone=True), ["coolNick", "other", "seeker"]
        )

    def test_invisible_users_are_found_by_those_sharing_a_room(self) -> None:
        evan = self.connect("evan")
        seeker = self.connect("seeker")
        self.assertEqual(self.service.directory.change_modes(evan, ["+i"]), ("+i",))
        self.assertEqual(self.service.directory.search(seeker, "eva*"), [])
        self.assertEqual(len(self.service.directory.search(evan, "eva*")), 1)
        view = self.service.user("evan")
        self.assertEqual(view.modes, {"i"})
        self.assertFalse(self.service.directory.sees(seeker, view))
        self.service.join(evan, "test")
        self.service.join(seeker, "test")
        self.assertTrue(self.service.directory.sees(seeker, self.service.user("evan")))
        self.assertEqual(len(self.service.directory.search(seeker, "eva*")), 1)
        self.assertEqual(self.service.counts().invisible, 1)

    def test_own_modes_change_and_operator_status_is_only_given_up(self) -> None:
        toto = self.connect("toto")
        directory = self.service.directory
        self.assertEqual(directory.change_modes(toto, ["+i", "+B", "+i"]), ("+i", "+B"))
        self.assertEqual(directory.change_modes(toto, ["+o"]), ())
        self.assertIsNone(self.service.user("toto").operator)
        with self.assertRaises(UnknownUserMode):
            directory.change_modes(toto, ["-i", "+x"])
        self.assertEqual(self.service.user("toto").modes, {"i", "B"})  # unchanged
        self.assertEqual(directory.change_modes(toto, ["-i", "-o"]), ("-i",))
        self.assertEqual(self.service.user("toto").modes, {"B"})


class WhoTests(IRCFrontTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.cool = self.register("coolNick")
        self.cool.send("USER x", "JOIN #chan")
        self.other = self.register("otherNick", "#chan")
        # a netcat user, in #general only
        self.line_user("lina")

    def who(self, *lines: str) -> list[str]:
        self.cool.lines()
        self.other.lines()
        self.other.send(*lines)
        return self.other.lines()

    def reply(self, nick: str, flags: str, room: str = "#chan") -> str:
        real = {"coolNick": "Real coolNick", "otherNick": "Real otherNick"}[nick]
        return (
            f":twistedchat 352 otherNick {room} {nick} twistedchat twistedchat "
            f"{nick} {flags} :0 {real}"
        )

    def test_who_star_finds_everyone_visible(self) -> None:
        lines = self.who("WHO *")
        self.assertEqual(lines[-1], ":twistedchat 315 otherNick * :End of /WHO list.")
        lina = self.service.user("lina").user.id[:10]
        self.assertEqual(
            sorted(lines[:-1]),
            sorted(
                [
                    self.reply("coolNick", "H@"),
                    self.reply("otherNick", "H"),
                    # lina shares no channel with otherNick: none is shown
                    f":twistedchat 352 otherNick * {lina} twistedchat twistedchat "
                    "lina H :0 lina",
                ]
            ),
        )

    def test_who_nick_exact_casefolded_and_masked(self) -> None:
        for mask in ("coolNick", "coolnick", "coolni*", "COOL?ICK", "*real?cool*"):
            self.assertEqual(
                self.who(f"WHO {mask}"),
                [
                    self.reply("coolNick", "H@"),
                    f":twistedchat 315 otherNick {mask} :End of /WHO list.",
                ],
                mask,
            )

    def test_who_of_the_server_or_host_finds_everyone(self) -> None:
        for mask in ("twisted*", "0"):
            lines = self.who(f"WHO {mask}")
            self.assertEqual(len(lines), 4, lines)

    def test_who_nobody_is_only_the_end(self) -> None:
        self.assertEqual(
            self.who("WHO idontexist", "WHO idont*"),
            [
                ":twistedchat 315 otherNick idontexist :End of /WHO list.",
                ":twistedchat 315 otherNick idont* :End of /WHO list.",
            ],
        )

    def test_flags_of_away_operators_and_bots(self) -> None:
        self.cool.send("OPER admin secret", "AWAY :be right back", "MODE coolNick +B")
        self.assertEqual(
            self.who("WHO coolni*"),
            [
                self.reply("coolNick", "G*@B"),
                ":twistedchat 315 otherNick coolni* :End of /WHO list.",
            ],
        )
        self.assertEqual(self.who("WHO * o")[0], self.reply("coolNick", "G*@B"))
        self.assertEqual(len(self.who("WHO * o")), 2)  # operators only

    def test_invisible_users_are_found_by_nick_or_by_channel_mates(self) -> None:
        evan = self.register("evan")
        evan.send("MODE evan +i")
        self.assertEqual(evan.lines()[-1], f":{self.mask('evan')} MODE evan +i")
        self.assertEqual(
            self.who("WHO eva*"), [":twistedchat 315 otherNick eva* :End of /WHO list."]
        )
        self.assertEqual(len(self.who("WHO evan")), 2)
        evan.send("JOIN #secret")
        self.assertEqual(
            self.who("WHO #secret"),
            [":twistedchat 315 otherNick #secret :End of /WHO list."],
        )
        self.assertEqual(
            self.who("LUSERS")[0],
            ":twistedchat 251 otherNick :There are 3 users and 1 invisible on 1 server",
        )
        evan.send("JOIN #chan")
        self.assertEqual(len(self.who("WHO eva*")), 2)
        self.assertEqual(len(self.who("WHO #secret")), 2)

    def test_whox_fields_in_their_order_with_the_token(self) -> None:
        full = (
            ":twistedchat 354 otherNick 123 #chan coolNick 255.255.255.255 "
            "twistedchat twistedchat coolNick H@ 0 0 0 n/a :Real coolNick"
        )
        self.assertEqual(self.who("WHO coolNick %tcuihsnfdlaor,123")[0], full)
        self.assertEqual(self.who("WHO coolNick %roaldfnshiuct,123")[0], full)
        self.assertEqual(
            self.who("WHO coolNick %tn,321"),
            [
                ":twistedchat 354 otherNick 321 coolNick",
                ":twistedchat 315 otherNick coolNick :End of /WHO list.",
            ],
        )
        self.assertEqual(
            self.who("WHO coolNick %na")[0], ":twistedchat 354 otherNick coolNick 0"
        )
        # A token must be 1 to 3 digits: anything else is 0.
        self.assertEqual(
            self.who("WHO coolNick %tn,abcd")[0],
            ":twistedchat 354 otherNick 0 coolNick",
        )
        self.assertEqual(
            self.who("WHO #chan %n"),
            [
                ":twistedchat 354 otherNick coolNick",
                ":twistedchat 354 otherNick otherNick",
                ":twistedchat 315 otherNick #chan :End of /WHO list.",
            ],
        )
        for field in "cuihsnfdlaor":
            lines = self.who(f"WHO coolNick %{field}")
            self.assertEqual(len(lines), 2, field)
            self.assertTrue(lines[0].startswith(":twistedchat 354 otherNick "), field)


class UserModeTests(IRCFrontTestCase):
    def test_modes_of_ones_own_and_of_others(self) -> None:
        toto, _ = self.connect_all("toto", "tutu")
        toto.send(
            "MODE toto +iB",
            "MODE toto",
            "MODE toto -i+x",
            "MODE toto +o",
            "MODE tutu",
            "MODE tutu +i",
            "MODE nobody",
        )
        self.assertEqual(
            toto.lines(),
            [
                f":{self.mask('toto')} MODE toto +iB",
                ":twistedchat 221 toto +Bi",
                f":{self.mask('toto')} MODE toto -i",
                ":twistedchat 501 toto :Unknown MODE flag",
                # +o only comes with OPER: asked for, it changes nothing
                ":twistedchat 502 toto :Cannot change mode for other users",
                ":twistedchat 502 toto :Cannot change mode for other users",
                ":twistedchat 401 toto nobody :No such nick/channel",
            ],
        )
        self.assertEqual(self.service.user("tutu").modes, set())

    def test_an_operator_may_give_up_operator_status(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("OPER admin secret")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat 381 toto :You are now an IRC operator",
                f":{self.mask('toto')} MODE toto +o",
            ],
        )
        toto.send("OPER admin secret")  # once more: no mode changes
        self.assertEqual(
            toto.lines(), [":twistedchat 381 toto :You are now an IRC operator"]
        )
        toto.send("MODE toto -o", "MODE toto", "KILL tutu")
        lines = toto.lines()
        self.assertEqual(
            lines[:2],
            [f":{self.mask('toto')} MODE toto -o", ":twistedchat 221 toto +"],
        )
        self.assertTrue(lines[2].startswith(":twistedchat 481 toto :"), lines)
        self.assertIsNone(self.service.user("toto").operator)
        self.assertFalse(tutu.closed)

    def test_bot_mode_shows_in_whois(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("MODE toto +B")
        self.assertEqual(toto.lines(), [f":{self.mask('toto')} MODE toto +B"])
        tutu.send("WHOIS toto")
        self.assertIn(":twistedchat 335 tutu toto :is a bot", tutu.lines())

    def test_a_bots_messages_carry_the_bot_tag_for_message_tags_clients(self) -> None:
        watcher = self.client()
        watcher.send(
            "CAP REQ :message-tags", "NICK watcher", "USER w 0 * :W", "CAP END"
        )
        watcher.send("JOIN #general")
        plain = self.register("plain", "#general")
        bot = self.register("bot", "#general")
        bot.send("MODE bot +B")
        self.settle()
        bot.send("PRIVMSG #general :beep", "PRIVMSG watcher :boop")
        tagged = watcher.lines()
        self.assertEqual(len(tagged), 2)
        for line in tagged:
            self.assertIn("bot", line.split(" ", 1)[0][1:].split(";"))
        self.assertEqual(plain.lines(), [f":{self.mask('bot')} PRIVMSG #general beep"])
        bot.send("MODE bot -B", "PRIVMSG #general :human again")
        (line,) = [line for line in watcher.lines() if "PRIVMSG" in line]
        self.assertNotIn("bot", line.split(" ", 1)[0][1:].split(";"))


class OperOrderTests(SynchronousTestCase):
    def test_oper_then_ping_in_one_read_answers_in_order(self) -> None:
        checker = LaterChecker()
        service = ChatService(Clock(), "general", checker, delivery=Fanout())
        admin = IRCClient(IRCFront(service), 6001)
        admin.send("NICK admin", "USER a 0 * :A")
        admin.lines()
        admin.send("OPER admin secret", "PING :x")
        self.assertEqual(admin.lines(), [])  # the PONG waits for the check
        checker.answer()
        lines = admin.lines()
        self.assertEqual(
            lines,
            [
                ":twistedchat 381 admin :You are now an IRC operator",
                f":admin!{service.user('admin').user.id[:10]}@twistedchat MODE admin +o",
                ":twistedchat PONG twistedchat x",
            ],
        )


class OverlongLineTests(IRCFrontTestCase):
    def test_an_irc_users_full_line_reaches_an_irc_user_as_one_cut_line(self) -> None:
        one, two = self.connect_all("nick1", "nick2")
        self.framed_user("fram")
        source = f":{self.mask('nick1')} PRIVMSG nick2 "
        line = "PRIVMSG nick2 :"
        room = 512 - len(line) - 2
        for payload in ("a" * room, "a" * (room - 4) + "😃", "é" * (room // 2)):
            one.send(line + payload)
            (relayed,) = two.lines()
            self.assertLessEqual(len(relayed.encode()) + 2, 512)
            self.assertTrue(relayed.startswith(source), relayed)
            text = relayed[len(source) :].removeprefix(":")
            self.assertTrue(payload.startswith(text))
            self.assertGreater(len(text.encode()), room - 80)
            (told,) = one.lines()
            self.assertTrue(
                told.startswith(":twistedchat NOTICE nick1 :Your message to nick2 "),
                told,
            )

    def test_with_echo_message_the_echo_alone_shows_the_cut(self) -> None:
        # irctest's message_tags testLengthLimits: the answer to a full line
        # is its echo (or 417), and nothing more before the next command's.
        sender = self.client()
        sender.send("CAP REQ :echo-message", "NICK nick1", "USER u 0 * :U", "CAP END")
        sender.send("JOIN #general")
        self.settle()
        sender.send("PRIVMSG #general :" + "b" * 490)  # 510 bytes, within 512
        (echo,) = sender.lines()
        self.assertIn(" PRIVMSG #general bbbb", echo)
        self.assertLess(echo.count("b"), 490)

    def test_the_longest_mask_and_channel_name_leave_the_least_room(self) -> None:
        nick = "n" * 30
        room = "#" + "\U00020000" * 50  # a letter of 4 bytes: 201 bytes
        one, two = self.register(nick, room), self.register("two", room)
        one.lines(), two.lines()
        smile = "\N{SMILING FACE WITH OPEN MOUTH}"
        text = smile * 60 + " " + smile  # 62 characters, 245 bytes
        one.send(f"PRIVMSG {room} :{text}")
        # 513 bytes relayed whole: the last smile goes.
        self.assertEqual(
            two.lines(), [f":{self.mask(nick)} PRIVMSG {room} :{text[:-1]}"]
        )
        self.assertEqual(len(one.lines()), 1)  # told

    def test_what_fits_is_relayed_whole_and_untold(self) -> None:
        one, two = self.connect_all("nick1", "nick2")
        overhead = len(f":{self.mask('nick1')} ")
        line = "PRIVMSG nick2 :"
        payload = "a" * (512 - len(line) - 2 - overhead)
        one.send(line + payload)
        relayed = f":{self.mask('nick1')} PRIVMSG nick2 {payload}"  # no colon needed
        self.assertEqual(two.lines(), [relayed])
        self.assertEqual(one.lines(), [])

    def test_a_cut_action_stays_an_action_and_a_notice_is_not_answered(self) -> None:
        one, two = self.connect_all("nick1", "nick2")
        one.send("PRIVMSG #general :\x01ACTION " + "w" * 480 + "\x01")
        (relayed,) = two.lines()
        self.assertLessEqual(len(relayed.encode()) + 2, 512)
        self.assertTrue(relayed.endswith("w\x01"), relayed)
        self.assertEqual(len(one.lines()), 1)
        one.send("NOTICE nick2 :" + "n" * 495)
        (relayed,) = two.lines()
        self.assertLessEqual(len(relayed.encode()) + 2, 512)
        self.assertEqual(one.lines(), [])


class EndToEndTests(SynchronousTestCase):
    """A real server, raw IRC clients on loopback: what irctest saw."""

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, "operators"), "w") as file:
            file.write(f"admin:{hash_password('secret')}\n")
        self.server = ServerProcess(self.folder, "--operators", "operators").start()
        self.addCleanup(self.server.stop)

    def irc(self, nick: str) -> LineClient:
        client = LineClient(self.server.ports["irc"])
        self.addCleanup(client.close)
        client.send(f"NICK {nick}")
        client.send(f"USER {nick} 0 * :Real {nick}")
        client.send("PING :ready")
        client.expect(":twistedchat PONG twistedchat ready")
        return client

    def test_oper_who_and_an_overlong_line(self) -> None:
        one, two = self.irc("nick1"), self.irc("nick2")
        # OPER (its scrypt check in a thread) then PING, in one write.
        one.socket.sendall(b"OPER admin secret\r\nPING :after\r\n")
        answers = one.expect(":twistedchat PONG twistedchat after")
        self.assertEqual(len(answers), 2, answers)
        self.assertEqual(
            answers[0], ":twistedchat 381 nick1 :You are now an IRC operator"
        )
        self.assertRegex(answers[1], r"^:nick1!\S+@twistedchat MODE nick1 \+o$")
        two.send("WHO nick*")
        two.send("PING :who")
        found = two.expect(":twistedchat PONG twistedchat who")
        self.assertEqual(found[-1], ":twistedchat 315 nick2 nick* :End of /WHO list.")
        self.assertEqual(
            sorted(line.split()[7] + " " + line.split()[8] for line in found[:-1]),
            ["nick1 H*", "nick2 H"],
        )
        # A full line of 512 bytes: one line reaches nick2, cut to fit.
        line = "PRIVMSG nick2 :"
        one.socket.sendall((line + "b" * (510 - len(line)) + "\r\n").encode())
        relayed = two.read_line()
        assert relayed is not None
        self.assertLessEqual(len(relayed.encode()) + 2, 512)
        self.assertRegex(relayed, r"^:nick1!\S+ PRIVMSG nick2 :?b+$")
        two.send("PING :end")
        self.assertEqual(two.expect(":twistedchat PONG twistedchat end"), [])
