"""
Tests for twistedchat.fronts.web.media: pictures from web pages checked,
re-encoded and stored, their art, and C{/media/} serving them over HTTP.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import TypeVar, cast

from PIL import Image, ImageCms, ImageDraw, PngImagePlugin
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Site

from twistedchat.client.images import image_to_art
from twistedchat.core.errors import NotAPicture, PicturesBusy, PictureTooLarge
from twistedchat.core.history import is_picture_name
from twistedchat.fronts.web.media import (
    ART_COLUMNS,
    MediaResource,
    PictureLimits,
    PictureStore,
    store_picture,
)

from .test_web_front import read_body

Refusal = TypeVar("Refusal", bound=Exception)


def disc(size: tuple[int, int] = (120, 80), kind: str = "PNG", **save: object) -> bytes:
    """A black disc on white, as a C{kind} file's bytes."""
    picture = Image.new("RGB", size, "white")
    width, height = size
    ImageDraw.Draw(picture).ellipse(
        (width // 8, height // 8, width * 7 // 8, height * 7 // 8), fill="black"
    )
    out = io.BytesIO()
    picture.save(out, kind, **save)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """
    A PNG that says it is C{width} by C{height} (8-bit grey) and holds one
    small compressed row: what a decompression bomb looks like from its header.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


class StorePictureTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = self.mktemp()
        self.limits = PictureLimits()

    def stored(self) -> list[str]:
        return sorted(os.listdir(self.folder)) if os.path.isdir(self.folder) else []

    def reopen(self, name: str) -> Image.Image:
        picture = Image.open(os.path.join(self.folder, name))
        picture.load()
        return picture

    def refused(self, data: bytes, error: type[Refusal]) -> Refusal:
        """C{data} is refused with C{error} and nothing is kept."""
        refusal: Refusal = self.assertRaises(
            error, store_picture, data, self.folder, self.limits
        )
        self.assertEqual(self.stored(), [])
        return refusal

    def test_png(self) -> None:
        """A PNG is kept as a PNG named by its hash, with the client's art."""
        data = disc()
        kept = store_picture(data, self.folder, self.limits)
        self.assertTrue(is_picture_name(kept.name), kept.name)
        self.assertTrue(kept.name.endswith(".png"))
        self.assertEqual(self.stored(), [kept.name])
        picture = self.reopen(kept.name)
        self.assertEqual((picture.format, picture.size), ("PNG", (120, 80)))
        # The same art as the terminal client makes of the same file.
        path = os.path.join(self.mktemp() + ".png")
        with open(path, "wb") as file:
            file.write(data)
        self.assertEqual(kept.art, image_to_art(path, ART_COLUMNS))

    def test_never_the_bytes_sent(self) -> None:
        """What is kept is written again, not what came: text chunks stay behind."""
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "<script>alert(1)</script>")
        data = disc(pnginfo=info)
        kept = store_picture(data, self.folder, self.limits)
        with open(os.path.join(self.folder, kept.name), "rb") as file:
            content = file.read()
        self.assertNotEqual(content, data)
        self.assertNotIn(b"script", content)
        self.assertEqual(self.reopen(kept.name).info.get("Comment"), None)

    def test_no_colour_profile(self) -> None:
        """A PNG's embedded ICC profile (metadata too) is not written again."""
        profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        data = disc(icc_profile=profile)
        self.assertEqual(Image.open(io.BytesIO(data)).info["icc_profile"], profile)
        kept = store_picture(data, self.folder, self.limits)
        self.assertNotIn("icc_profile", self.reopen(kept.name).info)

    def test_jpeg_photo(self) -> None:
        """
        A JPEG stays a JPEG, turned upright by its EXIF orientation, its
        EXIF (where it was taken, with what) gone.
        """
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
        exif[0x010F] = "SpyCam Inc."  # Make
        data = disc((200, 100), "JPEG", exif=exif.tobytes())
        self.assertIn(b"SpyCam", data)
        kept = store_picture(data, self.folder, self.limits)
        self.assertTrue(kept.name.endswith(".jpg"), kept.name)
        picture = self.reopen(kept.name)
        self.assertEqual((picture.format, picture.size), ("JPEG", (100, 200)))
        self.assertEqual(len(picture.getexif()), 0)
        with open(os.path.join(self.folder, kept.name), "rb") as file:
            self.assertNotIn(b"SpyCam", file.read())

    def test_transparency_kept(self) -> None:
        """A PNG with transparent parts stays transparent."""
        picture = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
        ImageDraw.Draw(picture).ellipse((5, 5, 45, 45), fill=(255, 255, 0, 255))
        out = io.BytesIO()
        picture.save(out, "PNG")
        kept = store_picture(out.getvalue(), self.folder, self.limits)
        reopened = self.reopen(kept.name)
        self.assertEqual(reopened.mode, "RGBA")
        self.assertEqual(reopened.getpixel((0, 0)), (0, 0, 0, 0))

    def test_other_raster_formats_become_png(self) -> None:
        """A GIF, a WebP or a BMP is kept as a PNG."""
        for kind in ("GIF", "WEBP", "BMP"):
            kept = store_picture(disc(kind=kind), self.folder, self.limits)
            self.assertEqual(self.reopen(kept.name).format, "PNG", kind)

    def test_scaled_down(self) -> None:
        """A large picture is kept at most MAX_SIDE pixels wide and tall."""
        limits = PictureLimits(side=300)
        kept = store_picture(disc((1200, 600)), self.folder, limits)
        self.assertEqual(self.reopen(kept.name).size, (300, 150))

    def test_large_jpeg_scaled_down(self) -> None:
        """A large JPEG too (decoded at a fraction of its size first)."""
        limits = PictureLimits(side=300)
        kept = store_picture(disc((1600, 1200), "JPEG"), self.folder, limits)
        self.assertEqual(self.reopen(kept.name).size, (300, 225))

    def test_same_picture_same_file(self) -> None:
        """The same picture sent twice is one file, under one name."""
        first = store_picture(disc(), self.folder, self.limits)
        second = store_picture(disc(), self.folder, self.limits)
        self.assertEqual(first, second)
        self.assertEqual(self.stored(), [first.name])

    def test_html_renamed(self) -> None:
        """An HTML page (whatever its name said) is not a picture."""
        error = self.refused(
            b"<!DOCTYPE html><html><script>alert(1)</script></html>", NotAPicture
        )
        self.assertEqual(error.why, "not_an_image")
        self.assertEqual(
            str(error),
            "cannot show that picture: not a picture (or in a format we cannot read)",
        )

    def test_svg(self) -> None:
        """An SVG (a document that can hold scripts) is not a picture here."""
        svg = (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
        )
        error = self.refused(svg, NotAPicture)
        self.assertEqual(error.why, "not_an_image")

    def test_postscript(self) -> None:
        """
        An EPS, which Pillow would hand to Ghostscript, is not read at all
        (only raster decoders are tried).
        """
        eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
        error = self.refused(eps, NotAPicture)
        self.assertEqual(error.why, "not_an_image")

    def test_decompression_bomb(self) -> None:
        """
        A small file that says it has more pixels than MAX_PIXELS is refused
        from its header, before anything is decoded.
        """
        bomb = png_header(10_000, 5_000)  # 50 Mpx in 1 kB
        self.assertLess(len(bomb), 2000)
        error = self.refused(bomb, PictureTooLarge)
        self.assertEqual((error.unit, error.limit), ("pixels", 40_000_000))
        self.assertEqual(
            str(error),
            "cannot show that picture: the picture is too large "
            "(40000000 pixels at most)",
        )

    def test_giant_decompression_bomb(self) -> None:
        """Pillow's own refusal (over twice its MAX_IMAGE_PIXELS) is ours too."""
        error = self.refused(png_header(60_000, 60_000), PictureTooLarge)
        self.assertEqual(error.unit, "pixels")

    def test_too_many_bytes(self) -> None:
        limits = PictureLimits(bytes=100)
        error = self.assertRaises(
            PictureTooLarge, store_picture, disc(), self.folder, limits
        )
        self.assertEqual((error.unit, error.limit), ("bytes", 100))

    def test_damaged(self) -> None:
        """A PNG cut short is damaged."""
        data = disc((400, 400))
        self.refused(data[: len(data) // 2], NotAPicture)

    def test_empty_file(self) -> None:
        error = self.refused(b"", NotAPicture)
        self.assertEqual(error.why, "not_an_image")

    def test_blank(self) -> None:
        """An all-black picture comes out as blank art: refused as the client does."""
        out = io.BytesIO()
        Image.new("RGB", (40, 40), "black").save(out, "PNG")
        error = self.refused(out.getvalue(), NotAPicture)
        self.assertEqual(error.why, "blank")


class PictureStoreTests(TestCase):
    def setUp(self) -> None:
        self.folder = self.mktemp()

    def start(self, **options: int) -> PictureStore:
        store = PictureStore(self.folder, reactor, **options)  # type: ignore[arg-type]
        store.startService()
        self.addCleanup(store.stopService)
        return store

    def test_keep(self) -> Deferred[None]:
        """keep() stores the picture in a thread and fires with its name and art."""

        async def scenario() -> None:
            store = self.start()
            kept = await store.keep(disc())
            self.assertEqual(os.listdir(self.folder), [kept.name])
            self.assertTrue(kept.art.strip())
            self.assertEqual((store.stored, store.refused, store.in_hand), (1, 0, 0))

        return Deferred.fromCoroutine(scenario())

    def test_refusal(self) -> Deferred[None]:
        async def scenario() -> None:
            store = self.start()
            with self.assertRaises(NotAPicture):
                await store.keep(b"<html></html>")
            self.assertEqual((store.stored, store.refused, store.in_hand), (0, 1, 0))

        return Deferred.fromCoroutine(scenario())

    def test_busy(self) -> Deferred[None]:
        """Past its workers and waiting places, a picture is refused at once."""
        store = self.start(workers=1, waiting=1)
        first, second = store.keep(disc()), store.keep(disc((60, 60)))
        third = store.keep(disc((70, 70)))
        self.failureResultOf(third, PicturesBusy)
        return first.addCallback(lambda _: second).addCallback(lambda _: None)

    def test_too_many_bytes_before_any_thread(self) -> None:
        store = self.start()
        store.limits = PictureLimits(bytes=10)
        self.failureResultOf(store.keep(disc()), PictureTooLarge)
        self.assertEqual(store.in_hand, 0)

    def test_not_started(self) -> None:
        store = PictureStore(self.folder, reactor)  # type: ignore[arg-type]
        self.failureResultOf(store.keep(disc()), PicturesBusy)


class MediaResourceTests(TestCase):
    """C{/media/} over real HTTP on loopback."""

    def setUp(self) -> None:
        self.folder = self.mktemp()
        self.kept = store_picture(disc(), self.folder, PictureLimits())
        self.jpeg = store_picture(disc(kind="JPEG"), self.folder, PictureLimits())
        root = Resource()
        store = PictureStore(self.folder, reactor)  # type: ignore[arg-type]
        root.putChild(b"media", MediaResource(store))
        site = Site(root)
        self.port: IListeningPort = reactor.listenTCP(
            0,
            site,  # type: ignore[arg-type]
            interface="127.0.0.1",
        )
        self.addCleanup(self.port.stopListening)

    async def get(
        self, path: bytes, headers: dict[bytes, bytes] | None = None
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        """The status, headers (one value each) and body of C{GET path}."""
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        url = b"http://127.0.0.1:%d%s" % (
            cast(IPv4Address, self.port.getHost()).port,
            path,
        )
        sent = Headers({name: [value] for name, value in (headers or {}).items()})
        response = await agent.request(b"GET", url, sent)
        body = await read_body(response)
        fields = {
            name.lower(): values[0]
            for name, values in response.headers.getAllRawHeaders()
        }
        return response.code, fields, body

    def test_png(self) -> Deferred[None]:
        async def scenario() -> None:
            status, headers, body = await self.get(b"/media/" + self.kept.name.encode())
            self.assertEqual(status, 200)
            self.assertEqual(headers[b"content-type"], b"image/png")
            self.assertEqual(headers[b"x-content-type-options"], b"nosniff")
            self.assertEqual(
                headers[b"content-security-policy"], b"default-src 'none'; sandbox"
            )
            self.assertEqual(headers[b"content-disposition"], b"inline")
            self.assertIn(b"immutable", headers[b"cache-control"])
            with open(os.path.join(self.folder, self.kept.name), "rb") as file:
                self.assertEqual(body, file.read())

        return Deferred.fromCoroutine(scenario())

    def test_jpeg(self) -> Deferred[None]:
        async def scenario() -> None:
            status, headers, body = await self.get(b"/media/" + self.jpeg.name.encode())
            self.assertEqual((status, headers[b"content-type"]), (200, b"image/jpeg"))
            self.assertEqual(body[:2], b"\xff\xd8")

        return Deferred.fromCoroutine(scenario())

    def test_cached(self) -> Deferred[None]:
        """A browser that has it (its ETag) gets a 304."""

        async def scenario() -> None:
            name = self.kept.name.encode()
            status, headers, _ = await self.get(b"/media/" + name)
            etag = headers[b"etag"]
            status, _, body = await self.get(
                b"/media/" + name, {b"If-None-Match": etag}
            )
            self.assertEqual((status, body), (304, b""))

        return Deferred.fromCoroutine(scenario())

    def test_nothing_else(self) -> Deferred[None]:
        """No listing, no other file of the folder, no way out of it."""

        async def scenario() -> None:
            with open(os.path.join(self.folder, "notes.html"), "wb") as file:
                file.write(b"<script>alert(1)</script>")
            name = self.kept.name.encode()
            for path in (
                b"/media/",
                b"/media",
                b"/media/notes.html",
                b"/media/../media/notes.html",
                b"/media/..%2fmedia%2fnotes.html",
                b"/media/%2e%2e/%2e%2e/etc/passwd",
                b"/media/" + name + b"/notes.html",
                b"/media/" + name.upper(),
                b"/media/" + b"0" * 64 + b".png",  # a name of ours, not stored
            ):
                status, _, body = await self.get(path)
                self.assertEqual(status, 404, path)
                self.assertNotIn(b"alert", body)
                self.assertNotIn(name, body)

        return Deferred.fromCoroutine(scenario())
