"""
The framed wire format: every frame survives a round trip, bad payloads are
refused with a CodecError and nothing else, and docs/PROTOCOL.md (what other
clients are written from) agrees with the code byte for byte.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twistedchat import codec
from twistedchat.codec import (
    CodecError,
    Frame,
    MalformedFrame,
    RoomInfo,
    Said,
    Say,
    UnknownFrameType,
    decode,
    encode,
    frame_bytes,
)
from twistedchat.core.events import User

PROTOCOL_MD = Path(__file__).parent.parent / "docs" / "PROTOCOL.md"

# Small sizes keep examples fast; 20 code points are at most 80 UTF-8 bytes,
# well within a STR. st.text() leaves out surrogates, which UTF-8 cannot carry.
_strings = st.text(max_size=20)
_users = st.builds(User, _strings, _strings, st.integers(0, 0xFF))

# One strategy per wire type of the codec. A wire type missing here makes
# strategy_for() fail loudly rather than leave a new frame untested.
_WIRE_STRATEGIES: dict[codec.Field, st.SearchStrategy[Any]] = {
    codec.U16: st.integers(0, 0xFFFF),
    codec.U32: st.integers(0, 0xFFFF_FFFF),
    codec.TIME: st.integers(-(2**63), 2**63 - 1),
    codec.BOOL: st.booleans(),
    codec.STR: _strings,
    codec.TEXT: st.text(max_size=200),
    codec.USER: _users,
    codec.ROOM_INFO: st.builds(RoomInfo, _strings, st.integers(0, 0xFFFF_FFFF)),
}

# How docs/PROTOCOL.md names each wire type in its field tables.
_WIRE_NAMES: dict[codec.Field, str] = {
    codec.U16: "U16",
    codec.U32: "U32",
    codec.TIME: "TIME",
    codec.BOOL: "BOOL",
    codec.STR: "STR",
    codec.TEXT: "TEXT",
    codec.USER: "USER",
    codec.ROOM_INFO: "ROOM_INFO",
}


def strategy_for(field: codec.Field) -> st.SearchStrategy[Any]:
    """Values of wire type C{field}, as the decoder gives them back."""
    if isinstance(field, codec._List):
        return st.lists(strategy_for(field.item), max_size=3).map(tuple)
    if isinstance(field, codec._Trailing):
        return strategy_for(field.field)
    try:
        return _WIRE_STRATEGIES[field]
    except KeyError:
        raise TypeError(f"no strategy for wire type {field!r}") from None


def wire_name(field: codec.Field) -> str:
    if isinstance(field, codec._List):
        return f"LIST of {wire_name(field.item)}"
    if isinstance(field, codec._Trailing):
        return f"optional {wire_name(field.field)}"
    return _WIRE_NAMES[field]


def frames_of(cls: type[Frame]) -> st.SearchStrategy[Frame]:
    """Any frame of class C{cls}, built from its declared fields."""
    return st.builds(cls, **{name: strategy_for(field) for name, field in cls.FIELDS})


ALL_FRAME_CLASSES = [codec._FRAMES[t] for t in sorted(codec._FRAMES)]
any_frame = st.sampled_from(ALL_FRAME_CLASSES).flatmap(frames_of)


class RoundTripTests(SynchronousTestCase):
    def test_every_frame_type(self) -> None:
        """
        Each registered frame decodes back to itself, field for field; a frame
        type added to the codec is covered without touching this test.
        """
        self.assertTrue(len(ALL_FRAME_CLASSES) > 20)
        for cls in ALL_FRAME_CLASSES:
            self.check_round_trip(cls)

    def check_round_trip(self, cls: type[Frame]) -> None:
        @settings(max_examples=50, deadline=None)
        @given(frames_of(cls))
        def round_trip(value: Frame) -> None:
            payload = encode(value)
            self.assertEqual(payload[0], cls.TYPE)
            self.assertEqual(decode(payload), value)

        round_trip()

    def test_longest_string(self) -> None:
        """A STR holds up to 65,535 UTF-8 bytes; one more is refused when encoding."""
        longest = "é" * (0xFFFF // 2) + "x"
        self.assertEqual(decode(encode(codec.Join(longest))), codec.Join(longest))
        self.assertRaises(CodecError, encode, codec.Join(longest + "x"))

    def test_number_out_of_range(self) -> None:
        """A number that does not fit its wire type is refused when encoding."""
        self.assertRaises(CodecError, encode, codec.Ping(2**32))
        self.assertRaises(CodecError, encode, codec.Ping(-1))
        self.assertRaises(
            CodecError, encode, codec.NameList("r", (User("i", "n", 256),))
        )

    def test_user_bytes_follow_a_nick_change(self) -> None:
        """
        A user's bytes are kept between frames (each message carries its
        author), never at the cost of showing an old nick or colour.
        """
        before = User("a1", "toto", 3)
        for user in (before, User("a1", "tutu", 3), User("a1", "tutu", 4), before):
            said = codec.Said(1, "general", user, "salut")
            self.assertEqual(decode(encode(said)), said)


def _altered(payload: bytes, data: st.DataObject) -> bytes:
    """C{payload} as it is, cut short, lengthened, or with one byte changed."""
    how = data.draw(st.sampled_from(["as is", "cut", "lengthened", "changed"]))
    if how == "cut":
        return payload[: data.draw(st.integers(1, len(payload) - 1))]
    if how == "lengthened":
        return payload + data.draw(st.binary(min_size=1, max_size=8))
    if how == "changed":
        changed = bytearray(payload)
        changed[data.draw(st.integers(1, len(payload) - 1))] = data.draw(
            st.integers(0, 0xFF)
        )
        return bytes(changed)
    return payload


class FastPathTests(SynchronousTestCase):
    """
    Say and Said, a chat message in and out, have coders of their own: they
    must give what the generic ones give by following the declared fields.
    """

    @settings(max_examples=300, deadline=None)
    @given(frames_of(Said))
    def test_said_bytes_follow_the_declared_fields(self, value: Said) -> None:
        self.assertEqual(codec._encode_said(value), codec._encode_fields(value))

    @settings(max_examples=500, deadline=None)
    @given(frames_of(Say), st.data())
    def test_say_decoder_takes_what_the_fields_make_and_nothing_else(
        self, value: Say, data: st.DataObject
    ) -> None:
        """
        A whole, valid Say decodes as the declared fields say; anything the
        generic decoder refuses, the fast one leaves to it (None).
        """
        payload = _altered(codec._encode_fields(value), data)
        try:
            expected: Frame | None = codec._decode_fields(Say, payload)
        except CodecError:
            expected = None
        self.assertEqual(codec._decode_say(payload), expected)


class BadPayloadTests(SynchronousTestCase):
    @settings(max_examples=500, deadline=None)
    @given(
        st.one_of(
            st.binary(max_size=64),
            # Known type bytes with garbage after them reach the field readers.
            st.builds(
                lambda t, rest: bytes([t]) + rest,
                st.sampled_from(sorted(codec._FRAMES)),
                st.binary(max_size=64),
            ),
        )
    )
    def test_random_bytes(self, payload: bytes) -> None:
        """Any bytes decode to a frame or raise CodecError, never anything else."""
        try:
            value = decode(payload)
        except CodecError:
            return
        self.assertIsInstance(value, Frame)
        self.assertEqual(encode(value), payload)

    @settings(max_examples=300, deadline=None)
    @given(any_frame, st.data())
    def test_corrupted_frame(self, value: Frame, data: st.DataObject) -> None:
        """A valid payload with one byte changed decodes (to what encodes back to it)
        or raises CodecError."""
        payload = bytearray(encode(value))
        index = data.draw(st.integers(0, len(payload) - 1))
        payload[index] = data.draw(st.integers(0, 0xFF))
        try:
            decoded = decode(bytes(payload))
        except CodecError:
            return
        self.assertEqual(encode(decoded), payload)

    @settings(max_examples=200, deadline=None)
    @given(any_frame)
    def test_truncated(self, value: Frame) -> None:
        """
        Every strict prefix of a valid payload, the empty one too, is
        malformed, but the one that ends where an optional last field starts
        (the same frame, without it).
        """
        payload = encode(value)
        name, last = value.FIELDS[-1] if value.FIELDS else ("", None)
        without = -1
        if isinstance(last, codec._Trailing):
            without = len(encode(dataclasses.replace(value, **{name: last.empty})))  # type: ignore[type-var]
        for end in range(len(payload)):
            if end == without:
                self.assertEqual(
                    decode(payload[:end]),
                    dataclasses.replace(value, **{name: last.empty}),  # type: ignore[type-var,union-attr]
                )
            else:
                self.assertRaises(MalformedFrame, decode, payload[:end])

    def test_error_without_details(self) -> None:
        """An Error frame as servers wrote it before details reads as one without."""
        old = bytes([0x8E, 0, 13]) + b"\x00\x00\x00\x02no" + b"\x00"
        self.assertEqual(decode(old), codec.Error(13, "no", False, ""))
        self.assertEqual(encode(codec.Error(13, "no")), old)
        detailed = codec.Error(13, "no", details='{"room":"x"}')
        self.assertEqual(decode(encode(detailed)), detailed)

    @settings(max_examples=200, deadline=None)
    @given(any_frame, st.binary(min_size=1, max_size=4))
    def test_trailing_bytes(self, value: Frame, extra: bytes) -> None:
        """Bytes after the last field make a payload malformed."""
        self.assertRaises(MalformedFrame, decode, encode(value) + extra)

    def test_empty(self) -> None:
        self.assertRaises(MalformedFrame, decode, b"")

    def test_unknown_type(self) -> None:
        """Every type byte the codec does not declare is reported as unknown."""
        unknown = [t for t in range(256) if t not in codec._FRAMES]
        self.assertIn(0x00, unknown)
        self.assertIn(0xFF, unknown)
        for t in unknown:
            error = self.assertRaises(UnknownFrameType, decode, bytes([t, 0, 0]))
            self.assertEqual(error.frame_type, t)

    def test_bool_out_of_range(self) -> None:
        """A BOOL byte other than 0 or 1 is malformed."""
        payload = encode(codec.Error(1, "x", fatal=True))
        self.assertEqual(payload[-1], 1)
        self.assertEqual(decode(payload[:-1] + b"\x00"), codec.Error(1, "x", False))
        for bad in (2, 0x80, 0xFF):
            self.assertRaises(MalformedFrame, decode, payload[:-1] + bytes([bad]))

    def test_invalid_utf8(self) -> None:
        """A STR or TEXT that is not strict UTF-8 is malformed."""
        join = bytes([codec.Join.TYPE])
        self.assertEqual(decode(join + b"\x00\x02\xc3\xa9"), codec.Join("é"))
        for raw in (b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80"):
            # A lone byte, a cut sequence, an overlong form, a surrogate.
            stored = struct.pack(">H", len(raw)) + raw
            self.assertRaises(MalformedFrame, decode, join + stored)
        say = bytes([Say.TYPE]) + b"\x00\x01r" + b"\x00\x00\x00\x01\xff"
        self.assertRaises(MalformedFrame, decode, say)

    def test_list_longer_than_payload(self) -> None:
        """A LIST count larger than the items present is malformed."""
        payload = (
            bytes([codec.RoomList.TYPE]) + b"\xff\xff" + b"\x00\x01r\x00\x00\x00\x01"
        )
        self.assertRaises(MalformedFrame, decode, payload)


class FramingTests(SynchronousTestCase):
    @settings(max_examples=100, deadline=None)
    @given(any_frame)
    def test_length_prefix(self, value: Frame) -> None:
        """frame_bytes is the payload behind its 4-byte big-endian length."""
        payload = encode(value)
        self.assertEqual(frame_bytes(value), struct.pack(">I", len(payload)) + payload)

    def test_say_example(self) -> None:
        """The exact bytes of the first example of docs/PROTOCOL.md."""
        self.assertEqual(
            frame_bytes(Say("general", "hi")),
            bytes.fromhex("00000010 02 0007 67656e6572616c 00000002 6869"),
        )

    def test_said_example(self) -> None:
        """The exact bytes of the second example of docs/PROTOCOL.md."""
        said = Said(
            1_700_000_000_000, "general", User("3f2a9c1d8e7b6a50", "alice", 36), "hi"
        )
        self.assertEqual(
            frame_bytes(said),
            bytes.fromhex(
                "00000032 82 0000018bcfe56800 0007 67656e6572616c"
                " 0010 33663261396331643865376236613530 0005 616c696365 24"
                " 00000002 6869"
            ),
        )


class DocumentationTests(SynchronousTestCase):
    """docs/PROTOCOL.md and the codec describe the same protocol."""

    def setUp(self) -> None:
        self.doc = PROTOCOL_MD.read_text(encoding="utf-8")

    def assertInDoc(self, text: str, what: str = "") -> None:
        # assertIn would print the whole document on failure.
        self.assertTrue(text in self.doc, f"{what or repr(text)} not in {PROTOCOL_MD}")

    def test_examples(self) -> None:
        """The hex dumps in the document are what the encoder produces."""
        user = User("3f2a9c1d8e7b6a50", "alice", 36)
        for value in (
            Say("general", "hi"),
            Said(1_700_000_000_000, "general", user, "hi"),
        ):
            self.assertInDoc(frame_bytes(value).hex(" "))
        self.assertInDoc(
            encode(codec.Join("héllo"))[1:].hex(" "), "the STR example of section 4"
        )

    def test_frame_types(self) -> None:
        """Every type byte is in the summary table, next to its frame's name."""
        for cls in ALL_FRAME_CLASSES:
            type_byte = f"`0x{cls.TYPE:02X}`"
            self.assertInDoc(type_byte)
            row = re.compile(rf"^\|\s*{type_byte}\s*\|\s*{cls.__name__}\s*\|", re.M)
            self.assertTrue(row.search(self.doc), f"no summary row for {cls.__name__}")

    def test_frame_layouts(self) -> None:
        """Each frame's section lists its fields in wire order, with their types."""
        for cls in ALL_FRAME_CLASSES:
            heading = f"### `0x{cls.TYPE:02X}` {cls.__name__}\n"
            self.assertInDoc(heading)
            section = re.split(r"\n##+ ", self.doc.split(heading, 1)[1])[0]
            rows = re.findall(
                r"^\|\s*(\d+)\s*\|\s*(\w+)\s*\|\s*([\w ]+?)\s*\|", section, re.M
            )
            self.assertEqual(
                [(int(n), name, wire) for n, name, wire in rows],
                [
                    (n, name, wire_name(field))
                    for n, (name, field) in enumerate(cls.FIELDS, 1)
                ],
                cls.__name__,
            )
            if not cls.FIELDS:
                self.assertIn("No fields", section)

    def test_error_codes(self) -> None:
        """Every error code is in the table, with its number."""
        for code in codec.ErrorCode:
            self.assertInDoc(code.name)
            row = re.compile(rf"^\|\s*{code.value}\s*\|\s*`{code.name}`\s*\|", re.M)
            self.assertTrue(row.search(self.doc), f"no table row for {code.name}")

    def test_limits(self) -> None:
        """The version and the default frame limit the document states."""
        self.assertInDoc(f"Protocol version: **{codec.PROTOCOL_VERSION}**.")
        self.assertInDoc(f"**{codec.DEFAULT_MAX_FRAME:,} bytes**")
