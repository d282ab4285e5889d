"""Outcomes and continuation review through the API and the pages: readings validated against the catalog's
scale and corrected append-only, cycles counted from signed infusions, the two-cycle rule raising one
prescriber review task, decisions closing it, site limits and audit."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, update

from igflow.appointments.models import Appointment, ChairSlot, SiteSlotLoad
from igflow.catalog import load_catalog
from igflow.infusions.models import WorkTask
from igflow.outcomes.models import ContinuationDecision
from igflow.security.models import AuditEvent
from tests.api.test_infusions_api import Chart, _gtin, _receive, _scan
from tests.api.test_scheduling_api import _course, _patient, _verified_order
from tests.conftest import World

TODAY = dt.date.today()
VITALS = {"systolic_bp_mmhg": 122, "heart_rate_bpm": 74, "temperature_c": 36.8, "spo2_percent": 98}
INCAT = "incat-adjusted"


def _days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def _incat(world: World, pid: int, arm: int, leg: int, days_ago: int, **extra: Any) -> Any:
    return world.client(extra.pop("user", "nurse")).post(
        f"/api/v1/patients/{pid}/outcomes",
        json={
            "measure_id": INCAT,
            "parts": {"arm": arm, "leg": leg},
            "measured_on": _days_ago(days_ago),
            "method": extra.pop("method", "chair"),
            **extra,
        },
    )


def _cidp(world: World, key: str = "ola", mrn: str = "OUT001") -> tuple[int, int]:
    pid = _patient(world, key, mrn)
    return pid, _verified_order(world, pid, indication="cidp", product="gammagard-liquid")


class Cycles:
    """Signs whole cycles of an order through the chair API, dated in the past (bookings are made for the
    coming days, then moved back: readings after a cycle must not be in the future)."""

    def __init__(self, world: World, order_id: int) -> None:
        self.world, self.order_id = world, order_id
        self.plan = (
            world.client("pharmacist").get(f"/api/v1/orders/{order_id}").json()["versions"][-1]["plan"]
        )
        self.scans: dict[float, str] = {}
        for k, size in enumerate(sorted({float(v["size_g"]) for d in self.plan["days"] for v in d["vials"]})):
            gtin, lot = _gtin(f"0031234511{k:03d}"), f"OUT{k}"
            _receive(world, "gammagard-liquid", size, lot, gtin, count=60)
            self.scans[size] = _scan(gtin, lot, TODAY + dt.timedelta(days=300))

    def sign(self, days_ago: int) -> list[int]:
        """One cycle: a course booked, moved to ``days_ago``, every day charted and signed."""
        course = _course(self.world, self.order_id)
        scheduler = self.world.client("scheduler")
        option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
        booked = scheduler.post(
            f"/api/v1/courses/{course['id']}/bookings",
            json={k: option[k] for k in ("site", "dates", "starts", "chairs")},
        )
        assert booked.status_code == 201, booked.text
        appointments = booked.json()["appointments"]
        with self.world.db.session() as session:  # the chair slots and the nurses' load move with them
            for k, appointment in enumerate(appointments):
                day, booked_on = TODAY - dt.timedelta(days=days_ago - k), appointment["date"]
                session.execute(
                    update(Appointment).where(Appointment.id == appointment["id"]).values(date=day)
                )
                session.execute(
                    update(ChairSlot).where(ChairSlot.appointment_id == appointment["id"]).values(date=day)
                )
                session.execute(
                    update(SiteSlotLoad)
                    .where(SiteSlotLoad.date == dt.date.fromisoformat(booked_on))
                    .values(date=day)
                )
            session.commit()
        ids = [a["id"] for a in appointments]
        for day, appointment_id in zip(self.plan["days"], ids, strict=True):
            self._chart(appointment_id, day)
        return ids

    def _chart(self, appointment_id: int, day: dict[str, Any]) -> None:
        record = self.world.client("nurse").post(f"/api/v1/appointments/{appointment_id}/infusion")
        assert record.status_code == 201, record.text
        chart = Chart(self.world, record.json()["id"])
        entries: list[tuple[str, dict[str, Any]]] = [
            ("checklist", {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": "22G"}),
            ("weight", {"weight_kg": self.plan["weight_kg"]}),
            ("vitals", VITALS),
        ]
        for vial in day["vials"]:
            entries += [("vial", {"scan_text": self.scans[float(vial["size_g"])]})] * int(vial["count"])
        entries += [
            ("start", {}),
            ("end", {"volume_infused_ml": day["volume_ml"], "vials_wasted": 0, "confirm_volume": True}),
            ("vitals", VITALS),
            (
                "sign",
                {
                    "statement": "I charted this infusion and the record is complete",
                    "early_reason": "test: observed in the lounge",
                },
            ),
        ]
        for kind, payload in entries:
            response = chart(kind, payload)
            assert response.status_code == 201, (kind, response.text)


def _review_tasks(world: World, pid: int) -> list[WorkTask]:
    with world.db.session() as session:
        return list(
            session.execute(
                select(WorkTask).where(WorkTask.patient_id == pid, WorkTask.kind == "response_review")
            ).scalars()
        )


def _visible_text(html: str, section: str | None = None) -> str:
    """What a person reads on the page (or in one section of it): tags and their attributes removed."""
    body = html.split("<main", 1)[-1]
    if section is not None:
        body = body.split(f'<section id="{section}"', 1)[1].split("</section>", 1)[0]
    return re.sub(r"<[^>]+>", " ", body)


def test_a_reading_is_stored_with_its_parts_listed_and_audited(world: World) -> None:
    pid, oid = _cidp(world)
    stored = _incat(world, pid, 2, 1, 3, order_id=oid, note="arm and leg graded at the chair")
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert body["value"] == 3 and body["parts"] == {"arm": 2, "leg": 1} and body["method"] == "chair"
    assert body["recorded_by_user_id"] == world.users["nurse"] and body["order_id"] == oid
    grip = world.client("prescriber").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={"measure_id": "grip-strength", "value": 61.5, "measured_on": _days_ago(1), "method": "review"},
    )
    assert grip.status_code == 201, grip.text
    listed = world.client("pharmacist").get(f"/api/v1/patients/{pid}/outcomes")
    assert listed.status_code == 200
    assert [r["measure_id"] for r in listed.json()] == [INCAT, "grip-strength"]
    only = world.client("pharmacist").get(f"/api/v1/patients/{pid}/outcomes?measure_id=grip-strength")
    assert [r["value"] for r in only.json()] == [61.5]
    with world.db.session() as session:
        actions = list(
            session.execute(select(AuditEvent.action).where(AuditEvent.patient_id == pid)).scalars()
        )
    assert actions.count("outcome.reading.create") == 2 and "outcome.reading.list" in actions


def test_out_of_range_readings_are_refused_with_the_range_named(world: World) -> None:
    pid, _oid = _cidp(world)
    arm = _incat(world, pid, 7, 1, 1)
    assert arm.status_code == 422 and "0 to 5 points" in arm.json()["detail"], arm.text
    assert "arm disability grade" in arm.json()["detail"]
    mrc = world.client("nurse").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={"measure_id": "mrc-sum", "value": 61, "measured_on": _days_ago(1), "method": "chair"},
    )
    assert mrc.status_code == 422 and "outside the scale 0 to 60 points" in mrc.json()["detail"]
    whole = world.client("nurse").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={"measure_id": INCAT, "value": 3, "measured_on": _days_ago(1), "method": "chair"},
    )
    assert whole.status_code == 422 and "entered as its parts" in whole.json()["detail"]
    other = world.client("nurse").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={"measure_id": "platelet-count", "value": 40, "measured_on": _days_ago(1), "method": "chair"},
    )
    assert other.status_code == 422 and "not an outcome measure" in other.json()["detail"]
    future = _incat(world, pid, 1, 1, -2)
    assert future.status_code == 422 and future.json()["field"] == "measured_on"
    unknown = world.client("nurse").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={"measure_id": "no-such", "value": 1, "measured_on": _days_ago(1), "method": "chair"},
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "measure_id"
    assert world.client("nurse").get(f"/api/v1/patients/{pid}/outcomes").json() == []


def test_a_correction_needs_a_note_and_replaces_the_reading_it_names(world: World) -> None:
    pid, _oid = _cidp(world)
    first = _incat(world, pid, 1, 2, 5).json()
    silent = _incat(world, pid, 1, 3, 5, amends_id=first["id"])
    assert silent.status_code == 422 and silent.json()["field"] == "note"
    fixed = _incat(world, pid, 1, 3, 5, amends_id=first["id"], note="leg grade misread")
    assert fixed.status_code == 201, fixed.text
    again = _incat(world, pid, 1, 1, 5, amends_id=first["id"], note="second try")
    assert again.status_code == 409 and "already corrected" in again.json()["detail"]
    rows = {r["id"]: r for r in world.client("nurse").get(f"/api/v1/patients/{pid}/outcomes").json()}
    assert rows[first["id"]]["amended_by_id"] == fixed.json()["id"]
    assert rows[first["id"]]["value"] == 3  # the original is kept as it was
    assert rows[fixed.json()["id"]]["amends_id"] == first["id"] and rows[fixed.json()["id"]]["value"] == 4


def test_no_improvement_after_two_cycles_opens_one_prescriber_review_and_a_decision_closes_it(
    world: World,
) -> None:
    pid, oid = _cidp(world)
    cycles = Cycles(world, oid)
    assert _incat(world, pid, 2, 2, 50).status_code == 201  # baseline, before the first infusion
    cycles.sign(days_ago=49)
    assert _incat(world, pid, 2, 2, 28).status_code == 201  # at the chair before cycle 2
    cycles.sign(days_ago=28)
    # Signed: two cycles, but the reading after cycle 2 is taken before cycle 3, so nothing is due yet.
    response = world.client("prescriber").get(f"/api/v1/orders/{oid}/response").json()
    assert response["cycles_completed"] == 2 and response["outcome"] == "no_reading"
    assert _review_tasks(world, pid) == []
    assert _incat(world, pid, 2, 2, 7, user="prescriber", method="review").status_code == 201
    tasks = _review_tasks(world, pid)
    assert [(t.queue, t.status, t.detail["reason"]) for t in tasks] == [
        ("prescriber", "open", "no_meaningful_improvement")
    ]
    assert "no meaningful improvement" in tasks[0].title and INCAT not in tasks[0].title
    # Idempotent: another reading of the same cycle and the page's read raise nothing more.
    assert _incat(world, pid, 2, 2, 6, user="prescriber", method="review").status_code == 201
    world.client("prescriber").get(f"/orders/{oid}")
    assert len(_review_tasks(world, pid)) == 1
    flagged = world.client("prescriber").get(f"/api/v1/orders/{oid}/response").json()
    assert flagged["outcome"] == "no_meaningful_improvement" and flagged["flagged"] is True
    primary = next(m for m in flagged["measures"] if m["measure_id"] == INCAT)
    assert primary["status"] == "stable" and primary["threshold_source"]
    queue = world.client("prescriber").get("/api/v1/tasks").json()
    assert [t["kind"] for t in queue if t["patient_id"] == pid] == ["response_review"]

    url = f"/api/v1/orders/{oid}/continuation-decisions"
    assert world.client("nurse").post(url, json={"kind": "continue", "reason": "x"}).status_code == 403
    no_reason = world.client("prescriber").post(url, json={"kind": "continue", "reason": " "})
    assert no_reason.status_code == 422
    no_dose = world.client("prescriber").post(url, json={"kind": "change_dose", "reason": "no response"})
    assert no_dose.status_code == 422 and "needs the new dose" in no_dose.json()["detail"]
    decided = world.client("prescriber").post(
        url, json={"kind": "change_dose", "reason": "no response at 1 g/kg", "new_dose_g_per_kg": 2}
    )
    assert decided.status_code == 201, decided.text
    decision = decided.json()
    assert decision["review_reason"] == "no_meaningful_improvement"
    assert decision["details"]["next_step"]["next_order"] == "new_plan_version"
    assert [t.status for t in _review_tasks(world, pid)] == ["done"]
    after = world.client("prescriber").get(f"/api/v1/orders/{oid}/response").json()
    assert after["flagged"] is False and [d["kind"] for d in after["decisions"]] == ["change_dose"]
    with world.db.session() as session:
        audited = session.execute(
            select(AuditEvent.action).where(AuditEvent.action == "outcome.decision.create")
        ).scalars()
        assert list(audited) == ["outcome.decision.create"]


def test_a_responder_gets_no_review_task(world: World) -> None:
    pid, oid = _cidp(world)
    cycles = Cycles(world, oid)
    assert _incat(world, pid, 3, 2, 50).status_code == 201
    cycles.sign(days_ago=49)
    assert _incat(world, pid, 2, 2, 28).status_code == 201
    cycles.sign(days_ago=28)
    assert _incat(world, pid, 1, 1, 7).status_code == 201  # 5 -> 2: improved beyond the threshold
    cycles.sign(days_ago=7)
    response = world.client("nurse").get(f"/api/v1/orders/{oid}/response").json()
    assert response["cycles_completed"] == 3 and response["outcome"] == "improved"
    assert response["flagged"] is False and response["reviews"] == []
    assert _review_tasks(world, pid) == []


def test_signing_the_second_cycle_raises_a_review_where_the_response_cannot_be_judged(world: World) -> None:
    pid = _patient(world, "pia", "OUT002")
    oid = _verified_order(world, pid)  # PID: no primary measure is sourced, the prescriber decides
    cycles = Cycles(world, oid)
    cycles.sign(days_ago=40)
    assert _review_tasks(world, pid) == []
    cycles.sign(days_ago=12)
    tasks = _review_tasks(world, pid)
    assert [(t.detail["reason"], t.record_id is not None) for t in tasks] == [
        ("cannot_judge_prescriber_decides", True)
    ]
    assert world.client("prescriber").get(f"/api/v1/orders/{oid}/response").json()["flagged"] is False


def test_a_passed_review_interval_raises_a_review(world: World) -> None:
    pid, oid = _cidp(world)
    decided = world.client("prescriber").post(
        f"/api/v1/orders/{oid}/continuation-decisions",
        json={"kind": "continue", "reason": "stable on treatment", "review_in_days": 30},
    )
    assert decided.status_code == 201, decided.text
    assert _incat(world, pid, 1, 1, 1).status_code == 201
    assert _review_tasks(world, pid) == []
    with world.db.session() as session:
        session.execute(update(ContinuationDecision).values(decided_on=TODAY - dt.timedelta(days=31)))
        session.commit()
    assert _incat(world, pid, 1, 1, 0).status_code == 201
    assert [t.detail["reason"] for t in _review_tasks(world, pid)] == ["review_interval_passed"]
    assert world.client("prescriber").get(f"/api/v1/orders/{oid}/response").json()["flagged"] is True


def test_a_site_limited_user_gets_404_for_another_sites_patient(world: World) -> None:
    sol = _patient(world, "sam", "OUT003", site="south")
    oid = _verified_order(world, sol, indication="cidp", product="gammagard-liquid")
    assert _incat(world, sol, 1, 1, 2).status_code == 201
    world.add_user("prescriber.north", ["prescriber"], ["north"])
    for user in ("nurse.north", "prescriber.north"):
        client = world.client(user)
        assert client.get(f"/api/v1/patients/{sol}/outcomes").status_code == 404
        assert _incat(world, sol, 1, 1, 1, user=user).status_code == 404
        assert client.get(f"/api/v1/orders/{oid}/response").status_code == 404
    refused = world.client("prescriber.north").post(
        f"/api/v1/orders/{oid}/continuation-decisions", json={"kind": "continue", "reason": "x"}
    )
    assert refused.status_code == 404 and refused.json()["detail"] == f"order {oid} not found"
    assert world.client("scheduler").get(f"/api/v1/patients/{sol}/outcomes").status_code == 403


def test_the_patient_page_charts_each_measure_in_words(world: World) -> None:
    pid, oid = _cidp(world)
    cycles = Cycles(world, oid)
    assert _incat(world, pid, 2, 2, 30).status_code == 201
    cycles.sign(days_ago=29)
    assert _incat(world, pid, 1, 2, 2, note="better on stairs").status_code == 201
    page = world.client("nurse").get(f"/patients/{pid}")
    assert page.status_code == 200
    assert 'id="outcomes"' in page.text and "Adjusted INCAT disability score" in page.text
    assert '<svg class="outcome"' in page.text and 'class="infusion"' in page.text
    assert 'fill-opacity="0.12"' in page.text  # the band around the baseline
    assert "Arm disability grade (0 to 5 points)" in page.text and "at the chair" in page.text
    text = _visible_text(page.text, "outcomes")
    catalog = load_catalog()
    codes = [m.id for m in catalog.outcomes.measures if "-" in m.id]
    codes += ["patient_reported", "not_improved", "cannot_judge", "higher_is_better", "lower_is_better"]
    assert [c for c in codes if c in text] == []
    refused = world.client("nurse").post(
        f"/patients/{pid}/outcomes",
        data={
            "measure_id": INCAT,
            "order_id": str(oid),
            "part.arm": "6",
            "part.leg": "1",
            "measured_on": _days_ago(1),
            "method": "chair",
        },
    )
    assert refused.status_code == 422
    assert "0 to 5 points" in refused.text and refused.text.count("Please correct") == 1
    assert "Value: Value" not in refused.text and "value: " not in _visible_text(refused.text)
    recorded = world.client("nurse").post(
        f"/patients/{pid}/outcomes",
        data={
            "measure_id": INCAT,
            "order_id": str(oid),
            "part.arm": "1",
            "part.leg": "1",
            "measured_on": _days_ago(1),
            "method": "chair",
        },
    )
    assert recorded.status_code == 303 and recorded.headers["location"].endswith("#outcomes")


def test_the_order_page_shows_the_response_and_takes_the_prescribers_decision(world: World) -> None:
    pid, oid = _cidp(world)
    cycles = Cycles(world, oid)
    assert _incat(world, pid, 2, 2, 50).status_code == 201
    cycles.sign(days_ago=49)
    cycles.sign(days_ago=28)
    assert _incat(world, pid, 2, 2, 7, user="prescriber", method="review").status_code == 201
    page = world.client("prescriber").get(f"/orders/{oid}")
    assert page.status_code == 200
    text = _visible_text(page.text, "response")
    assert "Response" in text and "No meaningful improvement of Adjusted INCAT disability score" in text
    assert "Stable" in text and "Source:" in text and "Record a decision" in text
    assert "Flagged" in text
    assert "incat-adjusted" not in text and "no_meaningful_improvement" not in text
    nurse_page = world.client("nurse").get(f"/orders/{oid}")
    assert "Response" in nurse_page.text and "Record a decision" not in nurse_page.text
    assert 'id="response"' not in world.client("intake").get(f"/orders/{oid}").text
    client = world.client("prescriber")
    missing = client.post(
        f"/orders/{oid}/continuation-decisions", data={"kind": "switch_product", "reason": "no response"}
    )
    assert missing.status_code == 422 and "New product: this decision needs the new product" in missing.text
    done = client.post(
        f"/orders/{oid}/continuation-decisions",
        data={"kind": "switch_product", "reason": "no response", "new_product": "privigen"},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/orders/{oid}#response"
    again = _visible_text(client.get(f"/orders/{oid}").text)
    assert "Switch product" in again and "Privigen" in again and "Flagged" not in again


def test_an_overdue_maintenance_course_is_offered_the_coming_week_soonest_first(world: World) -> None:
    # the last cycle 60 days ago: the regimen's longest interval has passed, so the next course is overdue;
    # a window of today alone would offer nothing on a day the centres are closed (a Sunday)
    _pid, oid = _cidp(world, "pat", "OUT009")
    Cycles(world, oid).sign(days_ago=60)
    course = _course(world, oid)
    today = dt.date.today()
    assert course["earliest"] == today.isoformat() == course["target"]
    assert course["latest"] == (today + dt.timedelta(days=7)).isoformat()
    assert "overdue since" in course["window_reason"] and "as soon as possible" in course["window_reason"]
    options = world.client("scheduler").get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert options, "an overdue course is offered a place"
    assert options[0]["dates"][0] == min(o["dates"][0] for o in options)
