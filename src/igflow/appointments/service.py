"""Use cases of the appointments capability.

Courses come from verified plans; the scheduling core (``igflow.scheduling``, pure) decides where they go;
this module turns the database into a contract *instance*, books results under database guards, and
offers suggestions, cancellations with repair, planning runs and the views the pages draw.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.appointments.models import (
    Appointment,
    ChairSlot,
    Course,
    CourseSession,
    PlanningRun,
    SiteSlotLoad,
)
from igflow.appointments.schemas import AppointmentOut, BookIn, CourseOut, CourseSessionOut, SlotOptionOut
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.patients.models import PatientSite
from igflow.scheduling.cpsat import ProgressCallback, SolveOptions, solve
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.greedy import solve_greedy
from igflow.scheduling.models import Instance, Schedule, hhmm_to_min, min_to_hhmm
from igflow.scheduling.suggest import SlotIndex
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Chair, Site
from igflow.sites.schemas import WEEKDAYS


@dataclass(frozen=True)
class Policy:
    slot_minutes: int
    first_course_window_days: dict[int, tuple[int, int]]
    multi_day_gap_days: tuple[int, int]
    maintenance_early_days: int
    default_window_days: int
    planning_time_limit_s: float
    suggestions: int
    ics_organiser: str
    ics_preparation: str


@lru_cache(maxsize=1)
def policy() -> Policy:
    data = yaml.safe_load(resources.files("igflow.appointments").joinpath("policy.yaml").read_text("utf-8"))
    return Policy(
        slot_minutes=int(data["slot_minutes"]),
        first_course_window_days={
            int(k): (int(v[0]), int(v[1])) for k, v in data["first_course_window_days"].items()
        },
        multi_day_gap_days=(int(data["multi_day_gap_days"][0]), int(data["multi_day_gap_days"][1])),
        maintenance_early_days=int(data["maintenance_early_days"]),
        default_window_days=int(data["default_window_days"]),
        planning_time_limit_s=float(data["planning_time_limit_s"]),
        suggestions=int(data["suggestions"]),
        ics_organiser=str(data["ics"]["organiser_name"]),
        ics_preparation=str(data["ics"]["preparation"]).strip(),
    )


def site_today(site_timezone: str) -> dt.date:
    return utcnow().astimezone(ZoneInfo(site_timezone)).date()


# --- courses ------------------------------------------------------------------------------------------


def _last_session_date(session: Session, order_id: int) -> dt.date | None:
    return session.execute(
        select(func.max(Appointment.date))
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .where(Course.order_id == order_id, Appointment.status.in_(("booked", "completed")))
    ).scalar_one_or_none()


def create_course(
    session: Session, principal: Principal, order_id: int, not_before: dt.date | None = None
) -> Course:
    """A course for the next cycle of a verified order: sessions, chair minutes, window, priority."""
    order = scope.get(session, principal, Order, order_id, "order")
    try:
        patients_service.check_access(session, principal, order.patient_id)
    except NotFound:
        raise NotFound(f"order {order_id} not found", "order_id") from None
    verified = orders_service.current_verified_plan(session, order_id)
    if verified is None:
        session.commit()  # keep a plan version the refresh may have appended
        raise InvalidInput(
            "order_id: the order's current plan is not verified by a pharmacist; "
            "courses are made from verified plans only",
            "order_id",
        )
    version, _verification = verified
    open_course = session.execute(
        select(Course.id).where(Course.order_id == order_id, Course.status == "waiting")
    ).first()
    if open_course is not None:
        raise Conflict(
            f"order_id: course {open_course[0]} of this order is still waiting to be booked", "order_id"
        )
    plan = version.plan
    days = plan.get("days") or []
    if not days or any(day.get("chair_min") is None for day in days):
        raise InvalidInput("order_id: the verified plan has no chair times to schedule", "order_id")
    rules = policy()
    today = not_before or utcnow().date()
    priority = int(plan.get("priority") or 3)
    interval = (plan.get("regimen") or {}).get("interval_weeks")
    last = _last_session_date(session, order_id)
    if last is not None and interval:
        target = last + dt.timedelta(weeks=float(interval[0]))
        earliest = max(today, target - dt.timedelta(days=rules.maintenance_early_days))
        latest = max(earliest, last + dt.timedelta(weeks=float(interval[1])))
        target = min(max(target, earliest), latest)
        reason = (
            f"last infusion {last}; regimen interval {interval[0]:g}-{interval[1]:g} weeks; "
            f"booking may start {rules.maintenance_early_days} days early"
        )
    elif last is not None:
        earliest = max(today, last + dt.timedelta(days=1))
        target, latest = earliest, earliest + dt.timedelta(days=rules.default_window_days)
        reason = f"last infusion {last}; the regimen gives no interval"
    else:
        lo, hi = rules.first_course_window_days[priority]
        earliest, latest = today + dt.timedelta(days=lo), today + dt.timedelta(days=hi)
        target = earliest
        reason = f"first course at priority {priority}: {lo}-{hi} days from {today}"
    cycle = (
        int(
            session.execute(
                select(func.count()).select_from(Course).where(Course.order_id == order_id)
            ).scalar_one()
        )
        + 1
    )
    course = Course(
        order_id=order.id,
        plan_version_id=version.id,
        patient_id=order.patient_id,
        cycle=cycle,
        priority=priority,
        target=target,
        earliest=earliest,
        latest=latest,
        window_reason=reason,
        status="waiting",
        created_by_user_id=principal.user_id,
    )
    session.add(course)
    session.flush()
    for day in days:
        session.add(
            CourseSession(
                course_id=course.id,
                day_index=int(day["day"]),
                duration_min=math.ceil(float(day["chair_min"])),
                dose_g=float(day["dispensed_g"]),
            )
        )
    session.flush()
    audit.record(
        session,
        principal.actor,
        "course.create",
        "course",
        course.id,
        patient_id=order.patient_id,
        detail={"order_id": order.id, "plan_version": version.version, "sessions": len(days)},
    )
    session.commit()
    return course


def _sessions(session: Session, course_id: int) -> list[CourseSession]:
    return list(
        session.execute(
            select(CourseSession)
            .where(CourseSession.course_id == course_id)
            .order_by(CourseSession.day_index)
        ).scalars()
    )


def _load_course(session: Session, principal: Principal, course_id: int) -> Course:
    course = scope.get(session, principal, Course, course_id, "course")
    try:
        patients_service.check_access(session, principal, course.patient_id)
    except NotFound:
        raise NotFound(f"course {course_id} not found") from None
    return course


def course_out(session: Session, course: Course) -> CourseOut:
    sessions = _sessions(session, course.id)
    appointments = list(
        session.execute(
            select(Appointment)
            .where(Appointment.course_session_id.in_([s.id for s in sessions]))
            .order_by(Appointment.date, Appointment.start_min)
        ).scalars()
    )
    return CourseOut(
        id=course.id,
        order_id=course.order_id,
        plan_version_id=course.plan_version_id,
        patient_id=course.patient_id,
        cycle=course.cycle,
        priority=course.priority,
        target=course.target,
        earliest=course.earliest,
        latest=course.latest,
        window_reason=course.window_reason,
        status=course.status,
        sessions=[CourseSessionOut.model_validate(s) for s in sessions],
        appointments=[appointment_out(session, a) for a in appointments],
    )


def read_course(session: Session, principal: Principal, course_id: int) -> CourseOut:
    course = _load_course(session, principal, course_id)
    audit.record(session, principal.actor, "course.read", "course", course.id, patient_id=course.patient_id)
    session.commit()
    return course_out(session, course)


def waiting_courses(session: Session, principal: Principal) -> list[CourseOut]:
    query = select(Course).where(Course.status == "waiting").order_by(Course.priority, Course.target)
    visible = list(session.execute(scope.rows(query, principal, Course)).scalars())
    audit.record(
        session, principal.actor, "course.list", "course", detail={"returned_ids": [c.id for c in visible]}
    )
    session.commit()
    return [course_out(session, c) for c in visible]


# --- the scheduling instance from the database ----------------------------------------------------------


@dataclass
class InstanceMap:
    """How the contract's ids map back to rows: sessions, sites and chair numbers."""

    instance: Instance
    course_session_ids: dict[str, int]  # "S12" -> course_session.id
    appointment_ids: dict[str, int]  # "A7" -> appointment.id (booked, kept fixed)
    site_ids: dict[str, int]  # site code -> site.id
    chair_ids: dict[str, list[int]]  # site code -> chair ids, chair number k is index k-1


