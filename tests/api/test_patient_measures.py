"""Patient-reported outcome measures in the portal (issue 13): the measures of the patient's indications
that the catalog marks self-reportable (with a source) are completed on /my/measures as a total with its
range; the score joins the outcome history as a patient-reported reading (audited); an out-of-range total
is refused beside the field, in English and Spanish."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from igflow.catalog import load_catalog
from igflow.outcomes.models import OutcomeReading
from igflow.referrals.models import Referral
from igflow.security.models import AuditEvent
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _with_indication(world: World, indication: str) -> Any:
    with world.db.session() as session:
        session.add(
            Referral(
                patient_id=world.patients["ann"],
                received_on=dt.date(2026, 11, 1),
                prescriber_id=world.prescriber_id,
                icd10_code="G70.00",
                diagnosis_text="test",
                indication_id=indication,
                urgency="routine",
            )
        )
        session.commit()
    return world.client("patient.ann")


def _readings(world: World) -> list[OutcomeReading]:
    with world.db.session() as session:
        return list(session.execute(select(OutcomeReading)).scalars())


def test_every_measure_says_whether_self_report_is_allowed_with_its_source() -> None:
    measures = {m.id: m for m in load_catalog().outcomes.measures}
    assert {m for m, spec in measures.items() if spec.self_reportable} == {"mg-adl", "i-rods"}
    for spec in measures.values():
        fact = spec.self_report
        assert fact.source if fact.value else fact.note  # sourced, or says what was not found
    assert not measures["mg-adl"].self_report.verified  # not in the reference file: verified false


def test_a_patient_enters_their_mg_adl_total_and_it_joins_the_outcome_history(world: World) -> None:
    me = _with_indication(world, "myasthenia-gravis")
    page = me.get("/my/measures")
    assert page.status_code == 200 and offending(page.text) == []
    text = visible_text(page.text)
    assert "MG-ADL (Myasthenia Gravis Activities of Daily Living)" in text
    assert "Total score, from 0 to 24" in text and "not in the sources igflow holds" in text
    assert "MG Composite" not in text  # a clinician's measure is not offered
    saved = me.post("/my/measures/mg-adl", data={"csrf_token": me.csrf, "value": "7"})
    assert saved.status_code == 303 and saved.headers["location"] == "/my/measures?saved=mg-adl"
    [reading] = _readings(world)
    assert reading.method == "patient_reported" and reading.value == 7 and reading.measure_id == "mg-adl"
    assert reading.recorded_by_user_id == world.users["patient.ann"]
    assert "Last score: 7" in visible_text(me.get("/my/measures?saved=mg-adl").text)
    with world.db.session() as session:
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == "outcome.reading.create")
        ).scalars()
        [event] = list(events)
        assert event.patient_id == world.patients["ann"] and event.actor == "patient.ann"
    staff = world.client("prescriber").get(f"/api/v1/patients/{world.patients['ann']}/outcomes")
    assert staff.status_code == 200 and "patient_reported" in staff.text


def test_an_out_of_range_total_is_refused_beside_the_field_in_english_and_spanish(world: World) -> None:
    me = _with_indication(world, "myasthenia-gravis")
    for typed, words in (
        ("25", "25 is outside this questionnaire's range: the total is from 0 to 24."),
        ("2.5", "Enter a whole number from 0 to 24."),
        ("many", "Enter the total score as a number from 0 to 24."),
    ):
        refused = me.post("/my/measures/mg-adl", data={"csrf_token": me.csrf, "value": typed})
        assert refused.status_code == 422
        assert 'id="err-value"' in refused.text and words in visible_text(refused.text)
        assert f'value="{typed}"' in refused.text  # the answer is kept
    spanish = me.post(
        "/my/measures/mg-adl", data={"csrf_token": me.csrf, "value": "30"}, headers={"Accept-Language": "es"}
    )
    text = visible_text(spanish.text)
    assert spanish.status_code == 422 and "30 está fuera del rango de este cuestionario" in text
    assert "MG-ADL (actividades de la vida diaria en la miastenia gravis)" in text
    assert _readings(world) == []


def test_cidp_offers_i_rods_only_and_a_clinicians_measure_cannot_be_posted(world: World) -> None:
    me = _with_indication(world, "cidp")
    text = visible_text(me.get("/my/measures").text)
    assert "I-RODS (Inflammatory Rasch-built Overall Disability Scale)" in text and "copyrighted" in text
    assert "INCAT" not in text and "Total score, from 0 to 48" in text
    refused = me.post("/my/measures/incat", data={"csrf_token": me.csrf, "value": "3"})
    assert refused.status_code == 422 and _readings(world) == []
    assert me.post("/my/measures/i-rods", data={"csrf_token": me.csrf, "value": "48"}).status_code == 303


def test_a_patient_with_no_self_reported_measure_reads_a_plain_sentence(world: World) -> None:
    text = visible_text(world.client("patient.ann").get("/my/measures").text)
    assert "There is no questionnaire for you to fill in here." in text
