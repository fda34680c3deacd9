"""
A command that finishes later holds the connection's input: what the user
sent after it is acted on once it is done, in order.

The server's operator checker hashes passwords in a thread, so an OPER
answers later; a client that sends OPER and KILL in one go (a script, a
pasted pair of lines) must see the KILL carried out as an operator, not
refused because the check had not finished. The same holding serves the
calls that a remote state would make asynchronous (nick claims, joins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twistedchat import codec
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront

from .test_framed_front import FramedClient
from .test_irc_front import IRCClient
from .test_line_front import Client as LineClient


@implementer(ICredentialsChecker)
class LaterChecker:
    """Answers each check when told to, as a checker in a thread does."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self) -> None:
        self.waiting: list[tuple[Deferred[bytes | tuple[()]], IUsernamePassword]] = []

    def requestAvatarId(
        self, credentials: IUsernamePassword
    ) -> Deferred[bytes | tuple[()]]:
        checked: Deferred[bytes | tuple[()]] = Deferred()
        self.waiting.append((checked, credentials))
        return checked

    def answer(self) -> None:
        waiting, self.waiting = self.waiting, []
        for checked, credentials in waiting:
            if credentials.username == b"admin" and credentials.password == b"secret":
                checked.callback(b"admin")
            else:
                checked.errback(UnauthorizedLogin())


class PendingCommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.checker = LaterChecker()
        self.service = ChatService(Clock(), "general", self.checker, delivery=Fanout())
        self.line = LineFront(self.service)
        self.irc = IRCFront(self.service)

    def test_line_commands_after_oper_wait_for_its_answer(self) -> None:
        victim = LineClient(self.line, 5001)
        admin = LineClient(self.line, 5002)
        victim.send("NICK victim\n")
        admin.send("NICK admin\n")
        admin.lines()
        admin.send("OPER admin secret\nKILL victim enough\nNAMES\n")
        self.assertEqual(admin.lines(), [])  # the KILL waits for the check
        self.assertFalse(victim.closed)
        self.checker.answer()
        self.assertEqual(
            admin.lines(),
            [
                '[server] you are now a server operator ("admin")',
                '[server] "victim" was disconnected',
                "[server] admin",
            ],
        )
        self.assertTrue(victim.closed)

    def test_a_refused_oper_is_answered_then_the_rest_goes_on(self) -> None:
        admin = LineClient(self.line, 5002)
        admin.send("NICK admin\n")
        admin.lines()
        admin.send("OPER admin guess\nNAMES\n")
        self.checker.answer()
        self.assertEqual(
            admin.lines(),
            ["[server] error: wrong operator name or password", "[server] admin"],
        )

    def test_irc_commands_after_oper_wait_for_its_answer(self) -> None:
        victim = LineClient(self.line, 5001)
        victim.send("NICK victim\n")
        admin = IRCClient(self.irc, 6001)
        admin.send("NICK admin", "USER a 0 * :A", "JOIN #general")
        admin.lines()
        admin.send("OPER admin secret", "KILL victim :enough", "PING :x")
        self.assertEqual(admin.lines(), [])
        self.checker.answer()
        lines = admin.lines()
        self.assertEqual(
            lines[0], ":twistedchat 381 admin :You are now an IRC operator"
        )
        self.assertTrue(lines[1].endswith(" MODE admin +o"), lines)
        self.assertTrue(lines[2].endswith("QUIT :Killed (admin (enough))"), lines)
        self.assertEqual(lines[3], ":twistedchat PONG twistedchat x")
        self.assertTrue(victim.closed)


class LaterStateTests(SynchronousTestCase):
    """
    As if the state were remote: nick claims and joins answered later. Each
    front goes on, in order, once they are.
    """

    def setUp(self) -> None:
        self.service = ChatService(Clock(), "general", delivery=Fanout())
        self.answers: list[Callable[[], None]] = []
        for name in ("connect", "join", "change_nick"):
            self.answer_later(name)

    def answer_later(self, name: str) -> None:
        now = getattr(self.service, name)

        def later(*args: Any, **kwargs: Any) -> Deferred[Any]:
            answer: Deferred[Any] = Deferred()
            self.answers.append(lambda: answer.callback(now(*args, **kwargs)))
            return answer

        self.patch(self.service, name, later)

    def answer(self) -> None:
        """Answer every pending call, and those they lead to."""
        while self.answers:
            self.answers.pop(0)()

    def test_line(self) -> None:
        toto = LineClient(LineFront(self.service), 5001)
        toto.send("JOIN dev\nMSG hello\nNICK toto\nNAMES\n")
        self.assertEqual(toto.lines(), [])  # still arriving
        self.answer()
        lines = toto.lines()
        self.assertEqual(
            lines[-3:],
            [
                "[server] you are in #dev (1 member)",
                '[server] you are now known as "toto"',
                "[server] toto",
            ],
        )
        self.assertEqual(self.service.names("dev"), ["toto"])

    def test_framed(self) -> None:
        toto = FramedClient(FramedFront(self.service), 5001)
        toto.send(codec.Hello(codec.PROTOCOL_VERSION, "toto", "", "", ()))
        toto.send(codec.Join("dev"))
        toto.send(codec.Say("dev", "hello"))
        self.assertEqual(toto.received(), [])
        self.answer()
        frames = toto.received()
        self.assertEqual(
            [type(frame).__name__ for frame in frames],
            ["Welcome", "Entered", "Said"],
        )

    def test_irc(self) -> None:
        toto = IRCClient(IRCFront(self.service), 6001)
        toto.send("NICK toto", "USER t 0 * :T", "JOIN #dev", "PRIVMSG #dev :hi")
        self.assertEqual(toto.lines(), [])
        self.answer()
        lines = toto.lines()
        self.assertIn(
            ":twistedchat 001 toto :Welcome to the twistedchat IRC network, toto", lines
        )
        self.assertTrue(lines[-1].endswith("366 toto #dev :End of /NAMES list."), lines)
        self.assertEqual(self.service.names("dev"), ["toto"])

    def test_a_connection_lost_while_its_nick_is_claimed(self) -> None:
        toto = IRCClient(IRCFront(self.service), 6001)
        toto.send("NICK toto", "USER t 0 * :T")
        toto.close()
        self.answer()
        self.assertFalse(self.service.nick_taken("toto"))
