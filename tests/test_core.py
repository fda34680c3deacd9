"""The core ChatService, without any front or network."""

from __future__ import annotations

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twistedchat.core import errors
from twistedchat.core.events import (
    Event,
    Image,
    Invited,
    Joined,
    Kicked,
    Killed,
    Message,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    TopicChanged,
    User,
)
from twistedchat.core.identity import PALETTE, Identities
from twistedchat.core.names import fold_nick, is_valid_nick, is_valid_room
from twistedchat.core.service import ChatService, IChatClient, Session


@implementer(IChatClient)
class RecordingClient:
    """A front that keeps what it is given, one event at a time."""

    echo_messages = False
    echo_actions = False

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def disconnect(self) -> None:
        self.closed = True

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


@implementer(IChatClient)
class BrokenClient(RecordingClient):
    def deliver(self, event: Event) -> None:
        raise OSError("connection reset")


class NamesTests(SynchronousTestCase):
    def test_nick_rules(self) -> None:
        for good in ["toto", "T0t0", "a" * 30, "_-[]{}\\|^", "42"]:
            self.assertTrue(is_valid_nick(good), good)
        for bad in ["", "a" * 31, "to to", "toto!", "été", "server", "SeRvEr", "a:b"]:
            self.assertFalse(is_valid_nick(bad), bad)

    def test_rfc1459_folding(self) -> None:
        self.assertEqual(fold_nick("ToTo[]\\^"), "toto{}|~")

    def test_room_rules(self) -> None:
        for good in ["general", "dev-ops", "a.b_c", "café", "x" * 50]:
            self.assertTrue(is_valid_room(good), good)
        for bad in ["", "../etc", "a/b", "a b", "x" * 51, "#general", "a,b"]:
            self.assertFalse(is_valid_room(bad), bad)


class ServiceTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.checker = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        self.service = ChatService(self.clock, "general", self.checker)

    def user(
        self, nick: str, room: str | None = "general"
    ) -> tuple[Session, RecordingClient]:
        client = RecordingClient()
        session = self.service.connect(client, nick)
        if room is not None:
            self.service.join(session, room)
        return session, client


class SessionTests(ServiceTestCase):
    def test_connect_rejects_bad_and_taken_nicks(self) -> None:
        self.user("toto")
        self.assertRaises(
            errors.InvalidNick, self.service.connect, RecordingClient(), "to to"
        )
        self.assertRaises(
            errors.NickInUse, self.service.connect, RecordingClient(), "TOTO"
        )
        self.assertRaises(
            errors.InvalidNick, self.service.connect, RecordingClient(), "server"
        )

    def test_provisional_nick_skips_user_rules(self) -> None:
        session = self.service.connect(
            RecordingClient(), "127.0.0.1:5000", provisional=True
        )
        self.assertEqual(session.nick, "127.0.0.1:5000")
        self.assertEqual(self.service.user("127.0.0.1:5000").user, session.user)

    def test_nick_change_reaches_each_peer_once(self) -> None:
        toto, _ = self.user("toto")
        self.service.join(toto, "dev")
        tutu, tutu_client = self.user("tutu")
        self.service.join(tutu, "dev")
        tutu_client.take()
        self.clock.advance(5)
        before = toto.user
        event = self.service.change_nick(toto, "Toto2")
        self.assertEqual(event, NickChanged(1005.0, "toto", toto.user))
        self.assertEqual(toto.user, User(before.id, "Toto2", before.colour))
        self.assertEqual(tutu_client.take(), [event])
        self.assertEqual(self.service.user("toto2").user, toto.user)
        self.assertRaises(errors.NoSuchNick, self.service.user, "toto")

    def test_nick_change_refusals_change_nothing(self) -> None:
        toto, toto_client = self.user("toto")
        self.user("tutu")
        toto_client.take()
        self.assertRaises(errors.NickInUse, self.service.change_nick, toto, "TUTU")
        self.assertRaises(errors.InvalidNick, self.service.change_nick, toto, "x" * 31)
        self.assertEqual(toto.nick, "toto")
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])

    def test_case_change_of_own_nick_is_allowed(self) -> None:
        toto, _ = self.user("toto")
        self.service.change_nick(toto, "TOTO")
        self.assertEqual(self.service.names("general"), ["TOTO"])

    def test_disconnect_tells_peers_once_and_frees_everything(self) -> None:
        toto, _ = self.user("toto")
        self.service.join(toto, "dev")
        tutu, tutu_client = self.user("tutu")
        self.service.join(tutu, "dev")
        tutu_client.take()
        event = self.service.disconnect(toto, "bye bye")
        self.assertEqual(event, Quit(1000.0, toto.user, "bye bye"))
        self.assertEqual(tutu_client.take(), [event])
        self.assertIsNone(self.service.disconnect(toto, "again"))
        self.assertEqual(tutu_client.take(), [])
        self.assertEqual(self.service.names("general"), ["tutu"])
        self.assertFalse(self.service.nick_taken("toto"))
        self.user("toto", room=None)  # the nick is free again

    def test_broken_member_is_dropped_and_others_still_served(self) -> None:
        toto, _ = self.user("toto")
        _, tutu_client = self.user("tutu")
        broken = BrokenClient()
        session = self.service.connect(broken, "broken")
        self.service.join(session, "general")
        tutu_client.take()
        said = self.service.say(toto, "general", "hello")
        self.assertTrue(broken.closed)
        self.assertFalse(session.connected)
        self.assertEqual(
            tutu_client.take(),
            [
                Message(1000.0, "general", toto.user, "hello", msgid=said.msgid),
                Quit(1000.0, session.user, "delivery failed"),
            ],
        )
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])
        self.flushLoggedErrors(OSError)

    def test_joining_a_room_whose_only_member_is_broken(self) -> None:
        broken = BrokenClient()
        self.service.join(self.service.connect(broken, "broken"), "general")
        toto, _ = self.user("toto")
        self.assertTrue(broken.closed)
        self.assertEqual(self.service.names("general"), ["toto"])
        self.service.say(toto, "general", "still a real room")
        self.flushLoggedErrors(OSError)


