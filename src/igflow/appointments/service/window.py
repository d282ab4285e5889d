"""A waiting course's window: the bounds the regimen allows, a scheduler's change within them (with a
reason, audited), and why no chair can take a course when none can."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.appointments.schemas import CourseOut
from igflow.appointments.service._common import (
    _active_chairs,
    _centres,
    _load_course,
    _sessions,
    closed_days,
    policy,
)
from igflow.appointments.service.booking import _lock_course
from igflow.appointments.service.courses import course_out
from igflow.appointments.service.instance import (
    _course_sites,
    _patient_sites,
    booked_days,
    course_windows,
    unavailable_dates,
)
from igflow.appointments.states import COURSE
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput
from igflow.orders.models import Order, PlanVersion
from igflow.scheduling.models import min_to_hhmm
from igflow.security import audit
from igflow.security.principal import Principal
from igflow.sites.models import Site

# The longest window a course without a regimen interval may be given: the planning horizon's limit
# (PlanningIn.days), so that a planning run can still see the whole window.
_NO_INTERVAL_MAX_DAYS = 84


@dataclass(frozen=True)
class Bounds:
    earliest: dt.date
    latest: dt.date
    reason: str  # in words, for the page and the refusal


def _previous_infusion(session: Session, course: Course) -> dt.date | None:
    """The last day given or booked of the order's earlier courses."""
    return session.execute(
        select(func.max(Appointment.date))
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .where(
            Course.order_id == course.order_id,
            Course.id != course.id,
            Appointment.status.in_(("booked", "completed")),
        )
    ).scalar_one_or_none()


def clinical_bounds(session: Session, course: Course) -> Bounds:
    """How far a course's window may be moved: the regimen's interval after the previous infusion for a
    maintenance course, the priority's first-course window for a first one (scheduling policy)."""
    rules = policy()
    today = utcnow().date()
    version = session.get(PlanVersion, course.plan_version_id)
    plan = version.plan if version is not None else {}
    interval = (plan.get("regimen") or {}).get("interval_weeks")
    last = _previous_infusion(session, course)
    if last is not None and interval:
        lo = last + dt.timedelta(weeks=float(interval[0])) - dt.timedelta(days=rules.maintenance_early_days)
        hi = last + dt.timedelta(weeks=float(interval[1]))
        reason = (
            f"previous infusion {last}, the regimen's interval of {interval[0]:g}-{interval[1]:g} weeks, "
            f"booked up to {rules.maintenance_early_days} days early"
        )
    elif last is not None:
        lo = last + dt.timedelta(days=1)
        hi = lo + dt.timedelta(days=_NO_INTERVAL_MAX_DAYS)
        reason = f"previous infusion {last}; the regimen gives no interval, so the planning horizon limits it"
    else:
        created = course.created_at.date()
        first_lo, first_hi = rules.first_course_window_days[course.priority]
        lo, hi = created + dt.timedelta(days=first_lo), created + dt.timedelta(days=first_hi)
        reason = (
            f"a first course at priority {course.priority} starts {first_lo}-{first_hi} days after {created}"
        )
    return Bounds(max(lo, today), max(hi, today), reason)


def set_window(
    session: Session,
    principal: Principal,
    course_id: int,
    earliest: dt.date,
    latest: dt.date,
    reason: str,
) -> CourseOut:
    """Widen or narrow a waiting course's window within :func:`clinical_bounds`, with a reason (audited).
    Outside the bounds it is refused with who can change them (the prescriber, on the order)."""
    _load_course(session, principal, course_id)
    course = _lock_course(session, course_id)
    if course.status != "waiting":
        raise Conflict(
            f"course_id: course {course.id} is {COURSE.label(course.status)}: only a waiting course's window "
            "changes (cancel its days first to re-plan it)",
            "course_id",
        )
    if not reason.strip():
        raise InvalidInput("reason: say why the window changes", "reason")
    if latest < earliest:
        raise InvalidInput(f"latest: {latest} is before the earliest date {earliest}", "latest")
    bounds = clinical_bounds(session, course)
    if earliest < bounds.earliest:
        raise InvalidInput(
            f"earliest: {earliest} is before {bounds.earliest}, the earliest the regimen allows "
            f"({bounds.reason}); an earlier start is the prescriber's decision on the order",
            "earliest",
        )
    if latest > bounds.latest:
        raise InvalidInput(
            f"latest: {latest} is after {bounds.latest}, the latest the regimen allows ({bounds.reason}); "
            "a later start is the prescriber's decision on the order",
            "latest",
        )
    before = {"earliest": course.earliest.isoformat(), "latest": course.latest.isoformat()}
    target = min(max(course.target, earliest), latest)
    course.earliest, course.latest, course.target = earliest, latest, target
    course.window_reason = (
        f"changed by a scheduler: {reason.strip()} (was {before['earliest']} to {before['latest']})"
    )
    audit.record(
        session,
        principal.actor,
        "course.window",
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={
            "before": before,
            "after": {"earliest": earliest.isoformat(), "latest": latest.isoformat()},
        },
    )
    session.commit()
    return course_out(session, course)


