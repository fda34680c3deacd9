"""
IRCv3 draft/read-marker on the IRC front: MARKREAD keeps, for the
connection's lifetime, the time up to which each channel or nick was read;
a marker never goes back, and a joiner holding the capability is told it.
"""

from __future__ import annotations

from twistedchat.fronts.irc.markread import MAX_MARKERS
from twistedchat.fronts.irc.numerics import target_key

from .test_irc_front import IRCClient, IRCFrontTestCase


class MarkreadTests(IRCFrontTestCase):
    def reader(self, nick: str = "toto") -> IRCClient:
        client = self.client()
        client.send(
            "CAP REQ :draft/read-marker",
            f"NICK {nick}",
            f"USER {nick} 0 * :R",
            "CAP END",
        )
        client.lines()
        return client

    def test_no_marker_is_a_star(self) -> None:
        toto = self.reader()
        toto.send("MARKREAD #nowhere", "MARKREAD Titi")
        self.assertEqual(
            toto.lines(),
            [":twistedchat MARKREAD #nowhere *", ":twistedchat MARKREAD Titi *"],
        )

    def test_set_then_get_any_case_only_forward(self) -> None:
        toto = self.reader()
        toto.send("MARKREAD #Test timestamp=2019-06-01T12:00:00.000Z")
        toto.send("MARKREAD #test timestamp=2019-01-01T00:00:00.000Z")
        toto.send("MARKREAD #TEST")
        self.assertEqual(
            toto.lines(),
            [":twistedchat MARKREAD #Test timestamp=2019-06-01T12:00:00.000Z"]
            + [
                f":twistedchat MARKREAD {t} timestamp=2019-06-01T12:00:00.000Z"
                for t in ["#test", "#TEST"]
            ],
        )

    def test_a_joiner_is_told_its_marker_before_the_names(self) -> None:
        toto = self.reader()
        toto.send("MARKREAD #test timestamp=2020-03-15T10:00:00.000Z", "JOIN #test")
        lines = toto.lines()
        self.assertEqual(
            [line.split()[1] for line in lines],
            ["MARKREAD", "JOIN", "MARKREAD", "353", "366"],
        )
        self.assertEqual(
            lines[2], ":twistedchat MARKREAD #test timestamp=2020-03-15T10:00:00.000Z"
        )
        plain = self.register("titi", "#test")
        self.assertNotIn("MARKREAD", " ".join(plain.lines()))

    def test_markers_are_the_connections_own(self) -> None:
        toto = self.reader()
        toto.send("MARKREAD #test timestamp=2020-03-15T10:00:00.000Z", "QUIT")
        titi = self.reader("toto")
        titi.send("MARKREAD #test")
        self.assertEqual(titi.lines(), [":twistedchat MARKREAD #test *"])

    def test_bad_requests(self) -> None:
        toto = self.reader()
        toto.send(
            "MARKREAD", "MARKREAD #test *", "MARKREAD #test timestamp=not-a-timestamp"
        )
        self.assertEqual(
            [line.split(" :")[0] for line in toto.lines()],
            [
                ":twistedchat FAIL MARKREAD NEED_MORE_PARAMS",
                ":twistedchat FAIL MARKREAD INVALID_PARAMS #test",
                ":twistedchat FAIL MARKREAD INVALID_PARAMS #test",
            ],
        )
        toto.send("MARKREAD #test")
        self.assertEqual(toto.lines(), [":twistedchat MARKREAD #test *"])

    def test_markers_are_bounded(self) -> None:
        toto = self.reader()
        marks = {target_key(f"#r{n}"): 1 for n in range(MAX_MARKERS)}
        toto.protocol.read_marks.update(marks)
        toto.send("MARKREAD #more timestamp=2020-03-15T10:00:00.000Z")
        self.assertEqual(
            toto.lines()[0].split(" :")[0],
            ":twistedchat FAIL MARKREAD INTERNAL_ERROR #more",
        )
        toto.send("MARKREAD #r1 timestamp=2020-03-15T10:00:00.000Z")
        self.assertIn("timestamp=2020", toto.lines()[0])
