"""Centre closures in one step (issue 12): what a closure affects, the courses it releases, a re-plan that
never books into the closed centre on its closed days, and what could not be placed, most urgent first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from igflow.appointments.models import Appointment, SiteClosure
from igflow.sites.models import ClosedDate
from tests.api.test_scheduling_repair import _booked, _form
from tests.conftest import World


def _close(world: World, site: str, start: dt.date, end: dt.date, confirm: bool) -> Any:
    data = {
        "site_id": str(world.sites[site]),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "reason": "wildfire smoke (synthetic)",
    }
    if confirm:
        data["confirm"] = "yes"
    return _form(world.client("scheduler"), "/schedule/closures", data)


def test_closing_the_largest_centre_for_three_days_replans_elsewhere(world: World) -> None:
    courses = [_booked(world, f"c{k}", f"CLO00{k}") for k in range(4)]
    booked_days = sorted({dt.date.fromisoformat(a["date"]) for c in courses for a in c["appointments"]})
    start = booked_days[0]
    end = start + dt.timedelta(days=2)
    affected = [
        a for c in courses for a in c["appointments"] if start <= dt.date.fromisoformat(a["date"]) <= end
    ]
    assert affected, "the test books into the days it closes"

    preview = _close(world, "north", start, end, confirm=False)
    assert preview.status_code == 200, preview.text
    assert f"Booked there on those days ({len(affected)})" in preview.text
    with world.db.session() as session:
        assert session.execute(select(ClosedDate)).first() is None  # nothing changes before the confirm

    from igflow.patients.models import Patient

    with world.db.session() as session:
        reachable = session.get(Patient, affected[0]["patient_id"])
        assert reachable is not None
        reachable.email = "reachable@example.invalid"
        session.commit()
    done = _close(world, "north", start, end, confirm=True)
    assert done.status_code == 303, done.text
    page = world.client("scheduler").get(done.headers["location"])
    assert page.status_code == 200
    assert "North Centre closed" in page.text
    assert "check and publish planning run" in page.text
    with world.db.session() as session:
        closure = session.execute(select(SiteClosure)).scalar_one()
        assert sorted(closure.released_appointment_ids) == sorted(a["id"] for a in affected)
        closed = sorted(c.date for c in session.execute(select(ClosedDate)).scalars())
        assert closed == [start + dt.timedelta(days=k) for k in range(3)]
        assert all(
            session.get(Appointment, a["id"]).status == "cancelled"  # type: ignore[union-attr]
            for a in affected
        )
        job_id = closure.job_id
    scheduler = world.client("scheduler")
    job = scheduler.get(f"/api/v1/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    published = scheduler.post(f"/api/v1/planning-runs/{job['result_id']}/publish")
    assert published.status_code == 200, published.text
    with world.db.session() as session:
        inside = session.execute(
            select(Appointment).where(
                Appointment.status == "booked",
                Appointment.site_id == world.sites["north"],
                Appointment.date >= start,
                Appointment.date <= end,
            )
        ).all()
        assert inside == []  # the re-plan never books into the closed centre on its closed days
        moved = (
            session.execute(
                select(Appointment).where(
                    Appointment.status == "booked",
                    Appointment.patient_id.in_([a["patient_id"] for a in affected]),
                )
            )
            .scalars()
            .all()
        )
    assert moved, "the released courses found places elsewhere or later"
    after = world.client("scheduler").get(f"/schedule/closures/{closure.id}")
    assert "Placed again" in after.text
    assert "(call)" in after.text  # the patients igflow cannot write to
    from igflow.messages.models import OutboundMessage

    with world.db.session() as session:
        (told,) = session.execute(select(OutboundMessage).where(OutboundMessage.kind == "closure")).scalars()
        assert told.to_address == "reachable@example.invalid" and "North Centre is closed" in told.body
    notify = _form(world.client("scheduler"), f"/schedule/closures/{closure.id}/notify", {})
    assert notify.status_code == 303
    with world.db.session() as session:
        (new_place,) = session.execute(
            select(OutboundMessage).where(OutboundMessage.kind == "closure_new_place")
        ).scalars()
        assert "your infusion appointments are now" in new_place.body


def test_a_closure_must_be_in_the_future_ordered_and_short(world: World) -> None:
    today = dt.date.today()
    past = _close(world, "north", today - dt.timedelta(days=2), today, confirm=True)
    assert past.status_code == 422 and "in the past" in past.text
    backwards = _close(
        world, "north", today + dt.timedelta(days=5), today + dt.timedelta(days=3), confirm=True
    )
    assert backwards.status_code == 422 and "before the first closed day" in backwards.text
    too_long = _close(
        world, "north", today + dt.timedelta(days=1), today + dt.timedelta(days=60), confirm=True
    )
    assert too_long.status_code == 422 and "at most" in too_long.text
    assert 'value="wildfire smoke (synthetic)"' in too_long.text  # the answers stay on the form


def test_a_site_limited_scheduler_cannot_close_another_centre(world: World) -> None:
    world.add_user("scheduler.south", ["scheduler"], ["south"])
    client = world.client("scheduler.south")
    day = dt.date.today() + dt.timedelta(days=3)
    refused = _form(
        client,
        "/schedule/closures",
        {
            "site_id": str(world.sites["north"]),
            "start_date": day.isoformat(),
            "end_date": day.isoformat(),
            "reason": "test",
            "confirm": "yes",
        },
    )
    assert refused.status_code == 404
    with world.db.session() as session:
        assert session.execute(select(ClosedDate)).first() is None


def test_the_site_page_says_which_closed_days_belong_to_a_closure(world: World) -> None:
    start = dt.date.today() + dt.timedelta(days=10)
    end = start + dt.timedelta(days=2)
    assert _close(world, "north", start, end, confirm=True).status_code == 303
    page = world.client("admin").get(f"/admin/sites/{world.sites['north']}")
    assert page.status_code == 200
    said = f"closure from {start.strftime('%d %b')} to {end.strftime('%d %b %Y')}"
    assert page.text.count(f"Part of the {said} (the schedulers' closure page)") == 3  # one per day
    assert "stay where they went if this day opens again" in page.text
