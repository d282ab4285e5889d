"""Scheduling in the application: courses from verified plans, suggestions, bookings guarded by the
database, cancellation with repair, planning runs, chair board, load and calendars."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from igflow.appointments.models import Appointment, ChairSlot, SiteSlotLoad
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.models import Instance, Schedule
from tests.conftest import World


def _patient(world: World, key: str, mrn: str, site: str = "north") -> int:
    intake = world.client("intake")
    created = intake.post(
        "/api/v1/patients",
        json={
            "mrn": mrn,
            "given_name": key.title(),
            "family_name": "Sched",
            "date_of_birth": "1975-01-01",
            "sex": "male",
            "site_ids": [world.sites[site]],
        },
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    nurse = world.client("nurse")
    for kind, value in (("weight_kg", 70), ("height_cm", 175)):
        nurse.post(
            f"/api/v1/patients/{pid}/measurements",
            json={"kind": kind, "value": value, "measured_on": "2026-11-01"},
        )
    world.patients[key] = pid
    return pid


def _verified_order(
    world: World,
    patient_id: int,
    indication: str = "pid",
    phase: str = "maintenance",
    product: str = "gammagard-liquid",
) -> int:
    order = world.client("prescriber").post(
        "/api/v1/orders",
        json={
            "patient_id": patient_id,
            "prescriber_id": world.prescriber_id,
            "indication_id": indication,
            "phase": phase,
            "product_id": product,
        },
    )
    assert order.status_code == 201, order.text
    assert order.json()["verification_status"] == "pending", order.json()["versions"][0]["plan"]["alerts"]
    oid = order.json()["id"]
    verified = world.client("pharmacist").post(
        f"/api/v1/orders/{oid}/verifications", json={"version": 1, "decision": "verified"}
    )
    assert verified.status_code == 201
    return oid


def _course(world: World, order_id: int) -> dict[str, Any]:
    response = world.client("scheduler").post("/api/v1/courses", json={"order_id": order_id})
    assert response.status_code == 201, response.text
    return response.json()


def book_first_option(world: World, course_id: int) -> dict[str, Any]:
    """Book a course at the first slot the suggestions offer; the booked course (with its appointments)."""
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{course_id}/suggestions").json()[0]
    booked = scheduler.post(
        f"/api/v1/courses/{course_id}/bookings",
        json={k: option[k] for k in ("site", "dates", "starts", "chairs")},
    )
    assert booked.status_code == 201, booked.text
    return dict(booked.json())


def test_course_needs_a_verified_plan(world: World) -> None:
    pid = _patient(world, "una", "SCH001")
    order = (
        world.client("prescriber")
        .post(
            "/api/v1/orders",
            json={
                "patient_id": pid,
                "prescriber_id": world.prescriber_id,
                "indication_id": "pid",
                "phase": "maintenance",
                "product_id": "gammagard-liquid",
            },
        )
        .json()
    )
    response = world.client("scheduler").post("/api/v1/courses", json={"order_id": order["id"]})
    assert response.status_code == 422
    assert "not verified" in response.json()["detail"]


def test_course_takes_chair_minutes_priority_and_window_from_the_plan(world: World) -> None:
    pid = _patient(world, "una", "SCH001")
    oid = _verified_order(world, pid)
    plan = world.client("pharmacist").get(f"/api/v1/orders/{oid}").json()["versions"][-1]["plan"]
    course = _course(world, oid)
    assert course["priority"] == plan["priority"]
    assert [s["duration_min"] for s in course["sessions"]] == [
        -(-int(d["chair_min"] * 100) // 100) for d in plan["days"]
    ] or [s["duration_min"] for s in course["sessions"]] == [
        int(-(-d["chair_min"] // 1)) for d in plan["days"]
    ]
    assert course["earliest"] <= course["target"] <= course["latest"]
    again = world.client("scheduler").post("/api/v1/courses", json={"order_id": oid})
    assert again.status_code == 409


def test_suggest_book_board_and_calendar(world: World) -> None:
    pid = _patient(world, "una", "SCH001")
    course = _course(world, _verified_order(world, pid))
    scheduler = world.client("scheduler")
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert 1 <= len(options) <= 5
    best = options[0]
    assert best["site"] == "north"
    booked = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={k: best[k] for k in ("site", "dates", "starts", "chairs")},
    )
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["appointments"][0]
    assert booked.json()["status"] == "booked"
    assert appointment["date"] == best["dates"][0] and appointment["start"] == best["starts"][0]
    board = scheduler.get(
        f"/api/v1/sites/{world.sites['north']}/board", params={"date": appointment["date"]}
    ).json()
    assert [a["id"] for a in board["appointments"]] == [appointment["id"]]
    assert board["appointments"][0]["indication"] == "pid"
    ics = world.client("patient.ann").get(
        "/api/v1/me/appointments.ics"
    )  # ann has no booking: an empty calendar
    assert ics.status_code == 200 and "BEGIN:VEVENT" not in ics.text
    staff_ics = scheduler.get(f"/api/v1/patients/{pid}/appointments.ics")
    assert staff_ics.headers["content-type"].startswith("text/calendar")
    assert staff_ics.text.count("BEGIN:VEVENT") == 1
    unfolded = staff_ics.text.replace("\r\n ", "")
    assert "Drink plenty of water" in unfolded and "hours" in unfolded
    assert "\r\n" in staff_ics.text and all(len(line.encode()) <= 75 for line in staff_ics.text.split("\r\n"))


def test_the_database_refuses_a_double_booked_chair(world: World) -> None:
    first = _course(world, _verified_order(world, _patient(world, "una", "SCH001")))
    second = _course(world, _verified_order(world, _patient(world, "vic", "SCH002")))
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{first['id']}/suggestions").json()[0]
    body = {k: option[k] for k in ("site", "dates", "starts", "chairs")}
    assert scheduler.post(f"/api/v1/courses/{first['id']}/bookings", json=body).status_code == 201
    clash = scheduler.post(f"/api/v1/courses/{second['id']}/bookings", json=body)
    assert clash.status_code == 409
    assert "chair is already booked" in clash.json()["detail"]
    assert scheduler.get(f"/api/v1/courses/{second['id']}").json()["status"] == "waiting"


def test_booking_outside_hours_or_on_a_closed_day_is_refused_with_the_reason(world: World) -> None:
    course = _course(world, _verified_order(world, _patient(world, "una", "SCH001")))
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
    late = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={**{k: option[k] for k in ("site", "dates", "chairs")}, "starts": ["16:00"]},
    )
    assert late.status_code == 422 and "does not fit" in late.json()["detail"]
    day = dt.date.fromisoformat(option["dates"][0])
    saturday = day + dt.timedelta(days=(5 - day.weekday()) % 7)
    closed = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={**{k: option[k] for k in ("site", "starts", "chairs")}, "dates": [saturday.isoformat()]},
    )
    assert closed.status_code == 422 and "closed" in closed.json()["detail"]


def test_cancel_releases_capacity_and_suggests_the_freed_slot(world: World) -> None:
    first = _course(world, _verified_order(world, _patient(world, "una", "SCH001")))
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{first['id']}/suggestions").json()[0]
    body = {k: option[k] for k in ("site", "dates", "starts", "chairs")}
    appt = scheduler.post(f"/api/v1/courses/{first['id']}/bookings", json=body).json()["appointments"][0]
    second = _course(world, _verified_order(world, _patient(world, "vic", "SCH002")))
    cancelled = scheduler.put(
        f"/api/v1/appointments/{appt['id']}/status", json={"status": "cancelled", "reason": "patient unwell"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["appointment"]["status"] == "cancelled"
    repair = cancelled.json()["repair"]
    assert any(r["course_id"] == second["id"] for r in repair)
    with world.db.session() as session:
        assert session.execute(select(func.count()).select_from(ChairSlot)).scalar_one() == 0
        assert session.execute(select(func.coalesce(func.sum(SiteSlotLoad.in_chairs), 0))).scalar_one() == 0
    assert scheduler.get(f"/api/v1/courses/{first['id']}").json()["status"] == "waiting"
    # The freed chair can now be booked by the other course.
    again = scheduler.post(f"/api/v1/courses/{second['id']}/bookings", json=body)
    assert again.status_code == 201, again.text
    missing_reason = scheduler.put(
        f"/api/v1/appointments/{appt['id']}/status", json={"status": "no_show", "reason": ""}
    )
    assert missing_reason.status_code == 422


def test_planning_run_draft_then_publish(world: World) -> None:
    courses = [
        _course(world, _verified_order(world, _patient(world, f"p{i}", f"SCH10{i}"))) for i in range(3)
    ]
    scheduler = world.client("scheduler")
    start = min(dt.date.fromisoformat(c["earliest"]) for c in courses)
    job = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 28, "time_limit_s": 5}
    )
    assert job.status_code == 202, job.text  # a job (run inline by the tests' immediate queue)
    assert job.json()["state"] == "succeeded"
    assert job.headers["location"] == f"/api/v1/jobs/{job.json()['id']}"
    draft = scheduler.get(f"/api/v1/planning-runs/{job.json()['result_id']}").json()
    assert draft["status"] == "draft"
    assert draft["figures"]["optimiser"]["violations"] == 0
    assert (
        draft["figures"]["optimiser"]["weighted_scheduled"]
        >= draft["figures"]["greedy"]["weighted_scheduled"]
    )
    assert len(draft["moves"]) == 3 and draft["unscheduled"] == []
    with world.db.session() as session:
        assert (
            session.execute(select(func.count()).select_from(Appointment)).scalar_one() == 0
        )  # a draft books nothing
    published = scheduler.post(f"/api/v1/planning-runs/{draft['id']}/publish").json()
    assert published["status"] == "published"
    assert sorted(published["result"]["booked_courses"]) == sorted(c["id"] for c in courses)
    # Published appointments are fixed in the next run and the whole is still valid.
    job2 = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 28, "time_limit_s": 2}
    )
    run2 = scheduler.get(f"/api/v1/planning-runs/{job2.json()['result_id']}")
    assert run2.json()["moves"] == []
    with world.db.session() as session:
        from igflow.appointments.models import PlanningRun

        stored = session.get(PlanningRun, run2.json()["id"])
        assert stored is not None
        instance = dict(stored.instance)
        instance.pop("x_igflow")
        ev = evaluate(Instance.model_validate(instance), Schedule.model_validate(stored.schedule))
        assert ev.valid and ev.figures is not None and ev.figures.sessions_scheduled == 3


def test_week_load_shows_patients_in_chairs_against_capacity(world: World) -> None:
    course = _course(world, _verified_order(world, _patient(world, "una", "SCH001")))
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
    scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={k: option[k] for k in ("site", "dates", "starts", "chairs")},
    )
    week = scheduler.get(
        f"/api/v1/sites/{world.sites['north']}/load", params={"week": option["dates"][0]}
    ).json()
    day = next(d for d in week if d["date"] == option["dates"][0])
    assert day["peak"] == 1 and day["capacity"] == 4  # 4 chairs; 2 nurses x 4 patients = 8
    assert [d["open"] for d in week] == [True] * 5 + [False] * 2


@pytest.mark.postgres
def test_parallel_bookings_never_double_book_or_overload_nurses(world: World) -> None:
    """On PostgreSQL: many bookings at once for the same slot; the database lets through only what fits."""
    if not world.db.is_postgres:
        pytest.skip("concurrency is proven on PostgreSQL; SQLite serialises writers")
    courses = [
        _course(world, _verified_order(world, _patient(world, f"c{i}", f"SCH2{i:02d}"))) for i in range(6)
    ]
    option = world.client("scheduler").get(f"/api/v1/courses/{courses[0]['id']}/suggestions").json()[0]
    results: list[int] = []
    barrier = threading.Barrier(len(courses))

    def attempt(course: dict[str, Any], chair: int) -> None:
        client = world.client("scheduler")
        body = {
            "site": option["site"],
            "dates": option["dates"],
            "starts": option["starts"],
            "chairs": [chair],
        }
        barrier.wait()
        results.append(client.post(f"/api/v1/courses/{course['id']}/bookings", json=body).status_code)

    # Two courses race for chair 1; four more start in the same slot on chairs 2-4 (and 1 again).
    chairs = [1, 1, 2, 3, 4, 2]
    threads = [threading.Thread(target=attempt, args=(c, ch)) for c, ch in zip(courses, chairs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(results)) <= [201, 409]
    with world.db.session() as session:
        booked = session.execute(select(Appointment).where(Appointment.status == "booked")).scalars().all()
        # North has 2 nurses x 1 start per slot: at most two infusions may start in the same slot.
        assert len(booked) == results.count(201) == 2
        assert len({a.chair_id for a in booked}) == 2
        loads = session.execute(select(SiteSlotLoad)).scalars().all()
        assert all(row.starts <= row.max_starts and row.in_chairs <= row.max_in_chairs for row in loads)
