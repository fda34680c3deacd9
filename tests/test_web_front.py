"""
The web front in process: the JSON spelling of codec's frames, and the site
(static files, security headers, the upgrade with its Origin check) with the
WebSocket protocol behind it, over StringTransport on a task.Clock.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IResponse

from twistedchat import codec
from twistedchat.codec import ErrorCode, RoomInfo
from twistedchat.core.events import User
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.line import LineFront
from twistedchat.fronts.policy import Limits
from twistedchat.fronts.web import WebFront, WebProtocol, build_site
from twistedchat.fronts.web.messages import (
    REQUESTS,
    BadMessage,
    request,
    to_json,
    type_name,
    websocket_frame,
)
from twistedchat.fronts.web.site import SECURITY_HEADERS

from .test_line_front import Client as LineClient

TOTO = User("a1", "toto", 42)


class JSONSpellingTests(SynchronousTestCase):
    """Codec's frames in JSON: one definition, two spellings."""

    def test_type_names(self) -> None:
        self.assertEqual(type_name(codec.JoinWithKey), "join_with_key")
        self.assertEqual(type_name(codec.ImageShown), "image_shown")
        self.assertEqual(type_name(codec.Hello), "hello")
        self.assertEqual(
            sorted(REQUESTS),
            [
                "act",
                "act_privately",
                "change_nick",
                "fetch_history",
                "goodbye",
                "hello",
                "join",
                "join_with_key",
                "kick",
                "list_names",
                "list_rooms",
                "part",
                "ping",
                "pong",
                "say",
                "set_away",
                "set_topic",
                "show_image",
                "whisper",
            ],
        )

    def test_events_as_json(self) -> None:
        said = json.loads(to_json(codec.Said(1700000000123, "general", TOTO, "é <b>")))
        self.assertEqual(
            said,
            {
                "type": "said",
                "time": 1700000000123,
                "room": "general",
                "user": {"id": "a1", "nick": "toto", "colour": 42},
                "text": "é <b>",
            },
        )
        welcome = json.loads(
            to_json(codec.Welcome(3, TOTO, "tok", True, (RoomInfo("general", 2),)))
        )
        self.assertEqual(welcome["rooms"], [{"name": "general", "members": 2}])
        self.assertIs(welcome["resumed"], True)

    def test_json_carried_by_codec_is_json_here(self) -> None:
        entries = '[{"id":"x","text":"hi"}]'
        history = json.loads(to_json(codec.History("general", entries)))
        self.assertEqual(history["entries"], [{"id": "x", "text": "hi"}])
        self.assertEqual(json.loads(to_json(codec.History("r", "")))["entries"], [])
        error = json.loads(
            to_json(codec.Error(13, "no such room", False, '{"room":"x"}'))
        )
        self.assertEqual(error["details"], {"room": "x"})
        self.assertEqual(json.loads(to_json(codec.Error(1, "bad")))["details"], {})

    def test_every_frame_is_a_json_object(self) -> None:
        for cls in codec._FRAMES.values():
            self.assertIn(type_name(cls), to_json(_example(cls)))
            self.assertEqual(json.loads(to_json(_example(cls)))["type"], type_name(cls))

    def test_requests_read(self) -> None:
        self.assertEqual(
            request('{"type":"hello","version":3,"nick":"toto","rooms":["a","b"]}'),
            codec.Hello(3, "toto", "", "", ("a", "b")),
        )
        self.assertEqual(
            request('{"type":"part","room":"a","extra":1}'), codec.Part("a", "")
        )
        self.assertEqual(request('{"type":"list_rooms"}'), codec.ListRooms())

    def test_bad_requests(self) -> None:
        for text, code, says in [
            ("{oops", ErrorCode.MALFORMED, "not JSON"),
            ('"say"', ErrorCode.MALFORMED, "a JSON object"),
            ('{"room":"a"}', ErrorCode.MALFORMED, '"type"'),
            ('{"type":"said","room":"a"}', ErrorCode.UNKNOWN_TYPE, "'said'"),
            ('{"type":"say","room":"a"}', ErrorCode.MALFORMED, "'text'"),
            ('{"type":"say","room":["a"],"text":"x"}', ErrorCode.MALFORMED, "string"),
            (
                '{"type":"fetch_history","room":"a","count":-1}',
                ErrorCode.MALFORMED,
                "0 to",
            ),
            (
                '{"type":"fetch_history","room":"a","count":true}',
                ErrorCode.MALFORMED,
                "boolean",
            ),
            (
                '{"type":"hello","version":3,"nick":"a","rooms":"a"}',
                ErrorCode.MALFORMED,
                "list",
            ),
            ('{"type":"ping","token":4294967296}', ErrorCode.MALFORMED, "whole number"),
        ]:
            with self.assertRaises(BadMessage) as refused:
                request(text)
            self.assertEqual(refused.exception.code, code, text)
            self.assertIn(says, str(refused.exception), text)

    def test_websocket_frame_lengths(self) -> None:
        for size, head in [(125, 2), (126, 4), (65535, 4), (65536, 10)]:
            frame = websocket_frame("x" * size)
            self.assertEqual(len(frame), head + size)
            self.assertEqual(frame[0], 0x81)  # final, text
            self.assertEqual(_read_frames(frame), [(1, b"x" * size)])


