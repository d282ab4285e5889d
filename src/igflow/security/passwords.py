"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendations), and the
strength rules a new staff password must meet (length, and zxcvbn's estimate of how easy it is to guess)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Verified against when the username does not exist, so that a wrong username costs as much time
# as a wrong password and the response time does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("igflow-dummy-password-for-timing")

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# Security policy (not clinical): zxcvbn's score runs 0-4 by estimated guesses to crack (3: at least
# 10^8 guesses, "safely unguessable: moderate protection from an offline slow-hash attack"; 4: 10^10).
# Below 3 a password falls to common-password lists, keyboard walks, repeats, dates or a dictionary word
# with a few digits. Raising it refuses more passphrases people can remember; lowering it lets through
# what attackers try first.
MIN_ZXCVBN_SCORE = 3
# zxcvbn refuses (ValueError) passwords longer than this and its cost grows with length: a longer one is
# judged by its first 72 characters, which can only make the estimate lower (stricter), never higher.
_ZXCVBN_MAX_LENGTH = 72
# Words of the account's own username and name shorter than this are not looked for inside a password.
_MIN_NAME_WORD = 3
# Argon2id is deliberately costly (~50 ms of a core and 64 MiB each): a burst of sign-ins is verified a
# core at a time, so 100 people signing in at 8:00 queue here for CPU instead of all thrashing at once
# (and every other request still gets a core between them). Callers hold no database connection.
_ARGON2_SLOTS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1)))


class WeakPasswordError(ValueError):
    pass


def _name_words(user_inputs: Iterable[str]) -> list[str]:
    """The words of the username and name ("carol.chen", "Carol Chen" -> carol, chen), longest first."""
    words = {
        w for text in user_inputs for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) >= _MIN_NAME_WORD
    }
    return sorted(words, key=lambda w: (-len(w), w))


def _estimate(password: str, user_inputs: Sequence[str]) -> dict[str, Any]:
    if not password:  # zxcvbn fails on an empty string (what is left of a password that is only a name)
        return {"score": 0, "sequence": [], "feedback": {}}
    result: dict[str, Any] = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=list(user_inputs))
    return result


def _sentence_inside(text: str) -> str:
    """'This is similar to a commonly used password.' -> 'this is similar to a commonly used password'."""
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _too_easy(reason: str, suggestions: Sequence[str]) -> WeakPasswordError:
    because = f" ({_sentence_inside(reason)})" if reason.strip() else ""
    advice = " ".join(s.strip() for s in suggestions[:2] if s.strip())
    advice = advice or "Use three or four unrelated words, or a longer phrase of your own."
    return WeakPasswordError(f"password: too easy to guess{because}. {advice}")


def check_strength(password: str, user_inputs: Sequence[str] = ()) -> None:
    """Refuse a password that is too short, too long, or easy to guess.

    ``user_inputs`` are the account's own username and display name: zxcvbn counts them as the first
    words an attacker tries, and a password whose strength comes only from them (``carol-chen-2026``
    for Carol Chen) is refused even where the estimate alone would pass it, because common first
    names and surnames are in zxcvbn's dictionaries anyway and the rest is a year and separators.
    The message names the problem and zxcvbn's suggestion, after "password: " (the field it is about).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")
    inputs = [text for text in user_inputs if text and text.strip()]
    result = _estimate(password, inputs)
    feedback = result.get("feedback") or {}
    from_name = any(m.get("dictionary_name") == "user_inputs" for m in result.get("sequence", []))
    if int(result["score"]) < MIN_ZXCVBN_SCORE:
        reason = (
            "it is built from the account's username or name" if from_name else feedback.get("warning", "")
        )
        raise _too_easy(reason, feedback.get("suggestions") or [])
    rest = password.lower()
    for word in _name_words(inputs):
        rest = rest.replace(word, "")
    if rest != password.lower() and int(_estimate(rest, inputs)["score"]) < MIN_ZXCVBN_SCORE:
        raise _too_easy(
            "it is built from the account's username or name",
            ["Add words that have nothing to do with the person or their account."],
        )


def hash_password(password: str, *, user_inputs: Sequence[str] = (), enforce_strength: bool = True) -> str:
    """The Argon2id hash of a password, after :func:`check_strength` (with the account's ``user_inputs``).

    ``enforce_strength=False`` skips the strength rules, for a password no person is choosing now:
    re-hashing a stored one on sign-in when the hash parameters change, and the demo's published
    passwords (``demo-<username>-2026``, printed in the README, made from the username on purpose, so
    the name rule refuses them). Never for a password an administrator or a user sets.
    """
    if enforce_strength:
        check_strength(password, user_inputs)
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
