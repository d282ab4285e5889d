"""Courses, appointments and planning runs move only as their state machines allow: a move outside the
table is a 409 in words, and of two concurrent requests from the same state exactly one wins (PostgreSQL),
so a cancelled appointment's chair and nurse capacity are released once."""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from igflow.appointments import service as appointments_service
from igflow.appointments.models import Appointment, ChairSlot, Course, PlanningRun, SiteSlotLoad
from igflow.appointments.states import APPOINTMENT, COURSE, PLANNING_RUN
from igflow.errors import Conflict
from igflow.scheduling.models import hhmm_to_min
from igflow.statemachine import StateMachine
from tests.api.test_scheduling_api import _course, _patient, _verified_order
from tests.conftest import World
from tests.races import needs_concurrency

#: The moves the appointments code makes (and booked -> completed, for signing an infusion), written out
#: again here so that a change to a table is a change to this test too.
MOVES: dict[str, set[tuple[str, str]]] = {
    "course": {("waiting", "booked"), ("booked", "waiting"), ("booked", "completed")},
    "appointment": {("booked", "cancelled"), ("booked", "no_show"), ("booked", "completed")},
    "planning_run": {("draft", "published"), ("draft", "discarded")},
}
OURS = {m.name: m for m in (COURSE, APPOINTMENT, PLANNING_RUN)}


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[StateMachine, str, str]:
    machine = OURS[draw(st.sampled_from(sorted(OURS)))]
    states = sorted(machine.states)
    return machine, draw(st.sampled_from(states)), draw(st.sampled_from(states))


@given(_pairs())
def test_only_the_listed_moves_are_allowed_and_the_rest_are_409_in_words(
    pair: tuple[StateMachine, str, str],
) -> None:
    machine, current, to = pair
    if (current, to) in MOVES[machine.name]:
        machine.check(current, to)
        return
    with pytest.raises(Conflict) as caught:
        machine.check(current, to)
    message = caught.value.message
    assert caught.value.status_code == 409
    assert message.startswith(f"status: the {machine.name.replace('_', ' ')} is ")
    assert machine.label(current) in message and machine.label(to) in message
    assert "_" not in message.split(": ", 1)[1]


# --- through the API -------------------------------------------------------------------------------------


def _book(world: World, key: str, mrn: str, **order: Any) -> dict[str, Any]:
    """A booked course (its best suggestion) for a new patient at north."""
    course = _course(world, _verified_order(world, _patient(world, key, mrn), **order))
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
    booked = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={k: option[k] for k in ("site", "dates", "starts", "chairs")},
    )
    assert booked.status_code == 201, booked.text
    return booked.json()


def _status(world: World, appointment_id: int, status: str, reason: str = "patient unwell") -> Any:
    return world.client("scheduler").put(
        f"/api/v1/appointments/{appointment_id}/status", json={"status": status, "reason": reason}
    )


def test_a_cancelled_appointment_cannot_be_cancelled_again_or_become_a_no_show(world: World) -> None:
    appointment = _book(world, "una", "STM001")["appointments"][0]
    assert _status(world, appointment["id"], "cancelled").status_code == 200
    again = _status(world, appointment["id"], "cancelled")
    assert again.status_code == 409
    assert again.json()["detail"] == "status: the appointment is already cancelled"
    missed = _status(world, appointment["id"], "no_show")
    assert missed.status_code == 409
    assert missed.json()["detail"] == (
        "status: the appointment is cancelled, which is final: it cannot become marked a no-show"
    )


@pytest.mark.parametrize("state", ["cancelled", "no_show", "completed"])
def test_only_a_booked_appointment_changes_status(world: World, state: str) -> None:
    appointment = _book(world, "una", "STM001")["appointments"][0]
    with world.db.session() as session:
        session.execute(update(Appointment).where(Appointment.id == appointment["id"]).values(status=state))
        session.commit()
    for target in ("cancelled", "no_show"):
        refused = _status(world, appointment["id"], target)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert detail.startswith("status: the appointment is ") and APPOINTMENT.label(state) in detail
    with world.db.session() as session:
        assert session.get(Appointment, appointment["id"]).status == state  # type: ignore[union-attr]
        assert session.execute(select(func.count()).select_from(ChairSlot)).scalar_one() > 0  # kept