def _centres(session: Session) -> list[Site]:
    return list(
        session.execute(
            select(Site).where(Site.kind == "centre", Site.active.is_(True)).order_by(Site.id)
        ).scalars()
    )


def _active_chairs(site: Site) -> list[Chair]:
    return [c for c in site.chairs if c.active]


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
) -> InstanceMap:
    """The contract instance for a horizon: centres, waiting courses, and booked appointments as fixed.

    With a site-limited ``principal``, only their centres and the courses of patients they may see (the
    run then records just those centres); freeing an appointment at another centre is refused."""
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
    appointment_ids: dict[str, int] = {}

    booked = list(
        session.execute(
            select(Appointment).where(
                Appointment.status == "booked", Appointment.date >= start, Appointment.date <= end
            )
        ).scalars()
    )
    for appt in booked:
        code = codes.get(appt.site_id)
        if code is None or appt.id in free or appt.chair_id not in chair_ids[code]:
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
    for course in courses:
        sites = _course_sites(session, course, preferred.get(course.patient_id) or [], centres)
        if sites:
            docs = _course_session_docs(session, course, sites, start, end)
            for doc in docs:
                course_session_ids[doc["id"]] = int(doc["id"][1:])
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
        instance, course_session_ids, appointment_ids, {s.code: s.id for s in centres}, chair_ids
    )


