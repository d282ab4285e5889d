"""The inventory reports' demand: one read per session and day, each plan version decoded once, the same
answers as reports read alone, and a write, a statement the memo cannot place or a rollback in the session
drops it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text, update
from sqlalchemy.engine import Engine

from igflow.appointments.models import Appointment
from igflow.inventory import service
from igflow.inventory.service.demand import forget_demand
from tests.api.test_inventory_api import booked_appointment, patient
from tests.conftest import World
from tests.service.test_inventory import _principal


@contextmanager
def _statements() -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent meanwhile, by any engine (the app's is not the test's)."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        seen.append((" ".join(statement.lower().split()), parameters))

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", listen)


def _demand_reads(seen: list[tuple[str, Any]]) -> int:
    return sum(1 for sql, _ in seen if "from appointment join course_session" in sql)


def _plan_ids_read(seen: list[tuple[str, Any]]) -> list[Any]:
    ids: list[Any] = []
    for sql, params in seen:
        if "from dose_plan_version where dose_plan_version.id in" in sql:
            ids += list(params.values() if isinstance(params, dict) else params)
    return ids


def _two_courses(world: World) -> tuple[dt.date, list[int]]:
    first = booked_appointment(world, patient(world, "ada", "DEM001"))["appointment"]
    second = booked_appointment(world, patient(world, "bo", "DEM002"))["appointment"]
    day = min(dt.date.fromisoformat(first["date"]), dt.date.fromisoformat(second["date"]))
    return day, [first["id"], second["id"]]


def _reports(session: Any, principal: Any, day: dt.date, site_id: int) -> list[Any]:
    """The inventory page's demand reports, in the page's order and horizons."""
    return [
        service.pick_list(session, principal, site_id, day),
        service.shortfalls(session, principal, day, 7),
        service.shortage(session, principal, day, 14),
        service.reorder(session, principal, day, 14),
    ]


def _dump(reports: list[Any]) -> list[Any]:
    return [r.model_dump() if hasattr(r, "model_dump") else [x.model_dump() for x in r] for r in reports]


def test_the_reports_share_one_read_of_the_demand_and_answer_as_alone(world: World) -> None:
    day, _ids = _two_courses(world)
    pharm = _principal(world, "pharmacist")
    north = world.sites["north"]
    alone = []
    for call in (  # each report in a session of its own: nothing to share
        lambda s: service.pick_list(s, pharm, north, day),
        lambda s: service.shortfalls(s, pharm, day, 7),
        lambda s: service.shortage(s, pharm, day, 14),
        lambda s: service.reorder(s, pharm, day, 14),
    ):
        with world.db.session() as session:
            alone.append(call(session))
    with world.db.session() as session, _statements() as seen:
        shared = _reports(session, pharm, day, north)
    assert _dump(shared) == _dump(alone)
    # one read per new stretch of days (1 day, the rest of the week, the second week); reorder reads none
    assert _demand_reads(seen) == 3
    plan_ids = _plan_ids_read(seen)
    assert sorted(plan_ids) == sorted(set(plan_ids)) and len(plan_ids) == 2  # each version decoded once


def test_the_inventory_page_reads_the_demand_once_per_day_and_each_plan_once(world: World) -> None:
    day, _ids = _two_courses(world)
    pharm = world.client("pharmacist")
    with _statements() as seen:
        page = pharm.get("/inventory/picks", params={"date": day.isoformat(), "days": 7})
    assert page.status_code == 200, page.text
    assert _demand_reads(seen) <= 3
    plan_ids = _plan_ids_read(seen)
    assert len(plan_ids) == len(set(plan_ids)) == 2


def test_a_write_a_rollback_or_forget_drops_the_memo(world: World) -> None:
    day, (first, _second) = _two_courses(world)
    pharm = _principal(world, "pharmacist")

    def short(session: Any) -> set[int]:
        return {s.appointment_id for s in service.shortfalls(session, pharm, day, 14)}

    with world.db.session() as session:
        assert first in short(session)  # nothing in stock: every booked day is short
        appt = session.get(Appointment, first)
        assert appt is not None
        appt.status = "cancelled"
        session.flush()  # an appointment written in this session
        assert first not in short(session)
        session.rollback()  # booked again
        assert first in short(session)
        session.execute(update(Appointment).where(Appointment.id == first).values(status="cancelled"))
        assert first not in short(session)
        session.rollback()
        assert first in short(session)
        session.execute(text("update appointment set status = 'cancelled' where id = :id"), {"id": first})
        assert first not in short(session)  # a statement it cannot place
        session.rollback()

    with world.db.session() as session:
        assert first in short(session)
        session.commit()  # the memo outlives the session's commits (the reports' audited reads commit)
        with world.db.session() as other:
            other.execute(update(Appointment).where(Appointment.id == first).values(status="cancelled"))
            other.commit()
        assert first in short(session)  # the session's one view of the demand
        forget_demand(session)
        assert first not in short(session)
