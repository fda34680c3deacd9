"""The framed front over StringTransport, alongside line-front users."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.codec import ErrorCode, Frame, RoomInfo, frame_bytes
from twistedchat.core.service import ChatService
from twistedchat.fronts.fanout import Fanout
from twistedchat.fronts.framed import FramedFront, FramedProtocol
from twistedchat.fronts.line import LineFront

from .test_line_front import Client as LineClient


class FramedClient:
    """A twistedchat client: a FramedProtocol on a StringTransport."""

    def __init__(self, front: FramedFront, port: int) -> None:
        address = IPv4Address("TCP", "127.0.0.1", port)
        self.transport = StringTransport(peerAddress=address)
        protocol = front.buildProtocol(address)
        assert isinstance(protocol, FramedProtocol)
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def send(self, *frames: Frame) -> None:
        for frame in frames:
            self.protocol.dataReceived(frame_bytes(frame))

    def received(self) -> list[Frame]:
        """The frames the server sent since the last call (its front having written)."""
        self.protocol.factory.outbox.flush()
        data: bytes = self.transport.value()
        self.transport.clear()
        frames = []
        while data:
            (length,) = struct.unpack(">I", data[:4])
            frames.append(codec.decode(data[4 : 4 + length]))
            data = data[4 + length :]
        return frames

    def close(self) -> None:
        self.protocol.connectionLost(None)

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


class FramedFrontTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1234.5)
        self.service = ChatService(self.clock, "general", delivery=Fanout())
        self.front = FramedFront(self.service, max_frame=1000)
        self.line_front = LineFront(self.service)
        self.next_port = 5000

    def client(self) -> FramedClient:
        self.next_port += 1
        return FramedClient(self.front, self.next_port)

    def hello(self, nick: str, *rooms: str, token: str = "") -> FramedClient:
        client = self.client()
        client.send(codec.Hello(codec.PROTOCOL_VERSION, nick, token, "fr", rooms))
        return client

    def error(self, client: FramedClient) -> codec.Error:
        (frame,) = client.received()
        assert isinstance(frame, codec.Error), frame
        return frame


class RegistrationTests(FramedFrontTestCase):
    def test_hello_welcome_and_rooms(self) -> None:
        self.hello("tutu", "dev").received()
        toto = self.hello("toto", "general", "dev")
        welcome, entered_general, entered_dev = toto.received()
        assert isinstance(welcome, codec.Welcome)
        self.assertEqual(welcome.version, codec.PROTOCOL_VERSION)
        self.assertEqual(welcome.user.nick, "toto")
        self.assertFalse(welcome.resumed)
        self.assertEqual(welcome.rooms, (RoomInfo("dev", 1),))
        self.assertEqual(self.service.identities.resume(welcome.token), welcome.user.id)
        self.assertEqual(
            entered_general,
            codec.Entered(1234500, "general", welcome.user, False, False),
        )
        self.assertEqual(entered_dev, codec.Entered(1234500, "dev", welcome.user))

    def test_requests_before_hello_are_refused_without_closing(self) -> None:
        client = self.client()
        client.send(codec.Say("general", "hi"))
        error = self.error(client)
        self.assertEqual((error.code, error.fatal), (ErrorCode.NOT_REGISTERED, False))
        client.send(codec.Ping(7))
        self.assertEqual(client.received(), [codec.Pong(7)])
        self.assertFalse(client.closed)

    def test_incompatible_version_is_refused_politely(self) -> None:
        client = self.client()
        client.send(codec.Hello(99, "toto"))
        error = self.error(client)
        self.assertEqual(error.code, ErrorCode.INCOMPATIBLE_VERSION)
        self.assertTrue(error.fatal)
        self.assertIn(f"version {codec.PROTOCOL_VERSION}, not 99", error.text)
        self.assertTrue(client.closed)
        client.send(codec.Hello(codec.PROTOCOL_VERSION, "toto"))
        self.assertEqual(client.received(), [])

    def test_taken_nick_can_be_retried(self) -> None:
        self.hello("toto")
        client = self.hello("TOTO")
        error = self.error(client)
        self.assertEqual(
            error,
            codec.Error(
                ErrorCode.NICK_IN_USE,
                'nick "TOTO" is already in use',
                details='{"nick":"TOTO"}',
            ),
        )
        client.send(codec.Hello(codec.PROTOCOL_VERSION, "toto[2]"))
        (welcome,) = client.received()
        assert isinstance(welcome, codec.Welcome)
        self.assertEqual(welcome.user.nick, "toto[2]")
        client.send(codec.Hello(codec.PROTOCOL_VERSION, "again"))
        self.assertEqual(self.error(client).code, ErrorCode.ALREADY_REGISTERED)

    def test_invalid_nick(self) -> None:
        self.assertEqual(self.error(self.hello("to to")).code, ErrorCode.INVALID_NICK)

    def test_bad_room_in_hello_is_reported_and_others_entered(self) -> None:
        client = self.hello("toto", "../x", "general")
        _, error, entered = client.received()
        assert isinstance(error, codec.Error)
        self.assertEqual(error.code, ErrorCode.INVALID_ROOM)
        self.assertIsInstance(entered, codec.Entered)


class ResumeTests(FramedFrontTestCase):
    def test_welcome_back_keeps_id_and_colour(self) -> None:
        toto = self.hello("toto", "general")
        welcome = toto.received()[0]
        assert isinstance(welcome, codec.Welcome)
        tutu = self.hello("tutu", "general")
        tutu.received()
        toto.close()
        tutu.received()
        back = self.hello("toto", "general", token=welcome.token)
        again, _ = back.received()
        assert isinstance(again, codec.Welcome)
        self.assertTrue(again.resumed)
        self.assertEqual(again.user, welcome.user)
        (seen,) = tutu.received()
        self.assertEqual(
            seen, codec.Entered(1234500, "general", welcome.user, False, True)
        )

    def test_forged_token_gets_fresh_identity_and_a_notice(self) -> None:
        toto = self.hello("toto")
        welcome = toto.received()[0]
        assert isinstance(welcome, codec.Welcome)
        toto.close()
        forged = welcome.user.id + ".AAAA"
        other = self.hello("toto", token=forged)
        fresh, error = other.received()
        assert isinstance(fresh, codec.Welcome) and isinstance(error, codec.Error)
        self.assertFalse(fresh.resumed)
        self.assertNotEqual(fresh.user.id, welcome.user.id)
        self.assertEqual((error.code, error.fatal), (ErrorCode.TOKEN_REFUSED, False))


class ChatTests(FramedFrontTestCase):
    def test_say_reaches_framed_and_line_users_and_echoes(self) -> None:
        toto = self.hello("toto", "general")
        tutu = self.hello("tutu", "general")
        line = LineClient(self.line_front, 6000)
        toto.received(), tutu.received(), line.lines()
        toto.send(codec.Say("general", "salut"))
        (echo,) = toto.received()
        assert isinstance(echo, codec.Said)
        self.assertEqual(
            (echo.user.nick, echo.text, echo.time), ("toto", "salut", 1234500)
        )
        self.assertEqual(tutu.received(), [echo])
        self.assertEqual(line.lines(), ["[toto] salut"])
        line.send("MSG bonjour\n")
        (said,) = toto.received()
        assert isinstance(said, codec.Said)
        self.assertEqual((said.user.nick, said.text), ("127.0.0.1:6000", "bonjour"))

    def test_whisper_image_nick_part(self) -> None:
        toto = self.hello("toto", "general")
        tutu = self.hello("tutu", "general")
        toto.received(), tutu.received()
        toto.send(codec.Whisper("tutu", "psst"))
        (echo,) = toto.received()
        self.assertEqual(tutu.received(), [echo])
        assert isinstance(echo, codec.Whispered)
        self.assertEqual(echo.to, "tutu")
        toto.send(codec.ShowImage("general", "/\\\n\\/"))
        (image,) = tutu.received()
        assert isinstance(image, codec.ImageShown)
        self.assertEqual(image.art, "/\\\n\\/")
        toto.send(codec.ChangeNick("Toto2"))
        (renamed,) = tutu.received()
        assert isinstance(renamed, codec.Renamed)
        self.assertEqual((renamed.old, renamed.user.nick), ("toto", "Toto2"))
        toto.received()
        toto.send(codec.Part("general", "bye"))
        (left,) = tutu.received()
        assert isinstance(left, codec.Left)
        self.assertEqual(left.reason, "bye")

    def test_lists(self) -> None:
        toto = self.hello("toto", "general")
        self.hello("tutu", "general", "dev")
        toto.received()
        toto.send(codec.ListRooms(), codec.ListNames("general"))
        rooms, names = toto.received()
        self.assertEqual(
            rooms, codec.RoomList((RoomInfo("dev", 1), RoomInfo("general", 2)))
        )
        assert isinstance(names, codec.NameList)
        self.assertEqual([user.nick for user in names.users], ["toto", "tutu"])

    def test_kick_needs_room_operator(self) -> None:
        toto = self.hello("toto", "general")
        tutu = self.hello("tutu", "general")
        toto.received(), tutu.received()
        tutu.send(codec.Kick("general", "toto"))
        self.assertEqual(self.error(tutu).code, ErrorCode.NOT_ROOM_OPERATOR)
        toto.send(codec.Kick("general", "tutu", "out"))
        (kicked,) = tutu.received()
        assert isinstance(kicked, codec.KickedOut)
        self.assertEqual(
            (kicked.user.nick, kicked.by.nick, kicked.reason), ("tutu", "toto", "out")
        )

    def test_goodbye(self) -> None:
        toto = self.hello("toto", "general")
        tutu = self.hello("tutu", "general")
        toto.received(), tutu.received()
        toto.send(codec.Goodbye("ciao"), codec.Say("general", "too late"))
        self.assertTrue(toto.closed)
        (gone,) = tutu.received()
        assert isinstance(gone, codec.Gone)
        self.assertEqual((gone.user.nick, gone.message), ("toto", "ciao"))
        self.assertEqual(toto.received(), [])
        toto.close()
        self.assertEqual(tutu.received(), [])

    def test_errors_map_to_codes(self) -> None:
        toto = self.hello("toto", "general")
        toto.received()
        for request, code in [
            (codec.Say("nowhere", "x"), ErrorCode.NO_SUCH_ROOM),
            (codec.Say("general", "  "), ErrorCode.EMPTY_MESSAGE),
            (codec.Whisper("nobody", "x"), ErrorCode.NO_SUCH_NICK),
            (codec.Join("general"), ErrorCode.ALREADY_IN_ROOM),
            (codec.Part("dev"), ErrorCode.NOT_IN_ROOM),
            (codec.Join("a/b"), ErrorCode.INVALID_ROOM),
        ]:
            toto.send(request)
            self.assertEqual(self.error(toto).code, code, request)


class HostileInputTests(FramedFrontTestCase):
    def test_malformed_and_unknown_frames_keep_the_connection(self) -> None:
        toto = self.hello("toto", "general")
        toto.received()
        user = self.service.user("toto").user
        for payload, code in [
            (b"", ErrorCode.MALFORMED),
            (b"\x02\x00\x07gen", ErrorCode.MALFORMED),
            (b"\x7f", ErrorCode.UNKNOWN_TYPE),
            (codec.encode(codec.Said(0, "r", user, "x")), ErrorCode.UNKNOWN_TYPE),
            (b"\x04\x00\x02\xff\xfe", ErrorCode.MALFORMED),
        ]:
            toto.protocol.dataReceived(struct.pack(">I", len(payload)) + payload)
            error = self.error(toto)
            self.assertEqual((error.code, error.fatal), (code, False), payload)
        toto.send(codec.Say("general", "still here"))
        self.assertIsInstance(toto.received()[0], codec.Said)

    def test_oversized_frame_closes_with_an_error(self) -> None:
        toto = self.hello("toto", "general")
        toto.received()
        toto.protocol.dataReceived(struct.pack(">I", 1001) + b"x" * 10)
        error = self.error(toto)
        self.assertEqual((error.code, error.fatal), (ErrorCode.TOO_LARGE, True))
        self.assertTrue(toto.closed)
        toto.protocol.dataReceived(b"x" * 2000)
        self.assertEqual(toto.received(), [])

    def test_frames_split_anywhere(self) -> None:
        tutu = self.hello("tutu", "general")
        tutu.received()
        toto = self.client()
        data = frame_bytes(
            codec.Hello(codec.PROTOCOL_VERSION, "toto", "", "", ("general",))
        ) + frame_bytes(codec.Say("general", "é" * 10))
        for i in range(len(data)):
            toto.protocol.dataReceived(data[i : i + 1])
        _, said = tutu.received()
        assert isinstance(said, codec.Said)
        self.assertEqual(said.text, "é" * 10)


class FuzzTests(SynchronousTestCase):
    """Whatever a peer sends, in whatever pieces: no crash, others unaffected."""

    @settings(max_examples=200, deadline=None)
    @given(
        chunks=st.lists(
            st.one_of(
                st.binary(max_size=64),
                st.builds(
                    lambda n, body: struct.pack(">I", n) + body,
                    st.integers(0, 2000),
                    st.binary(max_size=40),
                ),
                st.sampled_from(
                    [
                        frame_bytes(
                            codec.Hello(
                                codec.PROTOCOL_VERSION, "fuzz", "", "", ("general",)
                            )
                        ),
                        frame_bytes(codec.Say("general", "\x1b[2J")),
                        frame_bytes(codec.Join("../etc")),
                        frame_bytes(codec.Goodbye("x")),
                    ]
                ),
            ),
            max_size=20,
        )
    )
    def test_random_input(self, chunks: list[bytes]) -> None:
        service = ChatService(Clock(), "general", delivery=Fanout())
        front = FramedFront(service, max_frame=1000)
        observer = FramedClient(front, 1)
        observer.send(
            codec.Hello(codec.PROTOCOL_VERSION, "observer", "", "", ("general",))
        )
        fuzzer = FramedClient(front, 2)
        for chunk in chunks:
            fuzzer.protocol.dataReceived(chunk)
        for frame in fuzzer.received():
            self.assertIsInstance(frame, Frame)
        if fuzzer.closed:
            fuzzer.close()
        talker = FramedClient(front, 3)
        talker.send(codec.Hello(codec.PROTOCOL_VERSION, "talker", "", "", ("general",)))
        talker.send(codec.Say("general", "still working"))
        seen = observer.received()
        self.assertIn(
            "still working", [f.text for f in seen if isinstance(f, codec.Said)]
        )
        self.assertEqual(self.flushLoggedErrors(), [])


class IrcEventTests(FramedFrontTestCase):
    def test_topic_modes_and_invitations_reach_framed_clients(self) -> None:
        toto = self.hello("toto", "general")
        tutu = self.hello("tutu", "general")
        toto.received(), tutu.received()
        op = toto.protocol.session
        assert op is not None
        self.service.set_topic(op, "general", "bienvenue")
        self.service.change_modes(op, "general", [("+o", "tutu"), ("-t", "")])
        topic, modes = tutu.received()
        self.assertEqual(
            topic, codec.TopicSet(1234500, "general", op.user, "bienvenue")
        )
        self.assertEqual(
            modes, codec.ModesSet(1234500, "general", op.user, "+o tutu -t")
        )
        self.service.join(op, "dev")
        self.service.invite(op, "tutu", "dev")
        self.assertEqual(tutu.received(), [codec.Invitation(1234500, op.user, "dev")])
