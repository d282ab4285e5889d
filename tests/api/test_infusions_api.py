"""Infusion day at the chair: checklist, weight, vitals, scanned vials, rate steps, graded reactions, end,
sign, corrections, follow-up, and idempotent replay of every entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from igflow.infusions.models import ChartEntry
from igflow.inventory import service as inventory_service
from igflow.inventory.schemas import ReceiptIn
from igflow.security.service import principal_for_user
from tests.api.test_scheduling_api import _course, _patient, _verified_order, book_first_option
from tests.conftest import World

GS = "\x1d"


def _gtin(base: str) -> str:
    return base + str(inventory_service.gtin_check_digit(base))


def _scan(gtin: str, lot: str, expiry: dt.date) -> str:
    return f"01{gtin}17{expiry:%y%m%d}10{lot}{GS}21SN{lot}"


def _receive(world: World, product: str, size_g: float, lot: str, gtin: str, count: int = 10) -> None:
    with world.db.session() as session:
        from igflow.security.models import User

        user = session.get(User, world.users["pharmacist"])
        assert user is not None
        principal = principal_for_user(user, client_address="test")
        inventory_service.receive(
            session,
            principal,
            ReceiptIn(
                product_id=product,
                lot_number=lot,
                gtin=gtin,
                label_expiry=dt.date.today() + dt.timedelta(days=300),
                vial_size_g=size_g,
                site_id=world.sites["north"],
                count=count,
                acquisition_cost_cents=95000,
                supplier="Synthetic Distributor",
            ),
        )


def _booked(world: World) -> tuple[int, dict[str, Any]]:
    """A booked appointment for a verified Gammagard Liquid plan at North, and its plan day."""
    pid = _patient(world, "una", "INF001")
    oid = _verified_order(world, pid)
    booked = book_first_option(world, _course(world, oid)["id"])
    plan = world.client("pharmacist").get(f"/api/v1/orders/{oid}").json()["versions"][-1]["plan"]
    return booked["appointments"][0]["id"], plan


class Chart:
    def __init__(self, world: World, record_id: int) -> None:
        self.client = world.client("nurse")
        self.record_id = record_id
        self.sent: list[dict[str, Any]] = []
        self.n = 0

    def __call__(self, kind: str, payload: dict[str, Any] | None = None, **extra: Any) -> Any:
        self.n += 1
        body = {
            "client_id": f"tablet-{self.record_id}-{self.n:04d}",
            "kind": kind,
            "payload": payload or {},
            **extra,
        }
        response = self.client.post(f"/api/v1/infusions/{self.record_id}/entries", json=body)
        if response.status_code == 201:
            self.sent.append(body)
        return response


def _lots_for(world: World, plan: dict[str, Any]) -> list[str]:
    """Receive a lot for each planned vial size; return the scans of the vials the day needs."""
    day = plan["days"][0]
    scans = []
    for k, vial in enumerate(day["vials"]):
        gtin = _gtin(f"0031234500{k:03d}")
        lot = f"GL{k}A"
        _receive(world, "gammagard-liquid", vial["size_g"], lot, gtin)
        expiry = dt.date.today() + dt.timedelta(days=300)
        scans += [_scan(gtin, lot, expiry)] * int(vial["count"])
    return scans


def test_a_whole_infusion_from_checklist_to_signature(world: World) -> None:
    appointment_id, plan = _booked(world)
    scans = _lots_for(world, plan)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    assert nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()["id"] == record["id"]
    chart = Chart(world, record["id"])
    one_id = chart("checklist", {"identifiers": ["name"], "hydration": True, "iv_access": "22G left forearm"})
    assert one_id.status_code == 422 and "two different patient identifiers" in one_id.json()["detail"]
    assert (
        chart(
            "checklist", {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": "22G"}
        ).status_code
        == 201
    )
    assert chart("weight", {"weight_kg": plan["weight_kg"]}).status_code == 201
    assert (
        chart(
            "vitals",
            {"systolic_bp_mmhg": 124, "heart_rate_bpm": 72, "temperature_c": 36.7, "spo2_percent": 98},
        ).status_code
        == 201
    )
    early = chart("start")
    assert early.status_code == 422 and "every planned vial scanned" in early.json()["detail"]
    wrong_gtin = _gtin("0031234599999")
    _receive(world, "privigen", 10, "PRV1", wrong_gtin)
    wrong = chart("vial", {"scan_text": _scan(wrong_gtin, "PRV1", dt.date.today() + dt.timedelta(days=300))})
    assert wrong.status_code == 422, wrong.text
    for scan in scans:
        assert chart("vial", {"scan_text": scan}).status_code == 201
    extra = chart("vial", {"scan_text": scans[0]})
    assert extra.status_code == 422 and "needs no more" in extra.json()["detail"]
    started = chart("start")
    assert started.status_code == 201, started.text
    steps = plan["days"][0]["steps"]
    too_fast = chart("rate_change", {"rate_ml_per_h": steps[-1]["rate_ml_per_h"] + 50})
    assert too_fast.status_code == 422 and "above the plan's maximum" in too_fast.json()["detail"]
    assert chart("rate_change", {"rate_ml_per_h": steps[1]["rate_ml_per_h"]}).status_code == 201
    assert (
        chart("vitals", {"systolic_bp_mmhg": 118, "heart_rate_bpm": 80, "temperature_c": 37.0}).status_code
        == 201
    )
    reaction = chart(
        "reaction",
        {
            "grade": 2,
            "symptoms": ["headache", "flushing"],
            "action_taken": "slow_to_previous_step",
            "medications": ["paracetamol 1 g"],
        },
    )
    assert reaction.status_code == 201
    assert reaction.json()["result"]["stops_infusion"] is False
    assert chart("rate_change", {"rate_ml_per_h": steps[0]["rate_ml_per_h"]}).status_code == 201
    # the whole day's volume a minute after the start is more than the pump can have delivered
    too_much = chart("end", {"volume_infused_ml": plan["days"][0]["volume_ml"], "vials_wasted": 0})
    assert (
        too_much.status_code == 422 and "more than the plan's rates can deliver" in too_much.json()["detail"]
    )
    assert (
        chart(
            "end",
            {"volume_infused_ml": plan["days"][0]["volume_ml"], "vials_wasted": 0, "confirm_volume": True},
        ).status_code
        == 201
    )
    unsigned = chart("sign", {"statement": "I charted this infusion and the record is complete"})
    assert unsigned.status_code == 422 and "discharge vital signs" in unsigned.json()["detail"]
    assert (
        chart("vitals", {"systolic_bp_mmhg": 120, "heart_rate_bpm": 70, "temperature_c": 36.8}).status_code
        == 201
    )
    early = chart("sign", {"statement": "I charted this infusion and the record is complete"})
    assert early.status_code == 422 and "observation" in early.json()["detail"]
    assert early.json()["field"] == "payload.early_reason"
    signed = chart(
        "sign",
        {
            "statement": "I charted this infusion and the record is complete",
            "early_reason": "patient collected by transport; observed 20 min in the waiting area",
        },
    )
    assert signed.status_code == 201 and signed.json()["result"]["early_reason"].startswith(
        "patient collected"
    )
    locked = chart("note", {"text": "forgot to mention the snack"})
    assert locked.status_code == 409 and "signed and locked" in locked.json()["detail"]
    first_vitals = next(
        e for e in nurse.get(f"/api/v1/infusions/{record['id']}").json()["entries"] if e["kind"] == "vitals"
    )
    no_reason = chart("correction", {"text": "SBP 142"}, amends_id=first_vitals["id"])
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    fixed = chart("correction", {"text": "SBP 142"}, amends_id=first_vitals["id"], reason="typed 124 for 142")
    assert fixed.status_code == 201
    final = nurse.get(f"/api/v1/infusions/{record['id']}").json()
    assert final["status"] == "signed" and final["max_reaction_grade"] == 2
    assert sum(int(v) for v in final["vials_scanned"].values()) == len(scans)
    tasks = nurse.get("/api/v1/tasks").json()
    follow = next(t for t in tasks if t["kind"] == "follow_up")
    assert follow["due_from"] < follow["due_by"] and follow["detail"]["checklist"]
    history = nurse.get(f"/api/v1/patients/{world.patients['una']}/infusions").json()
    assert history[0]["lots"] and history[0]["reactions"][0]["grade"] == 2
    # Signing completed the appointment; the course completes with its last day.
    with world.db.session() as session:
        from igflow.appointments.models import Appointment, Course, CourseSession

        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None and appointment.status == "completed"
        course = session.execute(
            select(Course).join(CourseSession).where(CourseSession.id == appointment.course_session_id)
        ).scalar_one()
        days = session.execute(
            select(func.count()).select_from(CourseSession).where(CourseSession.course_id == course.id)
        ).scalar_one()
        assert course.status == ("completed" if days == 1 else "booked")

    # Network drops at the chair: replaying every entry stores nothing twice and changes nothing.
    with world.db.session() as session:
        before = session.execute(select(func.count()).select_from(ChartEntry)).scalar_one()
    for body in chart.sent:
        again = chart.client.post(f"/api/v1/infusions/{record['id']}/entries", json=body)
        assert again.status_code == 201, (body["kind"], again.text)
        assert again.json()["client_id"] == body["client_id"]
    with world.db.session() as session:
        assert session.execute(select(func.count()).select_from(ChartEntry)).scalar_one() == before
    assert nurse.get(f"/api/v1/infusions/{record['id']}").json()["entries"] == final["entries"]
    reused = chart.client.post(
        f"/api/v1/infusions/{record['id']}/entries",
        json={
            **chart.sent[0],
            "payload": {"identifiers": ["name", "mrn"], "hydration": False, "iv_access": "x"},
        },
    )
    assert reused.status_code == 409


def test_a_grade_3_reaction_stops_the_infusion_and_flags_the_next_plan(world: World) -> None:
    appointment_id, plan = _booked(world)
    scans = _lots_for(world, plan)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    chart("checklist", {"identifiers": ["name", "mrn"], "hydration": True, "iv_access": "22G"})
    chart("weight", {"weight_kg": plan["weight_kg"]})
    chart("vitals", {"systolic_bp_mmhg": 124, "heart_rate_bpm": 72})
    for scan in scans:
        chart("vial", {"scan_text": scan})
    assert chart("start").status_code == 201
    low = chart("vitals", {"spo2_percent": 86, "heart_rate_bpm": 118, "systolic_bp_mmhg": 88})
    assert {a["code"] for a in low.json()["result"]["alerts"]} >= {"vital_below_limit"}
    from igflow.infusions import service as infusions_service

    with world.db.session() as session:
        state = infusions_service.states_for_appointments(session, [appointment_id])[appointment_id]["state"]
    assert "infusing, step 1 of" in state and "vitals alert" in state
    severe = chart(
        "reaction",
        {"grade": 3, "symptoms": ["dyspnoea", "chest-tightness"], "action_taken": "stop_and_escalate"},
    )
    assert severe.status_code == 201
    assert severe.json()["result"]["stops_infusion"] is True
    state = nurse.get(f"/api/v1/infusions/{record['id']}").json()
    assert state["status"] == "stopped" and state["next_plan_flags"]
    assert any(t["kind"] == "reaction_review" for t in world.client("pharmacist").get("/api/v1/tasks").json())
    assert any(t["kind"] == "reaction_review" for t in world.client("prescriber").get("/api/v1/tasks").json())
    assert chart("rate_change", {"rate_ml_per_h": 10}).status_code == 409  # no longer infusing
    report = world.client("pharmacist").get("/api/v1/reports/reactions").json()
    assert report["groups"]["product"]["gammagard-liquid"]["serious"] == 1


def test_a_weight_change_at_the_chair_waits_for_a_pharmacist(world: World) -> None:
    appointment_id, plan = _booked(world)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    heavier = chart("weight", {"weight_kg": plan["weight_kg"] + 8})
    assert heavier.status_code == 201 and heavier.json()["result"]["needs_pharmacist"] is True
    view = nurse.get(f"/api/v1/infusions/{record['id']}").json()
    assert view["weight_pending_pharmacist"] and any("pharmacist" in m for m in view["missing_to_start"])
    by_nurse = chart("pharmacist_release", {"decision": "proceed", "note": "ok"})
    assert by_nurse.status_code == 403
    pharmacist = world.client("pharmacist")
    task = next(t for t in pharmacist.get("/api/v1/tasks").json() if t["kind"] == "weight_review")
    assert task["record_id"] == record["id"]
    release = pharmacist.post(
        f"/api/v1/infusions/{record['id']}/pharmacist-release",
        json={"client_id": "pharm-release-0001", "decision": "proceed", "note": "within dosing tolerance"},
    )
    assert release.status_code == 201, release.text
    view = nurse.get(f"/api/v1/infusions/{record['id']}").json()
    assert view["weight_ok"] and not view["weight_pending_pharmacist"]
    assert not any(t["kind"] == "weight_review" for t in pharmacist.get("/api/v1/tasks").json())


def _approve_protocol(world: World, values: dict[str, Any]) -> int:
    world.add_user("pt.chair", ["pharmacist", "pt_approver"])
    draft = world.client("pharmacist").post(
        "/api/v1/protocols",
        json={"title": "Chair protocol", "effective_from": "2026-01-01", "values": values},
    )
    assert draft.status_code == 201, draft.text
    decided = world.client("pt.chair").post(
        f"/api/v1/protocols/{draft.json()['id']}/decision",
        json={"decision": "approved", "version": 1, "note": ""},
    )
    assert decided.status_code == 200, decided.text
    return int(draft.json()["id"])


WEIGHT_5 = {"chair_weight_change_max_percent": {"value": 5, "basis": "test: within whole-vial rounding"}}


def test_with_a_protocol_threshold_an_unchanged_weight_needs_no_pharmacist(world: World) -> None:
    appointment_id, plan = _booked(world)
    _approve_protocol(world, WEIGHT_5)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    small = chart("weight", {"weight_kg": plan["weight_kg"] + 0.1})
    assert small.status_code == 201, small.text
    assert small.json()["result"]["needs_pharmacist"] is False
    assert small.json()["result"]["threshold_percent"] == 5
    view = nurse.get(f"/api/v1/infusions/{record['id']}").json()
    assert view["weight_ok"] and not any("pharmacist" in m for m in view["missing_to_start"])
    assert not any(
        t["kind"] == "weight_review" for t in world.client("pharmacist").get("/api/v1/tasks").json()
    )
    # the weight taken at the chair is in the patient's measurement history
    history = nurse.get(f"/api/v1/patients/{record['patient_id']}/measurements").json()
    weights = (
        [m for m in history["items"] if m["kind"] == "weight_kg"]
        if isinstance(history, dict)
        else [m for m in history if m["kind"] == "weight_kg"]
    )
    assert any(abs(m["value"] - (plan["weight_kg"] + 0.1)) < 1e-6 and "chair" in m["note"] for m in weights)


def test_a_pharmacist_replans_for_todays_weight_and_the_chart_follows(world: World) -> None:
    appointment_id, plan = _booked(world)
    _approve_protocol(world, WEIGHT_5)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    heavier = chart("weight", {"weight_kg": plan["weight_kg"] + 12})
    assert heavier.json()["result"]["needs_pharmacist"] is True
    pharmacist = world.client("pharmacist")
    hold = pharmacist.post(
        f"/api/v1/infusions/{record['id']}/pharmacist-release",
        json={"client_id": "pharm-hold-00001", "decision": "hold", "note": "check the scale first"},
    )
    assert hold.status_code == 201
    assert any(t["kind"] == "weight_review" for t in pharmacist.get("/api/v1/tasks").json())  # still open
    assert any(t["kind"] == "weight_hold" for t in world.client("prescriber").get("/api/v1/tasks").json())
    replan = pharmacist.post(
        f"/api/v1/infusions/{record['id']}/pharmacist-release",
        json={"client_id": "pharm-replan-0001", "decision": "replan", "note": "scale checked: 12 kg gain"},
    )
    assert replan.status_code == 201, replan.text
    view = nurse.get(f"/api/v1/infusions/{record['id']}").json()
    assert view["weight_ok"] and view["plan_version_id"] != record["plan_version_id"]
    new_plan = pharmacist.get(f"/api/v1/orders/{record['order_id']}").json()["versions"][-1]
    assert (
        new_plan["id"] == view["plan_version_id"] and new_plan["plan"]["weight_kg"] == plan["weight_kg"] + 12
    )
    assert not any(t["kind"] == "weight_review" for t in pharmacist.get("/api/v1/tasks").json())
    order = pharmacist.get(f"/api/v1/orders/{record['order_id']}").json()
    assert order["verification_status"] == "verified"
    assert "Re-planned at the chair" in order["versions"][-1]["verifications"][0]["note"]


def test_entries_may_be_back_timed_within_limits(world: World) -> None:
    appointment_id, _plan = _booked(world)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    now = dt.datetime.now(dt.UTC)
    future = chart("note", {"text": "later"}, occurred_at=(now + dt.timedelta(hours=1)).isoformat())
    assert future.status_code == 422 and "future" in future.json()["detail"]
    before = chart("note", {"text": "earlier"}, occurred_at=(now - dt.timedelta(hours=2)).isoformat())
    assert before.status_code == 422 and "checked in" in before.json()["detail"]
    ok = chart("note", {"text": "just now"}, occurred_at=now.isoformat())
    assert ok.status_code == 201 and ok.json()["occurred_at"] is not None