def test_a_booked_course_is_not_booked_again(world: World) -> None:
    course = _book(world, "una", "STM001")
    again = world.client("scheduler").post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={
            "site": "north",
            "dates": [course["appointments"][0]["date"]],
            "starts": ["10:00"],
            "chairs": [2],
        },
    )
    assert again.status_code == 409
    assert again.json()["detail"] == "course_id: the course is already booked"


def _draft(world: World, n: int = 2, first: int = 0) -> int:
    """A draft planning run over ``n`` new waiting courses (and any others waiting)."""
    courses = [
        _course(world, _verified_order(world, _patient(world, f"r{i}", f"STM1{i:02d}")))
        for i in range(first, first + n)
    ]
    start = min(dt.date.fromisoformat(c["earliest"]) for c in courses)
    job = world.client("scheduler").post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 28, "time_limit_s": 1}
    )
    assert job.status_code == 202 and job.json()["state"] == "succeeded", job.text
    return int(job.json()["result_id"])


def test_a_run_is_published_or_discarded_once(world: World) -> None:
    scheduler = world.client("scheduler")
    published, discarded = _draft(world), _draft(world, 1, first=2)
    assert scheduler.post(f"/api/v1/planning-runs/{published}/publish").status_code == 200
    assert scheduler.post(f"/api/v1/planning-runs/{discarded}/discard").status_code == 200
    for run_id, state in ((published, "published"), (discarded, "discarded")):
        for action, target in (("publish", "published"), ("discard", "discarded")):
            refused = scheduler.post(f"/api/v1/planning-runs/{run_id}/{action}")
            assert refused.status_code == 409
            detail = refused.json()["detail"]
            if state == target:
                assert detail == f"status: the planning run is already {state}"
            else:
                assert (
                    detail
                    == f"status: the planning run is {state}, which is final: it cannot become {target}"
                )


# --- races (PostgreSQL) ------------------------------------------------------------------------------------


def _at_once(world: World, requests: list[tuple[str, str, dict[str, Any] | None]]) -> list[Any]:
    """Each (method, url, json) from its own signed-in scheduler, released together by a barrier."""
    clients = [world.client("scheduler") for _ in requests]
    barrier = threading.Barrier(len(requests))
    responses: list[Any] = [None] * len(requests)

    def send(k: int) -> None:
        method, url, body = requests[k]
        barrier.wait()
        try:
            responses[k] = clients[k].request(method, url, json=body)
        except BaseException as exc:
            responses[k] = exc

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


def _one_200_one_409(responses: list[Any]) -> tuple[Any, Any]:
    codes = sorted((getattr(r, "status_code", repr(r)) for r in responses), key=str)
    assert codes == [200, 409], [getattr(r, "text", r) for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 409)
    return winner, loser


def _loads(world: World) -> dict[int, tuple[int, int]]:
    with world.db.session() as session:
        return {
            row.slot: (row.in_chairs, row.starts)
            for row in session.execute(select(SiteSlotLoad)).scalars()
            if row.in_chairs or row.starts
        }


