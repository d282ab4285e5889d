"""The pre-login CSRF token: issued and signed by the server, so a value planted by a client (a cookie
set by a sibling site, say) is never adopted.

A token is ``nonce.issued.mac``: a random nonce, the Unix time it was issued and an HMAC-SHA256 over
both with a server key. The key is random, made once and kept in the database (``server_secret``) so
that every server process accepts every other's tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.security.server_keys import ServerSecret

KEY_NAME = "prelogin_csrf"
MAX_AGE_S = 12 * 3600


def load_key(session: Session) -> bytes:
    """The signing key, made on first use (a concurrent first use by another process is fine)."""
    row = session.get(ServerSecret, KEY_NAME)
    if row is None:
        session.add(ServerSecret(name=KEY_NAME, value=secrets.token_hex(32)))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        row = session.get(ServerSecret, KEY_NAME)
        assert row is not None
    return bytes.fromhex(row.value)


def _mac(key: bytes, nonce: str, issued: int) -> str:
    return hmac.new(key, f"prelogin:{nonce}.{issued}".encode(), hashlib.sha256).hexdigest()[:43]


def issue(key: bytes, now: float | None = None) -> str:
    nonce = secrets.token_urlsafe(24)
    issued = int(now if now is not None else time.time())
    return f"{nonce}.{issued}.{_mac(key, nonce, issued)}"


def is_valid(key: bytes, token: str | None, now: float | None = None) -> bool:
    """True only for a token this server issued, not older than :data:`MAX_AGE_S`."""
    if not token or len(token) > 200:
        return False
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    nonce, issued_text, mac = parts
    issued = int(issued_text)
    age = (now if now is not None else time.time()) - issued
    if not 0 <= age <= MAX_AGE_S:
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, nonce, issued).encode())
