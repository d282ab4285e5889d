"""Outcome histories for the demo: three orders two cycles into treatment, with readings at the chair and at
review, so the patient page charts a response and the order page judges it.

- a CIDP non-responder: adjusted INCAT unchanged after two cycles, so the review is raised for the
  prescriber and the order is flagged;
- a CIDP patient with a good response: adjusted INCAT and grip strength improve;
- a responder of another indication (myasthenia gravis, MMN or dermatomyositis, whichever the demo has),
  on its primary measure.

The history gives each order one past cycle (``history.create_past_appointments``); ``add_earlier_cycles``
puts one more before it for these orders, a regimen interval earlier, so the imported charts cover two
cycles. Readings go through the outcomes service (validated, audited), which raises the review. The
values are synthetic readings on each measure's scale; whether they are a response is for the catalog's
thresholds to say, and the demo test checks they say what is described here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import select

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.db import Database
from igflow.demo.history import HISTORY, _place, add_completed_course
from igflow.orders.models import Order, PlanVersion
from igflow.sites.models import Site

#: the primary measure readings of a responder of another indication: (baseline, after cycle 1, after 2)
_OTHER_RESPONDERS: dict[str, tuple[str, tuple[Any, Any, Any]]] = {
    "myasthenia-gravis": ("mg-composite", (14, 11, 7)),
    "mmn": ("grip-strength", (41.0, 47.5, 56.0)),
    "dermatomyositis": ("tis", (5.0, 27.5, 45.0)),
}
# (non-responder, good responder): each measure's readings (baseline, after cycle 1, after cycle 2)
_CIDP: tuple[dict[str, tuple[Any, Any, Any]], dict[str, tuple[Any, Any, Any]]] = (
    {"incat-adjusted": ({"arm": 2, "leg": 3}, {"arm": 2, "leg": 3}, {"arm": 2, "leg": 3})},
    {
        "incat-adjusted": ({"arm": 2, "leg": 3}, {"arm": 2, "leg": 2}, {"arm": 1, "leg": 1}),
        "grip-strength": (48.0, 54.5, 63.0),
    },
)


def _past_courses(session: Any) -> list[tuple[Order, Course]]:
    rows = session.execute(
        select(Order, Course)
        .join(Course, Course.order_id == Order.id)
        .where(Course.window_reason == HISTORY, Order.status == "active")
        .order_by(Order.id, Course.id)
    ).all()
    return [(order, course) for order, course in rows]


def _chosen(pairs: list[tuple[Order, Course]]) -> list[tuple[str, Order, Course]]:
    """(role, order, its past course): two CIDP orders and one responder of another indication."""
    firsts: dict[int, tuple[Order, Course]] = {}
    for order, course in pairs:
        firsts.setdefault(order.id, (order, course))  # the history's cycle, not one added before it
    pairs = list(firsts.values())
    cidp = [(o, c) for o, c in pairs if o.indication_id == "cidp"][:2]
    other = next(((o, c) for o, c in pairs if o.indication_id in _OTHER_RESPONDERS), None)
    roles = [("non_responder", *cidp[0])] if cidp else []
    roles += [("cidp_responder", *cidp[1])] if len(cidp) > 1 else []
    roles += [("other_responder", *other)] if other else []
    return roles


def add_earlier_cycles(db: Database, *, console: Console) -> list[int]:
    """For the demo's outcome orders, one completed cycle a regimen interval before their past cycle;
    returns the new appointments (the history charts them with the others)."""
    made: list[int] = []
    with db.session() as session:
        for _role, order, past in _chosen(_past_courses(session)):
            version = session.get(PlanVersion, past.plan_version_id)
            interval = (
                (version.plan.get("regimen") or {}).get("interval_weeks") if version else None
            ) or None
            first = session.execute(
                select(Appointment)
                .join(CourseSession, CourseSession.id == Appointment.course_session_id)
                .where(CourseSession.course_id == past.id)
                .order_by(Appointment.date)
            ).scalars()
            appointments = list(first)
            if not interval or not appointments:
                continue
            site = session.get(Site, appointments[0].site_id)
            assert site is not None
            start = appointments[0].date - timedelta(weeks=float(interval[0]))
            made += _earlier_course(session, order, past, site, start, appointments)
        session.commit()
    console.print(f"Outcomes: {len(made)} earlier appointments, so three orders are two cycles in.")
    return made


def _earlier_course(
    session: Any, order: Order, past: Course, site: Site, start: date, later: list[Appointment]
) -> list[int]:
    sessions = list(
        session.execute(
            select(CourseSession).where(CourseSession.course_id == past.id).order_by(CourseSession.day_index)
        ).scalars()
    )
    busy: dict[tuple[int, date], dict[int, int]] = {}
    placed: list[tuple[CourseSession, date, int, int]] = []
    day = start
    for cs in sessions:
        _busy_from(session, site, day, busy)
        slot = _place(site, day, cs.duration_min, busy)
        while slot is None and day < later[0].date - timedelta(days=1):
            day += timedelta(days=1)
            _busy_from(session, site, day, busy)
            slot = _place(site, day, cs.duration_min, busy)
        if slot is None:
            return []
        placed.append((cs, day, *slot))
        day += timedelta(days=1)
    if placed[-1][1] >= later[0].date:
        return []
    return add_completed_course(session, past, site, placed)


def _busy_from(session: Any, site: Site, day: date, busy: dict[tuple[int, date], dict[int, int]]) -> None:
    """The chairs' first free minute on ``day`` after the appointments already there."""
    if (site.id, day) in busy:
        return
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    if hours is None:
        return
    open_min = hours.open_time.hour * 60 + hours.open_time.minute
    free = {c.id: open_min for c in site.chairs if c.active}
    for a in session.execute(
        select(Appointment).where(Appointment.site_id == site.id, Appointment.date == day)
    ).scalars():
        if a.chair_id in free:
            free[a.chair_id] = max(free[a.chair_id], a.start_min + a.duration_min)
    busy[(site.id, day)] = free


