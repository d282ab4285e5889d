"""Home visits end to end: a home IVIG course waits with what stops it, a routing run (the background job)
places it beside the by-hand dispatch, publishing books the visit with its nurse (whose slots refuse an
overlapping visit), a sick day takes the nurse off and the next run re-routes it, and a reaction of grade 2
at home sends the next dose to a centre until a pharmacist clears the patient."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from igflow.appointments.models import Appointment
from igflow.home.models import HomeVisit, NurseSlot
from igflow.home.service import visits as visits_service
from igflow.patients.models import PatientSite
from igflow.sites.models import Site
from tests.conftest import World

MONDAY = dt.date.today() + dt.timedelta(days=(7 - dt.date.today().weekday()) % 7 or 7)


def _home_site(world: World) -> int:
    with world.db.session() as session:
        site = Site(code="home", name="Home Infusion Service", kind="home", timezone="America/Los_Angeles")
        session.add(site)
        session.commit()
        world.sites["home"] = site.id
        return site.id


def _nurse(world: World, name: str, lat: float, skills: list[str]) -> dict[str, Any]:
    body = {
        "name": name,
        "home_lat": lat,
        "home_lon": -118.25,
        "skills": skills,
        "max_visits_per_day": 2,
        "shifts": [{"weekday": d, "start_min": 480, "end_min": 1050, "break_min": 30} for d in range(5)],
    }
    response = world.client("scheduler").post("/api/v1/home/nurses", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _home_order(world: World, first_infusion: bool = True) -> tuple[int, int]:
    """Ann at home (coordinates on record, also on the home site), a verified IVIG order given at home."""
    pid = world.patients["ann"]
    nurse = world.client("nurse")
    for kind, value in (("weight_kg", 70), ("height_cm", 170)):
        nurse.post(
            f"/api/v1/patients/{pid}/measurements",
            json={"kind": kind, "value": value, "measured_on": "2026-11-01"},
        )
    pharmacist = world.client("pharmacist")
    version = pharmacist.get(f"/api/v1/patients/{pid}").json()["version"]
    moved = pharmacist.patch(
        f"/api/v1/patients/{pid}", json={"version": version, "home_lat": 34.06, "home_lon": -118.3}
    )
    assert moved.status_code == 200, moved.text
    order = world.client("prescriber").post(
        "/api/v1/orders",
        json={
            "patient_id": pid,
            "prescriber_id": world.prescriber_id,
            "indication_id": "cidp",
            "phase": "maintenance",
            "product_id": "privigen",
            "setting": "home",
            "first_infusion": first_infusion,
        },
    )
    assert order.status_code == 201, order.text
    oid = order.json()["id"]
    pharmacist.post(f"/api/v1/orders/{oid}/verifications", json={"version": 1, "decision": "verified"})
    course = world.client("scheduler").post("/api/v1/courses", json={"order_id": oid})
    assert course.status_code == 201, course.text
    return oid, int(course.json()["id"])


@pytest.fixture
def first_dose_at_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """A site whose policy allows a first dose at home with a first-dose nurse."""
    from igflow.catalog import load_catalog

    real = load_catalog()
    home = real.home.model_copy(
        update={
            "first_dose_at_home": real.home.first_dose_at_home.model_copy(
                update={"allowed": real.home.first_dose_at_home.allowed.model_copy(update={"value": True})}
            )
        }
    )
    patched = type(real)(**{**real.__dict__, "home": home})
    monkeypatch.setattr(visits_service, "load_catalog", lambda: patched)


def test_a_first_dose_stays_at_a_centre_by_default_and_the_page_says_who_books_it(world: World) -> None:
    _home_site(world)
    _oid, course_id = _home_order(world)
    page = world.client("scheduler").get("/home")
    assert page.status_code == 200
    assert (
        "First dose of this product for the patient: the site policy gives first doses at a centre"
        in page.text
    )
    chair = world.client("scheduler").get(f"/api/v1/courses/{course_id}/suggestions")
    assert chair.status_code == 422 and "home-infusion service routes it" in chair.json()["detail"]


def test_routing_books_the_visit_with_a_nurse_and_a_sick_day_reroutes_it(
    world: World, first_dose_at_home: None
) -> None:
    home = _home_site(world)
    near = _nurse(world, "Nora Near (synthetic)", 34.07, ["ivig_home", "first_dose"])
    far = _nurse(world, "Fay Far (synthetic)", 34.30, ["ivig_home", "first_dose"])
    _nurse(world, "Sam Skill-less (synthetic)", 34.06, ["scig_training"])
    _oid, course_id = _home_order(world)
    scheduler = world.client("scheduler")
    job = scheduler.post(
        "/api/v1/home/routing-runs", json={"start_date": MONDAY.isoformat(), "days": 5, "time_limit_s": 1}
    )
    assert job.status_code == 202, job.text
    run_id = job.json()["result_id"]  # the tests' queue runs the job inline
    run = scheduler.get(f"/api/v1/home/routing-runs/{run_id}").json()
    sessions = len(scheduler.get(f"/api/v1/courses/{course_id}").json()["sessions"])
    assert run["status"] == "draft" and run["figures"]["optimiser"]["visits_served"] == sessions
    assert run["figures"]["greedy"]["visits_served"] == sessions
    page = scheduler.get(f"/home/runs/{run_id}")
    assert (
        "The optimiser beside a nearest-first dispatch by hand" in page.text
        and "Northwood, Annika" in page.text
    )
    published = scheduler.post(f"/api/v1/home/routing-runs/{run_id}/publish")
    assert published.status_code == 200, published.text
    booked = published.json()["result"]["booked_appointment_ids"]
    assert len(booked) == sessions
    appointment_id = booked[0]
    with world.db.session() as session:
        appt = session.get(Appointment, appointment_id)
        visit = session.execute(
            select(HomeVisit).where(HomeVisit.appointment_id == appointment_id)
        ).scalar_one()
        assert appt is not None and appt.site_id == home and appt.chair_id is None
        assert visit.nurse_id == near["id"]  # the nearer nurse with the skills (the skill-less one is closer)
        slots = (
            session.execute(select(NurseSlot).where(NurseSlot.appointment_id == appointment_id))
            .scalars()
            .all()
        )
        assert len(slots) * visits_service.NURSE_SLOT_MIN >= appt.duration_min
        sites = session.execute(
            select(PatientSite.site_id).where(PatientSite.patient_id == appt.patient_id)
        ).scalars()
        assert home in set(sites)  # the home service's nurses see the patient
        day = appt.date
    assert scheduler.post(f"/api/v1/home/routing-runs/{run_id}/publish").status_code == 409
    course = scheduler.get(f"/api/v1/courses/{course_id}").json()
    assert course["status"] == "booked"
    routes = scheduler.get(f"/api/v1/home/routes?date={day.isoformat()}").json()
    assert [r["nurse_name"] for r in routes] == ["Nora Near (synthetic)"] and routes[0]["travel_min"] > 0
    map_page = scheduler.get(f"/home/routes?date={day.isoformat()}")
    assert "<svg" in map_page.text and "Nora Near (synthetic)" in map_page.text

    off = scheduler.post(
        f"/api/v1/home/nurses/{near['id']}/absences", json={"date": day.isoformat(), "reason": "sick"}
    )
    assert off.status_code == 201 and off.json()["affected_visits"] == 1
    overview = scheduler.get(f"/home?date={day.isoformat()}")
    assert "Visits without a nurse (1)" in overview.text
    again = scheduler.post(
        "/api/v1/home/routing-runs", json={"start_date": day.isoformat(), "days": 1, "time_limit_s": 1}
    )
    scheduler.post(f"/api/v1/home/routing-runs/{again.json()['result_id']}/publish")
    with world.db.session() as session:
        visit = session.execute(
            select(HomeVisit).where(HomeVisit.appointment_id == appointment_id)
        ).scalar_one()
        appt = session.get(Appointment, appointment_id)
        assert (
            visit.nurse_id == far["id"] and appt is not None and appt.date == day
        )  # same day, another nurse


def test_a_grade_2_reaction_at_home_sends_the_next_dose_to_a_centre_until_a_pharmacist_clears_it(
    world: World, first_dose_at_home: None
) -> None:
    from igflow.catalog import load_catalog
    from igflow.home.service import rules
    from igflow.infusions.models import InfusionRecord, WorkTask

    home = _home_site(world)
    oid, course_id = _home_order(world)
    with world.db.session() as session:
        from igflow.appointments.models import CourseSession
        from igflow.orders.models import PlanVersion

        cs = (
            session.execute(select(CourseSession).where(CourseSession.course_id == course_id))
            .scalars()
            .first()
        )
        assert cs is not None
        # the previous cycle, given at home (the waiting course is the next dose)
        from igflow.appointments.models import Course

        current = session.get(Course, course_id)
        assert current is not None
        previous = Course(
            order_id=oid,
            plan_version_id=current.plan_version_id,
            patient_id=current.patient_id,
            cycle=0,
            priority=current.priority,
            target=MONDAY,
            earliest=MONDAY,
            latest=MONDAY,
            window_reason="the previous cycle (test)",
            status="completed",
        )
        session.add(previous)
        session.flush()
        previous_day = CourseSession(
            course_id=previous.id, day_index=1, duration_min=cs.duration_min, dose_g=cs.dose_g
        )
        session.add(previous_day)
        session.flush()
        appt = Appointment(
            course_session_id=previous_day.id,
            patient_id=world.patients["ann"],
            site_id=home,
            chair_id=None,
            date=MONDAY,
            start_min=540,
            duration_min=cs.duration_min,
            status="completed",
            source="test",
        )
        session.add(appt)
        session.flush()
        version = session.execute(select(PlanVersion).where(PlanVersion.order_id == oid)).scalars().first()
        assert version is not None
        record = InfusionRecord(
            appointment_id=appt.id,
            patient_id=appt.patient_id,
            order_id=oid,
            plan_version_id=version.id,
            day_index=1,
            product_id="privigen",
            status="signed",
            max_reaction_grade=2,
            created_by_user_id=world.users["nurse"],
        )
        session.add(record)
        session.flush()
        task = rules.after_sign(session, record, load_catalog())
        session.commit()
        assert task is not None and task.queue == "pharmacist"
        task_id = task.id
    waiting = world.client("scheduler").get("/home").text
    assert f"Grade 2 reaction at home on {MONDAY.isoformat()}: the next dose is given at a centre" in waiting
    # the course may now be offered a chair at the patient's centre
    assert world.client("scheduler").get(f"/api/v1/courses/{course_id}/suggestions").status_code == 200
    done = world.client("pharmacist").post(
        f"/tasks/{task_id}/done", data={"item_cleared": "yes", "note": "ok"}
    )
    assert done.status_code in (200, 303)
    with world.db.session() as session:
        assert session.get(WorkTask, task_id).status == "done"  # type: ignore[union-attr]
        assert visits_service.centre_hold(session, world.patients["ann"]) is None


def test_scig_nurse_visits_are_the_training_infusions_then_a_periodic_check() -> None:
    """home.yaml: 2 supervised infusions, then a check visit every 12 weeks; weekly SCIG in between is
    self-infused (the course is refused with where the patient logs it)."""
    from types import SimpleNamespace

    order = SimpleNamespace(product_id="cuvitru", sc_interval_days=7, setting="home")
    visits = [c for c in range(1, 30) if visits_service.nurse_visit_for_cycle(order, c)[0]]  # type: ignore[arg-type]
    assert visits == [1, 2, 14, 26]  # 2 training visits, then every 12 weekly infusions
    _needed, why = visits_service.nurse_visit_for_cycle(order, 3)  # type: ignore[arg-type]
    assert "self-infused at home: the patient logs it in their infusion log" in why and "infusion 14" in why
    ivig = SimpleNamespace(product_id="privigen", sc_interval_days=None, setting="home")
    assert visits_service.nurse_visit_for_cycle(ivig, 9)[0]  # type: ignore[arg-type]
