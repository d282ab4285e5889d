"""Pages speak to people: a refusal names the field once, in words, and a forbidden page says what the role
lacks, who has it and who can change it, never an internal permission code."""

from __future__ import annotations

from igflow.security.permissions import PERM_LABELS, Perm, refusal
from igflow.web.render import error_line, readable
from tests.conftest import World


def test_a_taken_username_is_said_once_in_words(world: World) -> None:
    admin = world.client("admin")
    response = admin.post(
        "/admin/users",
        data={
            "username": "nurse",
            "display_name": "Another Nurse",
            "password": "a-long-enough-password",
            "roles": "nurse",
            "csrf_token": admin.csrf,
        },
    )
    assert response.status_code in (409, 422), response.status_code
    assert "already taken" in response.text
    assert "username: username" not in response.text.lower()
    assert "<li>username:" not in response.text


def test_a_forbidden_page_says_what_is_missing_and_who_can_change_it(world: World) -> None:
    response = world.client("nurse").get("/verification-queue")
    assert response.status_code == 403
    assert "verifying dose plans" in response.text and "pharmacist role" in response.text
    assert "Users page" in response.text
    assert "plan.verify" not in response.text


def test_every_permission_has_words_and_no_refusal_shows_a_code() -> None:
    assert set(PERM_LABELS) == set(Perm)
    for perm in Perm:
        if perm is Perm.PUBLIC:
            continue
        assert perm.value not in refusal(perm) or "." not in perm.value


def test_field_codes_become_words() -> None:
    assert readable("status: the referral is accepted") == "Status: the referral is accepted"
    assert readable("kind: Vials are scanned first") == "Vials are scanned first"
    assert readable("payload.rate_ml_per_h: too fast") == "Rate (mL/h): too fast"
    assert error_line("site_ids.0", "site_ids: unknown site id(s) [9]") == "Site ids: unknown site id(s) [9]"
    assert error_line("form", "active: you cannot disable your own account").startswith("Active: ")
