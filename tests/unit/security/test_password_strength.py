"""The strength rules for a new staff password: length, zxcvbn's estimate, not made from one's own name."""

from __future__ import annotations

import pytest

from igflow.demo.network import DEMO_USERS
from igflow.security.passwords import (
    MIN_ZXCVBN_SCORE,
    WeakPasswordError,
    check_strength,
    hash_password,
    verify_password,
)


def _refusal(password: str, user_inputs: tuple[str, ...] = ()) -> str:
    with pytest.raises(WeakPasswordError) as refused:
        check_strength(password, user_inputs)
    return str(refused.value)


def test_the_threshold_is_zxcvbns_three() -> None:
    assert MIN_ZXCVBN_SCORE == 3


def test_common_patterns_are_refused_with_zxcvbns_words() -> None:
    said = _refusal("Password1234!")
    assert said.startswith("password: too easy to guess (this is similar to a commonly used password). ")
    assert "Add another word or two" in said
    assert "repeats like" in _refusal("x" * 12)
    assert _refusal("qwertyuiop123").startswith("password: too easy to guess")
    assert _refusal("short") == "password: must be at least 12 characters"
    assert _refusal("p" * 257) == "password: must be at most 256 characters"


def test_a_password_made_from_the_accounts_own_name_is_refused() -> None:
    check_strength("Quillibrand-Zorvath-2026")  # strong for anyone else
    for password in ("Quillibrand-Zorvath-2026", "zorvathquillibrand", "zorvath.q-2026-zorvath"):
        said = _refusal(password, ("zorvath.q", "Zorvath Quillibrand"))
        assert "built from the account's username or name" in said
    # a common name with a year: zxcvbn's score alone would let it through
    assert "built from the account's" in _refusal("carol-chen-2026", ("carol.chen", "Carol Chen"))
    assert "built from the account's" in _refusal("carolchen2026", ("carol", "Carol Chen"))


def test_strong_passwords_pass_even_beside_the_name() -> None:
    check_strength("plum-rocket-velvet-harbour", ("carol.chen", "Carol Chen"))
    check_strength("carol-purple-elephant-tango", ("carol.chen", "Carol Chen"))
    check_strength("correct-horse-battery")
    check_strength("a-long-enough-password", ("carol", "Carol Chen"))
    check_strength("plum-rocket-velvet-harbour " * 9)  # longer than zxcvbn reads (72): judged by its start


def test_the_published_demo_passwords_are_hashed_without_the_rule() -> None:
    """They are made from the username (README), which the name rule refuses; the demo says so explicitly."""
    admin = DEMO_USERS[0]
    assert "built from the account's" in _refusal(admin.password, (admin.username, admin.display_name))
    assert verify_password(hash_password(admin.password, enforce_strength=False), admin.password)
    with pytest.raises(WeakPasswordError):
        hash_password("Password1234!")