def _example(cls: type[codec.Frame]) -> codec.Frame:
    values: list[Any] = []
    for name, field in cls.FIELDS:
        if field is codec.USER:
            values.append(TOTO)
        elif field in (codec.U16, codec.U32, codec.TIME):
            values.append(7)
        elif field is codec.BOOL:
            values.append(True)
        elif isinstance(field, codec._List):
            values.append(())
        elif name in ("entries",):
            values.append("[]")
        elif name == "details":
            values.append("")
        else:
            values.append(f"{name}!")
    return cls(*values)


def _read_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The server's (unmasked) frames in C{data}."""
    frames = []
    while data:
        size, start = data[1] & 0x7F, 2
        if size == 126:
            (size,), start = struct.unpack(">H", data[2:4]), 4
        elif size == 127:
            (size,), start = struct.unpack(">Q", data[2:10]), 10
        frames.append((data[0] & 0x0F, data[start : start + size]))
        data = data[start + size :]
    return frames


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
    else:
        head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Tab:
    """A browser tab on a StringTransport: HTTP through the site, then frames."""

    def __init__(self, test: WebSiteTestCase, port: int) -> None:
        self.test = test
        address = IPv4Address("TCP", "127.0.0.1", port)
        self.transport = StringTransport(peerAddress=address)
        self.channel = test.site.buildProtocol(address)
        assert self.channel is not None
        self.channel.makeConnection(self.transport)

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        """An HTTP GET: status, headers (lower-case names), body."""
        self.http(path, headers)
        head, _, body = self.transport.value().partition(b"\r\n\r\n")
        self.transport.clear()
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.split(": ", 1) for line in lines[1:])
        return status, {k.lower(): v for k, v in fields.items()}, body

    def http(self, path: str, headers: dict[str, str]) -> None:
        lines = [f"GET {path} HTTP/1.1", "Host: chat.example.org:8080"]
        lines += [
            f"{name.replace('_', '-')}: {value}" for name, value in headers.items()
        ]
        self.channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def upgrade(self, origin: str | None = "http://chat.example.org:8080") -> int:
        """The WebSocket upgrade; the HTTP status of its answer."""
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        }
        if origin is not None:
            headers["Origin"] = origin
        self.http("/ws", headers)
        head = self.transport.value().partition(b"\r\n\r\n")[0]
        self.transport.clear()
        return int(head.split()[1])

    @property
    def protocol(self) -> WebProtocol:
        protocol = self.transport.protocol  # type: ignore[attr-defined]
        assert isinstance(protocol, WebProtocol)
        return protocol

    def send(self, **message: Any) -> None:
        self.protocol.dataReceived(_masked(1, json.dumps(message).encode()))

    def frames(self) -> list[tuple[int, bytes]]:
        self.test.front.outbox.flush()
        data = self.transport.value()
        self.transport.clear()
        return _read_frames(data)

    def received(self) -> list[dict[str, Any]]:
        """The JSON messages sent since the last call (pings answered)."""
        messages = []
        for opcode, payload in self.frames():
            if opcode == 1:
                messages.append(json.loads(payload))
            elif opcode == 9:
                self.protocol.dataReceived(_masked(10, payload))
        return messages

    def types(self) -> list[str]:
        return [message["type"] for message in self.received()]

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


class WebSiteTestCase(SynchronousTestCase):
    limits = Limits()
    origins: tuple[str, ...] = ()

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.service = ChatService(self.clock, "general", delivery=Fanout())
        self.front = WebFront(self.service, max_message=2000, limits=self.limits)
        static = Path(self.mktemp())
        static.mkdir()
        (static / "index.html").write_text("<!doctype html><title>chat</title>")
        (static / "app.js").write_text("export const a = 1;")
        (static / ".secret").write_text("hidden")
        self.site = build_site(self.front, self.origins, static, timeout=5)
        self.port = 40000

    def tab(self) -> Tab:
        self.port += 1
        return Tab(self, self.port)

    def chatting(self, nick: str, *rooms: str) -> Tab:
        tab = self.tab()
        self.assertEqual(tab.upgrade(), 101)
        tab.send(
            type="hello", version=codec.PROTOCOL_VERSION, nick=nick, rooms=list(rooms)
        )
        return tab


