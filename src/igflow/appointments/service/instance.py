"""The scheduling contract's instance from the database: centres, waiting courses, booked appointments
held fixed, and how the contract's ids map back to rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession, UnavailableDate
from igflow.appointments.service import preferences
from igflow.appointments.service._common import _active_chairs, _centres, _sessions, policy
from igflow.errors import InvalidInput
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.patients.models import PatientSite
from igflow.scheduling.models import Instance, Schedule, min_to_hhmm
from igflow.scheduling.replan import CourseWindow, Window, day_windows
from igflow.security import scope
from igflow.security.principal import Principal
from igflow.sites.models import Site
from igflow.sites.schemas import WEEKDAYS


@dataclass
class InstanceMap:
    """How the contract's ids map back to rows: sessions, sites and chair numbers."""

    instance: Instance
    course_session_ids: dict[str, int]  # "S12" -> course_session.id
    appointment_ids: dict[str, int]  # "A7" -> appointment.id (booked, kept fixed)
    site_ids: dict[str, int]  # site code -> site.id
    chair_ids: dict[str, list[int]]  # site code -> chair ids, chair number k is index k-1
    course_of: dict[str, int] = field(default_factory=dict)  # "S12" -> course.id
    # "P3" -> the dates that patient cannot come: the contract has no such field, so a planning run leaves
    # a course that the solver put on one of them unscheduled (see planning.honour_unavailable_dates)
    unavailable: dict[str, set[dt.date]] = field(default_factory=dict)
    weekday_wishes: dict[str, list[int]] = field(default_factory=dict)  # "P3" -> weekdays chosen (0 = Mon)
    # courses released by a centre closure: they may continue at another centre than their earlier days
    any_centre: set[int] = field(default_factory=set)


def _site_doc(site: Site, start: dt.date, end: dt.date) -> dict[str, Any]:
    hours = {h.weekday: h for h in site.hours}
    return {
        "id": site.code,
        "chairs": max(1, len(_active_chairs(site))),
        "open": {
            WEEKDAYS[d]: [hours[d].open_time.strftime("%H:%M"), hours[d].close_time.strftime("%H:%M")]
            if d in hours
            else None
            for d in range(7)
        },
        "nurses": {WEEKDAYS[d]: hours[d].nurses if d in hours else 0 for d in range(7)},
        "patients_per_nurse": site.patients_per_nurse,
        "starts_per_nurse_per_slot": site.starts_per_nurse_per_slot,
        "closed_dates": [c.date.isoformat() for c in site.closed_dates if start <= c.date <= end],
    }


def _patient_sites(session: Session, patient_ids: set[int], codes: dict[int, str]) -> dict[int, list[str]]:
    rows = session.execute(
        select(PatientSite.patient_id, PatientSite.site_id)
        .where(PatientSite.patient_id.in_(patient_ids))
        .order_by(PatientSite.patient_id, PatientSite.rank)
    ).all()
    out: dict[int, list[str]] = {pid: [] for pid in patient_ids}
    for pid, site_id in rows:
        if site_id in codes:
            out[pid].append(codes[site_id])
    return out


