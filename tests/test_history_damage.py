"""
History files damaged at random (property-based): truncated anywhere, bytes
injected, fields edited, long runs without a newline. Whatever the damage,
the writer starts, replays every entry left intact, and what it writes next
is readable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.events import Message, User
from twistedchat.core.history import HistoryEntry
from twistedchat.fronts.line import render_history
from twistedchat.persistence import HistoryWriter, file_name

from .test_history import run_now

TUTU = User("u2", "tutu", 7)
FIELDS = ("id", "time", "room", "user_id", "nick", "kind", "text")

texts = st.text(st.characters(codec="utf-8"), max_size=40)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()  # NaN and infinities among them
    | texts
    | st.sampled_from(["message", "image", "general", "", "a/b"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
    ),
    max_leaves=5,
)
entries = st.lists(
    st.builds(
        HistoryEntry,
        id=st.just(""),  # numbered below: every line differs from the others
        time=st.integers(min_value=0, max_value=4_000_000_000_000).map(
            lambda ms: ms / 1000
        ),
        room=st.just("general"),
        user_id=st.just("u1"),
        nick=texts,
        kind=st.sampled_from(["message", "image"]),
        text=texts,
        seq=st.integers(min_value=0, max_value=2**53),
        # Pictures as the server names them, on images alone.
        picture=st.sampled_from(["", "0123456789abcdef" * 4 + ".png"]),
    ).map(lambda entry: entry if entry.kind == "image" else entry._replace(picture="")),
    min_size=1,
    max_size=12,
).map(lambda made: [e._replace(id=f"old-{n}") for n, e in enumerate(made)])


@st.composite
def damages(draw: st.DrawFn, size: int, lines: int) -> list[tuple[Any, ...]]:
    """A few damages: what, where, with what."""
    kinds = st.sampled_from(["truncate", "inject", "delete", "edit", "run"])
    found: list[tuple[Any, ...]] = []
    for kind in draw(st.lists(kinds, min_size=1, max_size=4)):
        where = draw(st.integers(0, size))
        if kind == "truncate":
            found.append((kind, where))
        elif kind == "inject":
            junk = st.binary(max_size=30) | st.sampled_from(
                [b"\n", b"{", b'"', b"\xff", b"\x00", b"}\n{"]
            )
            found.append((kind, where, draw(junk)))
        elif kind == "delete":
            found.append((kind, where, draw(st.integers(1, 40))))
        elif kind == "edit":
            line = draw(st.integers(0, lines - 1))
            field = draw(st.sampled_from(FIELDS))
            found.append((kind, line, field, draw(json_values)))
        else:  # a long line, with or without its newline
            found.append((kind, where, draw(st.integers(1, 3000)), draw(st.booleans())))
    return found


def damaged(lines: list[bytes], found: list[tuple[Any, ...]]) -> bytes:
    """The file C{lines} make, after the damages C{found}."""
    lines = lines[:]
    for damage in found:
        if damage[0] == "edit":
            _, number, field, value = damage
            fields = json.loads(lines[number])
            fields[field] = value
            lines[number] = json.dumps(fields, ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            )
    content = b"".join(line + b"\n" for line in lines)
    for damage in found:
        kind, where = damage[0], min(damage[1], len(content))
        if kind == "truncate":
            content = content[:where]
        elif kind == "inject":
            content = content[:where] + damage[2] + content[where:]
        elif kind == "delete":
            content = content[:where] + content[where + damage[2] :]
        elif kind == "run":
            run = b"x" * damage[2] + (b"\n" if damage[3] else b"")
            content = content[:where] + run + content[where:]
    return content


def is_subsequence(part: list[Any], whole: list[Any]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


class DamagedHistoryTests(SynchronousTestCase):
    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(entries.flatmap(lambda made: st.tuples(st.just(made), st.data())))
    def test_any_damage_keeps_intact_entries_and_what_comes_next(
        self, example: tuple[list[HistoryEntry], st.DataObject]
    ) -> None:
        original, data = example
        lines = [entry.to_json().encode("utf-8", "replace") for entry in original]
        size = sum(len(line) + 1 for line in lines)
        found = data.draw(damages(size, len(lines)))
        content = damaged(lines, found)
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, file_name("general"))
        with open(path, "wb") as file:
            file.write(content)

        clock = Clock()
        clock.advance(2000)

        def start() -> HistoryWriter:
            writer = HistoryWriter(folder, clock, run_in_thread=run_now, replay=100)
            writer.startService()  # must not raise, whatever the file holds
            return writer

        writer = start()
        replayed = list(writer.recent("general"))
        survivors = set(content.split(b"\n"))
        intact = [
            e for e, line in zip(original, lines, strict=True) if line in survivors
        ]
        self.assertTrue(is_subsequence(intact, replayed), (intact, replayed))
        for entry in replayed:
            render_history(entry)  # a joiner is shown each one
            time.strftime("%H:%M", time.localtime(entry.time))

        for n in range(3):
            writer.record(Message(2000.0 + n, "general", TUTU, f"new {n}"))
        self.successResultOf(writer.stopService())
        again = start()
        self.assertEqual(
            [e.text for e in again.recent("general")],
            [e.text for e in replayed] + ["new 0", "new 1", "new 2"],
        )
        with open(path, "rb") as written:
            last = written.read().split(b"\n")[-4:]
        self.assertEqual(
            [json.loads(line)["text"] for line in last[:3]], ["new 0", "new 1", "new 2"]
        )
        self.assertEqual(last[3], b"")

    @settings(max_examples=200, deadline=None)
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "id": texts | json_values,
                "time": st.integers(0, 4_000_000_000_000) | json_values,
                "room": st.just("general") | json_values,
                "user_id": texts | json_values,
                "nick": texts | json_values,
                "kind": st.sampled_from(["message", "image"]) | json_values,
                "text": texts | json_values,
            },
        )
    )
    def test_any_json_object_is_an_entry_that_can_be_shown_or_refused(
        self, fields: dict[str, Any]
    ) -> None:
        line = json.dumps(fields, ensure_ascii=False)
        try:
            entry = HistoryEntry.from_json(line)
        except ValueError:
            return
        render_history(entry)
        time.strftime("%H:%M", time.localtime(entry.time))
        self.assertIn(entry.kind, ("message", "image"))