class _Body(Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback(b"".join(self.data))


def read_body(response: IResponse) -> Deferred[bytes]:
    """All of C{response}'s body (not web.client.readBody: it warns here)."""
    body = _Body()
    response.deliverBody(body)
    return body.done


class StaticFilesTests(TestCase):
    """The page's files over real HTTP on loopback (files are sent by producers)."""

    def setUp(self) -> None:
        static = Path(self.mktemp())
        static.mkdir()
        (static / "index.html").write_text("<!doctype html><title>chat</title>")
        (static / "app.js").write_text("export const a = 1;")
        (static / ".secret").write_text("hidden")
        service = ChatService(reactor, "general", delivery=Fanout())
        site = build_site(WebFront(service), (), static)
        self.port: IListeningPort = reactor.listenTCP(
            0,
            site,  # type: ignore[arg-type]
            interface="127.0.0.1",
        )
        self.addCleanup(self.port.stopListening)

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """The status, headers (one value each, lower-case names) and body."""
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        port = cast(IPv4Address, self.port.getHost()).port
        response = await agent.request(
            b"GET", f"http://127.0.0.1:{port}{path}".encode()
        )
        body = read_body(response)
        fields = {
            name.decode().lower(): values[0].decode()
            for name, values in response.headers.getAllRawHeaders()
        }
        return response.code, fields, await body

    def test_the_page_with_its_security_headers(self) -> Deferred[None]:
        async def scenario() -> None:
            status, headers, body = await self.get("/")
            self.assertEqual(status, 200)
            self.assertIn(b"<title>chat</title>", body)
            self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
            for name, value in SECURITY_HEADERS:
                self.assertEqual(headers[name.decode().lower()], value.decode())
            policy = headers["content-security-policy"]
            self.assertIn("default-src 'self'", policy)
            self.assertNotIn("unsafe-inline", policy)

        return Deferred.fromCoroutine(scenario())

    def test_modules_are_javascript(self) -> Deferred[None]:
        async def scenario() -> None:
            status, headers, _ = await self.get("/app.js")
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "text/javascript; charset=utf-8")
            self.assertEqual(headers["x-content-type-options"], "nosniff")

        return Deferred.fromCoroutine(scenario())

    def test_no_hidden_file_no_listing(self) -> Deferred[None]:
        async def scenario() -> None:
            self.assertEqual((await self.get("/.secret"))[0], 404)
            status, headers, _ = await self.get("/nothing-here")
            self.assertEqual(status, 404)
            self.assertIn("content-security-policy", headers)  # on errors too

        return Deferred.fromCoroutine(scenario())


class UpgradeOnlyTests(WebSiteTestCase):
    def test_the_websocket_path_without_an_upgrade(self) -> None:
        status, _, body = self.tab().get("/ws")
        self.assertEqual(status, 426)
        self.assertIn(b"WebSocket", body)


class OriginTests(WebSiteTestCase):
    def test_the_pages_own_origin_over_http_or_https(self) -> None:
        self.assertEqual(self.tab().upgrade("http://chat.example.org:8080"), 101)
        self.assertEqual(self.tab().upgrade("https://Chat.Example.org:8080/"), 101)

    def test_another_origin_is_refused_before_any_session(self) -> None:
        for origin in (
            "http://evil.example",
            "http://chat.example.org:8081",
            "http://chat.example.org.evil.example:8080",
            "null",
        ):
            tab = self.tab()
            self.assertEqual(tab.upgrade(origin), 403, origin)
            self.assertNotIsInstance(
                getattr(tab.transport, "protocol", None), WebProtocol
            )
        self.assertEqual(self.front.connections.total, 0)

    def test_no_origin_is_no_browser(self) -> None:
        self.assertEqual(self.tab().upgrade(None), 101)


class WebOriginsTests(WebSiteTestCase):
    origins = ("https://chat.example.org", "http://localhost:8080")

    def test_only_the_listed_origins(self) -> None:
        self.assertEqual(self.tab().upgrade("https://chat.example.org"), 101)
        self.assertEqual(self.tab().upgrade("http://localhost:8080"), 101)
        self.assertEqual(self.tab().upgrade("http://chat.example.org:8080"), 403)


