"""
The rules a room's modes make (keys, limits, bans and their exceptions,
invitations, secrecy, voices), held by the core for every front: tested on
the core alone, with a recording client for each user.
"""

from __future__ import annotations

from twistedchat.core import errors, masks
from twistedchat.core.events import Invited, Message, ModeChanged
from twistedchat.core.modes import KEY_MAX_LENGTH, LIST_MAX
from twistedchat.core.session import Session

from .test_core import ServiceTestCase


class RoomRulesTestCase(ServiceTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.op, self.op_client = self.user("op", "dev")

    def modes(self, *changes: tuple[str, str]) -> ModeChanged:
        return self.service.change_modes(self.op, "dev", list(changes))

    def guest(self, nick: str) -> Session:
        return self.user(nick, None)[0]


class MaskTests(RoomRulesTestCase):
    def test_masks_are_completed_and_matched_as_nicks_compare(self) -> None:
        self.assertEqual(masks.normalise("bar"), "bar!*@*")
        self.assertEqual(masks.normalise("*@host"), "*!*@host")
        self.assertEqual(masks.normalise("bar!u"), "bar!u@*")
        self.assertEqual(masks.normalise("!@"), "*!*@*")
        self.assertTrue(masks.matches("bar!*@*", "Bar!abc@twistedchat"))
        self.assertTrue(masks.matches("b?r[x]!*", "B?R{x}!*"))  # [ is { folded
        self.assertTrue(masks.matches("ba*!*@twisted*", "bazooka!id@twistedchat"))
        self.assertFalse(masks.matches("bar!*@*", "barbara!id@twistedchat"))
        self.assertFalse(masks.matches("a.c!*@*", "abc!id@twistedchat"))  # . is a dot

    def test_user_mask_is_the_one_irc_shows(self) -> None:
        from twistedchat.fronts.irc import render

        self.assertEqual(render.HOST, masks.HOST)
        self.assertEqual(
            masks.user_mask("toto", "", "0123456789abc"), "toto!0123456789@twistedchat"
        )
        self.assertEqual(
            masks.user_mask("toto", "tt", "0123456789abc"), "toto!tt@twistedchat"
        )


class KeyTests(RoomRulesTestCase):
    def test_a_key_is_asked_of_everyone(self) -> None:
        event = self.modes(("+k", "sesame"))
        self.assertEqual(event.changes, (("+k", "sesame"),))
        guest = self.guest("guest")
        self.assertRaises(errors.BadRoomKey, self.service.join, guest, "dev")
        self.assertRaises(
            errors.BadRoomKey, self.service.join, guest, "dev", join_key="nope"
        )
        self.assertNotIn("dev", guest.rooms)
        self.service.join(guest, "dev", join_key="sesame")
        self.assertIn("dev", guest.rooms)

    def test_removing_the_key_opens_the_room(self) -> None:
        self.modes(("+k", "sesame"))
        self.assertEqual(self.modes(("-k", "whatever")).changes, (("-k", "*"),))
        self.assertEqual(self.modes(("-k", "")).changes, ())  # no key: nothing
        self.service.join(self.guest("guest"), "dev")

    def test_invalid_keys_are_refused_and_change_nothing(self) -> None:
        for key in ["", "with space", "x" * (KEY_MAX_LENGTH + 1), "a,b", "clé"]:
            error = self.assertRaises(
                errors.InvalidModeArgument, self.modes, ("+m", ""), ("+k", key)
            )
            self.assertEqual((error.mode, error.argument), ("+k", "*"))
        view = self.service.room("dev")
        self.assertEqual((view.join_key, "m" in view.modes), ("", False))


class LimitTests(RoomRulesTestCase):
    def test_a_full_room_takes_nobody_more_until_someone_leaves(self) -> None:
        self.assertEqual(self.modes(("+l", "2")).changes, (("+l", "2"),))
        second = self.guest("second")
        self.service.join(second, "dev")
        third = self.guest("third")
        error = self.assertRaises(errors.RoomFull, self.service.join, third, "dev")
        self.assertEqual(error.limit, 2)
        self.service.part(second, "dev")
        self.service.join(third, "dev")

    def test_invalid_limits_are_refused(self) -> None:
        for limit in ["0", "-1", "abc", "", "²"]:
            error = self.assertRaises(
                errors.InvalidModeArgument, self.modes, ("+l", limit)
            )
            self.assertEqual(error.argument, limit)
        self.assertEqual(self.service.room("dev").limit, 0)

    def test_minus_l_lifts_the_limit(self) -> None:
        self.modes(("+l", "1"))
        self.assertEqual(self.modes(("-l", "")).changes, (("-l", ""),))
        self.service.join(self.guest("guest"), "dev")

    def test_an_invitation_lets_one_in_once_past_the_limit(self) -> None:
        self.modes(("+l", "1"))
        guest = self.guest("guest")
        self.assertRaises(errors.RoomFull, self.service.join, guest, "dev")
        self.service.invite(self.op, "guest", "dev")
        self.assertEqual(self.service.user_of(guest).invited, ("dev",))
        self.service.join(guest, "dev")
        self.assertEqual(self.service.user_of(guest).invited, ())
        self.service.part(guest, "dev")
        self.assertRaises(errors.RoomFull, self.service.join, guest, "dev")


class BanTests(RoomRulesTestCase):
    def test_a_banned_user_cannot_join_unless_an_exception_names_it(self) -> None:
        event = self.modes(("+b", "ba*"))
        self.assertEqual(event.changes, (("+b", "ba*!*@*"),))
        bar = self.guest("Bar")
        self.assertRaises(errors.BannedFromRoom, self.service.join, bar, "dev")
        self.modes(("+e", "*ar!*@*"))
        self.service.join(bar, "dev")

    def test_the_ban_list_keeps_who_set_each_mask_and_when(self) -> None:
        self.clock.advance(10)
        self.modes(("+b", "bar!*@*"), ("+I", "friend"))
        view = self.service.room("dev")
        (ban,) = view.listed("b")
        self.assertEqual(ban.mask, "bar!*@*")
        self.assertTrue(ban.by.startswith("op!"))
        self.assertEqual(ban.time, self.clock.seconds())
        self.assertEqual([entry.mask for entry in view.listed("I")], ["friend!*@*"])
        self.assertEqual(view.listed("e"), [])
        # Lifted by any spelling of the same mask; lifting it again: nothing.
        self.assertEqual(self.modes(("-b", "BAR!*@*")).changes, (("-b", "bar!*@*"),))
        self.assertEqual(self.modes(("-b", "bar")).changes, ())

    def test_a_banned_member_cannot_speak_unless_voiced_or_operator(self) -> None:
        bar = self.user("bar", "dev")[0]
        self.modes(("+b", "bar"))
        error = self.assertRaises(
            errors.CannotSendToRoom, self.service.say, bar, "dev", "hello"
        )
        self.assertIn("(+b)", error.why)
        self.assertEqual(
            [e for e in self.op_client.take() if isinstance(e, Message)], []
        )
        self.modes(("+v", "bar"))
        self.service.say(bar, "dev", "hello")
        self.modes(("-v", "bar"), ("+e", "bar"))
        self.service.say(bar, "dev", "hello again")

    def test_an_invitation_lets_a_banned_user_in_once(self) -> None:
        self.modes(("+b", "bob"))
        bob = self.guest("bob")
        self.service.invite(self.op, "bob", "dev")
        self.service.join(bob, "dev")
        self.service.kick(self.op, "dev", "bob")
        self.assertRaises(errors.BannedFromRoom, self.service.join, bob, "dev")

    def test_lists_are_bounded(self) -> None:
        self.modes(*[("+b", f"bad{n}") for n in range(LIST_MAX)])
        self.assertRaises(errors.MaskListFull, self.modes, ("+b", "onemore"))
        self.assertEqual(len(self.service.room("dev").listed("b")), LIST_MAX)

    def test_invalid_masks_are_refused(self) -> None:
        for mask in ["a b", "x" * 200]:
            self.assertRaises(errors.InvalidModeArgument, self.modes, ("+b", mask))
        self.assertRaises(errors.MissingModeArgument, self.modes, ("+b", ""))


class InviteTests(RoomRulesTestCase):
    def test_invite_only_rooms_take_the_invited_and_the_excepted(self) -> None:
        self.modes(("+i", ""))
        bar = self.guest("bar")
        self.assertRaises(errors.InviteOnlyRoom, self.service.join, bar, "dev")
        self.modes(("+I", "bar!*@*"))
        self.service.join(bar, "dev")
        baz = self.guest("baz")
        self.assertRaises(errors.InviteOnlyRoom, self.service.join, baz, "dev")
        event = self.service.invite(self.op, "baz", "dev")
        self.assertIsInstance(event, Invited)
        self.service.join(baz, "dev")

    def test_only_operators_invite_to_an_invite_only_room(self) -> None:
        member = self.user("member", "dev")[0]
        self.guest("guest")
        self.modes(("+i", ""))
        self.assertRaises(
            errors.NotRoomOperator, self.service.invite, member, "guest", "dev"
        )
        self.modes(("-i", ""))
        self.service.invite(member, "guest", "dev")

    def test_an_invitation_does_not_stand_for_the_key(self) -> None:
        self.modes(("+k", "sesame"), ("+i", ""))
        guest = self.guest("guest")
        self.service.invite(self.op, "guest", "dev")
        self.assertRaises(errors.BadRoomKey, self.service.join, guest, "dev")
        self.service.join(guest, "dev", join_key="sesame")


class SecretTests(RoomRulesTestCase):
    def test_a_secret_room_is_listed_for_its_members_only(self) -> None:
        self.user("other", "open")
        self.modes(("+s", ""))
        outsider = self.guest("outsider")
        listed = [room.name for room in self.service.list_rooms(viewer=outsider)]
        self.assertEqual(listed, ["open"])
        listed = [room.name for room in self.service.list_rooms(viewer=self.op)]
        self.assertEqual(listed, ["dev", "open"])
        self.assertRaises(errors.NoSuchRoom, self.service.room, "dev", outsider)
        self.assertEqual(self.service.room("dev", self.op).name, "dev")

    def test_pages_skip_secret_rooms_without_ending_early(self) -> None:
        for name in ["a1", "a2", "a3", "a4"]:
            self.service.join(self.op, name)
        for name in ["a1", "a2"]:
            self.service.change_modes(self.op, name, [("+s", "")])
        outsider = self.guest("outsider")
        page = self.service.list_rooms("", 2, viewer=outsider)
        self.assertEqual([room.name for room in page], ["a3", "a4"])
        self.assertEqual(
            [room.name for room in self.service.list_rooms("a4", 2, outsider)],
            ["dev"],
        )


class VoiceTests(RoomRulesTestCase):
    def test_in_a_moderated_room_operators_and_voiced_members_speak(self) -> None:
        baz = self.user("baz", "dev")[0]
        self.modes(("+m", ""))
        error = self.assertRaises(
            errors.CannotSendToRoom, self.service.say, baz, "dev", "hi"
        )
        self.assertIn("(+m)", error.why)
        self.assertEqual(self.modes(("+v", "BAZ")).changes, (("+v", "baz"),))
        self.assertTrue(self.service.room("dev").is_voiced(baz.user))
        self.assertEqual(self.service.user_of(baz).voiced, frozenset({"dev"}))
        self.service.say(baz, "dev", "hi")
        self.service.say(self.op, "dev", "hi")

    def test_a_voice_does_not_set_a_topic_under_plus_t(self) -> None:
        baz = self.user("baz", "dev")[0]
        self.modes(("+v", "baz"))
        self.assertRaises(
            errors.NotRoomOperator, self.service.set_topic, baz, "dev", "mine"
        )

    def test_a_voice_ends_when_its_member_leaves(self) -> None:
        baz = self.user("baz", "dev")[0]
        self.modes(("+v", "baz"))
        self.service.part(baz, "dev")
        self.service.join(baz, "dev")
        self.assertFalse(self.service.room("dev").is_voiced(baz.user))


class MixedModeTests(RoomRulesTestCase):
    def test_several_changes_at_once_all_or_none(self) -> None:
        event = self.modes(("+k", "key"), ("+l", "5"), ("-t", ""), ("+s", ""))
        self.assertEqual(
            event.changes, (("+k", "key"), ("+l", "5"), ("-t", ""), ("+s", ""))
        )
        view = self.service.room("dev")
        self.assertEqual(
            (view.join_key, view.limit, view.modes), ("key", 5, frozenset({"s"}))
        )
        self.assertRaises(
            errors.InvalidModeArgument, self.modes, ("-s", ""), ("+l", "x")
        )
        self.assertIn("s", self.service.room("dev").modes)  # nothing changed
