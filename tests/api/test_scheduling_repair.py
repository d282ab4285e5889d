"""Scheduling a scheduler trusts (issue 12): cancel one day or the whole course, chosen explicitly and
confirmed; dates the patient cannot come never offered again; a course's window moved within what the
regimen allows; standing wishes honoured in the suggestions; and courses no chair can take saying why."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import func, select

from igflow.appointments.models import Appointment, ChairSlot, UnavailableDate
from igflow.appointments.service._common import policy
from igflow.security.models import AuditEvent
from tests.api.test_scheduling_api import _course, _patient, _verified_order
from tests.conftest import World


def _booked(
    world: World, key: str, mrn: str, *, last_day_movable: bool = False, **order: Any
) -> dict[str, Any]:
    course = _course(world, _verified_order(world, _patient(world, key, mrn), **order))
    scheduler = world.client("scheduler")
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    if last_day_movable:
        # The tests cancel or move the last day and expect it to find another date within the gap
        # policy: the weekday after it must be close enough to the day before it (the suggestions start
        # from today, so on a Sunday the first one runs Monday to Friday, and its Friday cannot move).
        gap_hi = policy().multi_day_gap_days[1]

        def movable(dates: list[dt.date]) -> bool:
            nxt = dates[-1] + dt.timedelta(days=1)
            return nxt.weekday() < 5 and (nxt - dates[-2]).days <= gap_hi

        options = [o for o in options if movable([dt.date.fromisoformat(d) for d in o["dates"]])]
    option = options[0]
    booked = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={k: option[k] for k in ("site", "dates", "starts", "chairs")},
    )
    assert booked.status_code == 201, booked.text
    return dict(booked.json())


def _multi_day(world: World, key: str = "mia", mrn: str = "REP001") -> dict[str, Any]:
    course = _booked(world, key, mrn, indication="cidp", phase="induction", last_day_movable=True)
    assert len(course["appointments"]) >= 2, "a CIDP induction is given over several days"
    return course


def _cancel(world: World, appointment_id: int, **extra: Any) -> Any:
    return world.client("scheduler").put(
        f"/api/v1/appointments/{appointment_id}/status",
        json={"status": "cancelled", "reason": "patient has a family event", **extra},
    )


def _booked_ids(world: World, course_id: int) -> list[int]:
    course = world.client("scheduler").get(f"/api/v1/courses/{course_id}").json()
    return [a["id"] for a in course["appointments"] if a["status"] == "booked"]


def test_cancelling_one_day_leaves_the_other_days_booked_and_rebooks_only_that_day(world: World) -> None:
    course = _multi_day(world)
    days = course["appointments"]
    last = days[-1]
    cancelled = _cancel(world, last["id"])
    assert cancelled.status_code == 200, cancelled.text
    scheduler = world.client("scheduler")
    after = scheduler.get(f"/api/v1/courses/{course['id']}").json()
    assert after["status"] == "waiting"
    assert after["to_book"] == [last["day_index"]]
    assert sorted(_booked_ids(world, course["id"])) == sorted(a["id"] for a in days[:-1])
    with world.db.session() as session:
        held = session.execute(select(func.count(func.distinct(ChairSlot.appointment_id)))).scalar_one()
        assert held == len(days) - 1  # only the cancelled day's chair time was released
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert options, "the cancelled day can be placed again after the day before it"
    previous = dt.date.fromisoformat(days[-2]["date"])
    for option in options:
        assert option["days"] == [last["day_index"]]
        assert option["site"] == days[0]["site_code"]  # the same centre as the days that stay
        (day,) = (dt.date.fromisoformat(d) for d in option["dates"])
        assert 1 <= (day - previous).days <= 3
    rebooked = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={k: options[0][k] for k in ("site", "dates", "starts", "chairs")},
    )
    assert rebooked.status_code == 201, rebooked.text
    assert rebooked.json()["status"] == "booked"
    assert len(_booked_ids(world, course["id"])) == len(days)


def test_cancelling_the_whole_course_is_an_explicit_choice(world: World) -> None:
    course = _multi_day(world)
    response = _cancel(world, course["appointments"][0]["id"], whole_course=True)
    assert response.status_code == 200, response.text
    assert _booked_ids(world, course["id"]) == []
    after = world.client("scheduler").get(f"/api/v1/courses/{course['id']}").json()
    assert after["to_book"] == [s["day_index"] for s in after["sessions"]]


def test_a_date_the_patient_cannot_come_is_never_offered_again(world: World) -> None:
    course = _booked(world, "noa", "REP002")
    appt = course["appointments"][0]
    response = _cancel(world, appt["id"], patient_unavailable=True)
    assert response.status_code == 200, response.text
    scheduler = world.client("scheduler")
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert options
    assert all(appt["date"] not in o["dates"] for o in options)
    # Booking that date directly is refused, and says how to undo the record if plans changed.
    refused = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={"site": appt["site_code"], "dates": [appt["date"]], "starts": [appt["start"]], "chairs": [1]},
    )
    assert refused.status_code == 422
    assert "cannot come on" in refused.json()["detail"]
    with world.db.session() as session:
        assert session.execute(select(UnavailableDate.date)).scalars().all() == [
            dt.date.fromisoformat(appt["date"])
        ]


def test_a_no_show_cannot_record_an_unavailable_date(world: World) -> None:
    appt = _booked(world, "ola", "REP003")["appointments"][0]
    response = world.client("scheduler").put(
        f"/api/v1/appointments/{appt['id']}/status",
        json={"status": "no_show", "reason": "did not come", "patient_unavailable": True},
    )
    assert response.status_code == 422


def _form(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def test_the_page_asks_for_confirmation_and_says_which_days_stay(world: World) -> None:
    course = _multi_day(world, "pia", "REP004")
    first = course["appointments"][-1]  # the last day: its place can move later without the others
    scheduler = world.client("scheduler")
    page = scheduler.get(f"/courses/{course['id']}")
    assert f"only day {first['day_index']}" in page.text and "the whole course" in page.text
    preview = _form(
        scheduler,
        f"/appointments/{first['id']}/status",
        {"status": "cancelled", "reason": "hospital appointment", "scope": "session"},
    )
    assert preview.status_code == 200, preview.text
    assert "These days stay booked" in preview.text and "Confirm" in preview.text
    assert len(_booked_ids(world, course["id"])) == len(course["appointments"])  # nothing changed yet
    done = _form(
        scheduler,
        f"/appointments/{first['id']}/status",
        {"status": "cancelled", "reason": "hospital appointment", "scope": "session", "confirm": "yes"},
    )
    assert done.status_code == 200, done.text
    assert "stay booked" in done.text
    assert first["id"] not in _booked_ids(world, course["id"])
    assert len(_booked_ids(world, course["id"])) == len(course["appointments"]) - 1
    course_page = scheduler.get(f"/courses/{course['id']}")
    assert f"Best options for day {first['day_index']}" in course_page.text


def test_a_refused_cancel_on_the_page_says_why_beside_the_course(world: World) -> None:
    appt = _booked(world, "quin", "REP005")["appointments"][0]
    scheduler = world.client("scheduler")
    empty_reason = _form(
        scheduler,
        f"/appointments/{appt['id']}/status",
        {"status": "cancelled", "reason": "", "confirm": "yes"},
    )
    assert empty_reason.status_code == 422
    assert "reason" in empty_reason.text.lower()
    assert appt["id"] in _booked_ids(world, appt["course_id"])


def test_the_window_moves_within_the_regimen_and_not_beyond(world: World) -> None:
    course = _course(world, _verified_order(world, _patient(world, "rio", "REP006")))
    scheduler = world.client("scheduler")
    earliest = dt.date.fromisoformat(course["earliest"])
    latest = dt.date.fromisoformat(course["latest"])
    narrowed = _form(
        scheduler,
        f"/courses/{course['id']}/window",
        {
            "earliest": (earliest + dt.timedelta(days=1)).isoformat(),
            "latest": (latest - dt.timedelta(days=1)).isoformat(),
            "reason": "patient travels the first week",
        },
    )
    assert narrowed.status_code == 303, narrowed.text
    after = scheduler.get(f"/api/v1/courses/{course['id']}").json()
    assert after["earliest"] == (earliest + dt.timedelta(days=1)).isoformat()
    assert "patient travels" in after["window_reason"]
    beyond = _form(
        scheduler,
        f"/courses/{course['id']}/window",
        {
            "earliest": earliest.isoformat(),
            "latest": (latest + dt.timedelta(days=60)).isoformat(),
            "reason": "later please",
        },
    )
    assert beyond.status_code == 422
    assert "prescriber" in beyond.text
    assert 'value="later please"' in beyond.text  # the answers stay on the form
    with world.db.session() as session:
        actions = session.execute(select(AuditEvent.action).where(AuditEvent.action == "course.window")).all()
        assert len(actions) == 1


def test_weekday_wishes_put_those_weekdays_first(world: World) -> None:
    pid = _patient(world, "sam", "REP007")
    scheduler = world.client("scheduler")
    saved = _form(
        scheduler,
        f"/patients/{pid}/scheduling",
        {"weekdays": ["1", "3"], "preferred_from": "09:00", "preferred_to": "11:00"},
    )
    assert saved.status_code == 303, saved.text
    page = scheduler.get(f"/patients/{pid}/scheduling")
    assert "Tuesday or Thursday, starting 09:00-11:00" in page.text
    course = _course(world, _verified_order(world, pid))
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert options
    first_day = dt.date.fromisoformat(options[0]["dates"][0])
    assert first_day.weekday() in (1, 3)
    assert "09:00" <= options[0]["starts"][0] <= "11:00"


def test_wishes_are_validated_in_words_and_keep_the_answers(world: World) -> None:
    pid = _patient(world, "tam", "REP008")
    scheduler = world.client("scheduler")
    bad = _form(
        scheduler,
        f"/patients/{pid}/scheduling",
        {"weekdays": ["2"], "preferred_from": "11:00", "preferred_to": "09:00", "note": "mornings"},
    )
    assert bad.status_code == 422
    assert "must be after" in bad.text
    assert re.search(r'value="2"\s+checked', bad.text)
    assert 'value="mornings"' in bad.text


def test_an_unavailable_date_added_ahead_is_left_out(world: World) -> None:
    pid = _patient(world, "uma", "REP009")
    course = _course(world, _verified_order(world, pid))
    scheduler = world.client("scheduler")
    first = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]["dates"][0]
    added = _form(scheduler, f"/patients/{pid}/unavailable-dates", {"date": first, "reason": "wedding"})
    assert added.status_code == 303, added.text
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert all(first not in o["dates"] for o in options)
    with world.db.session() as session:
        row_id = session.execute(select(UnavailableDate.id)).scalar_one()
    removed = _form(scheduler, f"/patients/{pid}/unavailable-dates/{row_id}/remove", {})
    assert removed.status_code == 303
    options = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert any(first in o["dates"] for o in options)


def test_a_course_no_chair_can_take_says_why_and_where_it_goes(world: World) -> None:
    course = _course(world, _verified_order(world, _patient(world, "val", "REP010")))
    with world.db.session() as session:
        from igflow.appointments.models import CourseSession

        for cs in session.execute(
            select(CourseSession).where(CourseSession.course_id == course["id"])
        ).scalars():
            cs.duration_min = 10 * 60  # longer than the centres' 08:00-17:00 day
        session.commit()
    page = world.client("scheduler").get(f"/courses/{course['id']}")
    assert "No chair can take this course" in page.text
    assert "longer than any of the patient" in page.text
    assert "pharmacist" in page.text and f"/orders/{course['order_id']}" in page.text
    assert "Widen the window or run a planning run" not in page.text


def test_planning_leaves_out_a_course_on_a_date_its_patient_cannot_come(world: World) -> None:
    from igflow.appointments.service import InstanceMap
    from igflow.appointments.service.planning import honour_unavailable_dates
    from igflow.scheduling.models import Instance, Schedule

    instance = Instance.model_validate(
        {
            "format": "igflow.schedule-instance/1",
            "slot_minutes": 15,
            "start_date": "2027-03-01",
            "days": 5,
            "sites": [
                {
                    "id": "north",
                    "chairs": 2,
                    "open": {d: ["08:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
                    | {"sat": None, "sun": None},
                    "nurses": {d: 1 for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                    "patients_per_nurse": 4,
                    "starts_per_nurse_per_slot": 1,
                }
            ],
            "sessions": [
                {
                    "id": f"S{k}",
                    "patient": "P1",
                    "duration_min": 240,
                    "sites": ["north"],
                    "earliest": "2027-03-01",
                    "latest": "2027-03-05",
                    "target": "2027-03-01",
                    "priority": 2,
                    **({"after": {"session": "S1", "min_days": 1, "max_days": 3}} if k == 2 else {}),
                }
                for k in (1, 2)
            ],
        }
    )
    schedule = Schedule.model_validate(
        {
            "format": "igflow.schedule/1",
            "assignments": [
                {"session": "S1", "site": "north", "chair": 1, "date": "2027-03-01", "start": "08:00"},
                {"session": "S2", "site": "north", "chair": 1, "date": "2027-03-02", "start": "08:00"},
            ],
            "unscheduled": [],
            "stats": {"solver": "test", "status": "FEASIBLE", "solve_seconds": 0},
        }
    )
    imap = InstanceMap(
        instance,
        {"S1": 1, "S2": 2},
        {},
        {"north": 1},
        {"north": [1, 2]},
        {"S1": 7, "S2": 7},
        {"P1": {dt.date(2027, 3, 2)}},
    )
    honoured = honour_unavailable_dates(imap, schedule)
    assert honoured.assignments == []  # the course is left whole, never half-booked
    assert {u.session for u in honoured.unscheduled} == {"S1", "S2"}
    assert all("cannot come on 2027-03-02" in u.reason for u in honoured.unscheduled)


def test_cancelling_a_day_writes_what_stayed_to_the_audit(world: World) -> None:
    course = _multi_day(world, "wes", "REP011")
    last = course["appointments"][-1]
    assert _cancel(world, last["id"]).status_code == 200
    with world.db.session() as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "appointment.cancelled")
        ).scalar_one()
        detail = json.loads(event.detail)
        assert detail["released"] == [last["id"]]
        assert sorted(detail["kept"]) == sorted(a["id"] for a in course["appointments"][:-1])
        assert (
            session.execute(
                select(func.count()).select_from(Appointment).where(Appointment.status == "booked")
            ).scalar_one()
            == len(course["appointments"]) - 1
        )


def _plan(world: World, start: str, days: int = 28) -> dict[str, Any]:
    scheduler = world.client("scheduler")
    job = scheduler.post("/api/v1/planning-runs", json={"start_date": start, "days": days, "time_limit_s": 3})
    assert job.status_code == 202, job.text
    return dict(scheduler.get(f"/api/v1/planning-runs/{job.json()['result_id']}").json())


def test_a_run_that_proposes_nothing_offers_no_publish_and_says_why(world: World) -> None:
    course = _course(world, _verified_order(world, _patient(world, "xia", "REP012")))
    # A horizon that ends before the course's window opens: the course is waiting but not in the run.
    earliest = dt.date.fromisoformat(course["earliest"])
    run = _plan(world, (earliest - dt.timedelta(days=30)).isoformat(), days=7)
    assert run["moves"] == []
    page = world.client("scheduler").get(f"/planning/{run['id']}")
    assert page.status_code == 200
    assert "Publish: book these" not in page.text
    assert "nothing to publish" in page.text
    assert "Waiting courses not in this run (1)" in page.text
    assert "outside the run" in page.text


def test_a_run_places_only_the_cancelled_day_of_a_part_booked_course(world: World) -> None:
    course = _multi_day(world, "yan", "REP013")
    days = course["appointments"]
    assert _cancel(world, days[-1]["id"]).status_code == 200
    run = _plan(world, days[0]["date"])
    placed = [m for m in run["moves"] if m["course_id"] == course["id"]]
    assert [m["day_index"] for m in placed] == [days[-1]["day_index"]]
    published = world.client("scheduler").post(f"/api/v1/planning-runs/{run['id']}/publish")
    assert published.status_code == 200, published.text
    assert course["id"] in published.json()["result"]["booked_courses"]
    kept = {a["id"] for a in days[:-1]}
    assert kept <= set(_booked_ids(world, course["id"]))  # the days that stayed were never moved
    assert len(_booked_ids(world, course["id"])) == len(days)


def test_one_day_moves_to_another_place_and_the_others_stay(world: World) -> None:
    course = _multi_day(world, "zed", "REP014")
    days = course["appointments"]
    last = days[-1]
    scheduler = world.client("scheduler")
    options = scheduler.get(f"/api/v1/appointments/{last['id']}/move-options").json()
    assert options, "another time or chair is free for the last day"
    previous = dt.date.fromisoformat(days[-2]["date"])
    for o in options:  # within the gap after the day before it, at the course's centre
        assert 1 <= (dt.date.fromisoformat(o["dates"][0]) - previous).days <= 3
        assert o["site"] == last["site_code"]
    target = options[0]
    moved = scheduler.post(
        f"/api/v1/appointments/{last['id']}/move",
        json={
            "site": target["site"],
            "date": target["dates"][0],
            "start": target["starts"][0],
            "chair": target["chairs"][0],
            "reason": "patient asked for later",
        },
    )
    assert moved.status_code == 200, moved.text
    booked = [a for a in moved.json()["appointments"] if a["status"] == "booked"]
    assert len(booked) == len(days) and moved.json()["status"] == "booked"
    assert {a["id"] for a in days[:-1]} <= {a["id"] for a in booked}
    new = next(a for a in booked if a["day_index"] == last["day_index"])
    assert (new["date"], new["start"]) == (target["dates"][0], target["starts"][0])
    # the old place is free again: the chair time is held once per booked day
    with world.db.session() as session:
        held = session.execute(select(func.count(func.distinct(ChairSlot.appointment_id)))).scalar_one()
        assert held == len(days)
    page = scheduler.get(f"/appointments/{new['id']}/move")
    assert page.status_code == 200 and "The other days stay where they are" in page.text


def test_a_move_that_breaks_the_gaps_is_refused_and_changes_nothing(world: World) -> None:
    course = _multi_day(world, "ash", "REP015")
    first, second = course["appointments"][0], course["appointments"][1]
    far = (dt.date.fromisoformat(first["date"]) + dt.timedelta(days=20)).isoformat()
    refused = world.client("scheduler").post(
        f"/api/v1/appointments/{first['id']}/move",
        json={"site": first["site_code"], "date": far, "start": "08:00", "chair": 1, "reason": "test"},
    )
    assert refused.status_code == 422, refused.text
    assert "days apart" in refused.json()["detail"]
    assert {first["id"], second["id"]} <= set(_booked_ids(world, course["id"]))


def test_a_cancelled_date_is_not_offered_back_to_its_course(world: World) -> None:
    course = _booked(world, "bea", "REP016")
    appt = course["appointments"][0]
    assert _cancel(world, appt["id"]).status_code == 200  # no "cannot come" tick
    options = world.client("scheduler").get(f"/api/v1/courses/{course['id']}/suggestions").json()
    assert options and all(appt["date"] not in o["dates"] for o in options)
