"""Pages speak to people: a refusal names the field once, in words, and a forbidden page says what the role
lacks, who has it and who can change it, never an internal permission code."""

from __future__ import annotations

import re

from igflow.security.permissions import PERM_LABELS, Perm, refusal
from igflow.web.render import error_line, readable
from tests.conftest import World
from tests.support.visible_text import visible_text


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
    assert error_line("site_ids.0", "site_ids: unknown site id(s) [9]") == "Sites: unknown site id(s) [9]."
    assert error_line("form", "active: you cannot disable your own account").startswith("Active: ")


def test_the_order_page_shows_an_sc_plan_in_words(world: World) -> None:
    from tests.api.test_scheduling_api import _patient
    from tests.api.test_scig_orders_api import _sc_order

    pid = _patient(world, "una", "PW0001")
    order = _sc_order(world, pid).json()  # Cuvitru 30 g every 4 weeks, weekly, first infusion, 70 kg
    page = world.client("pharmacist").get(f"/orders/{order['id']}")
    assert page.status_code == 200
    text = page.text
    assert "given at home" in text and "Switched from IVIG" in text and "30 g every 4 weeks" in text
    assert "9.75 g a week" in text and "10 g dispensed in whole vials (1 × 8 g, 1 × 2 g), 50 mL" in text
    assert "1 site × 50 mL" in text and "up to 20 mL/h per site" in text
    assert "First 2 infusions: 1 site × 50 mL at up to 20 mL/h per site" in text
    assert "Later infusions: 1 site × 50 mL at up to 60 mL/h per site" in text
    assert "The nurse's training visit" in text and "255 min" in text
    assert "at least 5 g/L, aiming for 6 g/L (Cuvitru EU SmPC)" in text
    for code in ("route", "dose_rounded", "rate_ml_per_h_per_site", "hard_stop", "sc_interval_days"):
        assert code not in text.replace('name="sc_interval_days"', ""), code
    # a hard stop says who resolves it
    stopped = _sc_order(world, pid, product_id="hizentra", previous_iv_dose_g=60).json()
    text = world.client("pharmacist").get(f"/orders/{stopped['id']}").text
    assert "Hard stop" in text and "Who resolves it: the prescriber enters a new order" in text
    # HyQvia's ramp-up table
    hyqvia = _sc_order(world, pid, product_id="hyqvia", sc_interval_days=None).json()
    text = world.client("pharmacist").get(f"/orders/{hyqvia['id']}").text
    assert "HyQvia ramp-up" in text and "the 4-week dose, 30 g" in text and "Then every 4 weeks" in text


def test_the_order_form_names_the_sc_fields_in_words(world: World) -> None:
    from tests.api.test_scheduling_api import _patient

    pid = _patient(world, "una", "PW0002")
    prescriber = world.client("prescriber")
    form = prescriber.get(f"/patients/{pid}/orders/new").text
    assert "Previous IV dose (g)" in form and "Weeks between IV doses" in form and "SC infusion every" in form
    refused = prescriber.post(
        f"/patients/{pid}/orders/new",
        data={
            "csrf_token": prescriber.csrf,
            "prescriber_id": str(world.prescriber_id),
            "indication_id": "pid",
            "phase": "maintenance",
            "product_id": "cuvitru",
            "iv_interval_weeks": "4",
            "sc_interval_days": "7",
        },
    )
    assert refused.status_code == 422
    # the problem beside its field, the field named by its label in the list at the top (said once)
    assert re.search(r'id="err-previous_iv_dose_g">Cuvitru 20% is subcutaneous', refused.text)
    assert "Please correct the field marked below: Previous IV dose (g)." in refused.text
    assert "previous_iv_dose_g" not in visible_text(refused.text)
    calculator = world.client("pharmacist").get(
        "/dose",
        params={
            "indication": "pid",
            "phase": "maintenance",
            "product": "cuvitru",
            "weight_kg": "70",
            "height_cm": "170",
            "sex": "female",
            "age_years": "40",
            "previous_iv_dose_g": "30",
            "iv_interval_weeks": "4",
            "interval_days": "7",
        },
    )
    assert calculator.status_code == 200 and "9.75 g a week" in calculator.text