@pytest.mark.parametrize(
    "pair", [("cancelled", "no_show"), ("cancelled", "cancelled"), ("no_show", "no_show")]
)
def test_two_concurrent_status_changes_of_one_appointment_release_its_capacity_once(
    world: World, pair: tuple[str, str]
) -> None:
    needs_concurrency(world)
    first = _book(world, "una", "STM001")
    place = first["appointments"][0]
    # A second patient in the same slots on another chair: the load there is 2, so releasing the first
    # appointment twice would leave 0 (and free the second patient's place on paper), not 1.
    other_chair = 4 if place["chair_label"] != "C4" else 3
    course = _course(world, _verified_order(world, _patient(world, "vic", "STM002")))
    second = world.client("scheduler").post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={"site": "north", "dates": [place["date"]], "starts": [place["start"]], "chairs": [other_chair]},
    )
    assert second.status_code == 201, second.text
    with_both = _loads(world)
    assert max(v[0] for v in with_both.values()) == 2

    url = f"/api/v1/appointments/{place['id']}/status"
    winner, loser = _one_200_one_409(
        _at_once(world, [("PUT", url, {"status": s, "reason": f"race {s}"}) for s in pair])
    )
    assert loser.json()["detail"].startswith("status: the appointment "), loser.text
    with world.db.session() as session:
        stored = session.get(Appointment, place["id"])
        assert stored is not None and stored.status == winner.json()["appointment"]["status"]
        assert session.get(Course, first["id"]).status == "waiting"  # type: ignore[union-attr]
        assert session.get(Course, course["id"]).status == "booked"  # type: ignore[union-attr]
        held = session.execute(select(ChairSlot.appointment_id).distinct()).scalars().all()
        assert held == [second.json()["appointments"][0]["id"]]
    # The first appointment's place is released exactly once: one patient less in each of its slots and
    # one start less in its first; the second patient's load stays.
    assert _loads(world) == _without(with_both, place)


def _without(loads: dict[int, tuple[int, int]], appointment: dict[str, Any]) -> dict[int, tuple[int, int]]:
    step = appointments_service.policy().slot_minutes
    first = hhmm_to_min(appointment["start"]) // step
    slots = range(first, first + math.ceil(appointment["duration_min"] / step))
    left = {slot: (n - (slot in slots), starts - (slot == first)) for slot, (n, starts) in loads.items()}
    return {slot: v for slot, v in left.items() if any(v)}


def test_concurrent_cancel_and_no_show_of_two_days_of_one_course(world: World) -> None:
    """Two days of one course changed at once, each for the whole course: one request wins (both days
    released once), the other is a 409 (not a deadlock)."""
    needs_concurrency(world)
    course = _book(world, "una", "STM001", indication="cidp", phase="induction")
    days = [a for a in course["appointments"] if a["status"] == "booked"]
    assert len(days) >= 2
    responses = _at_once(
        world,
        [
            (
                "PUT",
                f"/api/v1/appointments/{days[0]['id']}/status",
                {"status": "cancelled", "reason": "ill", "whole_course": True},
            ),
            (
                "PUT",
                f"/api/v1/appointments/{days[1]['id']}/status",
                {"status": "no_show", "reason": "away", "whole_course": True},
            ),
        ],
    )
    _one_200_one_409(responses)
    assert _loads(world) == {}
    with world.db.session() as session:
        assert session.execute(select(func.count()).select_from(ChairSlot)).scalar_one() == 0
        statuses = sorted(
            session.execute(
                select(Appointment.status).where(Appointment.id.in_([a["id"] for a in days]))
            ).scalars()
        )
        assert "booked" not in statuses and len(statuses) == len(days)


def test_concurrent_publish_and_discard_of_one_run(world: World) -> None:
    needs_concurrency(world)
    run_id = _draft(world)
    responses = _at_once(
        world,
        [
            ("POST", f"/api/v1/planning-runs/{run_id}/publish", None),
            ("POST", f"/api/v1/planning-runs/{run_id}/discard", None),
        ],
    )
    winner, loser = _one_200_one_409(responses)
    assert "the planning run" in loser.json()["detail"]
    with world.db.session() as session:
        run = session.get(PlanningRun, run_id)
        assert run is not None and run.status == winner.json()["status"]
        booked = session.execute(select(func.count()).select_from(Appointment)).scalar_one()
        assert booked == (2 if run.status == "published" else 0)  # a discarded run booked nothing


def test_two_concurrent_publishes_of_one_run_book_once(world: World) -> None:
    needs_concurrency(world)
    run_id = _draft(world)
    url = f"/api/v1/planning-runs/{run_id}/publish"
    _one_200_one_409(_at_once(world, [("POST", url, None), ("POST", url, None)]))
    with world.db.session() as session:
        assert session.execute(select(func.count()).select_from(Appointment)).scalar_one() == 2
