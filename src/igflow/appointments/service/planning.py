"""Planning runs: solve a horizon (greedy and CP-SAT), keep the proposal as a draft, list, publish or
discard it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession, PlanningRun
from igflow.appointments.service._common import _centres, _sessions, policy
from igflow.appointments.service.booking import _book_sessions, _lock_course, _unbook, authorisation_check
from igflow.appointments.service.instance import InstanceMap, build_instance
from igflow.appointments.states import COURSE, PLANNING_RUN
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput
from igflow.scheduling.cpsat import ProgressCallback, SolveOptions, solve
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.greedy import solve_greedy
from igflow.scheduling.models import Instance, Schedule, hhmm_to_min
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Chair, Site


def _figures(instance: Instance, schedule: Schedule) -> dict[str, Any]:
    ev = evaluate(instance, schedule)
    out = ev.to_dict()
    return {"violations": len(ev.violations), **(out["figures"] or {})}


def solve_planning(
    instance: Instance,
    *,
    time_limit_s: float | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> tuple[Schedule, Schedule]:
    """(front-desk greedy, optimised) for an instance: pure work, call it with no transaction open."""
    greedy = solve_greedy(instance)
    optimised = solve(
        instance,
        SolveOptions(time_limit_s=time_limit_s or policy().planning_time_limit_s, seed=seed),
        progress=progress,
    )
    return greedy, optimised


def _wish_figures(imap: InstanceMap, schedule: Schedule) -> dict[str, int]:
    """Sessions placed on a weekday their patient did not choose (the contract has no weekday wish), and
    sessions whose patient chose weekdays at all."""
    patient_of = {s.id: s.patient for s in imap.instance.sessions}
    with_wish = misses = 0
    for a in schedule.assignments:
        if a.session not in imap.course_of:
            continue
        days = imap.weekday_wishes.get(patient_of[a.session])
        if days:
            with_wish += 1
            misses += int(a.date.weekday() not in days)
    return {"weekday_wish_sessions": with_wish, "weekday_misses": misses}


def honour_unavailable_dates(imap: InstanceMap, schedule: Schedule) -> Schedule:
    """The schedule with every course that the solver placed on a date its patient cannot come moved to
    unscheduled, whole (the contract's instance cannot say "not on this date", so the run says it)."""
    if not imap.unavailable:
        return schedule
    patient_of = {s.id: s.patient for s in imap.instance.sessions}
    clash: dict[int, str] = {}
    for a in schedule.assignments:
        course_id = imap.course_of.get(a.session)
        if course_id is not None and a.date in imap.unavailable.get(patient_of[a.session], set()):
            clash.setdefault(course_id, f"the patient cannot come on {a.date}; book another date")
    if not clash:
        return schedule
    keep = [a for a in schedule.assignments if imap.course_of.get(a.session) not in clash]
    dropped = [
        {"session": a.session, "reason": clash[imap.course_of[a.session]]}
        for a in schedule.assignments
        if imap.course_of.get(a.session) in clash
    ]
    data = schedule.model_dump(mode="json")
    data["assignments"] = [a.model_dump(mode="json") for a in keep]
    data["unscheduled"] = [*data["unscheduled"], *dropped]
    return Schedule.model_validate(data)


def save_planning_run(
    session: Session,
    principal: Principal,
    imap: InstanceMap,
    start: dt.date,
    days: int,
    greedy: Schedule,
    optimised: Schedule,
) -> PlanningRun:
    """Keep a solved proposal as a draft run (flushed and audited; the caller commits)."""
    greedy = honour_unavailable_dates(imap, greedy)
    optimised = honour_unavailable_dates(imap, optimised)
    run = PlanningRun(
        start_date=start,
        days=days,
        status="draft",
        instance={
            **imap.instance.model_dump(mode="json"),
            "x_igflow": {
                "course_sessions": imap.course_session_ids,
                "appointments": imap.appointment_ids,
                "sites": imap.site_ids,
                "chairs": imap.chair_ids,
                "any_centre_courses": sorted(imap.any_centre),
            },
        },
        schedule=optimised.model_dump(mode="json"),
        figures={
            "optimiser": {**_figures(imap.instance, optimised), **_wish_figures(imap, optimised)},
            "greedy": {**_figures(imap.instance, greedy), **_wish_figures(imap, greedy)},
        },
        created_by_user_id=principal.user_id,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "planning.run",
        "planning_run",
        run.id,
        detail={"start": start.isoformat(), "days": days, "sessions": len(imap.instance.sessions)},
    )
    return run


def run_planning(
    session: Session,
    principal: Principal,
    start: dt.date,
    days: int,
    *,
    time_limit_s: float | None = None,
    seed: int = 0,
    free_appointment_ids: set[int] | None = None,
) -> PlanningRun:
    """Build the instance for a horizon, solve it (greedy and CP-SAT) and keep the proposal as a draft.

    Synchronous (scripts, the demo loader): the read transaction ends before the solve, so no database
    lock is held while it runs. Pages and the API run planning as a background job
    (:mod:`igflow.jobs.planning`) instead."""
    imap = build_instance(
        session, start, days, free_appointment_ids=free_appointment_ids, principal=principal
    )
    session.commit()  # no transaction open during the solve
    greedy, optimised = solve_planning(imap.instance, time_limit_s=time_limit_s, seed=seed)
    run = save_planning_run(session, principal, imap, start, days, greedy, optimised)
    session.commit()
    return run


def list_runs(session: Session, principal: Principal, limit: int = 20) -> list[PlanningRun]:
    """The newest planning runs that cover only centres the principal works at."""
    query = (
        select(PlanningRun)
        .order_by(PlanningRun.id.desc())
        .limit(limit if not scope.limited(principal) else 500)
    )
    return scope.runs(session, principal, query)[:limit]


def check_free_appointments(session: Session, principal: Principal, appointment_ids: list[int]) -> None:
    """Refuse, before a run is queued, freeing an appointment the principal may not see."""
    for appointment_id in sorted(set(appointment_ids)):
        scope.appointment(session, principal, appointment_id, "free_appointment_ids")


def get_run(session: Session, principal: Principal, run_id: int) -> PlanningRun:
    """A planning run covering only centres the principal works at (others are not found)."""
    return scope.planning_run(session, principal, run_id)


def run_moves(session: Session, run: PlanningRun) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the draft books (each with its course and patient) and what it leaves unscheduled."""
    meta = run.instance.get("x_igflow", {})
    course_sessions: dict[str, int] = meta.get("course_sessions", {})
    owners = {
        cs_id: (course_id, patient_id, day_index)
        for cs_id, course_id, patient_id, day_index in session.execute(
            select(CourseSession.id, Course.id, Course.patient_id, CourseSession.day_index)
            .join(Course, Course.id == CourseSession.course_id)
            .where(CourseSession.id.in_(list(course_sessions.values())))
        ).all()
    }

    def describe(item: dict[str, Any]) -> dict[str, Any]:
        course_id, patient_id, day_index = owners[course_sessions[item["session"]]]
        return {**item, "course_id": course_id, "patient_id": patient_id, "day_index": day_index}

    moves = [describe(a) for a in run.schedule["assignments"] if a["session"] in course_sessions]
    unscheduled = [describe(u) for u in run.schedule["unscheduled"] if u["session"] in course_sessions]
    return moves, unscheduled


def waiting_outside(session: Session, principal: Principal, run: PlanningRun) -> list[dict[str, Any]]:
    """The courses waiting now that the run does not place or leave unscheduled, each with why: so the
    waiting list and the run's figures add up on the page."""
    from igflow.appointments.service.instance import (
        _course_sites,
        _patient_sites,
        booked_days,
        course_windows,
    )

    in_run = set(run.instance.get("x_igflow", {}).get("course_sessions", {}).values())
    start = run.start_date
    end = start + dt.timedelta(days=run.days - 1)
    query = scope.rows(
        select(Course).where(Course.status == "waiting").order_by(Course.id), principal, Course
    )
    centres = _centres(session)
    out: list[dict[str, Any]] = []
    for course in session.execute(query).scalars():
        sessions = {cs.id for cs in _sessions(session, course.id)}
        if sessions & in_run:
            continue
        preferred = _patient_sites(session, {course.patient_id}, {c.id: c.code for c in centres})
        keep = booked_days(session, course.id)
        if course.created_at.replace(tzinfo=None) > run.created_at.replace(tzinfo=None):
            why = "waiting since after this run was made"
        elif not _course_sites(session, course, preferred[course.patient_id], centres):
            why = "given at home: the home therapy queue routes it"
        elif keep and any(w is None for w in course_windows(session, course, start, end, keep).values()):
            why = "no date left in the horizon between the days that stay booked"
        elif course.latest < start or course.earliest > end:
            why = f"its window {course.earliest} to {course.latest} is outside the run's horizon"
        else:
            why = "not at a centre this run covers, or made waiting after the run"
        out.append({"course_id": course.id, "patient_id": course.patient_id, "why": why})
    return out


def publish(session: Session, principal: Principal, run_id: int) -> PlanningRun:
    """Book the draft's proposals course by course; a course that clashes with a booking made since the run
    is reported and left waiting, never half-booked.

    The run is claimed first (draft -> published by compare-and-set): a concurrent publish or discard of
    the same run waits for this one and then gets a 409, so a run is booked once or not at all."""
    run = get_run(session, principal, run_id)
    PLANNING_RUN.move(
        session, run, "published", published_at=utcnow(), published_by_user_id=principal.user_id
    )
    meta = run.instance["x_igflow"]
    freed_ids = [
        a for sid, a in meta["appointments"].items() if sid not in {s["id"] for s in run.instance["sessions"]}
    ]
    by_course: dict[int, list[tuple[CourseSession, dict[str, Any]]]] = {}
    for assignment in run.schedule["assignments"]:
        cs_id = meta["course_sessions"].get(assignment["session"])
        if cs_id is None:
            continue
        cs = session.get(CourseSession, cs_id)
        assert cs is not None
        by_course.setdefault(cs.course_id, []).append((cs, assignment))
    booked: list[int] = []
    problems: list[dict[str, Any]] = []
    beyond: list[dict[str, Any]] = []  # booked, but outside the prior authorisation: prior auth is told
    for course_id, items in sorted(by_course.items()):
        course = _lock_course(session, course_id)
        # A freed course (or freed days of one): release the days this run places anew, then book them.
        # Days of a part-booked course that the run kept fixed stay as they are.
        placed = {cs.id for cs, _a in items}
        current = session.execute(
            select(Appointment)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(
                CourseSession.course_id == course.id,
                Appointment.status == "booked",
                Appointment.course_session_id.in_(placed),
            )
            .order_by(Appointment.id)
        ).scalars()
        when = utcnow()
        for appt in list(current):
            _unbook(session, appt, "cancelled", f"moved by planning run {run.id}", when)
        if course.status == "booked":
            COURSE.move(session, course, "waiting")
        if course.status != "waiting":
            problems.append({"course_id": course_id, "problem": f"course is {course.status}"})
            continue
        placements = []
        for cs, a in sorted(items, key=lambda x: x[0].day_index):
            site = session.get(Site, meta["sites"][a["site"]])
            assert site is not None
            chair = session.get(Chair, meta["chairs"][a["site"]][a["chair"] - 1])
            assert chair is not None
            placements.append((cs, site, chair, dt.date.fromisoformat(a["date"]), hhmm_to_min(a["start"])))
        check = authorisation_check(session, course, [(p[0], p[3]) for p in placements])
        if check is not None and check.findings and check.hard_stop:
            problems.append(
                {
                    "course_id": course_id,
                    "problem": "beyond the prior authorisation, which this payer does not "
                    "allow: " + " ".join(check.messages),
                }
            )
            continue
        try:
            _book_sessions(
                session,
                principal,
                course,
                placements,
                f"planning-run {run.id}",
                other_centre_ok=course_id in set(meta.get("any_centre_courses") or []),
            )
            booked.append(course_id)
        except (Conflict, InvalidInput) as exc:
            problems.append({"course_id": course_id, "problem": exc.message})
            continue
        if check is not None and check.findings:
            beyond.append({"course_id": course_id, "findings": check.messages})
    run.result = {
        "booked_courses": booked,
        "not_booked": problems,
        "freed": freed_ids,
        "beyond_authorisation": beyond,
    }
    audit.record(
        session,
        principal.actor,
        "planning.publish",
        "planning_run",
        run.id,
        detail={"booked": len(booked), "problems": len(problems), "beyond_authorisation": len(beyond)},
    )
    session.commit()
    return run


def discard(session: Session, principal: Principal, run_id: int) -> PlanningRun:
    run = get_run(session, principal, run_id)
    PLANNING_RUN.move(session, run, "discarded")
    audit.record(session, principal.actor, "planning.discard", "planning_run", run.id)
    session.commit()
    return run