def _part_booked_reason(session: Session, course: Course, keep: dict[int, Appointment]) -> dict[str, str]:
    """Why the free days of a part-booked course have no place: the days that stay booked leave them no
    open date, or every chair at their centre is taken on the dates they may take."""
    site = session.get(Site, next(iter(keep.values())).site_id)
    assert site is not None
    today = utcnow().date()
    last = max(a.date for a in keep.values()) + dt.timedelta(days=31)
    away = unavailable_dates(session, {course.patient_id})[course.patient_id]
    plain = course_windows(session, course, today, last, keep, away)
    open_only = course_windows(session, course, today, last, keep, away | closed_days(site, today, last))
    index = {cs.id: cs.day_index for cs in _sessions(session, course.id)}
    what = (
        "Cancel the whole course (open Cancel on any booked day and choose the whole course) to plan all its "
        "days again, or run a planning run, which may move other bookings to make room."
    )
    for cs_id, w in open_only.items():
        if w is None:
            given = plain.get(cs_id)
            dates = f"{given.lo} to {given.hi}" if given else "no date at all"
            return {
                "why": (
                    f"The days that stay booked leave day {index[cs_id]} only {dates}, when {site.name} is "
                    "closed or the patient cannot come."
                ),
                "what": what,
                "link": "/planning",
                "link_text": "Planning runs",
            }
    spans = "; ".join(
        f"day {index[cs_id]}: {w.lo} to {w.hi}" for cs_id, w in open_only.items() if w is not None
    )
    return {
        "why": f"Every chair at {site.name} is taken on the dates the free days may take ({spans}).",
        "what": what,
        "link": "/planning",
        "link_text": "Planning runs",
    }


def no_place_reason(session: Session, course: Course) -> dict[str, str] | None:
    """Why no chair can take a course, and where it should go, when that is a fact about the course
    rather than a busy week: given at home, or a day longer than any centre's opening hours."""
    centres = _centres(session)
    preferred = _patient_sites(session, {course.patient_id}, {s.id: s.code for s in centres})
    sites = _course_sites(session, course, preferred[course.patient_id], centres)
    order = session.get(Order, course.order_id)
    keep = booked_days(session, course.id)
    if keep and sites:
        return _part_booked_reason(session, course, keep)
    if not sites:
        return {
            "why": "The patient is seen at home: the home-infusion service gives this course, not a chair.",
            "what": "The course is on the home therapy queue, where a routing run gives it a nurse.",
            "link": "/home",
            "link_text": "Home therapy queue",
        }
    by_code = {s.code: s for s in centres}
    longest: tuple[int, str] = (0, "")
    for code in sites:
        site = by_code.get(code)
        if site is None or not _active_chairs(site):
            continue
        for h in site.hours:
            span = (h.close_time.hour * 60 + h.close_time.minute) - (
                h.open_time.hour * 60 + h.open_time.minute
            )
            if h.nurses > 0 and span > longest[0]:
                longest = (span, site.name)
    slot = policy().slot_minutes
    too_long = [
        cs for cs in _sessions(session, course.id) if math.ceil(cs.duration_min / slot) * slot > longest[0]
    ]
    if not longest[1]:
        return {
            "why": "None of the patient's centres has an active chair and a nurse on duty on any weekday.",
            "what": "A site manager sets chairs, hours and nurses on the Sites page.",
            "link": "/admin/sites",
            "link_text": "Sites and chairs",
        }
    if too_long:
        cs = too_long[0]
        return {
            "why": (
                f"Day {cs.day_index} needs {cs.duration_min} minutes in the chair "
                f"({min_to_hhmm(cs.duration_min)} hours), longer than any of the patient's centres is "
                f"open (the longest day is {min_to_hhmm(longest[0])} hours at {longest[1]})."
            ),
            "what": (
                "Splitting the dose over more days is a pharmacist's decision: the pharmacist changes the "
                "plan's days on the order, and a new course follows the verified plan."
            ),
            "link": f"/orders/{order.id}" if order is not None else "",
            "link_text": "Open the order",
        }
    return {
        "why": (
            f"Every chair that fits at the patient's centres is taken between {course.earliest} and "
            f"{course.latest}, or the nurses on duty are fully loaded."
        ),
        "what": (
            "Widen the window below (within the regimen's interval), or run a planning run, which may "
            "move other bookings to make room."
        ),
        "link": "/planning",
        "link_text": "Planning runs",
    }