def build_instance(
    session: Session,
    start: dt.date,
    days: int,
    *,
    free_appointment_ids: set[int] | None = None,
    only_course_ids: set[int] | None = None,
    principal: Principal | None = None,
    any_centre_course_ids: set[int] | None = None,
    exclude_fixed: set[int] | None = None,
) -> InstanceMap:
    """The contract instance for a horizon: centres, waiting courses, and booked appointments as fixed.

    Courses in ``any_centre_course_ids`` (released by a centre closure) may go to any centre, the
    patient's own first. With a site-limited ``principal``, only their centres and the courses of
    patients they may see (the run then records just those centres); freeing an appointment at another
    centre is refused."""
    rules = policy()
    end = start + dt.timedelta(days=days - 1)
    centres = _centres(session)
    if principal is not None:
        centres = [s for s in centres if scope.sees_site(principal, s.id)]
        for appointment_id in sorted(free_appointment_ids or set()):
            scope.appointment(session, principal, appointment_id, "free_appointment_ids")
    if not centres:
        raise InvalidInput("no active infusion centre to schedule into")
    codes = {s.id: s.code for s in centres}
    chair_ids = {s.code: [c.id for c in _active_chairs(s)] for s in centres}
    freed_courses = _courses_of_appointments(session, free_appointment_ids or set())
    # Freeing one day of a course frees the whole course: it is scheduled whole or not at all.
    free = set(
        session.execute(
            select(Appointment.id)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(CourseSession.course_id.in_([c.id for c in freed_courses]), Appointment.status == "booked")
        ).scalars()
    )
    sessions_doc: list[dict[str, Any]] = []
    course_session_ids: dict[str, int] = {}
    course_of: dict[str, int] = {}
    appointment_ids: dict[str, int] = {}

    # Booked and completed appointments hold their chair (an infusion given early, or today's finished
    # one, keeps its slot until the day is over): both are fixed in the instance.
    booked = list(
        session.execute(
            select(Appointment).where(
                Appointment.status.in_(("booked", "completed")),
                Appointment.date >= start,
                Appointment.date <= end,
            )
        ).scalars()
    )
    for appt in booked:
        code = codes.get(appt.site_id)
        if code is None or appt.id in free or appt.chair_id not in chair_ids[code]:
            continue
        if appt.id in (exclude_fixed or set()):  # a day being moved: its place is free for the search
            continue
        sid = f"A{appt.id}"
        appointment_ids[sid] = appt.id
        sessions_doc.append(
            {
                "id": sid,
                "patient": f"P{appt.patient_id}",
                "duration_min": appt.duration_min,
                "sites": [code],
                "earliest": appt.date.isoformat(),
                "latest": appt.date.isoformat(),
                "target": appt.date.isoformat(),
                "priority": 3,
                "fixed": {
                    "site": code,
                    "date": appt.date.isoformat(),
                    "start": min_to_hhmm(appt.start_min),
                    "chair": chair_ids[code].index(appt.chair_id) + 1,
                },
            }
        )

    query = select(Course).where(Course.status == "waiting", Course.earliest <= end, Course.latest >= start)
    if only_course_ids is not None:
        query = query.where(Course.id.in_(only_course_ids))
    if principal is not None:
        query = scope.rows(query, principal, Course)
    courses = list(session.execute(query.order_by(Course.id)).scalars())
    courses += [c for c in freed_courses if c not in courses]
    preferred = _patient_sites(session, {c.patient_id for c in courses}, codes)
    wishes = preferences.preferences_for(session, {c.patient_id for c in courses})
    away = unavailable_dates(session, {c.patient_id for c in courses})
    for course in courses:
        sites = _course_sites(session, course, preferred.get(course.patient_id) or [], centres)
        if sites and course.id in (any_centre_course_ids or set()):
            # released by a centre closure: the patient's own centres first, then any other
            sites = [*sites, *(c.code for c in centres if c.code not in sites)]
        if sites:
            keep = booked_days(session, course.id, exclude=free)
            start_wish = preferences.preferred_start(session, course, wishes.get(course.patient_id))
            docs = _course_session_docs(
                session,
                course,
                sites,
                start,
                end,
                keep,
                codes,
                start_wish,
                unavailable=away.get(course.patient_id, set()),
                any_site=course.id in (any_centre_course_ids or set()),
            )
            for doc in docs:
                course_session_ids[doc["id"]] = int(doc["id"][1:])
                course_of[doc["id"]] = course.id
            sessions_doc.extend(docs)
    instance = Instance.model_validate(
        {
            "format": "igflow.schedule-instance/1",
            "slot_minutes": rules.slot_minutes,
            "start_date": start.isoformat(),
            "days": days,
            "sites": [_site_doc(s, start, end) for s in centres],
            "sessions": sessions_doc,
        }
    )
    return InstanceMap(
        instance,
        course_session_ids,
        appointment_ids,
        {s.code: s.id for s in centres},
        chair_ids,
        course_of,
        {f"P{pid}": {d for d in days_ if start <= d <= end} for pid, days_ in away.items() if days_},
        {f"P{pid}": list(w.weekdays) for pid, w in wishes.items() if w.weekdays},
        set(any_centre_course_ids or set()),
    )


