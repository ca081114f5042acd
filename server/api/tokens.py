"""Access tokens: signed (HMAC-SHA256), expiring, and carrying only the user name.

Format: ``base64url(payload JSON) "." base64url(signature)``; the payload holds ``sub`` (user),
``iat`` and ``exp`` (Unix seconds) and a random ``jti``. ElasticJob-Cloud 3.0's token was a
reversible encoding of the password that never expired; these are neither.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
from datetime import UTC

from server.base.clock import Clock, SystemClock
from server.domain.errors import Unauthenticated


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues tokens that live ``ttl_seconds`` and verifies them, on ``clock``'s wall time."""

    def __init__(self, secret: str, ttl_seconds: int, clock: Clock | None = None) -> None:
        if not secret:
            raise ValueError("token secret must not be empty")
        self._key = hashlib.sha256(b"elasticjob-cloud-token:" + secret.encode()).digest()
        self._ttl = ttl_seconds
        self._clock = clock or SystemClock()

    def _epoch(self) -> float:
        return self._clock.now(UTC).timestamp()

    def issue(self, username: str) -> str:
        now = int(self._epoch())
        payload = {"sub": username, "iat": now, "exp": now + self._ttl, "jti": secrets.token_hex(8)}
        body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str) -> str:
        """The user name in a valid token; Unauthenticated saying why otherwise."""
        body, dot, signature = token.strip().partition(".")
        if not dot or not body or not signature or not token.isascii():
            raise Unauthenticated("malformed access token")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise Unauthenticated("invalid access token")
        try:
            payload = json.loads(_b64decode(body))
            subject, expires = str(payload["sub"]), payload["exp"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise Unauthenticated("malformed access token") from None
        if isinstance(expires, bool) or not isinstance(expires, int | float) or not math.isfinite(expires):
            raise Unauthenticated("malformed access token: its expiry is not a finite time")
        if self._epoch() >= expires:
            raise Unauthenticated("access token expired; log in again")
        return subject

    def _sign(self, body: str) -> str:
        return _b64encode(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())


class Credentials:
    """The one API user, compared in constant time."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username.encode()
        self._password = password.encode()

    def check(self, username: str, password: str) -> None:
        user_ok = hmac.compare_digest(username.encode(), self._username)
        password_ok = hmac.compare_digest(password.encode(), self._password)
        if not (user_ok and password_ok):
            raise Unauthenticated("wrong username or password")