def load_outcomes_demo(db: Database, *, console: Console) -> dict[str, int]:
    """Readings for the demo's outcome orders: baseline before cycle 1 and after each cycle."""
    from igflow.outcomes import service as outcomes_service
    from igflow.outcomes.schemas import ReadingIn
    from igflow.security.service import get_user_by_username, principal_for_user

    counts = {"readings": 0, "reviews": 0}
    today = datetime.now(UTC).date()
    with db.session() as session:
        people = {}
        for username in ("nurse", "prescriber"):
            user = get_user_by_username(session, username)
            assert user is not None
            people[username] = principal_for_user(user, client_address="demo-outcomes")
        for role, order, _past in _chosen(_past_courses(session)):
            cycles = outcomes_service.completed_cycles(session, order.id)
            if len(cycles) < 2:
                continue
            if role == "other_responder":
                measure_id, values = _OTHER_RESPONDERS[order.indication_id]
                series = {measure_id: values}
            else:
                series = _CIDP[0] if role == "non_responder" else _CIDP[1]
            # baseline a week before cycle 1; after cycle 1 at the chair on cycle 2's first day; after
            # cycle 2 at the prescriber's review, between cycle 2 and today
            after_two = cycles[1].completed_on + timedelta(
                days=max(1, (today - cycles[1].completed_on).days // 2)
            )
            when = (
                (cycles[0].started_on - timedelta(days=7), "review", "prescriber"),
                (cycles[1].started_on, "chair", "nurse"),
                (min(after_two, today), "review", "prescriber"),
            )
            for measure_id, readings in series.items():
                for (day, method, who), value in zip(when, readings, strict=True):
                    parts = value if isinstance(value, dict) else None
                    outcomes_service.add_reading(
                        session,
                        people[who],
                        order.patient_id,
                        ReadingIn(
                            measure_id=measure_id,
                            value=None if parts else value,
                            parts=parts,
                            measured_on=day,
                            method=method,
                            order_id=order.id,
                            note="synthetic demo reading",
                        ),
                    )
                    counts["readings"] += 1
            counts["reviews"] += len(outcomes_service.evaluate(session, order, today).reviews)
    console.print(
        f"Outcomes: {counts['readings']} readings on three orders; {counts['reviews']} review raised for the "
        "prescriber."
    )
    return counts
