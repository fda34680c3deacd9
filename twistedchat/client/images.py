"""
Pictures for the terminal client: an image file turned into plain-text ASCII art.

The client shows a picture by sending its art in a ShowImage frame, so the art
must be plain printable text (lines joined by C{"\\n"}, no escape codes) and
small: at most L{MAX_ROWS} lines of at most L{MAX_COLUMNS} characters, a few
KiB, far below the 64 KiB frame limit. Decoding an image is slow and blocking,
so L{render_image} runs L{image_to_art} off the reactor thread; every failure a
user can cause (no such file, unreadable, not an image) is one L{ImageError},
whose L{ImageProblem} the client says in the reader's language. L{image_path}
reads the path as a person types it after C{/image}: C{~} expanded, quotes
allowed. The server makes the same art of the pictures web users send
(L{picture_to_art}), so that a picture looks alike whoever sent it.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
import stat
import struct
from collections.abc import Callable

from ascii_magic import AsciiArt
from PIL import Image, UnidentifiedImageError
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

MAX_ROWS = 40
MAX_COLUMNS = 200
# A character cell is about 2.2 times as tall as it is wide.
_CELL_RATIO = 2.2
# ascii-magic's ASCII mode emits none today; strip them should it ever start.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|.)?")


class ImageProblem(enum.Enum):
    """Why an image file could not be turned into art (the value, in English)."""

    NOT_FOUND = "no such file"
    DIRECTORY = "is a directory, not an image file"
    NOT_REGULAR = "not a regular file"
    NOT_READABLE = "not readable (permission denied)"
    CANNOT_READ = "cannot read it"
    NOT_AN_IMAGE = "not an image (or in a format Pillow cannot read)"
    TOO_LARGE = "the picture is too large"
    DAMAGED = "cannot decode the picture"
    EMPTY = "the picture is empty (no pixels)"
    BLANK = "the picture comes out blank (all dark)"


class ImageError(Exception):
    """
    An image file could not be turned into art: C{problem} says why, C{detail}
    adds what the system or the decoder said, if anything; the message is
    the English of both.
    """

    def __init__(self, path: str, problem: ImageProblem, detail: str = "") -> None:
        self.path = path
        self.problem = problem
        self.detail = detail
        why = f"{problem.value} ({detail})" if detail else problem.value
        super().__init__(f"{path}: {why}")


def image_path(argument: str) -> str:
    """
    The file named by what follows C{/image}: the whole of it (a name may
    hold blanks), or one quoted name; C{~} and C{~user} expanded.

    @raise ValueError: no name, a quote left open, or several quoted names.
    """
    text = argument.strip()
    if text[:1] in ("'", '"'):
        names = shlex.split(text)  # ValueError for an unclosed quote
        if len(names) != 1:
            raise ValueError(f"one file name expected, not {len(names)}")
        text = names[0]
    if not text:
        raise ValueError("no file name")
    return os.path.expanduser(text)


def image_to_art(path: str, columns: int = 60) -> str:
    """
    Turn the image file at C{path} into plain-text ASCII art.

    The art is at most C{columns} characters wide (C{columns} is capped at
    L{MAX_COLUMNS}) and at most L{MAX_ROWS} lines tall: a tall picture is made
    narrower to fit. Dark parts become spaces, which suits a dark terminal;
    transparent parts count as black. Blocking: meant for a worker thread.

    @raise ImageError: the file is missing, not a regular file, unreadable, not
        an image Pillow can decode, or comes out blank.
    @raise ValueError: C{columns} is less than 1.
    """
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    art = _art(_shrink(path, min(columns, MAX_COLUMNS)))
    if not art:
        raise ImageError(path, ImageProblem.BLANK)
    return art


def picture_to_art(picture: Image.Image, columns: int = 60) -> str:
    """
    The art of a decoded C{picture}, as L{image_to_art} makes it of a file
    (the server makes it of the pictures sent from web pages, so everyone
    sees them alike); C{""} if it comes out blank. Blocking.

    @raise ValueError: C{columns} is less than 1, or the picture has no pixels.
    """
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    if not picture.width or not picture.height:
        raise ValueError("the picture has no pixels")
    size = _art_size(picture.width, picture.height, min(columns, MAX_COLUMNS))
    return _art(
        _flatten(picture.convert("RGBA").resize(size, Image.Resampling.LANCZOS))
    )


def _art(picture: Image.Image) -> str:
    """
    The art of C{picture}, an RGB picture with one pixel per character; C{""}
    if it comes out blank.
    """
    # The picture already has one pixel per character: a width ratio of 1.
    art: str = AsciiArt.from_pillow_image(picture).to_ascii(
        columns=picture.width, width_ratio=1.0, monochrome=True
    )
    lines = [_plain(line) for line in art.splitlines()[:MAX_ROWS]]
    return "\n".join(lines) if any(lines) else ""


def render_image(
    path: str,
    columns: int = 60,
    *,
    run_in_thread: Callable[..., Deferred[str]] | None = None,
) -> Deferred[str]:
    """
    Turn the image file at C{path} into art (see L{image_to_art}: at most
    C{columns} wide and L{MAX_ROWS} lines) in a worker thread.

    @param run_in_thread: called as C{run_in_thread(image_to_art, path,
        columns)}; L{twisted.internet.threads.deferToThread} by default, a
        service's own thread pool through C{deferToThreadPool} for example.
    @return: fires with the art, or fails with L{ImageError}.
    """
    run = deferToThread if run_in_thread is None else run_in_thread
    return run(image_to_art, path, columns)


def _shrink(path: str, columns: int) -> Image.Image:
    """
    The image at C{path} at the size of its art (see L{_art_size}), as RGB
    with transparent parts on black, or raise L{ImageError}.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageError(path, ImageProblem.NOT_FOUND) from None
    except OSError as e:
        raise ImageError(path, ImageProblem.CANNOT_READ, str(e.strerror or e)) from e
    if stat.S_ISDIR(mode):
        raise ImageError(path, ImageProblem.DIRECTORY)
    if not stat.S_ISREG(mode):
        # A FIFO or a device could block the worker thread for ever.
        raise ImageError(path, ImageProblem.NOT_REGULAR)
    try:
        file = open(path, "rb")  # noqa: SIM115 (the with below closes it)
    except PermissionError:
        raise ImageError(path, ImageProblem.NOT_READABLE) from None
    except OSError as e:
        raise ImageError(path, ImageProblem.CANNOT_READ, str(e.strerror or e)) from e
    with file:
        try:
            with Image.open(file) as picture:
                if not picture.width or not picture.height:
                    raise ImageError(path, ImageProblem.EMPTY)
                size = _art_size(picture.width, picture.height, columns)
                # JPEG can decode at a fraction of full size, much faster.
                picture.draft(None, size)
                # Resize and flatten here, ascii-magic only choosing the
                # characters: it fails on palette and grey-with-alpha images
                # and on pictures that would come out less than a row tall.
                small = picture.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
        except UnidentifiedImageError:
            raise ImageError(path, ImageProblem.NOT_AN_IMAGE) from None
        except Image.DecompressionBombError as e:
            raise ImageError(path, ImageProblem.TOO_LARGE, str(e)) from e
        except (OSError, ValueError, EOFError, SyntaxError, struct.error) as e:
            # Pillow's decoders fail in all these ways on a damaged file.
            raise ImageError(path, ImageProblem.DAMAGED, str(e)) from e
    return _flatten(small)


def _flatten(small: Image.Image) -> Image.Image:
    """The RGBA picture C{small} as RGB, its transparent parts on black."""
    black = Image.new("RGBA", small.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, small).convert("RGB")


def _art_size(width: int, height: int, columns: int) -> tuple[int, int]:
    """
    Columns and rows of the art of a C{width} by C{height} picture: C{columns}
    wide unless that makes it over L{MAX_ROWS} tall, never less than 1 by 1.
    """
    rows = round(height * columns / (width * _CELL_RATIO))
    if rows > MAX_ROWS:
        rows = MAX_ROWS
        columns = min(columns, round(MAX_ROWS * width * _CELL_RATIO / height))
    return max(1, columns), max(1, rows)


def _plain(line: str) -> str:
    """C{line} with escape sequences, control characters and trailing blanks gone."""
    line = _ESCAPE_SEQUENCE.sub("", line)
    return "".join(c for c in line if c.isprintable()).rstrip()