def _course_sites(session: Session, course: Course, preferred: list[str], centres: list[Site]) -> list[str]:
    """The centres where a course may go: the patient's, in order; any centre if the patient names none.
    None for a course given at home (the home-infusion service routes it), unless a reaction at home sends
    its next dose to a centre until a pharmacist clears the patient."""
    order = session.get(Order, course.order_id)
    if order is not None and order.setting == "home":
        from igflow.home.service import visits as home_visits  # home reads appointments, not the reverse

        if home_visits.centre_hold(session, course.patient_id) is None:
            return []
        return preferred or [s.code for s in centres]
    if preferred:
        return preferred
    if patients_service.patient_site_ids(session, course.patient_id):
        return []  # home infusion only: not a chair booking
    return [s.code for s in centres]


def booked_days(
    session: Session, course_id: int, exclude: set[int] | frozenset[int] = frozenset()
) -> dict[int, Appointment]:
    """The course's days that stay where they are (course_session.id -> appointment): booked, or already
    given (completed), leaving out ``exclude``."""
    rows = session.execute(
        select(Appointment)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .where(CourseSession.course_id == course_id, Appointment.status.in_(("booked", "completed")))
    ).scalars()
    return {a.course_session_id: a for a in rows if a.id not in exclude}


def unavailable_dates(session: Session, patient_ids: set[int]) -> dict[int, set[dt.date]]:
    """The dates each patient cannot come (patient_unavailable_date)."""
    out: dict[int, set[dt.date]] = {pid: set() for pid in patient_ids}
    if patient_ids:
        for pid, day in session.execute(
            select(UnavailableDate.patient_id, UnavailableDate.date).where(
                UnavailableDate.patient_id.in_(patient_ids)
            )
        ).all():
            out[pid].add(day)
    return out


def course_windows(
    session: Session,
    course: Course,
    start: dt.date,
    end: dt.date,
    keep: dict[int, Appointment],
    unavailable: set[dt.date] | frozenset[dt.date] = frozenset(),
) -> dict[int, Window | None]:
    """For a course with some days still booked (``keep``), each unbooked day's window (by
    course_session.id): the dates its booked neighbours leave it inside the horizon, None if none."""
    sessions = _sessions(session, course.id)
    index = {cs.id: k for k, cs in enumerate(sessions)}
    windows = day_windows(
        len(sessions),
        {index[cs_id]: a.date for cs_id, a in keep.items() if cs_id in index},
        CourseWindow(course.earliest, course.latest, course.target),
        policy().multi_day_gap_days,
        (start, end),
        unavailable,
    )
    return {sessions[k].id: w for k, w in windows.items()}


