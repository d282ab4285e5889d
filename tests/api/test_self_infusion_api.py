"""The patient's own infusion log: a self-infusion of the active SC order lands once per client_id, takes
its vials from the stock at the patient's home (or opens a pharmacist reconcile task rather than refusing
the patient), corrections are new entries, a reaction or a short infusion raises one nurse follow-up, a
missed infusion raises one nurse task per due day, and the patient sees only themselves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from igflow.home.models import SelfInfusion
from igflow.home.service import selflog_plan
from igflow.infusions.models import WorkTask
from igflow.security.models import AuditEvent
from tests.api.home_supply_helpers import at_home, moves, on_hand, patient_user, receive_lot, sc_patient, soon
from tests.conftest import World


def _delivered(world: World, pid: int, oid: int) -> dict[str, dict[str, Any]]:
    """Two weeks of Cuvitru (8 g + 2 g a week) delivered and received at the patient's home."""
    lots = {
        "eight": receive_lot(world, "CUV8-H", size_g=8, count=6),
        "two": receive_lot(world, "CUV2-H", size_g=2, count=6),
    }
    pharmacist = world.client("pharmacist")
    d = pharmacist.post(
        "/api/v1/deliveries",
        json={
            "patient_id": pid,
            "from_site_id": world.sites["north"],
            "order_id": oid,
            "needed_by": soon(1),
            "infusions": 2,
        },
    ).json()
    pharmacist.post(f"/api/v1/deliveries/{d['id']}/pack", json={})
    pharmacist.post(f"/api/v1/deliveries/{d['id']}/ship", json={"carrier": "C", "carrier_reference": "R"})
    assert world.client("nurse").post(f"/api/v1/deliveries/{d['id']}/receive", json={}).status_code == 200
    return lots


def _entry(client_id: str, **changes: Any) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    return {
        "client_id": client_id,
        "infused_at": at.isoformat(),
        "lot": "CUV8-H",
        "vials": 1,
        "volume_ml": 50,
        "sites": 1,
        "duration_min": 55,
        "reaction": "none",
        **changes,
    }


def _tasks(world: World, kind: str) -> list[WorkTask]:
    with world.db.session() as session:
        return list(
            session.execute(select(WorkTask).where(WorkTask.kind == kind).order_by(WorkTask.id)).scalars()
        )


def test_a_self_infusion_lands_once_and_takes_its_vials_from_home(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "SI0001")
    lots = _delivered(world, pid, oid)
    patient = world.client(patient_user(world, "pia.patient", pid))
    first = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0001-aaaa"))
    assert first.status_code == 201, first.text
    body = first.json()
    assert (
        body["order_id"] == oid and body["lot_number"] == "CUV8-H" and body["lot_id"] == lots["eight"]["id"]
    )
    assert body["reaction_grade"] == 0 and body["follow_up"] == []
    assert "1 vial(s) of lot CUV8-H taken from the stock at your home" in body["stock_words"]
    retry = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0001-aaaa"))
    assert retry.status_code == 201 and retry.json()["id"] == body["id"]
    clash = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0001-aaaa", volume_ml=40))
    assert clash.status_code == 409 and clash.json()["field"] == "client_id"
    with world.db.session() as session:
        assert session.execute(select(SelfInfusion)).scalars().all().__len__() == 1
    assert at_home(world, pid, lots["eight"]["id"]) == (1, 0)  # 2 delivered, 1 used
    assert on_hand(world, lots["eight"]["id"], "home") == 1
    assert moves(world, lots["eight"]["id"])[-1] == ("dispense", "home", 1, pid, None)
    assert _tasks(world, "self_infusion_follow_up") == [] and _tasks(world, "home_stock_reconcile") == []


def test_the_lot_is_read_from_the_vials_barcode(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "SI0002")
    lots = _delivered(world, pid, oid)
    lot = lots["two"]
    expiry = dt.date.fromisoformat(lot["label_expiry"])
    scanned = f"(01){lot['gtin']}(17){expiry:%y%m%d}(10){lot['lot_number']}(21)SER9"
    patient = world.client(patient_user(world, "pia.patient", pid))
    body = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0002-aaaa", lot=scanned)).json()
    assert body["lot_id"] == lot["id"] and body["lot_number"] == "CUV2-H"
    raw = f"01{lot['gtin']}17{expiry:%y%m%d}10{lot['lot_number']}\x1d21SER9"
    assert (
        patient.post("/api/v1/me/self-infusions", json=_entry("phone-0003-aaaa", lot=raw)).json()["lot_id"]
        == lot["id"]
    )
    assert at_home(world, pid, lot["id"]) == (0, 0)


