"""
IRCv3 batch and labeled-response on the IRC front: the answer to a labeled
command is one labeled line, a labeled ACK, or a labeled-response batch;
tags of a client's line never make it unreadable.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.irc.batches import Labeled

from .test_irc_front import IRCClient, IRCFrontTestCase
from .test_pending_commands import LaterChecker


class BatchTests(SynchronousTestCase):
    def test_one_batch_is_labeled_on_its_opening(self) -> None:
        labeled = Labeled("x")
        labeled.take(b":s BATCH +r chathistory #a\r\n@batch=r :n PRIVMSG #a hi\r\n")
        labeled.take(b":s BATCH -r\r\n")
        self.assertEqual(
            labeled.answer("s", "n", None).split(b"\r\n")[0],
            b"@label=x :s BATCH +r chathistory #a",
        )


class LabeledResponseTests(IRCFrontTestCase):
    def labeled(self, nick: str, caps: str = "batch labeled-response") -> IRCClient:
        client = self.client()
        client.send(
            "CAP LS 302",
            f"CAP REQ :{caps}",
            f"NICK {nick}",
            f"USER {nick} 0 * :R",
            "CAP END",
        )
        client.lines()
        return client

    def test_tags_of_a_client_without_the_capability_are_ignored(self) -> None:
        toto = self.register("toto")
        toto.lines()
        toto.send("@label=1;+draft/react=x PING :here")
        self.assertEqual(toto.lines(), [":twistedchat PONG twistedchat here"])

    def test_one_line_answers_are_labeled(self) -> None:
        toto = self.labeled("toto")
        toto.send("@label=1 PING :here", "@label=a\\sb NOPE")
        self.assertEqual(
            toto.lines(),
            [
                "@label=1 :twistedchat PONG twistedchat here",
                "@label=a\\sb :twistedchat 421 toto NOPE :Unknown command",
            ],
        )

    def test_no_answer_is_a_labeled_ack(self) -> None:
        toto = self.labeled("toto")
        toto.send("@label=2 PONG :x", "PONG :y")
        self.assertEqual(toto.lines(), ["@label=2 :twistedchat ACK"])

    def test_several_lines_are_a_labeled_response_batch(self) -> None:
        toto = self.labeled("toto")
        toto.send("@label=3 JOIN #xyz", "PING :after")
        lines = toto.lines()
        self.assertEqual(lines[0], "@label=3 :twistedchat BATCH +b1 labeled-response")
        self.assertEqual(lines[1], f"@batch=b1 :{self.mask('toto')} JOIN #xyz")
        self.assertEqual(
            lines[2:-2],
            [
                "@batch=b1 :twistedchat 353 toto = #xyz @toto",
                "@batch=b1 :twistedchat 366 toto #xyz :End of /NAMES list.",
            ],
        )
        self.assertEqual(
            lines[-2:],
            [":twistedchat BATCH -b1", ":twistedchat PONG twistedchat after"],
        )

    def test_without_batch_the_first_line_only_is_labeled(self) -> None:
        toto = self.labeled("toto", "labeled-response")
        toto.send("@label=4 JOIN #xyz")
        lines = toto.lines()
        self.assertEqual(lines[0], f"@label=4 :{self.mask('toto')} JOIN #xyz")
        self.assertEqual(
            [line for line in lines if "label" in line or "BATCH" in line], lines[:1]
        )

    def test_others_messages_before_a_labeled_command_are_not_part_of_it(self) -> None:
        toto = self.labeled("toto")
        titi = self.register("titi", "#general")
        toto.send("JOIN #general")
        toto.lines()
        titi.send("PRIVMSG #general before")  # in the outbox, not written yet
        toto.send("@label=5 PING :x")
        self.assertEqual(
            toto.lines(),
            [
                f":{self.mask('titi')} PRIVMSG #general before",
                "@label=5 :twistedchat PONG twistedchat x",
            ],
        )


class LaterAnswerTests(SynchronousTestCase):
    """A labeled command answered later (OPER's check in a thread)."""

    def test_what_comes_meanwhile_goes_out_first_unlabeled(self) -> None:
        checker = LaterChecker()
        service = ChatService(Clock(), "general", checker, delivery=Fanout())
        front = IRCFront(service)
        admin, titi = IRCClient(front, 5001), IRCClient(front, 5002)
        admin.send(
            "CAP REQ :batch labeled-response", "NICK admin", "USER a 0 * :A", "CAP END"
        )
        titi.send("NICK titi", "USER t 0 * :T", "JOIN #general")
        admin.send("JOIN #general")
        admin.lines()
        admin.send("@label=6 OPER admin secret", "PING :next")
        titi.send("PRIVMSG #general :meanwhile")
        lines = admin.lines()
        self.assertEqual(len(lines), 1)
        self.assertIn("PRIVMSG #general meanwhile", lines[0])
        self.assertNotIn("label", lines[0])
        checker.answer()
        lines = admin.lines()
        # Its answer, 381 and the user mode it gained, in one labeled batch.
        opening = lines[0].split(" ")
        self.assertEqual(opening[:3], ["@label=6", ":twistedchat", "BATCH"])
        self.assertEqual(opening[4], "labeled-response")
        reference = opening[3][1:]
        self.assertEqual(
            [(line.split(" ")[0], line.split(" ")[2]) for line in lines[1:3]],
            [(f"@batch={reference}", "381"), (f"@batch={reference}", "MODE")],
        )
        self.assertEqual(
            lines[3:],
            [f":twistedchat BATCH -{reference}", ":twistedchat PONG twistedchat next"],
        )


class ToOneselfTests(IRCFrontTestCase):
    """With echo-message, a message to oneself is the echo and the delivery."""

    def client_with(self, caps: str) -> IRCClient:
        client = self.client()
        client.send(f"CAP REQ :{caps}", "NICK toto", "USER t 0 * :T", "CAP END")
        client.lines()
        return client

    def test_twice_with_echo_message_once_without(self) -> None:
        toto = self.client_with("echo-message")
        toto.send("PRIVMSG Toto :hi me")
        self.assertEqual(
            toto.lines(), [f":{self.mask('toto')} PRIVMSG toto :hi me"] * 2
        )
        toto.send("CAP REQ -echo-message", "PRIVMSG toto :once")
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat CAP toto ACK -echo-message",
                f":{self.mask('toto')} PRIVMSG toto once",
            ],
        )

    def test_labeled_only_the_echo_carries_the_label(self) -> None:
        toto = self.client_with("echo-message batch labeled-response")
        toto.send("@label=7 NOTICE toto :hi me")
        lines = toto.lines()
        self.assertEqual(
            sorted(lines),
            sorted(
                [
                    f":{self.mask('toto')} NOTICE toto :hi me",
                    f"@label=7 :{self.mask('toto')} NOTICE toto :hi me",
                ]
            ),
        )
