"""Routing runs: the home visits of a horizon as a routing instance, solved by the background job (the
optimiser beside the nearest-neighbour dispatcher a coordinator would do by hand), saved as a draft, and
published into booked visits.

The instance holds the sessions of waiting home courses (new visits) and the visits already booked in the
horizon, which keep their date and prefer their nurse (a visit whose nurse is off that day goes to
another nurse the same day if one can take it). Publishing books a course only whole: a multi-day course
whose days did not all get a nurse, in order, stays waiting and says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.appointments.service._common import policy as appointment_policy
from igflow.appointments.states import COURSE
from igflow.catalog import load_catalog
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.home.models import HomeNurse, HomeVisit, RoutingRun
from igflow.home.service import nurses as nurses_service
from igflow.home.service import visits as visits_service
from igflow.home.visit_states import ROUTING_RUN
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.routing.models import (
    Assignment,
    Nurse,
    Point,
    RoutePlan,
    RoutingInstance,
    Shift,
    TravelParams,
    Visit,
)
from igflow.security import audit, scope
from igflow.security.principal import Principal


def travel_params() -> TravelParams:
    travel = load_catalog().home.travel
    return TravelParams(
        speed_km_per_h=float(travel.speed_km_per_h.value or 0),
        detour_factor=float(travel.detour_factor.value or 0),
        fixed_min_per_leg=int(travel.fixed_min_per_leg.value or 0),
    )


@dataclass
class InstanceMap:
    """The routing instance and what its ids mean in igflow."""

    instance: RoutingInstance
    new_sessions: dict[str, int]  # visit id -> course_session id
    booked: dict[str, int]  # visit id -> appointment id
    courses: dict[str, int]  # visit id -> course id
    blocked: list[dict[str, Any]]  # waiting home courses that cannot be routed, with the reasons


def _nurses(session: Session, principal: Principal, start: dt.date, days: int) -> list[Nurse]:
    rows = nurses_service.list_nurses(session, principal, active_only=True)
    end = start + dt.timedelta(days=days - 1)
    off = nurses_service.absences(session, [n.id for n in rows], start, end)
    out: list[Nurse] = []
    for nurse in rows:
        by_weekday = {s.weekday: s for s in nurse.shifts}
        shifts = []
        for k in range(days):
            day = start + dt.timedelta(days=k)
            pattern = by_weekday.get(day.weekday())
            if pattern is None or (nurse.id, day) in off:
                continue
            shifts.append(
                Shift(
                    day=day, start_min=pattern.start_min, end_min=pattern.end_min, break_min=pattern.break_min
                )
            )
        if shifts:
            out.append(
                Nurse(
                    id=f"N{nurse.id}",
                    home=Point(lat=nurse.home_lat, lon=nurse.home_lon),
                    skills=frozenset(nurse.skills),
                    shifts=shifts,
                    max_visits_per_day=nurse.max_visits_per_day,
                )
            )
    return out


def _window() -> tuple[int, int]:
    lo, hi = load_catalog().home.visits.start_window_min.value or (0, 1440)
    return int(lo), int(hi)


def _busy_days(
    session: Session, patient_ids: set[int], start: dt.date, end: dt.date
) -> dict[int, set[dt.date]]:
    """Days each patient already has a booked appointment (a chair or another visit)."""
    out: dict[int, set[dt.date]] = defaultdict(set)
    if not patient_ids:
        return out
    rows = session.execute(
        select(Appointment.patient_id, Appointment.date).where(
            Appointment.patient_id.in_(patient_ids),
            Appointment.status == "booked",
            Appointment.date >= start,
            Appointment.date <= end,
        )
    ).all()
    for pid, day in rows:
        out[int(pid)].add(day)
    return out


def _new_visits(
    session: Session, principal: Principal, start: dt.date, end: dt.date, imap: InstanceMap
) -> list[Visit]:
    gap_lo, gap_hi = appointment_policy().multi_day_gap_days
    window_lo, window_hi = _window()
    out: list[Visit] = []
    waiting = visits_service.waiting_home_courses(session, principal, start)
    busy = _busy_days(session, {hc.patient.id for hc in waiting}, start, end)
    for hc in waiting:
        if hc.blockers:
            imap.blocked.append(
                {"course_id": hc.course.id, "patient_id": hc.patient.id, "reasons": hc.blockers}
            )
            continue
        first = max(hc.course.earliest, start)
        last = min(hc.course.latest, end)
        if first > last:
            continue
        assert hc.patient.home_lat is not None and hc.patient.home_lon is not None
        for k, cs in enumerate(hc.sessions):
            lo = min(first + dt.timedelta(days=k * gap_lo), end)
            hi = min(last + dt.timedelta(days=k * gap_hi), end)
            vid = f"S{cs.id}"
            imap.new_sessions[vid] = cs.id
            imap.courses[vid] = hc.course.id
            out.append(
                Visit(
                    id=vid,
                    patient_id=f"P{hc.patient.id}",
                    location=Point(lat=hc.patient.home_lat, lon=hc.patient.home_lon),
                    earliest_day=lo,
                    latest_day=hi,
                    window_start_min=window_lo,
                    window_end_min=window_hi,
                    service_min=cs.duration_min,
                    required_skills=frozenset(hc.skills),
                    priority=4 - hc.course.priority,  # course priority 1 is the most urgent
                    unavailable_days=frozenset(busy.get(hc.patient.id, set())),
                )
            )
    return out


def _booked_visits(
    session: Session, principal: Principal, start: dt.date, end: dt.date, imap: InstanceMap
) -> list[Visit]:
    window_lo, window_hi = _window()
    out: list[Visit] = []
    for bv in visits_service.booked_visits(session, principal, start, end):
        if bv.appointment.status != "booked" or bv.patient.home_lat is None or bv.patient.home_lon is None:
            continue
        vid = f"A{bv.appointment.id}"
        imap.booked[vid] = bv.appointment.id
        imap.courses[vid] = bv.course.id
        order = session.get(Order, bv.course.order_id)
        assert order is not None
        hc = visits_service.describe(session, bv.course, order, bv.patient, start)
        day = bv.appointment.date
        out.append(
            Visit(
                id=vid,
                patient_id=f"P{bv.patient.id}",
                location=Point(lat=bv.patient.home_lat, lon=bv.patient.home_lon),
                earliest_day=day,
                latest_day=day,
                window_start_min=min(window_lo, bv.appointment.start_min),
                window_end_min=max(window_hi, bv.appointment.start_min),
                service_min=bv.appointment.duration_min,
                required_skills=frozenset(hc.skills),
                priority=4,  # already told to the patient: keep it above every new visit
                previous=(
                    Assignment(nurse_id=f"N{bv.visit.nurse_id}", day=day)
                    if bv.visit.nurse_id is not None
                    else None
                ),
            )
        )
    return out


def build_instance(session: Session, principal: Principal, start: dt.date, days: int) -> InstanceMap:
    end = start + dt.timedelta(days=days - 1)
    empty = RoutingInstance(start_day=start, days=days, nurses=[], visits=[], travel=travel_params())
    imap = InstanceMap(instance=empty, new_sessions={}, booked={}, courses={}, blocked=[])
    visits = _booked_visits(session, principal, start, end, imap) + _new_visits(
        session, principal, start, end, imap
    )
    imap.instance = RoutingInstance(
        start_day=start,
        days=days,
        nurses=_nurses(session, principal, start, days),
        visits=visits,
        travel=travel_params(),
    )
    return imap


def pin_multi_day(imap: InstanceMap, plan: RoutePlan) -> RoutingInstance | None:
    """Multi-day courses the first solve placed out of order or twice on one day: day 1 stays where it was
    placed, each later day is pinned to the first day after it (within the course's day gaps) that a nurse
    works, for a second solve. None when every multi-day course is already in order."""
    gap_lo, gap_hi = appointment_policy().multi_day_gap_days
    placed = {s.visit_id: r.day for r in plan.routes for s in r.stops}
    working = sorted({sh.day for n in imap.instance.nurses for sh in n.shifts})
    by_course: dict[int, list[str]] = defaultdict(list)
    for vid, course_id in imap.courses.items():
        if vid in imap.new_sessions:
            by_course[int(course_id)].append(vid)
    pins: dict[str, dt.date] = {}
    for vids in by_course.values():
        if len(vids) < 2:
            continue
        vids.sort(key=lambda v: int(v[1:]))
        days = [placed.get(v) for v in vids]
        if None not in days and all(
            gap_lo <= (b - a).days <= gap_hi for a, b in itertools.pairwise(d for d in days if d is not None)
        ):
            continue
        day = days[0] or min((d for d in days if d is not None), default=None)
        if day is None:
            continue
        pins[vids[0]] = day
        for vid in vids[1:]:
            nxt = next((w for w in working if gap_lo <= (w - day).days <= gap_hi), None)
            if nxt is None:
                break
            pins[vid] = day = nxt
    if not pins:
        return None
    visits = [
        v.model_copy(update={"earliest_day": pins[v.id], "latest_day": pins[v.id]}) if v.id in pins else v
        for v in imap.instance.visits
    ]
    return imap.instance.model_copy(update={"visits": visits})


def figures_of(
    summary_opt: dict[str, Any], summary_greedy: dict[str, Any], bound_min: int | None
) -> dict[str, Any]:
    return {"optimiser": summary_opt, "greedy": summary_greedy, "travel_lower_bound_min": bound_min}


def save_run(
    session: Session,
    principal: Principal,
    imap: InstanceMap,
    plan: RoutePlan,
    figures: dict[str, Any],
) -> RoutingRun:
    run = RoutingRun(
        start_date=imap.instance.start_day,
        days=imap.instance.days,
        status="draft",
        instance={
            "routing": imap.instance.model_dump(mode="json"),
            "new_sessions": imap.new_sessions,
            "booked": imap.booked,
            "courses": imap.courses,
            "blocked": imap.blocked,
        },
        plan=plan.model_dump(mode="json"),
        figures=figures,
        created_by_user_id=principal.user_id,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "routing_run.create",
        "routing_run",
        run.id,
        detail={"visits": len(imap.instance.visits), "unassigned": len(plan.unassigned)},
    )
    return run


def get_run(session: Session, principal: Principal, run_id: int) -> RoutingRun:
    run = session.get(RoutingRun, run_id)
    if run is None or (scope.limited(principal) and not sees_home(session, principal)):
        raise NotFound(f"routing run {run_id} not found")
    return run


def sees_home(session: Session, principal: Principal) -> bool:
    return bool(nurses_service.home_sites(session, principal))


def list_runs(session: Session, principal: Principal, limit: int = 20) -> list[RoutingRun]:
    if scope.limited(principal) and not sees_home(session, principal):
        return []
    return list(session.execute(select(RoutingRun).order_by(RoutingRun.id.desc()).limit(limit)).scalars())


def _whole_courses(
    run: RoutingRun, plan: RoutePlan
) -> tuple[dict[str, tuple[str, dt.date, Any]], list[dict[str, Any]]]:
    """The placed new visits of courses placed whole and in day order; the courses left waiting, why."""
    placed: dict[str, tuple[str, dt.date, Any]] = {}
    for route in plan.routes:
        for seq, stop in enumerate(route.stops, start=1):
            placed[stop.visit_id] = (route.nurse_id, route.day, (seq, stop))
    by_course: dict[int, list[str]] = defaultdict(list)
    for vid, course_id in run.instance["courses"].items():
        if vid in run.instance["new_sessions"]:
            by_course[int(course_id)].append(vid)
    gap_lo, gap_hi = appointment_policy().multi_day_gap_days
    keep: dict[str, tuple[str, dt.date, Any]] = {}
    left: list[dict[str, Any]] = []
    reasons = {u.visit_id: u.reason for u in plan.unassigned}
    for course_id, vids in by_course.items():
        vids.sort(key=lambda v: int(v[1:]))
        missing = [v for v in vids if v not in placed]
        days = [placed[v][1] for v in vids if v in placed]
        if missing:
            left.append({"course_id": course_id, "reason": reasons.get(missing[0], "no nurse could take it")})
        elif any(not gap_lo <= (b - a).days <= gap_hi for a, b in itertools.pairwise(days)):
            left.append({"course_id": course_id, "reason": "its days did not get nurses on successive dates"})
        else:
            keep.update({v: placed[v] for v in vids})
    return keep, left


def publish(session: Session, principal: Principal, run_id: int) -> dict[str, Any]:
    """Book the run's routes: new visits for courses placed whole, moved or re-sequenced booked visits."""
    run = get_run(session, principal, run_id)
    ROUTING_RUN.check(run.status, "published")
    plan = RoutePlan.model_validate(run.plan)
    keep, left = _whole_courses(run, plan)
    home_site = nurses_service.home_sites(session, principal)
    if not home_site:
        raise InvalidInput("run_id: you may not book home visits (no home-infusion site is yours)", "run_id")
    booked: list[int] = []
    moved: list[int] = []
    without_nurse: list[int] = []
    placed_booked = {
        stop.visit_id: (route.nurse_id, route.day, seq, stop)
        for route in plan.routes
        for seq, stop in enumerate(route.stops, start=1)
        if stop.visit_id in run.instance["booked"]
    }
    try:  # visits already booked move first: the slots they free may be what a new visit needs
        to_hold: list[tuple[int, Appointment]] = []
        for vid, appointment_id in run.instance["booked"].items():
            if vid in placed_booked:
                nurse_ref, _day, seq, stop = placed_booked[vid]
                appt = _move_booked(session, run, int(appointment_id), int(nurse_ref[1:]), seq, stop)
                if appt is not None:
                    moved.append(appt.id)
                    to_hold.append((int(nurse_ref[1:]), appt))
            else:
                without_nurse.append(int(appointment_id))
        session.flush()
        for nurse_id, appt in to_hold:
            visits_service.hold_nurse_slots(session, nurse_id, appt)
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "run_id: visits or nurses changed since this run was solved (a nurse is now busy at one of its "
            "times); run routing again",
            "run_id",
        ) from None
    by_course: dict[int, list[str]] = defaultdict(list)
    for vid in keep:
        by_course[int(run.instance["courses"][vid])].append(vid)
    for course_id, vids in by_course.items():
        savepoint = session.begin_nested()  # a course is booked whole or not at all
        try:
            ids = []
            for vid in sorted(vids, key=lambda v: int(v[1:])):
                nurse_ref, day, (seq, stop) = keep[vid]
                session_id = int(run.instance["new_sessions"][vid])
                ids.append(
                    _book_new(
                        session,
                        principal,
                        run,
                        session_id,
                        home_site[0].id,
                        int(nurse_ref[1:]),
                        day,
                        seq,
                        stop,
                    )
                )
            savepoint.commit()
            booked += ids
        except (IntegrityError, Conflict):
            savepoint.rollback()
            left.append(
                {
                    "course_id": course_id,
                    "reason": "the patient or the nurse became busy at that time since the run was solved",
                }
            )
    result = {
        "booked_appointment_ids": booked,
        "moved_appointment_ids": moved,
        "visits_without_nurse": without_nurse,
        "courses_left_waiting": left,
        "blocked": run.instance.get("blocked", []),
    }
    ROUTING_RUN.move(
        session,
        run,
        "published",
        expected="draft",
        published_by_user_id=principal.user_id,
        published_at=utcnow(),
        result=result,
    )
    audit.record(
        session,
        principal.actor,
        "routing_run.publish",
        "routing_run",
        run.id,
        detail={"booked": len(booked), "moved": len(moved), "left_waiting": len(left)},
    )
    session.commit()
    return result