class WebSocketChatTests(WebSiteTestCase):
    def test_hello_join_say_with_a_netcat_user(self) -> None:
        netcat = LineClient(LineFront(self.service), 5000)
        netcat.lines()
        tab = self.chatting("toto", "general")
        self.assertEqual(tab.types(), ["welcome", "entered"])
        tab.send(type="say", room="general", text="<script>x</script>")
        self.assertEqual(tab.received()[0]["text"], "<script>x</script>")
        self.assertIn("[toto] <script>x</script>", netcat.lines())
        netcat.send("MSG hi toto\r\n")
        (said,) = tab.received()
        self.assertEqual((said["type"], said["text"]), ("said", "hi toto"))

    def test_one_rendering_for_every_member(self) -> None:
        first = self.chatting("first", "general")
        second = self.chatting("second", "general")
        first.received(), second.received()
        first.send(type="say", room="general", text="once")
        (a,), (b,) = first.frames(), second.frames()
        self.assertEqual(a, b)

    def test_bad_input_keeps_the_connection(self) -> None:
        tab = self.chatting("toto", "general")
        tab.received()
        tab.protocol.dataReceived(_masked(1, b"{nope"))
        tab.protocol.dataReceived(_masked(2, b"\x01\x02"))
        tab.send(type="nope")
        tab.send(type="join", room="bad room")
        codes = [m["code"] for m in tab.received()]
        self.assertEqual(
            codes,
            [
                ErrorCode.MALFORMED,
                ErrorCode.MALFORMED,
                ErrorCode.UNKNOWN_TYPE,
                ErrorCode.INVALID_ROOM,
            ],
        )
        self.assertFalse(tab.closed)

    def test_a_message_over_the_limit_closes_with_1009(self) -> None:
        tab = self.chatting("toto", "general")
        tab.received()
        tab.send(type="say", room="general", text="x" * 3000)
        ((opcode, payload),) = tab.frames()
        self.assertEqual((opcode, struct.unpack(">H", payload[:2])[0]), (8, 1009))

    def test_registration_timeout(self) -> None:
        tab = self.tab()
        self.assertEqual(tab.upgrade(), 101)
        self.clock.advance(self.limits.registration_timeout + 1)
        frames = tab.frames()
        error = json.loads(frames[0][1])
        self.assertEqual((error["code"], error["fatal"]), (ErrorCode.LIMIT, True))
        self.assertIn("registration timeout", error["text"])
        self.assertEqual(frames[1][0], 8)  # close
        self.assertEqual(struct.unpack(">H", frames[1][1][:2])[0], 1008)
        self.assertTrue(tab.closed)

    def test_held_messages_keep_their_order(self) -> None:
        tab = self.chatting("toto", "general")
        tab.received()
        tab.protocol.hold_input()  # as while a command finishes later
        tab.send(type="say", room="general", text="one")
        tab.send(type="say", room="general", text="two")
        self.assertEqual(tab.received(), [])
        tab.protocol.release_input()
        self.assertEqual([m["text"] for m in tab.received()], ["one", "two"])


class IdleTests(WebSiteTestCase):
    limits = Limits(idle_timeout=10, ping_timeout=10)

    def test_an_idle_websocket_answering_pings_outlives_the_http_timeout(self) -> None:
        tab = self.chatting("toto", "general")
        tab.received()
        for _ in range(20):  # 100 s: twenty times the site's HTTP timeout
            self.clock.advance(5)
            tab.received()  # pings answered
        self.assertFalse(tab.closed)
        self.assertGreater(tab.protocol._pings, 3)

    def test_no_pong_drops(self) -> None:
        tab = self.chatting("toto", "general")
        tab.received()
        self.clock.advance(10)
        self.assertEqual([op for op, _ in tab.frames()], [9])  # a ping, unanswered
        self.clock.advance(10)
        (error,) = [json.loads(p) for op, p in tab.frames() if op == 1]
        self.assertIn("ping timeout", error["text"])
        self.assertTrue(tab.closed)


class AdmissionTests(WebSiteTestCase):
    limits = Limits(max_per_address=1)

    def test_too_many_from_one_address_refused_before_the_handshake(self) -> None:
        self.assertEqual(self.tab().upgrade(), 101)
        second = self.tab()
        self.assertEqual(second.upgrade(), 503)
        self.assertTrue(second.closed)
        self.assertEqual(self.front.connections.total, 1)
