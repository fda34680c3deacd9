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

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront

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
        self.assertTrue(lines[1].endswith("QUIT :Killed (admin (enough))"), lines)
        self.assertEqual(lines[2], ":twistedchat PONG twistedchat x")
        self.assertTrue(victim.closed)
