"""
The client side of a WebSocket (RFC 6455), as small as a load generator needs.

The benchmarks' WebSocket clients must cost little, so that a run bound by
its generator is not taken for a server limit: this module is their whole
WebSocket. L{Upgrade} writes the opening handshake (C{GET /ws}, with the
C{Origin} of the page's own address, as a browser that loaded the page
sends it) and reads the server's answer, which must be C{101} with the
C{Sec-WebSocket-Accept} its key calls for. L{client_frame} makes a masked
client frame; L{frame_end} finds where a server frame (never masked) ends,
by its length alone, and L{frame_payload} gives a frame's opcode and
payload. No extension is asked for, so the server's frames are plain; a
message the server fragments, or any frame longer than a benchmark's
records, comes through L{frame_payload} as whatever the frame holds and is
reported by the client as unexpected.
"""

from __future__ import annotations

import base64
import hashlib
import os

from harness import BenchmarkFailed

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
PATH = "/ws"
TEXT = 0x1
CLOSE = 0x8
PING = 0x9
PONG = 0xA
FIN = 0x80
MASKED = 0x80
MAX_HANDSHAKE = 16384  # an answer longer than this is no WebSocket server's


def accept_for(key: bytes) -> bytes:
    """The C{Sec-WebSocket-Accept} a server must answer the key C{key} with."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


class Upgrade:
    """
    One connection's opening handshake: the request to send, then the server's
    answer, read from whatever chunks it comes in.
    """

    def __init__(self, host: str, port: int, path: str = PATH) -> None:
        self.key = base64.b64encode(os.urandom(16))
        address = f"{host}:{port}"
        self.request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {address}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Origin: http://{address}\r\n"
            "\r\n"
        ).encode("ascii")
        self._answer = b""

    def read(self, data: bytes) -> bytes | None:
        """
        Take C{data} from the server: None while its answer is incomplete; then
        what came after it (the first frames, maybe). Raises L{BenchmarkFailed}
        if the server refused the upgrade.
        """
        answer = self._answer + data
        head, blank, rest = answer.partition(b"\r\n\r\n")
        if not blank:
            if len(answer) > MAX_HANDSHAKE:
                raise BenchmarkFailed("WebSocket handshake: no end to the answer")
            self._answer = answer
            return None
        lines = head.split(b"\r\n")
        status = lines[0].split(b" ", 2)
        if len(status) < 2 or status[1] != b"101":
            raise BenchmarkFailed(
                "WebSocket handshake refused: " + lines[0].decode("latin-1")
            )
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"sec-websocket-accept") != accept_for(self.key):
            raise BenchmarkFailed("WebSocket handshake: wrong Sec-WebSocket-Accept")
        self._answer = b""
        return rest


def mask(payload: bytes, key: bytes) -> bytes:
    """C{payload} XORed with the 4-byte C{key} repeated, as a client sends it."""
    size = len(payload)
    if not size:
        return payload
    repeated = (key * (size // 4 + 1))[:size]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(size, "big")


def client_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One whole, masked client frame of C{payload} (a text frame by default)."""
    size = len(payload)
    if size < 126:
        head = bytes((FIN | opcode, MASKED | size))
    elif size < 65536:
        head = bytes((FIN | opcode, MASKED | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((FIN | opcode, MASKED | 127)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + mask(payload, key)


def frame_end(buffer: bytes, pos: int) -> int:
    """Where the server frame starting at C{pos} ends, or -1 if it is incomplete."""
    available = len(buffer) - pos
    if available < 2:
        return -1
    size = buffer[pos + 1] & 0x7F
    if size == 126:
        if available < 4:
            return -1
        end = pos + 4 + int.from_bytes(buffer[pos + 2 : pos + 4], "big")
    elif size == 127:
        if available < 10:
            return -1
        end = pos + 10 + int.from_bytes(buffer[pos + 2 : pos + 10], "big")
    else:
        end = pos + 2 + size
    return end if end <= len(buffer) else -1


def frame_payload(record: bytes) -> tuple[int, bytes]:
    """The opcode and payload of one whole server frame (unmasked)."""
    size = record[1] & 0x7F
    start = 4 if size == 126 else 10 if size == 127 else 2
    return record[0] & 0x0F, record[start:]