def _course_sites(session: Session, course: Course, preferred: list[str], centres: list[Site]) -> list[str]:
    """The centres where a course may go: the patient's, in order; any centre if the patient names none."""
    if preferred:
        return preferred
    if patients_service.patient_site_ids(session, course.patient_id):
        return []  # home infusion only: not a chair booking
    return [s.code for s in centres]


def _course_session_docs(
    session: Session, course: Course, sites: list[str], start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """The contract sessions of one course inside a horizon (empty if its window misses the horizon)."""
    gap_lo, gap_hi = policy().multi_day_gap_days
    earliest0 = max(course.earliest, start)
    latest0 = min(course.latest, end)
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


# --- booking under database guards ------------------------------------------------------------------------


def _slots(start_min: int, duration_min: int, slot_minutes: int) -> range:
    first = start_min // slot_minutes
    return range(first, first + math.ceil(duration_min / slot_minutes))


def _capacity(site: Site, day: dt.date) -> tuple[int, int, int, int]:
    """(open_min, close_min, max patients in chairs, max starts per slot) for a site on a date."""
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    if hours is None or any(c.date == day for c in site.closed_dates):
        raise InvalidInput(f"date: {site.name} is closed on {day} ({WEEKDAYS[day.weekday()]})", "date")
    open_min = hours.open_time.hour * 60 + hours.open_time.minute
    close_min = hours.close_time.hour * 60 + hours.close_time.minute
    return (
        open_min,
        close_min,
        hours.nurses * site.patients_per_nurse,
        hours.nurses * site.starts_per_nurse_per_slot,
    )


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _add_load(
    session: Session,
    site_id: int,
    day: dt.date,
    slot: int,
    in_chairs: int,
    starts: int,
    caps: tuple[int, int],
) -> None:
    stmt = _insert(session)(SiteSlotLoad).values(
        site_id=site_id,
        date=day,
        slot=slot,
        in_chairs=in_chairs,
        starts=starts,
        max_in_chairs=caps[0],
        max_starts=caps[1],
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["site_id", "date", "slot"],
        set_={
            "in_chairs": SiteSlotLoad.in_chairs + in_chairs,
            "starts": SiteSlotLoad.starts + starts,
            "max_in_chairs": stmt.excluded.max_in_chairs,
            "max_starts": stmt.excluded.max_starts,
        },
    )
    session.execute(stmt)


def _conflict_message(exc: IntegrityError, site: Site, day: dt.date, start_min: int) -> str:
    text_ = str(exc.orig).lower()
    when = f"{site.name} on {day} at {min_to_hhmm(start_min)}"
    if "chair_slot" in text_:
        return f"that chair is already booked at {when}"
    if "nurse_starts" in text_:
        return f"the nurses on duty cannot start another infusion in that slot at {when}"
    if "nurse_load" in text_:
        return f"the nurses on duty already have as many patients in chairs as they can watch at {when}"
    if "patient_day" in text_ or "appointment.patient_id, appointment.date" in text_:
        return f"the patient already has a session on {day}"
    return f"the booking conflicts with another at {when}"


def _hold(session: Session, appt: Appointment, site: Site) -> None:
    """Take the chair's slots and the nurse capacity for a booked appointment (refused if already taken)."""
    rules = policy()
    _open, _close, max_in, max_starts = _capacity(site, appt.date)
    slots = _slots(appt.start_min, appt.duration_min, rules.slot_minutes)
    for slot in slots:
        session.add(ChairSlot(chair_id=appt.chair_id, date=appt.date, slot=slot, appointment_id=appt.id))
    session.flush()
    for k, slot in enumerate(slots):
        _add_load(session, site.id, appt.date, slot, 1, 1 if k == 0 else 0, (max_in, max_starts))


def _release(session: Session, appt: Appointment) -> None:
    rules = policy()
    session.execute(delete(ChairSlot).where(ChairSlot.appointment_id == appt.id))
    slots = list(_slots(appt.start_min, appt.duration_min, rules.slot_minutes))
    session.execute(
        update(SiteSlotLoad)
        .where(
            SiteSlotLoad.site_id == appt.site_id, SiteSlotLoad.date == appt.date, SiteSlotLoad.slot.in_(slots)
        )
        .values(in_chairs=SiteSlotLoad.in_chairs - 1)
    )
    session.execute(
        update(SiteSlotLoad)
        .where(
            SiteSlotLoad.site_id == appt.site_id,
            SiteSlotLoad.date == appt.date,
            SiteSlotLoad.slot == slots[0],
        )
        .values(starts=SiteSlotLoad.starts - 1)
    )


def _validate_slot(site: Site, chair: Chair, day: dt.date, start_min: int, duration_min: int) -> None:
    rules = policy()
    open_min, close_min, _max_in, _max_starts = _capacity(site, day)
    if start_min % rules.slot_minutes:
        raise InvalidInput(
            f"starts: {min_to_hhmm(start_min)} is not on the {rules.slot_minutes}-minute grid", "starts"
        )
    rounded = math.ceil(duration_min / rules.slot_minutes) * rules.slot_minutes
    if start_min < open_min or start_min + rounded > close_min:
        raise InvalidInput(
            f"starts: a {duration_min}-minute session from {min_to_hhmm(start_min)} does not fit "
            f"{site.name}'s hours {min_to_hhmm(open_min)}-{min_to_hhmm(close_min)} on {day}",
            "starts",
        )
    if chair.site_id != site.id or not chair.active:
        raise InvalidInput(f"chairs: chair {chair.label} is not an active chair of {site.name}", "chairs")


def _book_sessions(
    session: Session,
    principal: Principal,
    course: Course,
    placements: list[tuple[CourseSession, Site, Chair, dt.date, int]],
    source: str,
) -> list[Appointment]:
    """Book every session of a course or none (savepoint): the database refuses any clash."""
    for cs, site, chair, day, start_min in placements:
        _validate_slot(site, chair, day, start_min, cs.duration_min)
    gap_lo, gap_hi = policy().multi_day_gap_days
    for (_a, site_a, _c, day_a, _s), (_b, site_b, _d, day_b, _t) in itertools.pairwise(placements):
        if site_a.id != site_b.id:
            raise InvalidInput("site: all days of a course are given at the same centre", "site")
        if not gap_lo <= (day_b - day_a).days <= gap_hi:
            raise InvalidInput(f"dates: days of a course must be {gap_lo}-{gap_hi} days apart", "dates")
    booked: list[Appointment] = []
    current = ("", dt.date.min, 0)
    try:
        with session.begin_nested():
            for cs, site, chair, day, start_min in placements:
                current = (site.name, day, start_min)
                appt = Appointment(
                    course_session_id=cs.id,
                    patient_id=course.patient_id,
                    site_id=site.id,
                    chair_id=chair.id,
                    date=day,
                    start_min=start_min,
                    duration_min=cs.duration_min,
                    status="booked",
                    source=source,
                    created_by_user_id=principal.user_id,
                )
                session.add(appt)
                session.flush()
                _hold(session, appt, site)
                booked.append(appt)
            course.status = "booked"
            session.flush()
    except IntegrityError as exc:
        site_name, day, start_min = current
        site = next(p[1] for p in placements if p[1].name == site_name)
        raise Conflict(f"Not booked: {_conflict_message(exc, site, day, start_min)}.", "slot") from None
    for appt in booked:
        audit.record(
            session,
            principal.actor,
            "appointment.book",
            "appointment",
            appt.id,
            patient_id=appt.patient_id,
            detail={
                "course_id": course.id,
                "site_id": appt.site_id,
                "date": appt.date.isoformat(),
                "source": source,
            },
        )
    return booked


def suggest(
    session: Session, principal: Principal, course_id: int, top: int | None = None
) -> list[SlotOptionOut]:
    """The best options for a waiting course among everything booked in its window."""
    course = _load_course(session, principal, course_id)
    if course.status != "waiting":
        raise InvalidInput(f"course_id: course {course.id} is {course.status}, not waiting", "course_id")
    start = max(course.earliest, utcnow().date())
    if start > course.latest:
        raise InvalidInput(
            f"course_id: the window of course {course.id} ended on {course.latest}", "course_id"
        )
    gap_hi = policy().multi_day_gap_days[1]
    n_sessions = len(_sessions(session, course.id))
    days = (course.latest - start).days + 1 + gap_hi * (n_sessions - 1)
    imap = build_instance(session, start, days, only_course_ids=set())
    centres = _centres(session)
    preferred = _patient_sites(session, {course.patient_id}, {s.id: s.code for s in centres})
    sites = _course_sites(session, course, preferred[course.patient_id], centres)
    if not sites:
        raise InvalidInput("course_id: the patient is seen at home only; no chair to book", "course_id")
    sites = [code for code in sites if scope.sees_site(principal, imap.site_ids[code])]
    if not sites:
        raise InvalidInput("course_id: none of the patient's centres is yours to book", "course_id")
    docs = _course_session_docs(session, course, sites, start, imap.instance.end_date)
    from igflow.scheduling.models import Session as ContractSession

    new = [ContractSession.model_validate(d) for d in docs]
    index = SlotIndex(imap.instance, _booked_schedule(imap))
    options = index.suggest(new, top=top or policy().suggestions)
    audit.record(
        session,
        principal.actor,
        "course.suggest",
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={"options": len(options)},
    )
    session.commit()
    return [
        SlotOptionOut(
            site=o.site,
            dates=list(o.dates),
            starts=list(o.starts),
            chairs=list(o.chairs),
            target_distance_days=o.target_distance_days,
            preference_misses=o.preference_misses,
            peak_increase=o.peak_increase,
        )
        for o in options
    ]


def book(session: Session, principal: Principal, course_id: int, data: BookIn) -> CourseOut:
    course = _load_course(session, principal, course_id)
    if course.status != "waiting":
        raise Conflict(f"course_id: course {course.id} is {course.status}, not waiting", "course_id")
    sessions = _sessions(session, course.id)
    if not len(data.dates) == len(data.starts) == len(data.chairs) == len(sessions):
        raise InvalidInput(
            f"dates: give one date, start and chair for each of the course's {len(sessions)} sessions",
            "dates",
        )
    site = session.execute(
        select(Site).where(Site.code == data.site, Site.kind == "centre")
    ).scalar_one_or_none()
    if site is None:
        raise InvalidInput(f"site: unknown centre '{data.site}'", "site")
    scope.require_own_site(principal, site.id, "site")
    chairs = _active_chairs(site)
    placements = []
    for cs, day, start, number in zip(sessions, data.dates, data.starts, data.chairs, strict=True):
        if (
            not course.earliest
            <= day
            <= course.latest + dt.timedelta(days=policy().multi_day_gap_days[1] * (cs.day_index - 1))
        ):
            raise InvalidInput(
                f"dates: {day} is outside the course window {course.earliest} to {course.latest}", "dates"
            )
        if not 1 <= number <= len(chairs):
            raise InvalidInput(f"chairs: {site.name} has chairs 1 to {len(chairs)}", "chairs")
        try:
            start_min = hhmm_to_min(start)
        except ValueError:
            raise InvalidInput(f"starts: '{start}' is not a time HH:MM", "starts") from None
        placements.append((cs, site, chairs[number - 1], day, start_min))
    _book_sessions(session, principal, course, placements, "booking")
    session.commit()
    return course_out(session, course)


def appointment_out(session: Session, appt: Appointment) -> AppointmentOut:
    site = session.get(Site, appt.site_id)
    chair = session.get(Chair, appt.chair_id)
    cs = session.get(CourseSession, appt.course_session_id)
    assert site is not None and chair is not None and cs is not None
    return AppointmentOut(
        id=appt.id,
        course_id=cs.course_id,
        course_session_id=appt.course_session_id,
        patient_id=appt.patient_id,
        site_id=appt.site_id,
        site_code=site.code,
        chair_id=appt.chair_id,
        chair_label=chair.label,
        date=appt.date,
        start=min_to_hhmm(appt.start_min),
        end=min_to_hhmm(appt.start_min + appt.duration_min),
        duration_min=appt.duration_min,
        status=appt.status,
        status_reason=appt.status_reason,
        source=appt.source,
    )


def change_status(
    session: Session, principal: Principal, appointment_id: int, status: str, reason: str
) -> tuple[AppointmentOut, list[dict[str, Any]]]:
    """Cancel or mark a no-show: frees the chair and nurse capacity, puts the course back to waiting, and
    suggests the freed time to waiting courses (everyone else stays where they are)."""
    appt = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    if appt.status != "booked":
        raise Conflict(f"status: the appointment is already {appt.status}", "status")
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    siblings = list(
        session.execute(
            select(Appointment)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(CourseSession.course_id == course.id, Appointment.status == "booked")
        ).scalars()
    )
    # A course is whole or absent: cancelling one day releases its remaining days too.
    for other in siblings:
        _release(session, other)
        other.status = status if other.id == appt.id else "cancelled"
        other.status_reason = (
            reason if other.id == appt.id else f"course changed: appointment {appt.id} {status}"
        )
        other.changed_at = utcnow()
    course.status = "waiting"
    if course.latest < appt.date:
        course.latest = appt.date
    session.flush()
    audit.record(
        session,
        principal.actor,
        f"appointment.{status}",
        "appointment",
        appt.id,
        patient_id=appt.patient_id,
        detail={"course_id": course.id, "released": [a.id for a in siblings]},
    )
    session.commit()
    repair = _repair_suggestions(session, principal, appt, exclude_course=course.id)
    return appointment_out(session, appt), repair


def _repair_suggestions(
    session: Session, principal: Principal, freed: Appointment, exclude_course: int
) -> list[dict[str, Any]]:
    """Waiting courses that could use the freed day at that centre, with their best option there."""
    out: list[dict[str, Any]] = []
    waiting = list(
        session.execute(
            select(Course)
            .where(
                Course.status == "waiting",
                Course.earliest <= freed.date,
                Course.latest >= freed.date,
                Course.id != exclude_course,
            )
            .order_by(Course.priority, Course.target)
            .limit(20)
        ).scalars()
    )
    site = session.get(Site, freed.site_id)
    assert site is not None
    for course in waiting:
        try:
            options = suggest(session, principal, course.id, top=10)
        except (InvalidInput, NotFound):
            continue
        on_day = [o for o in options if o.site == site.code and o.dates[0] == freed.date]
        if on_day:
            out.append(
                {
                    "course_id": course.id,
                    "patient_id": course.patient_id,
                    "priority": course.priority,
                    "option": on_day[0].model_dump(mode="json"),
                }
            )
        if len(out) >= policy().suggestions:
            break
    return out


# --- planning runs ------------------------------------------------------------------------------------


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
            },
        },
        schedule=optimised.model_dump(mode="json"),
        figures={"optimiser": _figures(imap.instance, optimised), "greedy": _figures(imap.instance, greedy)},
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


