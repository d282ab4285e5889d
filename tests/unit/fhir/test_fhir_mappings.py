"""The pure mappings, on rows built in memory: statuses, times, codes, corrections, grades."""

from __future__ import annotations

import datetime as dt

from fhir.resources.R4B.observation import Observation

from igflow.appointments.models import Appointment
from igflow.fhir.codes import VITAL_BY_SLUG
from igflow.fhir.mapping.adverse_event import ChartedReaction, to_adverse_event
from igflow.fhir.mapping.appointment import STATUSES, to_appointment
from igflow.fhir.mapping.common import local_instant
from igflow.fhir.mapping.medication_administration import administration_status, charted_rates
from igflow.fhir.mapping.medication_request import to_medication_request
from igflow.fhir.mapping.observation import ChartedVitals, to_measurement_observation, to_vital_observation
from igflow.infusions.models import ChartEntry, InfusionRecord
from igflow.orders.models import Order
from igflow.patients.models import Measurement

UTC = dt.UTC
AT = dt.datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _entry(ident: int, kind: str, payload: dict[str, object], **extra: object) -> ChartEntry:
    return ChartEntry(
        id=ident, record_id=1, client_id=f"c{ident}", kind=kind, payload=payload,
        result=extra.pop("result", {}), created_at=extra.pop("created_at", AT), occurred_at=None,
        reason=extra.pop("reason", ""), **extra,
    )  # fmt: skip


def test_appointment_statuses_and_site_local_times() -> None:
    assert STATUSES == {
        "booked": "booked",
        "completed": "fulfilled",
        "cancelled": "cancelled",
        "no_show": "noshow",
    }
    appointment = Appointment(
        id=5, patient_id=2, site_id=3, chair_id=None, date=dt.date(2026, 7, 1), start_min=9 * 60,
        duration_min=240, status="no_show", status_reason="did not come", created_at=AT,
    )  # fmt: skip
    resource = to_appointment(appointment, timezone="America/Los_Angeles", order_id=7, day_index=1)
    assert resource.status == "noshow" and resource.cancelationReason.text == "did not come"
    assert resource.start.isoformat() == "2026-07-01T09:00:00-07:00"  # summer time at the site
    assert resource.end.isoformat() == "2026-07-01T13:00:00-07:00"
    assert [p.actor.reference for p in resource.participant] == [
        "Patient/2",
        "Location/site-3",
    ]  # a home visit
    assert local_instant(dt.date(2026, 1, 5), 0, "America/Los_Angeles").utcoffset() == dt.timedelta(hours=-8)


def test_a_corrected_measurement_and_its_correction() -> None:
    old = Measurement(
        id=1,
        patient_id=2,
        kind="weight_kg",
        value=70,
        measured_on=dt.date(2026, 11, 1),
        recorded_at=AT,
        note="",
    )
    new = Measurement(
        id=2, patient_id=2, kind="weight_kg", value=71.5, measured_on=dt.date(2026, 11, 1), recorded_at=AT,
        amends_id=1, note="scale read wrongly",
    )  # fmt: skip
    replaced = to_measurement_observation(old, label="Weight", unit_text="kg", corrected_by=2)
    correction = to_measurement_observation(new, label="Weight", unit_text="kg", corrected_by=None)
    assert (
        replaced.status == "entered-in-error"
        and replaced.note[0].text == "Corrected by Observation/measurement-2."
    )
    assert correction.status == "corrected" and correction.valueQuantity.value == 71.5
    assert [n.text for n in correction.note] == ["scale read wrongly", "Corrects Observation/measurement-1."]
    assert correction.code.coding[0].code == "29463-7"
    row = Measurement(
        id=3, patient_id=2, kind="egfr_ml_per_min_1_73m2", value=80, measured_on=dt.date(2026, 11, 1),
        recorded_at=AT, note="",
    )  # fmt: skip
    egfr = to_measurement_observation(row, label="eGFR", unit_text="mL/min/1.73 m²", corrected_by=None)
    assert egfr.code.coding[0].system == "https://igflow.example/fhir/CodeSystem/measure"
    assert egfr.valueQuantity.code == "mL/min/{1.73_m2}"


def test_a_blood_pressure_with_only_the_systolic_charted() -> None:
    entry = _entry(9, "vitals", {"systolic_bp_mmhg": 131, "heart_rate_bpm": 80})
    charted = ChartedVitals(entry=entry, patient_id=2, administration_id=None)
    bp = to_vital_observation(charted, VITAL_BY_SLUG["blood-pressure"])
    assert bp.id == "vitals-9-blood-pressure" and bp.valueQuantity is None and bp.partOf is None
    assert [(c.code.coding[0].code, c.valueQuantity.value) for c in bp.component] == [("8480-6", 131)]
    Observation.model_validate_json(bp.model_dump_json())


def test_rates_charted_and_the_administration_status() -> None:
    plan = {"days": [{"day": 1, "steps": [{"rate_ml_per_h": 30}, {"rate_ml_per_h": 60}]}]}
    entries = [
        _entry(1, "start", {}),
        _entry(2, "rate_change", {"rate_ml_per_h": 60}, created_at=AT + dt.timedelta(minutes=30)),
        _entry(3, "reaction", {"grade": 3}, result={"stops_infusion": True}),
    ]
    rates = charted_rates(entries, plan, plan["days"][0])
    assert [(r.at, r.rate_ml_per_h) for r in rates] == [(AT, 30), (AT + dt.timedelta(minutes=30), 60)]
    record = InfusionRecord(id=1, status="signed")
    assert administration_status(record, entries) == "stopped"  # a reaction stopped it, signed since
    assert administration_status(record, entries[:2]) == "completed"
    assert administration_status(InfusionRecord(id=1, status="infusing"), entries) == "in-progress"


def test_an_adverse_event_severity_only_where_the_catalog_label_is_an_r4_code() -> None:
    labels = {2: "moderate", 4: "life-threatening"}
    for grade, severity in ((2, "moderate"), (4, None)):
        entry = _entry(
            4, "reaction", {"grade": grade, "symptoms": ["rigors"], "action_taken": "stop_and_escalate"}
        )
        event = to_adverse_event(ChartedReaction(entry, 2, 1, 3), labels)
        assert (event.severity.coding[0].code if event.severity else None) == severity
        assert event.extension[0].valueCodeableConcept.coding[0].code == str(grade)
        assert "stop and escalate" in event.text.div


def test_an_order_without_a_verified_plan_has_no_dosage() -> None:
    order = Order(
        id=3, patient_id=2, prescriber_id=1, indication_id="cidp", phase="maintenance", product_id="privigen",
        status="discontinued", created_at=AT, notes="",
    )  # fmt: skip
    resource = to_medication_request(order, product_name="Privigen", indication_name="CIDP", verified=None)
    assert resource.status == "stopped" and resource.dosageInstruction is None
    assert "No dose plan version" in resource.note[0].text
