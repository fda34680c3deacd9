"""Tests for twistedchat.client.images: image files turned into ASCII art."""

from __future__ import annotations

import os

from PIL import Image, ImageDraw
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat.client import images
from twistedchat.client.images import (
    MAX_COLUMNS,
    MAX_ROWS,
    ImageError,
    image_to_art,
    render_image,
)


def make_picture(folder: str, name: str, size: tuple[int, int], mode: str) -> str:
    """
    Save a picture at C{folder}/C{name}: a black disc on white in C{mode},
    the file format following the name's extension. Return its path.
    """
    picture = Image.new("RGB", size, "white")
    width, height = size
    ImageDraw.Draw(picture).ellipse(
        (width // 8, height // 8, width * 7 // 8, height * 7 // 8), fill="black"
    )
    path = os.path.join(folder, name)
    picture.convert(mode).save(path)
    return path


class ArtAssertions(SynchronousTestCase):
    def assertPlainArt(self, art: str, columns: int) -> list[str]:
        """
        C{art} is non-empty plain text of at most C{columns} by L{MAX_ROWS}
        with no control characters but newlines and no trailing blanks.
        """
        self.assertTrue(art.strip(), "the art is blank")
        for character in art:
            if character != "\n":
                self.assertTrue(
                    0x20 <= ord(character) < 0x7F, f"{character!r} in the art"
                )
        lines = art.split("\n")
        self.assertLessEqual(len(lines), MAX_ROWS)
        for line in lines:
            self.assertLessEqual(len(line), columns)
            self.assertEqual(line, line.rstrip())
        return lines


class ImageToArtTests(ArtAssertions):
    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(self.folder)

    def test_png(self) -> None:
        """A PNG picture becomes plain art exactly as wide as asked."""
        path = make_picture(self.folder, "disc.png", (120, 80), "RGB")
        lines = self.assertPlainArt(image_to_art(path, columns=40), 40)
        self.assertEqual(max(len(line) for line in lines), 40)
        # A character is about 2.2 times as tall as wide: 80 * 40 / 120 / 2.2.
        self.assertEqual(len(lines), 12)

    def test_shape(self) -> None:
        """The disc shows: bright corners are dense, the dark middle blank."""
        path = make_picture(self.folder, "disc.png", (120, 80), "RGB")
        lines = image_to_art(path, columns=40).split("\n")
        middle = lines[len(lines) // 2]
        self.assertEqual(len(lines[0]), 40)
        self.assertNotIn(" ", lines[0])
        self.assertNotIn(" ", middle[:3])
        self.assertEqual(middle[10:30], " " * 20)

    def test_default_width(self) -> None:
        """Without C{columns}, the art is 60 characters wide."""
        path = make_picture(self.folder, "disc.png", (300, 200), "RGB")
        lines = self.assertPlainArt(image_to_art(path), 60)
        self.assertEqual(max(len(line) for line in lines), 60)

    def test_modes_and_formats(self) -> None:
        """
        Palette, grey, grey with alpha, transparent and CMYK pictures, PNG,
        GIF, JPEG and BMP files all become art (ascii-magic alone fails on
        some of them).
        """
        for name, mode in [
            ("palette.png", "P"),
            ("grey.png", "L"),
            ("grey-alpha.png", "LA"),
            ("alpha.png", "RGBA"),
            ("bilevel.png", "1"),
            ("anim.gif", "P"),
            ("photo.jpg", "RGB"),
            ("print.jpg", "CMYK"),
            ("old.bmp", "RGB"),
        ]:
            path = make_picture(self.folder, name, (64, 64), mode)
            self.assertPlainArt(image_to_art(path, columns=30), 30)

    def test_transparent_parts_are_blank(self) -> None:
        """A transparent picture counts as black: nothing to show."""
        path = os.path.join(self.folder, "clear.png")
        Image.new("RGBA", (40, 40), (255, 255, 255, 0)).save(path)
        error = self.assertRaises(ImageError, image_to_art, path)
        self.assertIn("blank", str(error))

    def test_tall_picture(self) -> None:
        """A tall picture is made narrower to fit in L{MAX_ROWS} lines."""
        path = make_picture(self.folder, "tall.png", (50, 2000), "RGB")
        lines = self.assertPlainArt(image_to_art(path, columns=60), 60)
        self.assertEqual(len(lines), MAX_ROWS)
        self.assertLess(max(len(line) for line in lines), 10)

    def test_wide_picture(self) -> None:
        """A very wide, very flat picture still makes one line of art."""
        path = os.path.join(self.folder, "strip.png")
        Image.new("RGB", (3000, 2), "white").save(path)
        self.assertEqual(image_to_art(path, columns=50), "Q" * 50)

    def test_columns_capped(self) -> None:
        """However many columns are asked for, the art stays small."""
        path = make_picture(self.folder, "disc.png", (2000, 1000), "RGB")
        art = image_to_art(path, columns=10_000)
        self.assertPlainArt(art, MAX_COLUMNS)
        self.assertLess(len(art.encode("utf-8")), 16 * 1024)

    def test_bad_columns(self) -> None:
        """Asking for no columns at all is a programming error."""
        path = make_picture(self.folder, "disc.png", (40, 40), "RGB")
        self.assertRaises(ValueError, image_to_art, path, columns=0)

    def test_missing_file(self) -> None:
        path = os.path.join(self.folder, "nothing.png")
        error = self.assertRaises(ImageError, image_to_art, path)
        self.assertEqual(str(error), f"{path}: no such file")

    def test_directory(self) -> None:
        error = self.assertRaises(ImageError, image_to_art, self.folder)
        self.assertEqual(
            str(error), f"{self.folder}: is a directory, not an image file"
        )

    def test_not_an_image(self) -> None:
        path = os.path.join(self.folder, "notes.png")
        with open(path, "w") as file:
            file.write("This is not a picture.\n")
        error = self.assertRaises(ImageError, image_to_art, path)
        self.assertEqual(
            str(error), f"{path}: not an image (or in a format Pillow cannot read)"
        )

    def test_damaged_image(self) -> None:
        """A truncated file is reported as a picture that cannot be decoded."""
        path = make_picture(self.folder, "disc.png", (200, 200), "RGB")
        with open(path, "rb") as file:
            data = file.read()
        with open(path, "wb") as file:
            file.write(data[: len(data) // 2])
        error = self.assertRaises(ImageError, image_to_art, path)
        self.assertTrue(
            str(error).startswith(f"{path}: cannot decode the picture ("), error
        )

    def test_not_readable(self) -> None:
        if os.getuid() == 0:
            raise self.skipTest("root reads every file")
        path = make_picture(self.folder, "secret.png", (40, 40), "RGB")
        os.chmod(path, 0)
        self.addCleanup(os.chmod, path, 0o600)
        error = self.assertRaises(ImageError, image_to_art, path)
        self.assertEqual(str(error), f"{path}: not readable (permission denied)")

    def test_not_a_regular_file(self) -> None:
        """A FIFO is refused before opening it, which would block."""
        path = os.path.join(self.folder, "pipe")
        os.mkfifo(path)
        error = self.assertRaises(ImageError, image_to_art, path)
        self.assertEqual(str(error), f"{path}: not a regular file")


class PlainTests(SynchronousTestCase):
    def test_escapes_and_controls_removed(self) -> None:
        """Should ascii-magic ever colour its output, the art stays plain."""
        self.assertEqual(images._plain("\x1b[31mab\x1b[0m c\x07\x7f \t "), "ab c")


class RenderImageTests(ArtAssertions):
    def test_injected_runner(self) -> None:
        """render_image hands image_to_art, the path and the width to the runner."""
        calls: list[tuple[object, ...]] = []

        def run(*args: object) -> Deferred[str]:
            calls.append(args)
            return succeed("art")

        result = render_image("cat.png", 33, run_in_thread=run)
        self.assertEqual(self.successResultOf(result), "art")
        self.assertEqual(calls, [(image_to_art, "cat.png", 33)])


class RenderImageThreadTests(TestCase):
    """render_image with the real C{deferToThread}."""

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(self.folder)

    def test_art(self) -> Deferred[None]:
        path = make_picture(self.folder, "disc.png", (120, 80), "RGB")

        def check(art: str) -> None:
            self.assertEqual(art, image_to_art(path, columns=40))
            self.assertEqual(len(art.split("\n")), 12)

        return render_image(path, columns=40).addCallback(check)

    def test_error(self) -> Deferred[None]:
        path = os.path.join(self.folder, "nothing.png")

        def succeeded(art: str) -> None:
            self.fail(f"art from a missing file: {art!r}")

        def failed(failure: Failure) -> None:
            failure.trap(ImageError)
            self.assertEqual(str(failure.value), f"{path}: no such file")

        return render_image(path).addCallbacks(succeeded, failed)
