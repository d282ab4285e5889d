"""A patient's details and screening facts are changed in the UI, and every change is kept (issue 12):
who, when, what it was and became, and why; a screening fact needs a reason; the form keeps every answer
after a refusal; a stale version is refused; plans made with the old facts are marked out of date."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from igflow.patients.history import FIELD_LABELS, diff, shown
from igflow.patients.models import Patient, PatientFactChange, PatientSite
from tests.api.test_page_forms import _beside, _selected, _ticked
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _form(world: World, key: str = "ann", **answers: Any) -> dict[str, Any]:
    """The edit form as the page fills it for the patient, with ``answers`` changed (False unticks)."""
    with world.db.session() as session:
        p = session.get(Patient, world.patients[key])
        assert p is not None
        data: dict[str, Any] = {
            "version": str(p.version),
            "given_name": p.given_name,
            "family_name": p.family_name,
            "date_of_birth": p.date_of_birth.isoformat(),
            "sex": p.sex,
            "phone": p.phone,
            "email": p.email,
            "address": p.address,
            "allergies": p.allergies,
            "iga_deficiency_anti_iga": p.iga_deficiency_anti_iga,
            "pregnancy_status": p.pregnancy_status,
            "site_ids": [str(s.site_id) for s in p.sites],
        }
        for flag in ("diabetes", "renal_impairment", "heart_failure", "thrombosis_history"):
            if getattr(p, flag):
                data[flag] = "on"
    for name, value in answers.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def _history(world: World, key: str = "ann") -> list[PatientFactChange]:
    with world.db.session() as session:
        return list(
            session.execute(
                select(PatientFactChange)
                .where(PatientFactChange.patient_id == world.patients[key])
                .order_by(PatientFactChange.id)
            ).scalars()
        )


def test_the_edit_form_starts_from_the_record_and_a_demographic_change_is_kept_in_the_history(
    world: World,
) -> None:
    intake = world.client("intake")
    pid = world.patients["ann"]
    page = intake.get(f"/patients/{pid}/edit")
    assert page.status_code == 200
    assert 'value="Northwood"' in page.text and offending(page.text) == []
    saved = _post(intake, f"/patients/{pid}/edit", _form(world, phone="555-0142", address="1 Test Lane"))
    assert saved.status_code == 303 and saved.headers["location"] == f"/patients/{pid}/history"
    rows = _history(world)
    assert [(r.field, json.loads(r.old_value), json.loads(r.new_value)) for r in rows] == [
        ("address", "", "1 Test Lane"),
        ("phone", "", "555-0142"),
    ]
    assert all(r.patient_version == 2 and r.changed_by_user_id == world.users["intake"] for r in rows)
    history = intake.get(f"/patients/{pid}/history")
    text = visible_text(history.text)
    assert "555-0142" in text and "Phone" in text and "Intake" in text and offending(history.text) == []


def test_a_screening_fact_needs_a_reason_and_the_form_keeps_every_answer(world: World) -> None:
    pharmacist = world.client("pharmacist")
    pid = world.patients["ann"]
    answers = _form(
        world, iga_deficiency_anti_iga="yes", diabetes=True, phone="555-0177", allergies="penicillin"
    )
    refused = _post(pharmacist, f"/patients/{pid}/edit", answers)
    assert refused.status_code == 422
    beside = _beside(refused.text, "change_reason")
    assert "Say why these screening facts changed" in beside and "Diabetes" in beside
    assert _selected(refused.text, "iga_deficiency_anti_iga") == ["yes"]
    assert _ticked(refused.text, "diabetes") == ["on"]
    assert _ticked(refused.text, "site_ids") == [str(world.sites["north"])]
    assert 'value="555-0177"' in refused.text and "penicillin" in refused.text
    assert offending(refused.text) == []
    assert _history(world) == []  # nothing half-done
    saved = _post(pharmacist, f"/patients/{pid}/edit", {**answers, "change_reason": "anti-IgA lab result"})
    assert saved.status_code == 303
    changed = {r.field: r for r in _history(world)}
    assert set(changed) == {"iga_deficiency_anti_iga", "diabetes", "phone", "allergies"}
    assert {r.reason for r in changed.values()} == {"anti-IgA lab result"}
    text = visible_text(pharmacist.get(f"/patients/{pid}/history").text)
    assert "IgA deficiency with anti-IgA antibodies" in text and "anti-IgA lab result" in text
    assert "(screening fact)" in text


def test_saving_without_changes_adds_no_history_and_keeps_the_version(world: World) -> None:
    intake = world.client("intake")
    pid = world.patients["ann"]
    assert _post(intake, f"/patients/{pid}/edit", _form(world)).status_code == 303
    assert _history(world) == []
    assert intake.get(f"/api/v1/patients/{pid}").json()["version"] == 1


def test_a_change_made_from_a_stale_version_is_refused_with_a_way_on(world: World) -> None:
    intake = world.client("intake")
    pid = world.patients["ann"]
    stale = _form(world, phone="555-0101")
    assert _post(intake, f"/patients/{pid}/edit", _form(world, phone="555-0102")).status_code == 303
    refused = _post(world.client("pharmacist"), f"/patients/{pid}/edit", stale)
    assert refused.status_code == 409
    text = visible_text(refused.text)
    assert "changed by someone else" in text and "Open the current version" in text
    assert 'value="555-0101"' in refused.text  # the answers are kept to copy
    assert [json.loads(r.new_value) for r in _history(world)] == ["555-0102"]


def test_the_api_needs_a_reason_for_a_screening_fact_too(world: World) -> None:
    intake = world.client("intake")
    pid = world.patients["ann"]
    url = f"/api/v1/patients/{pid}"
    refused = intake.patch(url, json={"renal_impairment": True, "version": 1})
    assert refused.status_code == 422 and "Renal impairment" in refused.text
    ok = intake.patch(url, json={"renal_impairment": True, "version": 1, "change_reason": "eGFR 25"})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    [row] = _history(world)
    assert (row.field, row.old_value, row.new_value, row.reason) == (
        "renal_impairment",
        "false",
        "true",
        "eGFR 25",
    )


def test_preferred_sites_read_by_name_in_the_history(world: World) -> None:
    intake = world.client("intake")
    pid = world.patients["ann"]
    both = [str(world.sites["south"]), str(world.sites["north"])]
    assert _post(intake, f"/patients/{pid}/edit", _form(world, site_ids=both)).status_code == 303
    with world.db.session() as session:
        ranks = session.execute(
            select(PatientSite.site_id).where(PatientSite.patient_id == pid).order_by(PatientSite.rank)
        ).scalars()
        assert list(ranks) == [world.sites["south"], world.sites["north"]]
    text = visible_text(intake.get(f"/patients/{pid}/history").text)
    assert "North Centre" in text and "South Centre; North Centre" in text


def test_a_site_limited_user_cannot_read_or_change_another_sites_patient(world: World) -> None:
    world.add_user("intake.north", ["intake"], ["north"])
    north = world.client("intake.north")
    sol = world.patients["sol"]
    assert north.get(f"/patients/{sol}/history").status_code == 404
    assert north.get(f"/patients/{sol}/edit").status_code == 404
    refused = _post(north, f"/patients/{sol}/edit", _form(world, "sol", phone="555-0100"))
    assert refused.status_code == 404 and "Southgate" not in refused.text
    assert _history(world, "sol") == []


def test_a_changed_screening_fact_marks_the_plan_out_of_date(world: World) -> None:
    from tests.api.test_orders_api import _order, _ready

    _ready(world)
    order = _order(world).json()
    assert order["verification_status"] != "hard_stop"
    pharmacist = world.client("pharmacist")
    pid = world.patients["ann"]
    saved = _post(
        pharmacist,
        f"/patients/{pid}/edit",
        _form(world, iga_deficiency_anti_iga="yes", change_reason="anti-IgA antibodies found"),
    )
    assert saved.status_code == 303
    again = pharmacist.get(f"/api/v1/orders/{order['id']}").json()
    assert again["verification_status"] == "out_of_date", again  # made with the old facts
    assert [c["fact"] for c in again["out_of_date_changes"]] == ["iga_deficient_with_antibodies"]


class _FakeSite:
    def __init__(self, site_id: int, rank: int) -> None:
        self.site_id, self.rank = site_id, rank


class _FakePatient:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    old=st.fixed_dictionaries({"phone": st.text(max_size=5), "diabetes": st.booleans()}),
    new=st.fixed_dictionaries({"phone": st.text(max_size=5), "diabetes": st.booleans()}),
)
def test_diff_names_exactly_the_fields_that_change(old: dict[str, Any], new: dict[str, Any]) -> None:
    patient = _FakePatient(sites=[_FakeSite(2, 2), _FakeSite(1, 1)], **old)
    found = diff(patient, {**new, "site_ids": [1, 2]})  # type: ignore[arg-type]
    assert {f for f, _, _ in found} == {k for k in new if new[k] != old[k]}
    assert all(FIELD_LABELS[f] for f, _, _ in found)


def test_values_are_shown_in_words() -> None:
    assert shown("diabetes", True, {}) == "yes"
    assert shown("pregnancy_status", "not_pregnant", {}) == "not pregnant"
    assert shown("site_ids", [2, 1], {1: "North", 2: "South"}) == "South; North"
    assert shown("phone", "", {}) == "—"
