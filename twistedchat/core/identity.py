"""
Identities: user ids, resume tokens and colours.

A user id is random; its resume token is the id signed with the server's
secret (HMAC-SHA256), so the server keeps no table of tokens, a token survives
a restart when the secret does, and a forged or altered token is simply not
recognised. A colour is derived from the id, so it is stable for an identity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# xterm-256 colours readable on dark and light terminals alike.
PALETTE = (
    31,
    32,
    33,
    35,
    36,
    37,
    64,
    70,
    94,
    97,
    99,
    125,
    130,
    133,
    136,
    160,
    166,
    172,
)
SECRET_BYTES = 32
_SIGNATURE_CHARS = 32


class Identities:
    """Makes and checks identities for one server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("identity secret too short (16 bytes at least)")
        self._secret = secret

    @staticmethod
    def new_secret() -> bytes:
        return secrets.token_bytes(SECRET_BYTES)

    def new_id(self) -> str:
        return secrets.token_hex(8)

    def token(self, user_id: str) -> str:
        """The resume token of C{user_id}."""
        return f"{user_id}.{self._sign(user_id)}"

    def resume(self, token: str) -> str | None:
        """The user id C{token} was made for, or None if it is not one of ours."""
        user_id, dot, signature = token.partition(".")
        if not dot or not user_id or len(token) > 100:
            return None
        if not hmac.compare_digest(signature, self._sign(user_id)):
            return None
        return user_id

    def colour(self, user_id: str) -> int:
        digest = hashlib.sha256(user_id.encode("utf-8")).digest()
        return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]

    def _sign(self, user_id: str) -> str:
        mac = hmac.new(self._secret, user_id.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii")[:_SIGNATURE_CHARS]