def publish(session: Session, principal: Principal, run_id: int) -> PlanningRun:
    """Book the draft's proposals course by course; a course that clashes with a booking made since the run
    is reported and left waiting, never half-booked."""
    run = get_run(session, principal, run_id)
    if run.status != "draft":
        raise Conflict(f"planning run {run.id} is {run.status}, not a draft", "status")
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
    for course_id, items in sorted(by_course.items()):
        course = session.get(Course, course_id)
        assert course is not None
        if course.status == "booked":
            # A freed course: release its current appointments first, then book the new places.
            for appt in session.execute(
                select(Appointment)
                .join(CourseSession, CourseSession.id == Appointment.course_session_id)
                .where(CourseSession.course_id == course.id, Appointment.status == "booked")
            ).scalars():
                _release(session, appt)
                appt.status = "cancelled"
                appt.status_reason = f"moved by planning run {run.id}"
                appt.changed_at = utcnow()
            course.status = "waiting"
            session.flush()
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
        try:
            _book_sessions(session, principal, course, placements, f"planning-run {run.id}")
            booked.append(course_id)
        except (Conflict, InvalidInput) as exc:
            problems.append({"course_id": course_id, "problem": exc.message})
    run.status = "published"
    run.published_at = utcnow()
    run.published_by_user_id = principal.user_id
    run.result = {"booked_courses": booked, "not_booked": problems, "freed": freed_ids}
    audit.record(
        session,
        principal.actor,
        "planning.publish",
        "planning_run",
        run.id,
        detail={"booked": len(booked), "problems": len(problems)},
    )
    session.commit()
    return run