def test_a_lot_not_at_home_is_recorded_and_the_pharmacy_reconciles(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "SI0003")
    _delivered(world, pid, oid)
    patient = world.client(patient_user(world, "pia.patient", pid))
    unknown = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0004-aaaa", lot="NOPE-42"))
    assert (
        unknown.status_code == 201
        and unknown.json()["lot_id"] is None
        and unknown.json()["lot_number"] == "NOPE-42"
    )
    assert "The pharmacy will check" in unknown.json()["stock_words"]
    too_many = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0005-aaaa", vials=5))
    assert too_many.status_code == 201
    tasks = _tasks(world, "home_stock_reconcile")
    assert [t.queue for t in tasks] == ["pharmacist", "pharmacist"]
    assert (
        "lot 'NOPE-42' is not one igflow knows" in tasks[0].title
        and "2 free vial(s) of lot CUV8-H" in tasks[1].title
    )


def test_a_reaction_or_a_short_infusion_raises_one_nurse_follow_up(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "SI0004")
    _delivered(world, pid, oid)
    patient = world.client(patient_user(world, "pia.patient", pid))
    reacted = patient.post(
        "/api/v1/me/self-infusions",
        json=_entry("phone-0006-aaaa", reaction="moderate", symptoms=["site", "headache"], volume_ml=30),
    ).json()
    assert reacted["reaction_grade"] == 2 and reacted["symptoms"] == [
        "redness, swelling or itching where the needle went in",
        "headache",
    ]
    [task] = _tasks(world, "self_infusion_follow_up")
    assert (
        task.queue == "nurse" and task.patient_id == pid and task.detail["self_infusion_id"] == reacted["id"]
    )
    assert task.detail["reason_keys"] == ["reaction", "short"]
    assert task.title.endswith(": reaction, grade 2; short infusion, 30 mL")
    assert task.detail["reasons"][1] == "short infusion: 30 mL of the plan's 50 mL (more than 10 % short)"
    assert task.detail["reasons"][0].startswith("reaction (grade 2): I had to stop or slow the infusion")
    patient.post(
        "/api/v1/me/self-infusions", json=_entry("phone-0006-aaaa", reaction="moderate", volume_ml=30)
    )
    assert len(_tasks(world, "self_infusion_follow_up")) == 1  # the retry raised nothing more
    # within the tolerance (10 %) and no reaction: nothing to follow up
    patient.post("/api/v1/me/self-infusions", json=_entry("phone-0007-aaaa", lot="CUV2-H", volume_ml=46))
    assert len(_tasks(world, "self_infusion_follow_up")) == 1
    bad = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0008-aaaa", reaction="awful"))
    assert bad.status_code == 422 and bad.json()["field"] == "reaction" and "moderate" in bad.json()["detail"]


