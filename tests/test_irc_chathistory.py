"""
IRCv3 draft/chathistory on the IRC front: CHATHISTORY pages through the
JSON Lines history of a room (every front's messages) by msgid or time, in a
chathistory batch; what is wrong in a request gets its FAIL.
"""

from __future__ import annotations

from twistedchat.core.events import Message
from twistedchat.core.session import Session
from twistedchat.fronts.irc.render import server_time

from .test_irc_front import HistoryFrontTestCase

CAPS = "batch labeled-response server-time draft/chathistory"


class ChathistoryTests(HistoryFrontTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.toto = self.client()
        self.toto.send(
            "CAP LS 302", f"CAP REQ :{CAPS}", "NICK toto", "USER t 0 * :T", "CAP END"
        )
        self.toto.send("JOIN #general")
        self.said: list[Message] = []
        self.toto.lines()

    def session(self) -> Session:
        session = self.toto.protocol.session
        assert session is not None
        return session

    def speak(self, count: int) -> None:
        """C{count} messages in #general, 1.5 s apart, from a netcat user and toto."""
        netcat = self.line_user("nc")
        for n in range(count):
            self.clock.advance(1.5)
            if n % 2:
                self.toto.send(f"PRIVMSG #general :message {n}")
            else:
                netcat.send(f"MSG message {n}\n")
        self.toto.lines()
        self.said = [
            Message(e.time, e.room, self.service.user(e.nick).user, e.text, msgid=e.id)
            for e in self.history.recent("general")
        ]

    def expect(
        self, lines: list[str], numbers: list[int], target: str = "#general"
    ) -> None:
        """A chathistory batch of #general holding messages C{numbers}."""
        reference = lines[0].split()[2][1:]
        self.assertEqual(
            lines[0], f":twistedchat BATCH +{reference} chathistory {target}"
        )
        self.assertEqual(lines[-1], f":twistedchat BATCH -{reference}")
        expected = []
        for n in numbers:
            said = self.said[n]
            expected.append(
                f"@batch={reference};time={server_time(said.time)};msgid={said.msgid} "
                f":{self.mask(said.user.nick)} PRIVMSG #general :message {n}"
            )
        self.assertEqual(lines[1:-1], expected)

    def test_latest(self) -> None:
        self.speak(10)
        self.toto.send("CHATHISTORY LATEST #general * 3")
        self.expect(self.toto.lines(), [7, 8, 9])
        self.toto.send(f"CHATHISTORY LATEST #General msgid={self.said[4].msgid} 20")
        self.expect(self.toto.lines(), [5, 6, 7, 8, 9], "#General")

    def test_before_after_around_between(self) -> None:
        self.speak(10)
        stamp = server_time(self.said[6].time)
        self.toto.send(f"CHATHISTORY BEFORE #general timestamp={stamp} 2")
        self.expect(self.toto.lines(), [4, 5])
        self.toto.send(f"CHATHISTORY AFTER #general msgid={self.said[3].msgid} 3")
        self.expect(self.toto.lines(), [4, 5, 6])
        self.toto.send(f"CHATHISTORY AROUND #general msgid={self.said[7].msgid} 3")
        self.expect(self.toto.lines(), [6, 7, 8])
        first, last = self.said[0].msgid, self.said[9].msgid
        self.toto.send(f"CHATHISTORY BETWEEN #general msgid={last} msgid={first} 3")
        self.expect(self.toto.lines(), [6, 7, 8])

    def test_the_time_and_msgid_are_those_of_the_live_message(self) -> None:
        titi = self.client()
        titi.send("CAP REQ :server-time", "NICK titi", "USER t 0 * :T", "CAP END")
        titi.send("JOIN #general")
        titi.lines()
        self.clock.advance(0.0006)  # not a whole millisecond
        event = self.service.say(self.session(), "general", "hi")
        (live,) = titi.lines()
        self.toto.lines()
        self.toto.send("CHATHISTORY LATEST #general * 1")
        replayed = self.toto.lines()[1]
        time_tag = live.split()[0].removeprefix("@")
        self.assertIn(f";{time_tag};", replayed)
        self.assertIn(f"msgid={event.msgid} ", replayed)

    def test_actions_and_pictures(self) -> None:
        self.toto.send("PRIVMSG #general :\x01ACTION waves\x01")
        self.service.show_image(self.session(), "general", "ab\ncd")
        self.toto.send("CHATHISTORY LATEST #general * 10")
        texts = [line.split(" ", 4)[4] for line in self.toto.lines()[1:-1]]
        self.assertEqual(
            texts,
            [":\x01ACTION waves\x01", ":\x01ACTION shows a picture:\x01", "ab", "cd"],
        )

    def test_labeled_the_batch_carries_the_label(self) -> None:
        self.speak(2)
        self.toto.send("@label=x CHATHISTORY LATEST #general * 5")
        lines = self.toto.lines()
        self.assertTrue(lines[0].startswith("@label=x :twistedchat BATCH +"), lines[0])
        self.assertEqual(len(lines), 4)

    def test_failures(self) -> None:
        self.register("titi", "#elsewhere")
        for request, fail in [
            ("LATEST #elsewhere * 10", "INVALID_TARGET LATEST #elsewhere"),
            ("LATEST #nonexistent * 10", "INVALID_TARGET LATEST #nonexistent"),
            (
                "BEFORE #general timestamp=not-a-timestamp 10",
                "INVALID_PARAMS BEFORE timestamp=not-a-timestamp",
            ),
            ("BEFORE #general msgid=x 0", "INVALID_PARAMS BEFORE 0"),
            ("AFTER #general nonsense=1 5", "INVALID_PARAMS AFTER nonsense=1"),
            ("BETWEEN #general msgid=a 5", "NEED_MORE_PARAMS BETWEEN"),
            ("SIDEWAYS #general * 5", "INVALID_PARAMS SIDEWAYS"),
            (
                "TARGETS msgid=a timestamp=2020-01-01T00:00:00.000Z 5",
                "INVALID_PARAMS TARGETS",
            ),
        ]:
            self.toto.send(f"CHATHISTORY {request}")
            (line,) = self.toto.lines()
            self.assertTrue(
                line.startswith(f":twistedchat FAIL CHATHISTORY {fail} "),
                (request, line),
            )
        self.toto.send("CHATHISTORY")
        self.assertEqual(
            self.toto.lines(),
            [":twistedchat 461 toto CHATHISTORY :Not enough parameters"],
        )

    def test_a_nick_has_no_history(self) -> None:
        self.register("titi")
        self.toto.send("CHATHISTORY LATEST titi * 10")
        lines = self.toto.lines()
        reference = lines[0].split()[2][1:]
        self.assertEqual(
            lines,
            [
                f":twistedchat BATCH +{reference} chathistory titi",
                f":twistedchat BATCH -{reference}",
            ],
        )

    def test_targets(self) -> None:
        self.toto.send("JOIN #quiet,#other")
        self.clock.advance(1)
        self.toto.send("PRIVMSG #other :one")
        self.clock.advance(1)
        self.toto.send("PRIVMSG #general :two")
        self.toto.lines()
        other = server_time(self.history.recent("other")[-1].time)
        general = server_time(self.history.recent("general")[-1].time)
        self.toto.send(
            "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z "
            "timestamp=2262-01-01T00:00:00.000Z 10"
        )
        lines = self.toto.lines()
        self.assertIn(" BATCH +", lines[0])
        self.assertTrue(lines[0].endswith(" draft/chathistory-targets"))
        reference = lines[0].split()[2][1:]
        self.assertEqual(
            lines[1:],
            [
                f"@batch={reference} :twistedchat CHATHISTORY TARGETS #other {other}",
                f"@batch={reference} :twistedchat CHATHISTORY TARGETS #general {general}",
                f":twistedchat BATCH -{reference}",
            ],
        )
        self.toto.send(
            f"CHATHISTORY TARGETS timestamp={other} timestamp=2262-01-01T00:00:00.000Z 10"
        )
        self.assertEqual(len(self.toto.lines()), 3)
