"""
Pictures sent from a web page, through the real C{twistd -n twistedchat}: a
WebSocket client sends image files (and files that only pretend to be
some), a netcat user in the room gets the real ones as ASCII art, the web
port serves the re-encoded files, and a reload's history links to them.
"""

from __future__ import annotations

import base64
import io
import os
import signal
import urllib.error
import urllib.request
from typing import Any

from PIL import Image

from twistedchat import codec

from .processes import LineClient, ServerProcess, ServerTestCase, WebClient
from .test_web_media import disc, png_header

ErrorCode = codec.ErrorCode


def hello(client: WebClient, nick: str, *rooms: str, token: str = "") -> dict[str, Any]:
    client.send(
        {
            "type": "hello",
            "version": codec.PROTOCOL_VERSION,
            "nick": nick,
            "token": token,
            "rooms": list(rooms),
        }
    )
    return client.expect("welcome")


def send_picture(client: WebClient, data: bytes, room: str = "general") -> None:
    text = base64.b64encode(data).decode("ascii")
    client.send({"type": "send_picture", "room": room, "data": text})


def stored(folder: str) -> list[str]:
    """The files of the media folder of the server that runs in C{folder}."""
    media = os.path.join(folder, "twistedchat-data", "media")
    return sorted(os.listdir(media)) if os.path.isdir(media) else []


class PicturesEndToEndTests(ServerTestCase):
    # Each picture costs PICTURE_COST of the flood budget: room for them all.
    server_arguments = ("--flood-burst", "500")

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body of C{GET path} on the web port."""
        url = f"http://127.0.0.1:{self.server.ports['web']}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def stored(self) -> list[str]:
        return stored(self.folder)

    def netcat_sees(self, netcat: LineClient, art: str) -> None:
        """The netcat user gets C{art}, line by line, as the picture of pia's."""
        netcat.expect("[pia] shows a picture:")
        for row in art.split("\n"):
            self.assertEqual((netcat.read_line() or "").rstrip(), f"  {row}".rstrip())

    def test_pictures_from_a_web_page(self) -> None:
        netcat = self.netcat("nelly")
        web = self.connect_web()
        welcome = hello(web, "pia", "general")
        web.expect("entered", room="general")

        # A PNG: the web page gets the picture's path, netcat its art.
        send_picture(web, disc())
        shown = web.expect("image_shown", room="general")
        self.assertEqual(shown["user"]["nick"], "pia")
        png = shown["picture"]
        self.assertRegex(png, r"^/media/[0-9a-f]{64}\.png$")
        self.assertGreater(len(shown["art"].split("\n")), 3)
        self.netcat_sees(netcat, shown["art"])

        # A JPEG photo stays a JPEG.
        send_picture(web, disc((300, 200), "JPEG"))
        shown = web.expect("image_shown", room="general")
        jpeg = shown["picture"]
        self.assertRegex(jpeg, r"^/media/[0-9a-f]{64}\.jpg$")
        self.netcat_sees(netcat, shown["art"])

        # What only pretends to be a picture is refused, and nothing is kept.
        fakes = [
            (b"<!DOCTYPE html><script>alert(1)</script>", ErrorCode.MALFORMED),
            (
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
                b"</script></svg>",
                ErrorCode.MALFORMED,
            ),
            (png_header(10_000, 5_000), ErrorCode.TOO_LARGE),  # 50 Mpx in 1 kB
        ]
        for data, code in fakes:
            send_picture(web, data)
            error = web.expect("error")
            self.assertEqual(error["code"], code, error)
            self.assertFalse(error["fatal"])
            self.assertIn("cannot show that picture", error["text"])
        self.assertEqual(error["details"], {"unit": "pixels", "limit": 40_000_000})
        web.send({"type": "send_picture", "room": "general", "data": "not base64!"})
        error = web.expect("error", code=ErrorCode.MALFORMED)
        self.assertEqual(error["details"], {"why": "not_base64"})
        send_picture(web, disc(), room="elsewhere")
        error = web.expect("error")
        self.assertEqual(error["code"], ErrorCode.NOT_IN_ROOM)
        web.send({"type": "say", "room": "general", "text": "that is all"})
        seen = netcat.expect("[pia] that is all")
        self.assertEqual(seen, [])  # no art of the fakes
        self.assertEqual(sorted(self.stored()), sorted([png[7:], jpeg[7:]]))

        # The web port serves what was stored, as what it is.
        for path, kind, format in (
            (png, "image/png", "PNG"),
            (jpeg, "image/jpeg", "JPEG"),
        ):
            status, headers, body = self.get(path)
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], kind)
            self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
            self.assertEqual(
                headers["Content-Security-Policy"], "default-src 'none'; sandbox"
            )
            self.assertEqual(Image.open(io.BytesIO(body)).format, format)
        self.assertEqual(self.get("/media/")[0], 404)
        self.assertEqual(self.get("/media/" + "0" * 64 + ".png")[0], 404)

        # A reload: the history links to the pictures themselves.
        again = self.connect_web()
        hello(again, "", "general", token=welcome["token"])
        history = again.expect("history", room="general")
        pictures = [
            entry.get("picture")
            for entry in history["entries"]
            if entry["kind"] == "image"
        ]
        self.assertEqual(pictures, [png, jpeg])

        # And after a restart, from the history files.
        self.assertEqual(self.server.stop(), -signal.SIGTERM)
        self.server = ServerProcess(self.folder, *self.server_arguments).start()
        self.addCleanup(self.server.stop)
        restarted = self.connect_web()
        hello(restarted, "pia", "general", token=welcome["token"])
        restarted.expect("entered", room="general")
        restarted.send({"type": "fetch_history", "room": "general", "count": 50})
        entries = restarted.expect("older", room="general")["entries"]
        pictures = [
            entry.get("picture") for entry in entries if entry["kind"] == "image"
        ]
        self.assertEqual(pictures, [png, jpeg])
        self.assertEqual(self.get(png)[0], 200)


def noise(size: tuple[int, int]) -> bytes:
    """A PNG of random pixels (it hardly compresses): about 3 bytes a pixel."""
    picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


class PictureSizeTests(ServerTestCase):
    server_arguments = ("--max-picture", "100000")

    def test_pictures_by_their_size(self) -> None:
        """
        MAX_PICTURE, not MAX_FRAME, bounds a picture's message: one over
        MAX_FRAME once in base64 is shown; one over MAX_PICTURE is refused
        with an error; a message far over it closes the connection (1009).
        """
        web = self.connect_web()
        hello(web, "sam", "general")
        web.expect("entered", room="general")
        data = noise((150, 150))
        self.assertGreater(len(base64.b64encode(data)), 65536)  # MAX_FRAME
        self.assertLess(len(data), 100_000)
        send_picture(web, data)
        self.assertRegex(web.expect("image_shown")["picture"], r"\.png$")

        over = data + b"\0" * (100_500 - len(data))  # trailing bytes: still a PNG
        send_picture(web, over)
        error = web.expect("error")
        self.assertEqual(error["code"], ErrorCode.TOO_LARGE)
        self.assertEqual(error["details"], {"unit": "bytes", "limit": 100_000})

        send_picture(web, noise((200, 200)))  # 160 kB in base64
        self.assertEqual(web.expect_closed(), [])
        self.assertEqual(web.close_code, 1009)
        self.assertEqual(len(stored(self.folder)), 1)