class RoomTests(ServiceTestCase):
    def test_join_creates_room_with_creator_as_operator(self) -> None:
        toto, toto_client = self.user("toto")
        tutu, _ = self.user("tutu")
        self.assertTrue(self.service.room("general").is_operator(toto.user))
        self.assertFalse(self.service.room("general").is_operator(tutu.user))
        self.assertEqual(toto_client.take(), [Joined(1000.0, "general", tutu.user)])

    def test_join_refusals(self) -> None:
        toto, _ = self.user("toto")
        self.assertRaises(errors.AlreadyInRoom, self.service.join, toto, "GENERAL")
        self.assertRaises(errors.InvalidRoomName, self.service.join, toto, "../x")

    def test_say_reaches_the_others_not_the_sender(self) -> None:
        toto, toto_client = self.user("toto")
        _, tutu_client = self.user("tutu")
        _, tata_client = self.user("tata")
        toto_client.take(), tutu_client.take()
        self.clock.advance(2.5)
        event = self.service.say(toto, "general", "hello world!")
        self.assertEqual(
            event,
            Message(1002.5, "general", toto.user, "hello world!", msgid=event.msgid),
        )
        self.assertEqual(tutu_client.take(), [event])
        self.assertEqual(tata_client.take(), [event])
        self.assertEqual(toto_client.take(), [])

    def test_say_refusals(self) -> None:
        toto, _ = self.user("toto")
        self.assertRaises(errors.NoSuchRoom, self.service.say, toto, "nowhere", "hi")
        self.assertRaises(errors.EmptyMessage, self.service.say, toto, "general", "  ")

    def test_message_from_outside_the_room(self) -> None:
        toto, _ = self.user("toto", room="dev")
        _, tutu_client = self.user("tutu")
        said = self.service.say(toto, "general", "hi from dev")
        self.assertEqual(
            tutu_client.take(),
            [Message(1000.0, "general", toto.user, "hi from dev", msgid=said.msgid)],
        )

    def test_names_in_join_order_and_list(self) -> None:
        for nick in ["toto", "tutu", "tata"]:
            self.user(nick)
        self.user("zaza", room="Annex")
        self.assertEqual(self.service.names("general"), ["toto", "tutu", "tata"])
        self.assertEqual(
            [(r.name, r.members) for r in self.service.list_rooms()],
            [("Annex", 1), ("general", 3)],
        )
        self.assertRaises(errors.NoSuchRoom, self.service.names, "nowhere")

    def test_part_and_empty_room_closes(self) -> None:
        toto, _ = self.user("toto")
        tutu, tutu_client = self.user("tutu")
        event = self.service.part(toto, "general", "lunch")
        self.assertEqual(
            tutu_client.take()[-1], Parted(1000.0, "general", toto.user, "lunch")
        )
        self.assertEqual(event.reason, "lunch")
        self.assertRaises(errors.NotInRoom, self.service.part, toto, "general")
        self.service.disconnect(tutu)
        self.assertEqual([(r.name, r.members) for r in self.service.list_rooms()], [])