def test_a_correction_is_a_new_entry_and_moves_no_stock(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "SI0005")
    lots = _delivered(world, pid, oid)
    patient = world.client(patient_user(world, "pia.patient", pid))
    first = patient.post("/api/v1/me/self-infusions", json=_entry("phone-0009-aaaa")).json()
    no_reason = patient.post(
        "/api/v1/me/self-infusions", json=_entry("phone-0010-aaaa", amends_id=first["id"])
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    corrected = patient.post(
        "/api/v1/me/self-infusions",
        json=_entry(
            "phone-0010-aaaa", amends_id=first["id"], reason="I had a headache after all", reaction="mild"
        ),
    )
    assert corrected.status_code == 201 and corrected.json()["amends_id"] == first["id"]
    assert corrected.json()["note"].startswith("Correction: I had a headache after all")
    assert at_home(world, pid, lots["eight"]["id"]) == (1, 0)  # still the one vial from the first entry
    [task] = _tasks(world, "self_infusion_follow_up")
    assert task.detail["event_id"] == first["id"] and task.detail["reason_keys"] == ["reaction"]
    twice = patient.post(
        "/api/v1/me/self-infusions",
        json=_entry("phone-0011-aaaa", amends_id=first["id"], reason="again, sorry"),
    )
    assert (
        twice.status_code == 409 and f"corrected by entry {corrected.json()['id']}" in twice.json()["detail"]
    )
    log = patient.get("/api/v1/me/self-infusions").json()
    by_id = {e["id"]: e for e in log["entries"]}
    assert by_id[first["id"]]["corrected_by_id"] == corrected.json()["id"]
    with world.db.session() as session:
        rows = session.execute(select(SelfInfusion).order_by(SelfInfusion.id)).scalars().all()
        assert [(r.reaction_grade, r.amends_id) for r in rows] == [(0, None), (1, first["id"])]


def test_what_is_due_next_and_a_missed_infusion(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "SI0006")
    _delivered(world, pid, oid)
    patient = world.client(patient_user(world, "pia.patient", pid))
    before = patient.get("/api/v1/me/self-infusions").json()
    assert before["due_on"] is None and "first self-infusion" in before["due_words"]
    lines = before["plan"]["lines"]
    assert lines[0] == "Cuvitru 20%: 50 mL every week." and lines[1].startswith("Use 1 site")
    assert (
        "mL an hour in each site" in lines[2] and lines[3] == "Vials for each infusion: 1 × 8 g and 1 × 2 g."
    )
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    patient.post("/api/v1/me/self-infusions", json=_entry("phone-0012-aaaa", infused_at=at.isoformat()))
    log = patient.get("/api/v1/me/self-infusions").json()
    due = dt.date.fromisoformat(log["due_on"])
    assert 5 <= (due - dt.date.today()).days <= 7 and "Your next infusion is due on" in log["due_words"]
    assert [s["lot_number"] for s in log["home_stock"]] == ["CUV8-H", "CUV2-H"]
    with world.db.session() as session:
        assert selflog_plan.sweep_missed(session, on=due + dt.timedelta(days=2)) == 0  # within the grace
        assert selflog_plan.sweep_missed(session, on=due + dt.timedelta(days=3)) == 1
        assert selflog_plan.sweep_missed(session, on=due + dt.timedelta(days=4)) == 0  # once per due day
    [task] = _tasks(world, "self_infusion_missed")
    assert task.queue == "nurse" and task.detail["due_on"] == due.isoformat() and task.patient_id == pid


def test_the_patient_sees_only_themselves_and_needs_an_sc_plan(world: World) -> None:
    pid, _oid = sc_patient(world, "pia", "SI0007")
    other, _ = sc_patient(world, "ole", "SI0008")
    patient = world.client(patient_user(world, "pia.patient", pid))
    assert patient.get(f"/api/v1/patients/{other}/self-infusions").status_code == 403
    assert patient.get(f"/api/v1/patients/{pid}/self-infusions").status_code == 403  # staff's view
    assert patient.get("/api/v1/me/self-infusions").json()["patient_id"] == pid
    staff = world.client("nurse").get(f"/api/v1/patients/{pid}/self-infusions")
    assert staff.status_code == 200 and staff.json()["patient_id"] == pid
    from tests.api.test_scheduling_api import _patient

    iv_only = _patient(world, "ivy", "SI0009")
    plain = world.client(patient_user(world, "ivy.patient", iv_only))
    refused = plain.post("/api/v1/me/self-infusions", json=_entry("phone-0013-aaaa"))
    assert refused.status_code == 409 and "call your home-infusion nurse" in refused.json()["detail"]
    assert plain.get("/api/v1/me/self-infusions").json()["plan"] is None
    with world.db.session() as session:
        reads = (
            session.execute(select(AuditEvent.patient_id).where(AuditEvent.action == "self_infusion.read"))
            .scalars()
            .all()
        )
    assert set(reads) == {pid, iv_only}


def test_the_worker_runs_the_home_supply_sweep_every_hour(world: World) -> None:
    from igflow.jobs.queue import JobQueue

    pid, oid = sc_patient(world, "pia", "SI0010")
    _delivered(world, pid, oid)
    patient = world.client(patient_user(world, "pia.patient", pid))
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=12)
    patient.post("/api/v1/me/self-infusions", json=_entry("phone-0014-aaaa", infused_at=long_ago.isoformat()))
    queue = JobQueue("immediate", world.db)
    task = next(t for t in queue.huey._registry.periodic_tasks if t.name == "igflow.home_supply_sweep")
    assert task.validate_datetime(dt.datetime(2026, 11, 3, 9, 23)) and not task.validate_datetime(
        dt.datetime(2026, 11, 3, 9, 24)
    )
    queue._home_supply()
    queue._home_supply()
    assert len(_tasks(world, "self_infusion_missed")) == 1