def _course_session_docs(
    session: Session,
    course: Course,
    sites: list[str],
    start: dt.date,
    end: dt.date,
    keep: dict[int, Appointment] | None = None,
    site_codes: dict[int, str] | None = None,
    preferred: tuple[str, str] | None = None,
    *,
    unavailable: set[dt.date] | frozenset[dt.date] = frozenset(),
    any_site: bool = False,
) -> list[dict[str, Any]]:
    """The contract sessions of one course inside a horizon (empty if its window misses the horizon).

    Days still booked (``keep``: course_session.id -> appointment; read from the database when None) stay
    where they are, fixed in the instance; only the others are sessions here, at the booked days' centre
    and in the window their booked neighbours leave (:func:`igflow.scheduling.replan.day_windows`). A
    day with no window left gives no sessions: the course cannot be re-placed around its booked days."""
    gap_lo, gap_hi = policy().multi_day_gap_days
    if keep is None:
        keep = booked_days(session, course.id)
    if keep:
        codes = site_codes or {s.id: s.code for s in _centres(session)}
        kept_sites = {
            codes[a.site_id] for a in keep.values() if a.chair_id is not None and a.site_id in codes
        }
        if kept_sites and not any_site:
            # The days of a course stay at one centre; days kept at home (a reaction sends the rest to a
            # centre) or a closure's released days (``any_site``) continue at any allowed centre.
            sites = [c for c in sites if c in kept_sites] or sorted(kept_sites)
        windows = course_windows(session, course, start, end, keep, unavailable)
        if not sites or any(w is None for w in windows.values()):
            return []
        partial: list[dict[str, Any]] = []
        previous_id: str | None = None
        previous_index = -2
        for k, cs in enumerate(_sessions(session, course.id)):
            w = windows.get(cs.id)
            if w is None:
                continue
            doc = {
                "id": f"S{cs.id}",
                "patient": f"P{course.patient_id}",
                "duration_min": cs.duration_min,
                "sites": sites,
                "earliest": w.lo.isoformat(),
                "latest": w.hi.isoformat(),
                "target": w.target.isoformat(),
                "priority": course.priority,
            }
            if preferred is not None:
                doc["preferred_start"] = list(preferred)
            if previous_id is not None and previous_index == k - 1:
                doc["after"] = {"session": previous_id, "min_days": gap_lo, "max_days": gap_hi}
            partial.append(doc)
            previous_id, previous_index = doc["id"], k
        return partial
    earliest0 = max(course.earliest, start)
    latest0 = min(course.latest, end)
    while earliest0 <= latest0 and earliest0 in unavailable:  # the contract has no "not on this date":
        earliest0 += dt.timedelta(days=1)  # trim the first day's window where it can
    while latest0 >= earliest0 and latest0 in unavailable:
        latest0 -= dt.timedelta(days=1)
    if earliest0 > latest0:
        return []
    docs: list[dict[str, Any]] = []
    previous: str | None = None
    for k, cs in enumerate(_sessions(session, course.id)):
        lo = min(earliest0 + dt.timedelta(days=k * gap_lo), end)
        hi = min(latest0 + dt.timedelta(days=k * gap_hi), end)
        target = min(max(course.target + dt.timedelta(days=k * gap_lo), lo), hi)
        doc: dict[str, Any] = {
            "id": f"S{cs.id}",
            "patient": f"P{course.patient_id}",
            "duration_min": cs.duration_min,
            "sites": sites,
            "earliest": lo.isoformat(),
            "latest": hi.isoformat(),
            "target": target.isoformat(),
            "priority": course.priority,
        }
        if preferred is not None:
            doc["preferred_start"] = list(preferred)
        if previous is not None:
            doc["after"] = {"session": previous, "min_days": gap_lo, "max_days": gap_hi}
        docs.append(doc)
        previous = doc["id"]
    return docs


def _courses_of_appointments(session: Session, appointment_ids: set[int]) -> list[Course]:
    if not appointment_ids:
        return []
    return list(
        session.execute(
            select(Course)
            .join(CourseSession, CourseSession.course_id == Course.id)
            .join(Appointment, Appointment.course_session_id == CourseSession.id)
            .where(Appointment.id.in_(appointment_ids))
            .distinct()
        ).scalars()
    )


def _booked_schedule(imap: InstanceMap) -> Schedule:
    """The booked (fixed) sessions of an instance as a schedule, for the suggestion index."""
    assignments = []
    unscheduled = []
    for s in imap.instance.sessions:
        if s.fixed is not None:
            assignments.append(
                {
                    "session": s.id,
                    "site": s.fixed.site,
                    "chair": s.fixed.chair,
                    "date": s.fixed.date.isoformat(),
                    "start": s.fixed.start,
                }
            )
        else:
            unscheduled.append({"session": s.id, "reason": "not booked yet"})
    return Schedule.model_validate(
        {
            "format": "igflow.schedule/1",
            "assignments": assignments,
            "unscheduled": unscheduled,
            "stats": {"solver": "booked", "status": "FEASIBLE", "solve_seconds": 0},
        }
    )
