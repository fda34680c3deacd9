"""
Pictures sent from web pages: checked, re-encoded, stored, served, and shown
as ASCII art to everyone else.

A web user sends the bytes of an image file; the server never keeps nor
serves those bytes. L{PictureStore} hands them to a thread of its own
(L{store_picture}, a bounded number at once), which refuses what is too
large (in bytes, then in pixels read from the header before anything is
decoded), decodes it with Pillow's raster decoders alone (PNG, JPEG, GIF,
WebP, BMP: never SVG, HTML nor the decoders that run other programs),
turns it upright, scales it down to L{MAX_SIDE} pixels at most, and writes
it again, without its metadata, as a JPEG (a photo that came as one) or a
PNG, under C{DATA_DIR/media/} by a name of the server's own: the SHA-256 of
what it wrote and the extension (L{twistedchat.core.history.is_picture_name}).
The same picture becomes the plain-text art the terminal client makes of
an image file (L{twistedchat.client.images.picture_to_art}, as wide), which
the core's C{show_image} relays to the line, framed and IRC users;
L{MediaResource}, the web Site's C{/media/}, serves the stored files, and
only them, to the web users.

The web front's part: L{SendPicture} is its C{send_picture} request (the
JSON protocol's own: framed clients send art), L{take_picture} its checks
(in the room, the flood budget) before the store; the picture's name
reaches web users as its path (L{with_picture_path} in C{image_shown},
L{link_pictures} in history entries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from twisted.web import http, static
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from ... import codec
from ...client.images import picture_to_art
from ...codec import Frame
from ...core.errors import NotAPicture, NotInRoom, PicturesBusy, PictureTooLarge
from ...core.history import is_picture_name
from ...core.names import fold_room
from ...core.presence import hears
from ...core.session import Session
from ..policy import ConnectionPolicy

MAX_PICTURE = 5 * 1024 * 1024  # bytes of the file a web user sends
MAX_PIXELS = 40_000_000  # width x height, read from its header
MAX_SIDE = 1600  # pixels: a larger picture is scaled down to this width or height
ART_COLUMNS = 60  # as wide as the terminal client's art (client/main.py)
WORKERS = 2  # pictures decoded at once: each may take a second and 160 MB
WAITING = 8  # pictures waiting for a worker before the next ones are refused
JPEG_QUALITY = 85
# Pillow's raster decoders a picture may be read by: nothing that runs
# another program (EPS: Ghostscript) nor reads vector or document formats.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg"}
# A picture costs this many lines' worth of a connection's flood budget (half
# a second of the default rate): decoding one takes far more than a message.
PICTURE_COST = 10
MEDIA_PATH = "/media/"  # where the web Site serves the stored pictures
# What a page may put before the base64 (FileReader.readAsDataURL's way).
_DATA_URL = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,")
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg"}
# Pillow's decoders fail in all these ways on a damaged file.
_DAMAGED = (OSError, ValueError, EOFError, SyntaxError, struct.error, IndexError)


@dataclass(slots=True)
class SendPicture(Frame):
    """
    A web user's request (a request of the JSON protocol alone, no framed
    frame): show the picture whose file's bytes C{data} holds in base64,
    in C{room}.
    """

    room: str
    data: str

    FIELDS = (("room", codec.STR), ("data", codec.TEXT))


def message_size(picture_bytes: int) -> int:
    """The largest send_picture message a picture of C{picture_bytes} makes."""
    return 4 * ((picture_bytes + 2) // 3) + 1024  # base64, and the rest


def take_picture(
    store: PictureStore | None,
    session: Session,
    policy: ConnectionPolicy,
    frame: SendPicture,
) -> Deferred[StoredPicture] | None:
    """
    The checks of a C{send_picture} request of C{session}'s, then the
    picture stored: fires with its name and art, for the core to show;
    refusals are the core's errors (L{NotInRoom}, L{NotAPicture},
    L{PictureTooLarge}, L{PicturesBusy}). A picture costs L{PICTURE_COST}
    of the flood budget (its message paid one already): past it, C{policy}
    says so and nothing is done (C{None}).
    """
    extra = min(PICTURE_COST, policy.limits.flood_burst) - 1
    if extra > 0 and not policy.allow(extra):
        return None
    if not hears(session, fold_room(frame.room)):
        raise NotInRoom(frame.room)
    if store is None:
        raise PicturesBusy()
    return store.keep_sent(frame.data)


def picture_path(name: str) -> str:
    """The path of the stored picture C{name} on the web port ("" for none)."""
    return MEDIA_PATH + name if name else ""


def with_picture_path(text: str, name: str) -> str:
    """The JSON object C{text} (an image_shown) with its C{"picture"} path."""
    return f'{text[:-1]},"picture":{json.dumps(picture_path(name))}}}'


def link_pictures(entries: str) -> str:
    """
    The JSON of history entries, C{entries}, with each picture's name as its
    path on the web port. A text value holds no bare C{"} (JSON escapes it),
    so C{"picture":"} is found only as an entry's key.
    """
    if '"picture":"' not in entries:
        return entries
    return entries.replace('"picture":"', '"picture":"' + MEDIA_PATH)


@dataclass(frozen=True)
class StoredPicture:
    """A picture kept under C{name} in the media folder, and its C{art}."""

    name: str
    art: str


@dataclass(frozen=True)
class PictureLimits:
    bytes: int = MAX_PICTURE
    pixels: int = MAX_PIXELS
    side: int = MAX_SIDE


def store_picture(data: bytes, folder: str, limits: PictureLimits) -> StoredPicture:
    """
    Keep the picture in C{data} (an image file's bytes) in C{folder},
    re-encoded, and make its art. Blocking: meant for a worker thread.
    Nothing is written when it is refused.

    @raise NotAPicture: it is not a raster image Pillow reads, or is damaged,
        empty, or comes out blank as art.
    @raise PictureTooLarge: C{data} is over C{limits.bytes}, or the picture
        over C{limits.pixels}.
    """
    if len(data) > limits.bytes:
        raise PictureTooLarge("bytes", limits.bytes)
    picture, source = _decode(data, limits)
    art = picture_to_art(picture, ART_COLUMNS)
    if not art:
        raise NotAPicture("blank")
    content, extension = _encode(picture, source)
    name = hashlib.sha256(content).hexdigest() + extension
    _write(folder, name, content)
    return StoredPicture(name, art)


def store_sent_picture(text: str, folder: str, limits: PictureLimits) -> StoredPicture:
    """L{store_picture} of the bytes C{text} holds in base64 (see L{keep_sent})."""
    head = _DATA_URL.match(text)
    try:
        data = base64.b64decode(text[head.end() :] if head else text, validate=True)
    except (binascii.Error, ValueError):
        raise NotAPicture("not_base64") from None
    return store_picture(data, folder, limits)


def _decode(data: bytes, limits: PictureLimits) -> tuple[Image.Image, str]:
    """
    The picture in C{data}, upright, at most C{limits.side} pixels wide and
    tall, in RGB or RGBA, with nothing of the file's metadata; and the
    format it came in.
    """
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as opened:
            width, height = opened.size  # from the header: nothing decoded yet
            if not width or not height:
                raise NotAPicture("empty")
            if width * height > limits.pixels:
                raise PictureTooLarge("pixels", limits.pixels)
            source = opened.format or ""
            # A JPEG can be decoded at a fraction of its size, much faster.
            opened.draft(None, _scaled(width, height, limits.side))
            opened.load()
            try:
                upright = ImageOps.exif_transpose(opened)
            except _DAMAGED:  # a damaged EXIF block: the picture as it is
                upright = opened.copy()
    except UnidentifiedImageError:
        raise NotAPicture("not_an_image") from None
    except Image.DecompressionBombError:
        # Over twice Pillow's own MAX_IMAGE_PIXELS, refused by Image.open.
        raise PictureTooLarge("pixels", limits.pixels) from None
    except _DAMAGED:
        raise NotAPicture("damaged") from None
    transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    try:
        picture = upright.convert("RGBA" if transparent and source != "JPEG" else "RGB")
        picture.thumbnail((limits.side, limits.side), Image.Resampling.LANCZOS)
    except _DAMAGED:
        raise NotAPicture("damaged") from None
    # What the file said of itself (EXIF, ICC profile, comments, text
    # chunks) stays behind: only the pixels are written again.
    picture.info = {}
    return picture, source


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    """A C{width} by C{height} picture's size once at most C{side} each way."""
    if width <= side and height <= side:
        return width, height
    ratio = side / max(width, height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _encode(picture: Image.Image, source: str) -> tuple[bytes, str]:
    """The file of C{picture}: a JPEG if it came as one, else a PNG."""
    kind = "JPEG" if source == "JPEG" else "PNG"
    out = io.BytesIO()
    if kind == "JPEG":
        picture.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        picture.save(out, "PNG")
    return out.getvalue(), _EXTENSIONS[kind]


def _write(folder: str, name: str, content: bytes) -> None:
    """Write C{content} to C{folder}/C{name} whole or not at all."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    if os.path.exists(path):  # the same picture again: the same file
        return
    handle, temporary = tempfile.mkstemp(prefix=".incoming-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class PictureStore(Service):
    """
    The media folder and the threads that fill it: C{keep(data)} has a
    picture stored (L{store_picture}) by one of L{WORKERS} threads of its
    own, and refuses it (L{PicturesBusy}) when L{WAITING} more already wait.
    """

    log = Logger()

    def __init__(
        self,
        folder: str,
        reactor: IReactorFromThreads,
        limits: PictureLimits | None = None,
        workers: int = WORKERS,
        waiting: int = WAITING,
    ) -> None:
        self.folder = folder
        self.limits = limits or PictureLimits()
        self.workers = workers
        self.waiting = waiting
        self._reactor = reactor
        self._pool: ThreadPool | None = None
        self.in_hand = 0  # pictures being worked on or waiting for a worker
        self.stored = 0
        self.refused = 0

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._pool = ThreadPool(minthreads=0, maxthreads=self.workers, name="media")
        self._pool.start()

    def stopService(self) -> None:
        super().stopService()  # type: ignore[no-untyped-call]
        if self._pool is not None:
            self._pool.stop()  # waits for the pictures being worked on
            self._pool = None

    def keep(self, data: bytes) -> Deferred[StoredPicture]:
        """
        Store the picture in C{data}; fires with its name and art, or fails
        with L{NotAPicture}, L{PictureTooLarge} or L{PicturesBusy}.
        """
        if len(data) > self.limits.bytes:
            return self._refuse(PictureTooLarge("bytes", self.limits.bytes))
        return self._run(store_picture, data)

    def keep_sent(self, text: str) -> Deferred[StoredPicture]:
        """
        Store the picture whose bytes C{text} holds in base64 (maybe after
        a C{data:} URL's head), decoded by the worker; as L{keep}.
        """
        if len(text) > message_size(self.limits.bytes):
            return self._refuse(PictureTooLarge("bytes", self.limits.bytes))
        return self._run(store_sent_picture, text)

    def _refuse(self, error: Exception) -> Deferred[StoredPicture]:
        self.refused += 1
        return fail(error)

    def _run(self, function: Any, data: Any) -> Deferred[StoredPicture]:
        if self._pool is None or self.in_hand >= self.workers + self.waiting:
            return self._refuse(PicturesBusy())
        self.in_hand += 1
        done: Deferred[StoredPicture] = deferToThreadPool(
            self._reactor, self._pool, function, data, self.folder, self.limits
        )
        return done.addBoth(self._done)

    def _done(self, result: Any) -> Any:
        self.in_hand -= 1
        if isinstance(result, StoredPicture):
            self.stored += 1
            self.log.info(
                "picture stored as {name} ({lines} lines of art)",
                name=result.name,
                lines=result.art.count("\n") + 1,
            )
        else:
            self.refused += 1
        return result

    def path(self, name: str) -> str | None:
        """Where the picture called C{name} is, if it is a name the store gives."""
        return os.path.join(self.folder, name) if is_picture_name(name) else None


_NOT_FOUND = notFound("No Such Picture", "No such picture.")


class MediaResource(Resource):
    """
    C{/media/}: the pictures of C{store}, each under its name, and nothing
    else (no listing, no other file: a name is checked against the store's
    own); nothing at all without a store.
    """

    def __init__(self, store: PictureStore | None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store = store

    def getChild(self, path: bytes, request: Request) -> IResource:
        name = path.decode("ascii", "replace")
        found = None if self.store is None else self.store.path(name)
        return _NOT_FOUND if found is None else PictureFile(found)

    def render_GET(self, request: Request) -> bytes:
        page: bytes = _NOT_FOUND.render(request)
        return page


class PictureFile(static.File):
    """
    One stored picture: its type by its extension, never sniffed, never run
    as a document (CSP C{default-src 'none'}), cached for good (its name is
    its content's hash).
    """

    contentTypes = CONTENT_TYPES
    defaultType = "application/octet-stream"

    def render_GET(self, request: Request) -> bytes | int:
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        request.setHeader(b"Content-Security-Policy", b"default-src 'none'; sandbox")
        request.setHeader(b"Content-Disposition", b"inline")
        request.setHeader(b"Cross-Origin-Resource-Policy", b"same-origin")
        request.setHeader(b"Referrer-Policy", b"no-referrer")
        if not self.exists():
            page: bytes = _NOT_FOUND.render(request)
            return page
        request.setHeader(b"Cache-Control", b"public, max-age=31536000, immutable")
        if (
            request.setETag(b'"' + self.basename().encode("ascii") + b'"')
            == http.CACHED
        ):
            return b""
        result: bytes | int = super().render_GET(request)  # type: ignore[no-untyped-call]
        return result

    def getChild(self, path: bytes, request: Request) -> IResource:
        return _NOT_FOUND