def discard(session: Session, principal: Principal, run_id: int) -> PlanningRun:
    run = get_run(session, principal, run_id)
    if run.status != "draft":
        raise Conflict(f"planning run {run.id} is {run.status}, not a draft", "status")
    run.status = "discarded"
    audit.record(session, principal.actor, "planning.discard", "planning_run", run.id)
    session.commit()
    return run


# --- views: chair board, week load, calendar ----------------------------------------------------------------


def chair_board(session: Session, principal: Principal, site_id: int, day: dt.date) -> dict[str, Any]:
    """Chairs × time for one centre and date: each booked appointment with its patient and indication."""
    scope.require_site(principal, site_id)
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    rows = session.execute(
        select(Appointment, Course, Order)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Order, Order.id == Course.order_id)
        .where(Appointment.site_id == site.id, Appointment.date == day, Appointment.status != "cancelled")
        .order_by(Appointment.start_min)
    ).all()
    names = patients_service.display_names(session, {r[0].patient_id for r in rows})
    appointments = [
        {
            "id": a.id,
            "chair_id": a.chair_id,
            "patient_id": a.patient_id,
            "patient": names.get(a.patient_id, ""),
            "indication": o.indication_id,
            "product": o.product_id,
            "start_min": a.start_min,
            "duration_min": a.duration_min,
            "status": a.status,
            "course_id": c.id,
            "day_index": next(
                cs.day_index for cs in _sessions(session, c.id) if cs.id == a.course_session_id
            ),
            "days": len(_sessions(session, c.id)),
        }
        for a, c, o in rows
    ]
    audit.record(
        session,
        principal.actor,
        "chair_board.read",
        "site",
        site.id,
        detail={"date": day.isoformat(), "appointment_ids": [a["id"] for a in appointments]},
    )
    session.commit()
    return {
        "site": site,
        "date": day,
        "open_min": hours.open_time.hour * 60 + hours.open_time.minute if hours else None,
        "close_min": hours.close_time.hour * 60 + hours.close_time.minute if hours else None,
        "chairs": site.chairs,
        "appointments": appointments,
        "slot_minutes": policy().slot_minutes,
    }


