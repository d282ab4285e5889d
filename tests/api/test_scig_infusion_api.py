"""Charting a subcutaneous training visit: the start and rate changes are checked against the SC plan's rate
per site x sites (the label's first-infusion limit for the first infusions, the later limit after), the
deliverable volume comes from that rate, and check-in, the chart page and signing work on an SC plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from igflow.appointments.models import Appointment, Course, CourseSession
from tests.api.test_infusions_api import Chart, _gtin, _receive, _scan
from tests.api.test_scheduling_api import _course, _patient
from tests.api.test_scig_orders_api import _sc_order, _verify
from tests.conftest import World

VITALS = {"systolic_bp_mmhg": 122, "heart_rate_bpm": 74, "temperature_c": 36.8, "spo2_percent": 98}
STATEMENT = "I charted this infusion and the record is complete"


def _visit_today(world: World, course: dict[str, Any]) -> int:
    """The training visit booked for today (the home-infusion service routes home visits; here the
    appointment is written as it books one: at the patient's centre's site, no chair)."""
    session_row = course["sessions"][0]
    with world.db.session() as session:
        appointment = Appointment(
            course_session_id=session_row["id"],
            patient_id=course["patient_id"],
            site_id=world.sites["north"],
            chair_id=None,
            date=dt.date.today(),
            start_min=9 * 60,
            duration_min=session_row["duration_min"],
            status="booked",
            source="booking",
        )
        session.add(appointment)
        session.execute(update(Course).where(Course.id == course["id"]).values(status="booked"))
        session.commit()
        assert session.get(CourseSession, session_row["id"]) is not None
        return appointment.id


def _checked_in(
    world: World, key: str, mrn: str, lot_prefix: str, **order: Any
) -> tuple[Chart, dict[str, Any]]:
    """A verified Cuvitru order's training visit booked at North, checked in, ready to start."""
    pid = _patient(world, key, mrn)
    created = _sc_order(world, pid, **order).json()
    assert _verify(world, created["id"]).status_code == 201
    plan = created["versions"][0]["plan"]
    appointment_id = _visit_today(world, _course(world, created["id"]))
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion")
    assert record.status_code == 201, record.text
    chart = Chart(world, record.json()["id"])
    assert (
        chart("checklist", {"identifiers": ["name", "mrn"], "hydration": True, "iv_access": "SC"}).status_code
        == 201
    )
    assert chart("weight", {"weight_kg": plan["weight_kg"]}).status_code == 201
    assert chart("vitals", VITALS).status_code == 201
    for k, vial in enumerate(plan["days"][0]["vials"]):
        gtin, lot = _gtin(f"003123460{lot_prefix}{k:03d}"), f"{lot_prefix}{k}"
        _receive(world, "cuvitru", vial["size_g"], lot, gtin)
        for _ in range(int(vial["count"])):
            scan = _scan(gtin, lot, dt.date.today() + dt.timedelta(days=300))
            assert chart("vial", {"scan_text": scan}).status_code == 201
    return chart, plan


def test_a_first_sc_infusion_is_charted_against_the_first_infusion_limit(world: World) -> None:
    chart, plan = _checked_in(world, "una", "SCI001", "1")
    started = chart("start")
    assert started.status_code == 201, started.text
    # Cuvitru, first two infusions: 1 site x 20 mL/h per site
    limits = started.json()["result"]["sc_limits"]
    assert (limits["phase"], limits["infusion_number"], limits["total_rate_ml_per_h"]) == ("first", 1, 20)
    view = world.client("nurse").get(f"/api/v1/infusions/{chart.record_id}").json()
    assert view["current_rate_ml_per_h"] == 20 and view["sc_limits"]["sites"] == 1
    assert any(a["code"] == "sc_vitals_schedule_unknown" for a in view["alerts"]) and view["vitals_due"] == []
    too_fast = chart("rate_change", {"rate_ml_per_h": 60})
    assert too_fast.status_code == 422 and "above the plan's maximum 20 mL/h" in too_fast.json()["detail"]
    assert "first-infusion limit" in too_fast.json()["detail"]
    assert chart("rate_change", {"rate_ml_per_h": 15}).status_code == 201
    # the whole 50 mL a minute after the start is more than 20 mL/h can have delivered
    too_much = chart("end", {"volume_infused_ml": plan["volume_ml"]})
    assert (
        too_much.status_code == 422 and "more than the plan's rates can deliver" in too_much.json()["detail"]
    )
    ended = chart("end", {"volume_infused_ml": plan["volume_ml"], "confirm_volume": True})
    assert ended.status_code == 201 and ended.json()["result"]["deliverable_ml"] < plan["volume_ml"]
    assert chart("vitals", VITALS).status_code == 201
    early = chart("sign", {"statement": STATEMENT})  # the first infusion's 60 min observation
    assert early.status_code == 422 and "60 min" in early.json()["detail"]
    signed = chart("sign", {"statement": STATEMENT, "early_reason": "observed by the nurse at home"})
    assert signed.status_code == 201, signed.text
    page = world.client("nurse").get(f"/chair/records/{chart.record_id}")
    assert page.status_code == 200
    assert "1 site" in page.text and "20 mL/h per site" in page.text


def test_a_patient_already_on_the_product_is_charted_against_the_later_limit(world: World) -> None:
    chart, _plan = _checked_in(world, "vic", "SCI002", "2", first_infusion=False)
    limits = chart("start").json()["result"]["sc_limits"]
    # infusion 3 of Cuvitru: the later limit, up to 60 mL/h per site
    assert (limits["phase"], limits["infusion_number"], limits["total_rate_ml_per_h"]) == ("later", 3, 60)
    assert chart("rate_change", {"rate_ml_per_h": 60}).status_code == 201
    assert chart("rate_change", {"rate_ml_per_h": 61}).status_code == 422
