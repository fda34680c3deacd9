"""
IRC-isms as every front shows them: actions (/me), other CTCP requests,
formatting codes; topics and away status on every front; the line front's
server texts (HELP, goodbyes, a kicker's reason). Unit tests over
StringTransport, an IRC user beside netcat users and twistedchat clients.
"""

from __future__ import annotations

import json
import re

from twistedchat import codec
from twistedchat.codec import ErrorCode
from twistedchat.core.history import HistoryEntry
from twistedchat.fronts.line import HELP, LineProtocol, render_history

from .test_irc_front import HistoryFrontTestCase, IRCFrontTestCase
from .test_line_front import Client as LineClient

WAVES = "\x01ACTION waves\x01"


class ActionTests(IRCFrontTestCase):
    def test_irc_me_on_every_front(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        fred = self.framed_user("fred")
        toto.send(f"PRIVMSG #general :{WAVES}")
        self.assertEqual(
            tutu.lines(), [f":{self.mask('toto')} PRIVMSG #general :{WAVES}"]
        )
        self.assertEqual(lina.lines(), ["* toto waves"])
        (acted,) = fred.received()
        assert isinstance(acted, codec.Acted)
        self.assertEqual(
            (acted.room, acted.user.nick, acted.text), ("general", "toto", "waves")
        )

    def test_private_me_on_every_front(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        fred = self.framed_user("fred")
        toto.send(f"PRIVMSG lina :{WAVES}", f"PRIVMSG fred :{WAVES}")
        self.assertEqual(lina.lines(), ["(private) * toto waves"])
        (acted,) = fred.received()
        assert isinstance(acted, codec.ActedPrivately)
        self.assertEqual(
            (acted.user.nick, acted.to, acted.text), ("toto", "fred", "waves")
        )

    def test_line_and_framed_me_reach_irc_as_ctcp_action(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        fred = self.framed_user("fred")
        lina.send("ME waves\n")
        fred.send(codec.Act("general", "nods"), codec.ActPrivately("toto", "winks"))
        self.assertEqual(
            toto.lines(),
            [
                f":{self.mask('lina')} PRIVMSG #general :{WAVES}",
                f":{self.mask('fred')} PRIVMSG #general :\x01ACTION nods\x01",
                f":{self.mask('fred')} PRIVMSG toto :\x01ACTION winks\x01",
            ],
        )
        self.assertEqual(lina.lines(), ["* fred nods"])
        # The framed client hears its own doings, as its other messages
        frames = fred.received()
        self.assertEqual(
            [type(frame).__name__ for frame in frames],
            ["Acted", "Acted", "ActedPrivately"],
        )
        lina.send("ME\n")
        self.assertEqual(
            lina.lines(), ["[server] error: usage: ME <action> (ME waves: * you waves)"]
        )

    def test_long_action_stays_an_action_on_every_irc_line(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        lina.send("ME " + "x" * 1000 + "\n")
        lines = toto.lines()
        self.assertGreater(len(lines), 1)
        for line in lines:
            self.assertTrue(line.endswith("\x01"), line[-20:])
            self.assertIn(" :\x01ACTION x", line)
            self.assertLessEqual(len(line.encode()) + 2, 512)

    def test_other_ctcp_only_for_irc_users(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        lina = self.line_user("lina")
        fred = self.framed_user("fred")
        toto.send(
            "PRIVMSG #general :\x01VERSION\x01",
            "PRIVMSG lina :\x01PING 1234\x01",
            "NOTICE fred :\x01TIME\x01",
            "PRIVMSG tutu :\x01VERSION\x01",
        )
        self.assertEqual(
            tutu.lines(),
            [
                f":{self.mask('toto')} PRIVMSG #general \x01VERSION\x01",
                f":{self.mask('toto')} PRIVMSG tutu \x01VERSION\x01",
            ],
        )
        self.assertEqual(lina.lines(), [])
        # The framed client is handed them, and its renderer shows nothing
        # (test_client_render): what the wire carries is its business.
        self.assertEqual(len(fred.received()), 2)

    def test_formatting_stripped_for_netcat(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        toto.send("PRIVMSG #general :\x02bold\x02 and \x0304,01red\x03!")
        self.assertEqual(lina.lines(), ["[toto] bold and red!"])


class ActionHistoryTests(HistoryFrontTestCase):
    def test_action_kept_as_such_and_replayed_on_every_front(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send(f"PRIVMSG #general :{WAVES}", "PRIVMSG #general :\x01VERSION\x01")
        (entry, ctcp) = self.service.recent("general")
        self.assertEqual((entry.kind, entry.text), ("action", "waves"))
        self.assertIn('"kind":"action","text":"waves"', entry.to_json())
        self.assertEqual(ctcp.kind, "message")

        lina = LineClient(self.line_front, self.port())  # lands in #general
        replayed = [line for line in lina.lines() if line.startswith("[history")]
        self.assertEqual(len(replayed), 1)
        self.assertRegex(replayed[0], r"^\[history \d\d:\d\d\] \* toto waves$")

        irc = self.register("ircy", "#general")
        stamp = [line for line in irc.lines() if "NOTICE #general" in line]
        self.assertEqual(len(stamp), 2)
        self.assertRegex(stamp[0], r"NOTICE #general :\[\d\d:\d\d\] \* toto waves$")
        tagged = self.register("tagy", "#general", tagged=True)
        actions = [line for line in tagged.lines() if "PRIVMSG #general" in line]
        self.assertIn(f"!history@twistedchat PRIVMSG #general :{WAVES}", actions[0])

        fred = self.framed_user("fred")
        fred.send(codec.Part("general"))
        toto.send(f"PRIVMSG #general :{WAVES}")  # while fred is out
        fred.send(codec.Join("general"))
        # A History frame (no read markers here: a newcomer's replay).
        (history,) = [f for f in fred.received() if isinstance(f, codec.History)]
        self.assertEqual(json.loads(history.entries)[-1]["kind"], "action")


class LegacyHistoryTests(IRCFrontTestCase):
    def test_ctcp_action_written_before_kinds_reads_as_an_action(self) -> None:
        """History files written before this change hold the IRC form."""
        line = (
            '{"id":"a-1","time":1700000000250,"room":"general","user_id":"u",'
            '"nick":"toto","kind":"message","text":"\\u0001ACTION waves\\u0001"}'
        )
        entry = HistoryEntry.from_json(line)
        self.assertEqual((entry.kind, entry.text), ("action", "waves"))
        self.assertRegex(
            render_history(entry).decode(), r"^\[history \d\d:\d\d\] \* toto waves\r\n$"
        )
        version = HistoryEntry.from_json(line.replace("ACTION waves", "VERSION"))
        self.assertEqual(render_history(version), b"")


class TopicTests(IRCFrontTestCase):
    def test_line_topic_seen_everywhere_and_shown_on_join(self) -> None:
        (toto,) = self.connect_all("toto")  # operator of #general
        lina = self.line_user("lina")
        fred = self.framed_user("fred")
        toto.send("MODE #general -t")
        self.settle()
        lina.send("TOPIC\n")
        self.assertEqual(
            lina.lines(), ["[server] #general has no topic; TOPIC <topic> sets one"]
        )
        lina.send("TOPIC on parle de \x02Twisted\x02\n")
        self.assertEqual(
            lina.lines(),
            ["[server] you set the topic of #general: on parle de Twisted"],
        )
        self.assertEqual(
            toto.lines(),
            [f":{self.mask('lina')} TOPIC #general :on parle de \x02Twisted\x02"],
        )
        (topic,) = fred.received()
        assert isinstance(topic, codec.TopicSet)
        self.assertEqual(topic.topic, "on parle de \x02Twisted\x02")

        lina.send("TOPIC\n")
        self.assertEqual(
            lina.lines(),
            ['[server] topic of #general: on parle de Twisted (set by "lina")'],
        )
        newcomer = self.line_user("nina")
        newcomer.send("JOIN dev\nJOIN general\n")
        self.assertIn(
            "[server] topic of #general: on parle de Twisted", newcomer.lines()
        )
        joiner = self.framed_user("jo")
        joiner.send(codec.Part("general"), codec.Join("general"))
        topics = [f for f in joiner.received() if isinstance(f, codec.Topic)]
        self.assertEqual(
            [(t.room, t.topic, t.by) for t in topics],
            [("general", "on parle de \x02Twisted\x02", "lina")],
        )

    def test_topic_of_another_room_and_refusals(self) -> None:
        lina = self.line_user("lina")
        lina.send("JOIN dev\nTOPIC #general hello\n")
        lina.lines()
        lina.send("TOPIC #general hello\n")
        self.assertEqual(lina.lines(), ["[server] error: you are not in #general"])
        other = self.line_user("olga")
        other.send("JOIN dev\n")
        other.lines()
        other.send("TOPIC hi\n")  # +t: lina, who made #dev, operates it
        self.assertEqual(
            other.lines(), ["[server] error: you are not an operator of #dev"]
        )
        lina.send("TOPIC #dev the dev room\n")
        self.assertEqual(
            other.lines(), ['[server] "lina" set the topic of #dev: the dev room']
        )

    def test_cleared_topic(self) -> None:
        lina, nina = self.line_user("lina"), self.line_user("nina")
        lina.send("JOIN dev\n")
        nina.send("JOIN dev\n")
        lina.send("TOPIC here\n")
        nina.lines()
        assert lina.protocol.session is not None
        self.service.set_topic(lina.protocol.session, "dev", "")
        self.assertEqual(nina.lines(), ['[server] "lina" cleared the topic of #dev'])

    def test_framed_set_topic(self) -> None:
        fred = self.framed_user("fred")
        fred.send(codec.Join("new"), codec.SetTopic("new", "fresh"))
        (topic,) = [f for f in fred.received() if isinstance(f, codec.TopicSet)]
        self.assertEqual((topic.room, topic.topic), ("new", "fresh"))
        self.assertEqual(self.service.room("new").topic, "fresh")


class AwayTests(IRCFrontTestCase):
    def test_line_away_seen_by_every_front(self) -> None:
        (toto,) = self.connect_all("toto")
        lina = self.line_user("lina")
        fred = self.framed_user("fred")
        lina.send("AWAY gone for lunch\n")
        self.assertEqual(
            lina.lines(), ["[server] you are marked as away: gone for lunch"]
        )
        toto.send("PRIVMSG lina :hello?")
        self.assertEqual(toto.lines(), [":twistedchat 301 toto lina :gone for lunch"])
        fred.send(codec.Whisper("lina", "hi"), codec.ActPrivately("lina", "pokes"))
        self.assertEqual(
            [f for f in fred.received() if isinstance(f, codec.Away)],
            [codec.Away("lina", "gone for lunch")] * 2,
        )
        self.assertEqual(
            lina.lines(),
            [
                "[toto] (private) hello?",
                "[fred] (private) hi",
                "(private) * fred pokes",
            ],
        )
        lina.send("NAMES\n")
        self.assertEqual(lina.lines(), ["[server] toto lina (away) fred"])
        lina.send("AWAY\n")
        self.assertEqual(
            lina.lines(), ["[server] you are back (no longer marked as away)"]
        )
        fred.send(codec.Whisper("lina", "back?"))
        self.assertFalse(any(isinstance(f, codec.Away) for f in fred.received()))

    def test_framed_away(self) -> None:
        (toto,) = self.connect_all("toto")
        fred = self.framed_user("fred")
        fred.send(codec.SetAway("brb"))
        self.assertEqual(fred.received(), [codec.AwaySet("brb")])
        toto.send("PRIVMSG fred :there?")
        self.assertEqual(toto.lines(), [":twistedchat 301 toto fred brb"])
        fred.send(codec.SetAway(""))
        self.assertEqual(fred.received()[-1], codec.AwaySet(""))
        self.assertIsNone(self.service.user("fred").away)


class ServerTextTests(IRCFrontTestCase):
    def test_help_lists_every_command(self) -> None:
        commands = {
            name[5:]
            for name in dir(LineProtocol)
            if name.startswith("line_") and name[5:].isupper()
        }
        listed = {re.match(r"\s+([A-Z]+)", line).group(1) for line in HELP[1:]}  # type: ignore[union-attr]
        self.assertEqual(listed, commands)
        lina = self.line_user("lina")
        lina.send("help\n")
        self.assertEqual(lina.lines(), [f"[server] {line}" for line in HELP])

    def test_goodbye_on_quit(self) -> None:
        lina = self.line_user("lina")
        lina.send("QUIT see you\n")
        self.assertEqual(lina.lines(), ["[server] goodbye"])
        self.assertTrue(lina.closed)

    def test_farewell_on_kill(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("OPER admin secret")
        lina, nina = self.line_user("lina"), self.line_user("nina")
        toto.send("KILL lina :spamming")
        self.assertEqual(
            lina.lines(),
            [
                "[toto] spamming",
                '[server] "lina" was disconnected by "toto"',
                '[server] you were disconnected by "toto": spamming; goodbye',
            ],
        )
        self.assertTrue(lina.closed)
        self.assertEqual(
            nina.lines(),
            ["[toto] spamming", '[server] "lina" was disconnected by "toto"'],
        )

    def test_goodbye_when_the_server_stops(self) -> None:
        lina, nina = self.line_user("lina"), self.line_user("nina")
        self.line_front.doStart()
        self.line_front.doStop()
        for user in (lina, nina):
            self.assertEqual(user.lines(), ["[server] the server is stopping; goodbye"])
            self.assertTrue(user.closed)

    def test_reserved_nick(self) -> None:
        lina = self.line_user("lina")
        lina.send("NICK Server\n")
        self.assertEqual(
            lina.lines(),
            ['[server] error: the nick "Server" is reserved: choose another one'],
        )
        fred = self.framed_user("fred")
        fred.send(codec.ChangeNick("server"))
        self.assertEqual(
            fred.received(),
            [
                codec.Error(
                    ErrorCode.NICK_RESERVED,
                    'the nick "server" is reserved: choose another one',
                    details='{"nick":"server","why":""}',
                )
            ],
        )

    def test_irc_quit_without_message(self) -> None:
        (toto,) = self.connect_all("toto")
        toto.send("QUIT")
        self.assertEqual(
            toto.lines(), ["ERROR :Closing Link: 127.0.0.1:5001 (Client Quit)"]
        )

    def test_framed_errors_name_what_they_refuse(self) -> None:
        fred = self.framed_user("fred")
        fred.send(codec.ListNames("nosuch"), codec.Kick("general", "ghost"))
        self.assertEqual(
            [(f.code, f.details) for f in fred.received()],  # type: ignore[attr-defined]
            [
                (ErrorCode.NO_SUCH_ROOM, '{"room":"nosuch"}'),
                (ErrorCode.NO_SUCH_NICK, '{"nick":"ghost"}'),
            ],
        )