def week_load(session: Session, principal: Principal, site_id: int, monday: dt.date) -> list[dict[str, Any]]:
    """Per day of the week: patients in chairs per slot against the nurse and chair capacity."""
    scope.require_site(principal, site_id)
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    slot_minutes = policy().slot_minutes
    chairs = len(_active_chairs(site))
    out = []
    for k in range(7):
        day = monday + dt.timedelta(days=k)
        try:
            open_min, close_min, max_in, _max_starts = _capacity(site, day)
        except InvalidInput:
            out.append({"date": day, "open": False})
            continue
        loads = dict(
            session.execute(
                select(SiteSlotLoad.slot, SiteSlotLoad.in_chairs).where(
                    SiteSlotLoad.site_id == site.id, SiteSlotLoad.date == day
                )
            ).all()
        )
        slots = list(range(open_min // slot_minutes, close_min // slot_minutes))
        series = [(min_to_hhmm(s * slot_minutes), int(loads.get(s, 0))) for s in slots]
        out.append(
            {
                "date": day,
                "open": True,
                "capacity": min(chairs, max_in),
                "chairs": chairs,
                "nurse_capacity": max_in,
                "series": series,
                "peak": max((v for _t, v in series), default=0),
                "chair_minutes": sum(v for _t, v in series) * slot_minutes,
            }
        )
    return out


def _ics_escape(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 line folding at 75 octets."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, current = [], b""
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += b
    parts.append(current.decode())
    return "\r\n ".join(parts)


def ics_for_patient(session: Session, principal: Principal, patient_id: int, host: str) -> str:
    """The patient's booked appointments as an iCalendar file, with preparation advice."""
    patients_service.check_access(session, principal, patient_id)
    rules = policy()
    appts = list(
        session.execute(
            select(Appointment)
            .where(Appointment.patient_id == patient_id, Appointment.status == "booked")
            .order_by(Appointment.date, Appointment.start_min)
        ).scalars()
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//igflow//appointments//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for appt in appts:
        site = session.get(Site, appt.site_id)
        assert site is not None
        zone = ZoneInfo(site.timezone)
        start_local = dt.datetime.combine(appt.date, dt.time()) + dt.timedelta(minutes=appt.start_min)
        begins = start_local.replace(tzinfo=zone).astimezone(dt.UTC)
        ends = begins + dt.timedelta(minutes=appt.duration_min)
        hours = f"{appt.duration_min / 60:.1f}".rstrip("0").rstrip(".")
        lines += [
            "BEGIN:VEVENT",
            f"UID:igflow-appointment-{appt.id}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{begins.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{ends.strftime('%Y%m%dT%H%M%SZ')}",
            f"SUMMARY:{_ics_escape('Immunoglobulin infusion at ' + site.name)}",
            f"LOCATION:{_ics_escape(site.address or site.name)}",
            f"DESCRIPTION:{_ics_escape(rules.ics_preparation.format(hours=hours))}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    audit.record(
        session,
        principal.actor,
        "appointment.calendar",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"count": len(appts)},
    )
    session.commit()
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def ready_to_schedule(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Active orders whose current plan is verified and that have no course waiting or booked."""
    query = select(Order).where(Order.status == "active").order_by(Order.id)
    orders = list(session.execute(scope.rows(query, principal, Order)).scalars())
    out = []
    for order in orders:
        busy = session.execute(
            select(Course.id).where(Course.order_id == order.id, Course.status.in_(("waiting", "booked")))
        ).first()
        if busy is not None:
            continue
        verified = orders_service.current_verified_plan(session, order.id)
        if verified is None:
            continue
        out.append(
            {
                "order_id": order.id,
                "patient_id": order.patient_id,
                "indication": order.indication_id,
                "phase": order.phase,
                "plan_version": verified[0].version,
                "days": len(verified[0].plan.get("days") or []),
            }
        )
    session.commit()
    return out


def upcoming_for_patient(session: Session, patient_id: int) -> list[dict[str, Any]]:
    """The patient's booked appointments from today on (for their own page; the caller audits the read)."""
    rows = session.execute(
        select(Appointment, Site)
        .join(Site, Site.id == Appointment.site_id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == "booked",
            Appointment.date >= utcnow().date(),
        )
        .order_by(Appointment.date, Appointment.start_min)
    ).all()
    return [
        {
            "date": a.date,
            "start": min_to_hhmm(a.start_min),
            "end": min_to_hhmm(a.start_min + a.duration_min),
            "hours": round(a.duration_min / 60, 1),
            "site": s.name,
            "address": s.address,
        }
        for a, s in rows
    ]
