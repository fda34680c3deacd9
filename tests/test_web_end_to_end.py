"""
The web front through the real C{twistd -n twistedchat}: raw WebSocket
clients (L{WebClient}, a browser tab's socket) with netcat users, on loopback.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from typing import Any

from twisted.internet.endpoints import quoteStringArgument
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec

from .processes import ServerProcess, ServerTestCase, WebClient, WebSocketRefused
from .tls_certificates import make_pki

VERSION = codec.PROTOCOL_VERSION
DISCONNECTED = re.compile(r'client disconnected "')


def hello(client: WebClient, nick: str, *rooms: str, token: str = "") -> dict[str, Any]:
    client.send(
        {
            "type": "hello",
            "version": VERSION,
            "nick": nick,
            "token": token,
            "rooms": list(rooms),
        }
    )
    return client.expect("welcome")


class WebChatTests(ServerTestCase):
    def test_a_web_user_and_a_netcat_user_chat_both_ways(self) -> None:
        netcat = self.netcat("nelly")

        web = self.connect_web()
        welcome = hello(web, "wendy", "general")
        self.assertEqual(welcome["user"]["nick"], "wendy")
        self.assertIsInstance(welcome["user"]["colour"], int)
        self.assertTrue(welcome["token"])
        web.expect("entered", room="general")
        netcat.expect('[server] "wendy" joined #general')

        web.send({"type": "say", "room": "general", "text": "hello from a browser"})
        said = web.expect("said", room="general")  # the web page shows its own
        self.assertEqual(said["text"], "hello from a browser")
        self.assertEqual(said["user"]["nick"], "wendy")
        netcat.expect("[wendy] hello from a browser")

        netcat.send("MSG <img src=x onerror=alert(1)> from netcat")
        said = web.expect("said", room="general")
        self.assertEqual(said["text"], "<img src=x onerror=alert(1)> from netcat")
        self.assertEqual(said["user"]["nick"], "nelly")

        web.send({"type": "whisper", "nick": "nelly", "text": "just you"})
        netcat.expect("[wendy] (private) just you")

        web.send({"type": "list_names", "room": "general"})
        names = web.expect("name_list", room="general")
        self.assertEqual(
            sorted(user["nick"] for user in names["users"]), ["nelly", "wendy"]
        )

        web.send({"type": "goodbye", "message": "see you"})
        netcat.expect("[wendy] see you")
        self.assertEqual(web.expect_closed(), [])
        self.assertEqual(web.close_code, 1000)

    def test_a_resume_token_is_the_same_user_on_a_second_connection(self) -> None:
        first = self.connect_web()
        welcome = hello(first, "rita", "general")
        first.send({"type": "say", "room": "general", "text": "before the reload"})
        first.expect("said")
        netcat = self.connect("line")
        netcat.expect("[server] you are in #general")

        second = self.connect_web()  # a reload, or a second tab
        again = hello(second, "", "general", token=welcome["token"])
        self.assertTrue(again["resumed"])
        self.assertEqual(again["user"], welcome["user"])
        history = second.expect("history", room="general")
        self.assertIn(
            "before the reload", [entry["text"] for entry in history["entries"]]
        )
        second.send({"type": "say", "room": "general", "text": "from the second tab"})
        # Both tabs show it; netcat sees one user, not a second one joining.
        first.expect("said", text="from the second tab")
        second.expect("said", text="from the second tab")
        seen = netcat.expect("[rita] from the second tab")
        self.assertFalse([line for line in seen if "joined" in line], seen)

    def test_bad_messages_are_answered_and_change_nothing(self) -> None:
        web = self.connect_web()
        web.send({"type": "say", "room": "general", "text": "too early"})
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.NOT_REGISTERED)
        hello(web, "bea", "general")
        web.send_frame(0x1, b"{not json")
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.MALFORMED)
        web.send_frame(0x1, b"[1, 2]")
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.MALFORMED)
        web.send({"type": "shout", "room": "general"})
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.UNKNOWN_TYPE)
        web.send({"type": "say", "room": 7, "text": "x"})
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.MALFORMED)
        web.send_frame(0x2, b"\x00\x01binary")
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.MALFORMED)
        web.send({"type": "join", "room": "no good"})
        error = web.expect("error")
        self.assertEqual(error["code"], codec.ErrorCode.INVALID_ROOM)
        self.assertEqual(error["details"], {"room": "no good"})
        web.send({"type": "say", "room": "general", "text": "still here"})
        self.assertEqual(web.expect("said")["text"], "still here")

    def test_an_oversized_message_closes_with_1009(self) -> None:
        web = self.connect_web()
        hello(web, "olga", "general")
        web.expect("entered")
        web.send({"type": "say", "room": "general", "text": "x" * 70_000})
        self.assertEqual(web.expect_closed(), [])
        self.assertEqual(web.close_code, 1009)
        self.server.wait_for(DISCONNECTED)

    def test_another_sites_page_is_refused_before_any_session(self) -> None:
        with self.assertRaises(WebSocketRefused) as refused:
            self.connect_web(origin="https://evil.example")
        self.assertEqual(refused.exception.status, 403)
        self.server.wait_for("origin 'https://evil.example' is not allowed")
        web = self.connect_web()  # the page's own origin is welcome
        hello(web, "own", "general")


class HistoryFetchTests(ServerTestCase):
    server_arguments = ("--history-replay", "1")

    def test_requests_after_a_history_fetch_wait_for_its_answer(self) -> None:
        web = self.connect_web()
        welcome = hello(web, "hana", "general")
        for number in range(3):
            web.send({"type": "say", "room": "general", "text": f"old {number}"})
            web.expect("said", text=f"old {number}")
        reload = self.connect_web()
        hello(reload, "", "general", token=welcome["token"])
        reload.expect("history", room="general")  # the last entry alone
        # Older entries are read by the history's thread: the answer comes
        # later, and the request read with the fetch waits for it.
        reload.send_together(
            {"type": "fetch_history", "room": "general", "count": 2},
            {"type": "say", "room": "general", "text": "after the fetch"},
        )
        older, said = reload.receive(), reload.receive()
        assert older is not None and said is not None
        self.assertEqual((older["type"], said["type"]), ("older", "said"))
        self.assertEqual([e["text"] for e in older["entries"]], ["old 0", "old 1"])
        self.assertEqual(said["text"], "after the fetch")


class WebLimitsTests(ServerTestCase):
    server_arguments = (
        "--idle-timeout",
        "1",
        "--ping-timeout",
        "1",
        "--flood-rate",
        "1",
        "--flood-burst",
        "3",
        "--web-origins",
        "https://chat.example.org",
    )

    def test_flooding_is_refused_then_dropped(self) -> None:
        web = self.connect_web(origin="https://chat.example.org")
        hello(web, "flo", "general")
        for number in range(30):
            web.send({"type": "say", "room": "general", "text": f"flood {number}"})
        self.assertEqual(web.expect("error")["code"], codec.ErrorCode.FLOODING)
        web.expect("error", code=codec.ErrorCode.LIMIT, fatal=True)
        web.expect_closed()
        self.assertEqual(web.close_code, 1008)

    def test_an_idle_tab_answering_pings_stays(self) -> None:
        web = self.connect_web(origin="https://chat.example.org")
        hello(web, "idle", "general")
        web.expect("entered")
        self.assertEqual(web.listen(4), [])  # nothing to read: only pings
        self.assertGreaterEqual(web.pings, 2)
        self.assertFalse(web.closed)
        web.send({"type": "say", "room": "general", "text": "still here"})
        web.expect("said", text="still here")

        web.answer_pings = False
        error = web.expect("error", fatal=True)
        self.assertIn("ping timeout", error["text"])
        web.expect_closed()

    def test_other_origins_than_web_origins_are_refused(self) -> None:
        with self.assertRaises(WebSocketRefused) as refused:
            self.connect_web()  # its own origin is not in WEB_ORIGINS
        self.assertEqual(refused.exception.status, 403)


class SlowReaderTests(ServerTestCase):
    server_arguments = ("--flood-rate", "0", "--sendq", "20000")

    def test_a_tab_that_stops_reading_is_dropped(self) -> None:
        slow = self.connect_web()
        hello(slow, "slow", "general")  # and then it reads no more
        talker = self.connect("line")
        talker.expect("[server] you are in #general")
        line = "MSG " + "x" * 4000
        for _ in range(4000):  # far more than the kernel's buffers hold
            talker.send(line)
            if any("output buffer full" in out for out in self.server.output[-5:]):
                break
        self.server.wait_for(r"dropping \S+: output buffer full", timeout=30)
        self.server.wait_for(r'client disconnected "slow"')
        other = self.connect_web()  # the others carry on
        hello(other, "other", "general")


class TLSTests(SynchronousTestCase):
    """The web front on an C{ssl:} endpoint: wss://, as a browser checks it."""

    def test_a_websocket_over_tls(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        pki = make_pki(folder)
        key = quoteStringArgument(pki.server_key)
        cert = quoteStringArgument(pki.server_cert)
        endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        server = ServerProcess(folder, "--web", endpoint).start()
        self.addCleanup(server.stop)
        context = ssl.create_default_context(cafile=pki.ca_cert)

        def wrap(plain: socket.socket) -> socket.socket:
            return context.wrap_socket(plain, server_hostname="localhost")

        web = WebClient(server.ports["web"], wrap=wrap)  # Origin: https://...
        self.addCleanup(web.close)
        welcome = hello(web, "secure", "general")
        self.assertEqual(welcome["user"]["nick"], "secure")
        web.send({"type": "say", "room": "general", "text": "over TLS"})
        self.assertEqual(web.expect("said")["text"], "over TLS")
        web.send({"type": "goodbye"})
        web.expect_closed()
        server.wait_for(DISCONNECTED)
