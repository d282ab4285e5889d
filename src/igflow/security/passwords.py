"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the username does not exist, so that a wrong username costs as much time
# as a wrong password and the response time does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("igflow-dummy-password-for-timing")

MIN_PASSWORD_LENGTH = 12
# Argon2id is deliberately costly (~50 ms of a core and 64 MiB each): a burst of sign-ins is verified a
# core at a time, so 100 people signing in at 8:00 queue here for CPU instead of all thrashing at once
# (and every other request still gets a core between them). Callers hold no database connection.
_ARGON2_SLOTS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1)))


class WeakPasswordError(ValueError):
    pass


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 256:
        raise WeakPasswordError("password: must be at most 256 characters")


def hash_password(password: str) -> str:
    check_strength(password)
    with _ARGON2_SLOTS:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        with _ARGON2_SLOTS:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
