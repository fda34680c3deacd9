"""
Pictures in the history: an image's stored picture (sent from a web page)
kept with its art, written to the file, read back after a restart; entries
written before pictures were kept still read.
"""

from __future__ import annotations

import json
import os

from twistedchat.core.events import Image
from twistedchat.core.history import HistoryEntry, is_picture_name
from twistedchat.persistence import file_name

from .test_history import TOTO, HistoryTestCase, message

PICTURE = "ab" * 32 + ".png"


class PictureEntryTests(HistoryTestCase):
    def test_names(self) -> None:
        """Only the names the media store gives are pictures' names."""
        self.assertTrue(is_picture_name(PICTURE))
        self.assertTrue(is_picture_name("0" * 64 + ".jpg"))
        for name in (
            "",
            "ab" * 32,
            "ab" * 32 + ".svg",
            "ab" * 32 + ".html",
            "AB" * 32 + ".png",
            "ab" * 31 + ".png",
            "../" + PICTURE,
            PICTURE + "\n",
            "ab" * 32 + ".png/x",
        ):
            self.assertFalse(is_picture_name(name), name)

    def test_json_round_trip(self) -> None:
        entry = HistoryEntry(
            "b-1", 1700000000.5, "general", "u1", "toto", "image", "o\nO", 4, PICTURE
        )
        line = entry.to_json()
        self.assertEqual(json.loads(line)["picture"], PICTURE)
        self.assertEqual(HistoryEntry.from_json(line), entry)

    def test_entries_without_a_picture(self) -> None:
        """Messages, and pictures from the other fronts, write no picture field."""
        entry = HistoryEntry("b-1", 1700000000, "general", "u1", "toto", "image", "o")
        self.assertNotIn("picture", entry.to_json())
        self.assertEqual(HistoryEntry.from_json(entry.to_json()).picture, "")

    def test_impossible_pictures(self) -> None:
        """A picture field the server never writes makes the line unreadable."""
        image = json.loads(
            HistoryEntry("b-1", 1, "general", "u1", "toto", "image", "o").to_json()
        )
        said = {**image, "kind": "message"}
        for fields, picture in [
            (image, "../../etc/passwd"),
            (image, "x.svg"),
            (image, 5),
            (image, None),
            (image, ["a"]),
            (said, PICTURE),
        ]:
            line = json.dumps({**fields, "picture": picture})
            with self.assertRaises(ValueError, msg=f"{fields['kind']} {picture!r}"):
                HistoryEntry.from_json(line)

    def test_kept_and_read_again(self) -> None:
        """The writer keeps a picture in its ring and its file, read at restart."""
        writer = self.writer()
        writer.record(message(1))
        writer.record(Image(1002.0, "general", TOTO, "(o)", "m-2", PICTURE))
        writer.record(Image(1003.0, "general", TOTO, "(O)", "m-3"))
        self.assertEqual(
            [e.picture for e in writer.recent("general")], ["", PICTURE, ""]
        )
        self.successResultOf(writer.stopService())
        self.assertEqual(
            [line.get("picture") for line in self.lines()], [None, PICTURE, None]
        )
        again = self.writer()
        self.assertEqual(
            [(e.kind, e.text, e.picture) for e in again.recent("general")],
            [
                ("message", "message 1", ""),
                ("image", "(o)", PICTURE),
                ("image", "(O)", ""),
            ],
        )

    def test_old_files_still_read(self) -> None:
        """A file written before pictures were kept reads as it did."""
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, file_name("general")), "w") as file:
            file.write(
                '{"id":"a","seq":1,"time":5000,"room":"general","user_id":"u1",'
                '"nick":"toto","kind":"image","text":"(o)"}\n'
            )
        writer = self.writer()
        [entry] = writer.recent("general")
        self.assertEqual((entry.kind, entry.text, entry.picture), ("image", "(o)", ""))