class PrivilegeTests(ServiceTestCase):
    def test_only_room_operators_kick(self) -> None:
        toto, _ = self.user("toto")
        tutu, tutu_client = self.user("tutu")
        tata, tata_client = self.user("tata")
        tutu_client.take(), tata_client.take()
        self.assertRaises(
            errors.NotRoomOperator, self.service.kick, tutu, "general", "toto"
        )
        event = self.service.kick(toto, "general", "TATA", "spam")
        self.assertEqual(event, Kicked(1000.0, "general", tata.user, toto.user, "spam"))
        self.assertEqual(tata_client.take(), [event])
        self.assertEqual(tutu_client.take(), [event])
        self.assertEqual(self.service.names("general"), ["toto", "tutu"])
        self.assertTrue(tata.connected)
        self.assertEqual(self.service.user_of(tata).rooms, ())

    def test_kick_refusals(self) -> None:
        toto, _ = self.user("toto")
        self.user("zaza", room="dev")
        self.assertRaises(
            errors.NoSuchNick, self.service.kick, toto, "general", "nobody"
        )
        self.assertRaises(
            errors.UserNotInRoom, self.service.kick, toto, "general", "zaza"
        )
        self.assertRaises(errors.NoSuchRoom, self.service.kick, toto, "nowhere", "zaza")

    def test_server_operator_kicks_anywhere(self) -> None:
        self.user("toto")
        admin, _ = self.user("admin", room=None)
        self.assertRaises(
            errors.NotRoomOperator, self.service.kick, admin, "general", "toto"
        )
        self.successResultOf(self.service.oper(admin, "admin", "secret"))
        self.service.kick(admin, "general", "toto")
        self.assertEqual([(r.name, r.members) for r in self.service.list_rooms()], [])

    def test_kill(self) -> None:
        tata, tata_client = self.user("tata")
        tutu, tutu_client = self.user("tutu")
        _, toto_client = self.user("toto")
        tata_client.take(), tutu_client.take()
        self.assertRaises(
            errors.NotServerOperator, self.service.kill, tata, "tutu", "x"
        )
        self.assertEqual(
            self.successResultOf(self.service.oper(tata, "admin", "secret")), "admin"
        )
        event = self.service.kill(tata, "tutu", "I kill you!")
        self.assertEqual(event, Killed(1000.0, tutu.user, tata.user, "I kill you!"))
        self.assertEqual(tutu_client.take(), [event])
        self.assertTrue(tutu_client.closed)
        self.assertEqual(toto_client.take(), [event])
        self.assertEqual(tata_client.take(), [])
        self.assertEqual(self.service.names("general"), ["tata", "toto"])
        self.assertRaises(errors.NoSuchNick, self.service.kill, tata, "tutu", "again")

    def test_oper_refuses_wrong_password(self) -> None:
        toto, _ = self.user("toto")
        failure = self.failureResultOf(self.service.oper(toto, "admin", "guess"))
        failure.trap(errors.InvalidCredentials)
        self.assertIsNone(self.service.user_of(toto).operator)

    def test_oper_without_operators(self) -> None:
        service = ChatService(self.clock, None)
        session = service.connect(RecordingClient(), "toto")
        self.assertRaises(errors.NoOperators, service.oper, session, "admin", "secret")

    def test_errors_read_as_sentences(self) -> None:
        self.assertEqual(str(errors.NickInUse("toto")), 'nick "toto" is already in use')
        self.assertIn("letters, digits", str(errors.InvalidNick("x y")))
        self.assertEqual(
            str(errors.NotRoomOperator("dev")), "you are not an operator of #dev"
        )