def _book_new(
    session: Session,
    principal: Principal,
    run: RoutingRun,
    course_session_id: int,
    site_id: int,
    nurse_id: int,
    day: dt.date,
    seq: int,
    stop: Any,
) -> int:
    cs = session.get(CourseSession, course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    if course.status != "waiting":
        raise Conflict(f"run_id: course {course.id} is no longer waiting; run routing again", "run_id")
    appt = Appointment(
        course_session_id=cs.id,
        patient_id=course.patient_id,
        site_id=site_id,
        chair_id=None,
        date=day,
        start_min=int(stop.start_min),
        duration_min=cs.duration_min,
        status="booked",
        source=f"routing-run {run.id}",
        created_by_user_id=principal.user_id,
    )
    session.add(appt)
    session.flush()
    order = session.get(Order, course.order_id)
    assert order is not None
    kind = visits_service.visit_kind(order)
    supervised = int(load_catalog().home.scig_training.supervised_infusions.value or 0)
    if kind == "scig_training" and course.cycle > supervised:
        kind = "scig_check"
    session.add(
        HomeVisit(
            appointment_id=appt.id,
            nurse_id=nurse_id,
            kind=kind,
            sequence=seq,
            travel_min=int(stop.travel_min_from_previous),
            routing_run_id=run.id,
        )
    )
    visits_service.hold_nurse_slots(session, nurse_id, appt)
    _ensure_home_site(session, course.patient_id, site_id)
    sessions_left = session.execute(
        select(CourseSession.id)
        .where(CourseSession.course_id == course.id)
        .where(
            ~CourseSession.id.in_(select(Appointment.course_session_id).where(Appointment.status == "booked"))
        )
    ).first()
    if sessions_left is None:
        COURSE.move(session, course, "booked", expected="waiting")
    audit.record(
        session,
        principal.actor,
        "appointment.book",
        "appointment",
        appt.id,
        patient_id=course.patient_id,
        detail={"routing_run": run.id, "nurse_id": nurse_id},
    )
    return appt.id


def _move_booked(
    session: Session, run: RoutingRun, appointment_id: int, nurse_id: int, seq: int, stop: Any
) -> Appointment | None:
    """Re-sequence a booked visit; when its nurse or time changes, release its nurse slots and return it
    (the caller holds the new slots once every moved visit has released its old ones)."""
    appt = session.get(Appointment, appointment_id)
    visit = visits_service.visit_for_appointment(session, appointment_id)
    if appt is None or visit is None or appt.status != "booked":
        raise Conflict(
            f"run_id: appointment {appointment_id} changed since this run was solved; run routing again",
            "run_id",
        )
    changed = visit.nurse_id != nurse_id or appt.start_min != int(stop.start_min)
    visit.sequence = seq
    visit.travel_min = int(stop.travel_min_from_previous)
    if not changed:
        return None
    visits_service.release_nurse_slots(session, appt.id)
    visit.nurse_id = nurse_id
    visit.routing_run_id = run.id
    appt.start_min = int(stop.start_min)
    appt.changed_at = utcnow()
    return appt


def _ensure_home_site(session: Session, patient_id: int, site_id: int) -> None:
    """A patient visited at home belongs to the home-infusion site too (its nurses see them)."""
    if site_id in patients_service.patient_site_ids(session, patient_id):
        return
    from igflow.patients.models import PatientSite

    rank = len(patients_service.patient_site_ids(session, patient_id)) + 1
    session.add(PatientSite(patient_id=patient_id, site_id=site_id, rank=rank))


def discard(session: Session, principal: Principal, run_id: int) -> RoutingRun:
    run = get_run(session, principal, run_id)
    ROUTING_RUN.move(session, run, "discarded", expected="draft")
    audit.record(session, principal.actor, "routing_run.discard", "routing_run", run.id)
    session.commit()
    return run


def nurse_names_for_run(session: Session, run: RoutingRun) -> dict[str, str]:
    ids = [int(n["id"][1:]) for n in run.instance["routing"]["nurses"]]
    rows = session.execute(select(HomeNurse.id, HomeNurse.name).where(HomeNurse.id.in_(ids))).all()
    return {f"N{i}": name for i, name in rows}