class IdentityTests(ServiceTestCase):
    def test_tokens_are_signed(self) -> None:
        identities = Identities(b"k" * 32)
        token = identities.token("abc123")
        self.assertEqual(identities.resume(token), "abc123")
        self.assertIsNone(identities.resume("abd123" + token[6:]))
        self.assertIsNone(identities.resume(token[:-1] + "A"))
        self.assertIsNone(Identities(b"j" * 32).resume(token))
        for junk in ["", ".", "abc", "x" * 500, "abc123."]:
            self.assertIsNone(identities.resume(junk), junk)

    def test_colour_is_stable_per_identity(self) -> None:
        identities = Identities(b"k" * 32)
        colours = {identities.colour(f"id{n}") for n in range(200)}
        self.assertTrue(colours <= set(PALETTE))
        self.assertGreater(len(colours), len(PALETTE) // 2)
        self.assertEqual(identities.colour("id1"), Identities(b"z" * 32).colour("id1"))

    def test_coming_back_with_a_token_keeps_id_and_colour(self) -> None:
        toto, _ = self.user("toto")
        token = self.service.token(toto)
        self.service.disconnect(toto)
        back = self.service.connect(RecordingClient(), "toto", token=token)
        self.assertTrue(back.resumed)
        self.assertEqual(back.user, toto.user)

    def test_unknown_token_gets_a_fresh_identity(self) -> None:
        toto, _ = self.user("toto")
        forged = toto.user.id + ".forged"
        self.service.disconnect(toto)
        other = self.service.connect(RecordingClient(), "toto", token=forged)
        self.assertFalse(other.resumed)
        self.assertNotEqual(other.user.id, toto.user.id)

    def test_coming_back_while_still_connected_is_one_more_session(self) -> None:
        toto, toto_client = self.user("toto")
        _, tutu_client = self.user("tutu")
        tutu_client.take()
        back = self.service.connect(
            RecordingClient(), "toto", token=self.service.token(toto)
        )
        self.assertFalse(toto_client.closed)  # nobody is replaced (issue 14)
        self.assertTrue(toto.connected)
        self.assertEqual(tutu_client.take(), [])
        self.assertEqual(back.user, toto.user)
        self.assertTrue(back.resumed)

    def test_a_token_does_not_take_someone_elses_nick(self) -> None:
        toto, toto_client = self.user("toto")
        self.user("tutu")
        back = self.service.connect(
            RecordingClient(), "tutu", token=self.service.token(toto)
        )
        self.assertEqual(back.user, toto.user)  # the token wins: toto's nick
        self.assertEqual(self.service.user("tutu").nick, "tutu")
        self.assertTrue(toto.connected)
        self.assertFalse(toto_client.closed)

    def test_a_token_of_someone_gone_does_not_take_a_taken_nick(self) -> None:
        toto, _ = self.user("toto")
        token = self.service.token(toto)
        self.service.disconnect(toto)
        self.user("tutu")
        self.assertRaises(
            errors.NickInUse,
            self.service.connect,
            RecordingClient(),
            "tutu",
            token=token,
        )

    def test_returning_join(self) -> None:
        _, toto_client = self.user("toto")
        tutu, _ = self.user("tutu", room=None)
        event = self.service.join(tutu, "general", returning=True)
        self.assertEqual(toto_client.take()[-1], event)
        self.assertTrue(event.returning)


class PrivateAndImageTests(ServiceTestCase):
    def test_private_message_reaches_only_its_target(self) -> None:
        toto, toto_client = self.user("toto")
        _, tutu_client = self.user("tutu")
        _, tata_client = self.user("tata")
        toto_client.take(), tutu_client.take(), tata_client.take()
        event = self.service.whisper(toto, "TUTU", "psst")
        self.assertEqual(
            event, PrivateMessage(1000.0, toto.user, "tutu", "psst", msgid=event.msgid)
        )
        self.assertEqual(tutu_client.take(), [event])
        self.assertEqual(tata_client.take() + toto_client.take(), [])
        self.assertRaises(errors.NoSuchNick, self.service.whisper, toto, "nobody", "x")
        self.assertRaises(errors.EmptyMessage, self.service.whisper, toto, "tutu", " ")

    def test_image_goes_to_the_room(self) -> None:
        toto, _ = self.user("toto")
        _, tutu_client = self.user("tutu")
        tutu_client.take()
        event = self.service.show_image(toto, "general", " /\\\n/__\\")
        art = " /\\\n/__\\"
        self.assertEqual(event, Image(1000.0, "general", toto.user, art, event.msgid))
        self.assertEqual(tutu_client.take(), [event])
        self.assertRaises(
            errors.EmptyMessage, self.service.show_image, toto, "general", "\n"
        )
        self.assertRaises(errors.NoSuchRoom, self.service.show_image, toto, "x", "art")


class IrcFeatureTests(ServiceTestCase):
    def test_topic_is_for_operators_while_t_is_set(self) -> None:
        toto, _ = self.user("toto")
        tutu, tutu_client = self.user("tutu")
        tutu_client.take()
        self.assertRaises(
            errors.NotRoomOperator, self.service.set_topic, tutu, "general", "x"
        )
        event = self.service.set_topic(toto, "general", "bienvenue")
        self.assertEqual(event, TopicChanged(1000.0, "general", toto.user, "bienvenue"))
        self.assertEqual(tutu_client.take(), [event])
        room = self.service.room("general")
        self.assertEqual((room.topic, room.topic_by), ("bienvenue", "toto"))
        self.service.change_modes(toto, "general", [("-t", "")])
        self.service.set_topic(tutu, "general", "anyone may")
        self.assertEqual(self.service.room("general").topic, "anyone may")

    def test_modes(self) -> None:
        toto, _ = self.user("toto")
        tutu, tutu_client = self.user("tutu")
        self.user("outsider", room="dev")
        tutu_client.take()
        self.assertRaises(
            errors.NotRoomOperator,
            self.service.change_modes,
            tutu,
            "general",
            [("+m", "")],
        )
        event = self.service.change_modes(
            toto, "general", [("+m", ""), ("+t", ""), ("+o", "TUTU")]
        )
        self.assertEqual(
            event.changes, (("+m", ""), ("+o", "tutu"))
        )  # +t was already set
        self.assertEqual(tutu_client.take(), [event])
        self.assertTrue(self.service.room("general").is_operator(tutu.user))
        for bad, error in [
            ([("+x", "")], errors.UnknownMode),
            ([("+o", "")], errors.MissingModeArgument),
            ([("+o", "outsider")], errors.UserNotInRoom),
            ([("+o", "nobody")], errors.NoSuchNick),
        ]:
            self.assertRaises(error, self.service.change_modes, toto, "general", bad)

    def test_moderated_and_no_external_rooms(self) -> None:
        toto, _ = self.user("toto")
        tutu, _ = self.user("tutu")
        outsider, _ = self.user("outsider", room="dev")
        self.service.say(outsider, "general", "from outside")
        self.service.change_modes(toto, "general", [("+n", ""), ("+m", "")])
        self.assertRaises(
            errors.CannotSendToRoom, self.service.say, outsider, "general", "x"
        )
        self.assertRaises(
            errors.CannotSendToRoom, self.service.say, tutu, "general", "x"
        )
        self.service.say(toto, "general", "operators still speak")

    def test_notices_are_marked(self) -> None:
        toto, _ = self.user("toto")
        _, tutu_client = self.user("tutu")
        tutu_client.take()
        self.service.say(toto, "general", "bot output", notice=True)
        self.service.whisper(toto, "tutu", "psst", notice=True)
        message, private = tutu_client.take()
        assert isinstance(message, Message) and isinstance(private, PrivateMessage)
        self.assertTrue(message.notice and private.notice)

    def test_away_and_invite(self) -> None:
        toto, _ = self.user("toto")
        tutu, tutu_client = self.user("tutu", room=None)
        self.service.set_away(tutu, "lunch")
        self.assertEqual(self.service.user_of(tutu).away, "lunch")
        self.service.set_away(tutu, None)
        self.assertIsNone(self.service.user_of(tutu).away)
        event = self.service.invite(toto, "tutu", "general")
        self.assertEqual(
            tutu_client.take(), [Invited(1000.0, toto.user, "tutu", "general")]
        )
        self.assertEqual(event.room, "general")
        self.assertRaises(
            errors.NotInRoom, self.service.invite, tutu, "toto", "general"
        )
        self.service.join(tutu, "general")
        self.assertRaises(
            errors.UserAlreadyInRoom, self.service.invite, toto, "tutu", "general"
        )


class OperThrottleTests(ServiceTestCase):
    def test_failed_attempts_are_spaced_out(self) -> None:
        toto, _ = self.user("toto")
        for _ in range(3):
            self.failureResultOf(self.service.oper(toto, "admin", "guess")).trap(
                errors.InvalidCredentials
            )
        error = self.assertRaises(
            errors.OperThrottled, self.service.oper, toto, "admin", "secret"
        )
        self.assertEqual(str(error), "too many failed attempts: try again in 10 s")
        self.clock.advance(10)
        self.failureResultOf(self.service.oper(toto, "admin", "guess again"))
        self.assertRaises(errors.OperThrottled, self.service.oper, toto, "admin", "x")
        self.clock.advance(20)  # the wait doubles
        self.assertEqual(
            self.successResultOf(self.service.oper(toto, "admin", "secret")), "admin"
        )
        other, _ = self.user("other")  # one user's misses do not block another
        self.assertEqual(
            self.successResultOf(self.service.oper(other, "admin", "secret")), "admin"
        )
