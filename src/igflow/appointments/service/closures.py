"""Closing a centre for a date range in one step: what it affects, the closure itself (closed dates, the
courses booked there released), the re-plan into the other centres (a planning run with the closed dates
as a constraint, published like any other), and afterwards what was placed and what was not, by clinical
priority.

A closure covers a whole centre. Closing one chair or one nurse's day for given dates is not offered: the
scheduling contract knows chairs and nurses per site and weekday only, not per date, so a planning run
could not keep to it (take a chair out of use on the Sites page instead).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession, SiteClosure
from igflow.appointments.service.booking import _lock_course, _unbook
from igflow.appointments.service.courses import appointment_out
from igflow.appointments.states import COURSE
from igflow.db import utcnow
from igflow.errors import InvalidInput, NotFound
from igflow.home.models import HomeDelivery
from igflow.patients import service as patients_service
from igflow.patients.models import Patient
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import ClosedDate, Site

# How far past a closure's last day the re-plan looks for new places (scheduling policy: three weeks, the
# longest first-course window, so a maintenance course may also move a little later within its window).
REPLAN_AFTER_DAYS = 21
# Longest closure one step takes (a longer one is a change of the network, made on the Sites page).
MAX_CLOSURE_DAYS = 31
_OPEN_DELIVERY = ("planned", "packed")


def _centre(session: Session, principal: Principal, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None or site.kind != "centre" or not scope.sees_site(principal, site.id):
        raise NotFound(f"site {site_id} not found", "site_id")
    return site


def _check_dates(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise InvalidInput(f"end_date: {end} is before the first closed day {start}", "end_date")
    if start < utcnow().date():
        raise InvalidInput(f"start_date: {start} is in the past", "start_date")
    if (end - start).days + 1 > MAX_CLOSURE_DAYS:
        raise InvalidInput(
            f"end_date: a closure in one step is at most {MAX_CLOSURE_DAYS} days; for longer, change the "
            "centre's opening hours on the Sites page",
            "end_date",
        )


def _affected(session: Session, site: Site, start: dt.date, end: dt.date) -> list[Appointment]:
    return list(
        session.execute(
            select(Appointment)
            .where(
                Appointment.site_id == site.id,
                Appointment.status == "booked",
                Appointment.date >= start,
                Appointment.date <= end,
            )
            .order_by(Appointment.date, Appointment.start_min)
        ).scalars()
    )


def _deliveries(session: Session, site: Site, start: dt.date, end: dt.date) -> list[HomeDelivery]:
    """Deliveries the closed centre was to pack and send for days up to a week past the closure."""
    return list(
        session.execute(
            select(HomeDelivery)
            .where(
                HomeDelivery.from_site_id == site.id,
                HomeDelivery.status.in_(_OPEN_DELIVERY),
                HomeDelivery.needed_by >= start,
                HomeDelivery.needed_by <= end + dt.timedelta(days=7),
            )
            .order_by(HomeDelivery.needed_by)
        ).scalars()
    )


def _course_of(session: Session, appt: Appointment) -> Course:
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    return course


def preview(
    session: Session, principal: Principal, site_id: int, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """What closing the centre for these dates affects, for the confirmation page. Writes nothing but the
    audit of the patient data it shows."""
    site = _centre(session, principal, site_id)
    _check_dates(start, end)
    appointments = _affected(session, site, start, end)
    rows = []
    for appt in appointments:
        course = _course_of(session, appt)
        rows.append({"appointment": appointment_out(session, appt), "priority": course.priority})
    deliveries = _deliveries(session, site, start, end)
    names = patients_service.display_names(
        session, [a.patient_id for a in appointments] + [d.patient_id for d in deliveries]
    )
    audit.record(
        session,
        principal.actor,
        "site.closure.preview",
        "site",
        site.id,
        detail={"start": start.isoformat(), "end": end.isoformat(), "appointments": len(rows)},
    )
    session.commit()
    return {
        "site": site,
        "start": start,
        "end": end,
        "appointments": sorted(rows, key=lambda r: (r["priority"], r["appointment"].date)),
        "deliveries": deliveries,
        "names": names,
        "already_closed": sorted(c.date for c in site.closed_dates if start <= c.date <= end),
    }


def close(
    session: Session, principal: Principal, site_id: int, start: dt.date, end: dt.date, reason: str
) -> SiteClosure:
    """Close the centre: each date a closed date, and every course booked there on those dates released
    from its first closed day on (the days before stay; the rest may continue at another centre),
    audited. The caller queues the re-plan
    (:func:`replan_params`) and records its job on the closure."""
    site = _centre(session, principal, site_id)
    _check_dates(start, end)
    if not reason.strip():
        raise InvalidInput("reason: say why the centre closes (the patients are told)", "reason")
    closed = {c.date for c in site.closed_dates}
    day = start
    while day <= end:
        if day not in closed:
            session.add(ClosedDate(site_id=site.id, date=day, reason=reason.strip()[:200]))
        day += dt.timedelta(days=1)
    when = utcnow()
    released: list[int] = []
    courses: list[int] = []
    for appt in _affected(session, site, start, end):  # in date order: the course's first closed day
        course = _course_of(session, appt)
        if course.id in courses:
            continue
        course = _lock_course(session, course.id)
        # Its days from the first closed one on move; the days before stay (given, or booked while the
        # centre is still open), and the rest continue at another centre within the course's gaps.
        days = session.execute(
            select(Appointment)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(
                CourseSession.course_id == course.id,
                Appointment.status == "booked",
                Appointment.date >= appt.date,
            )
            .order_by(Appointment.id)
        ).scalars()
        for day_appt in list(days):
            _unbook(
                session, day_appt, "cancelled", f"{site.name} closed {start} to {end}: {reason.strip()}", when
            )
            released.append(day_appt.id)
        if course.status == "booked":
            COURSE.move(session, course, "waiting", expected="booked")
        courses.append(course.id)
    told = _tell_patients(session, site, start, end, reason.strip(), courses)
    closure = SiteClosure(
        site_id=site.id,
        start_date=start,
        end_date=end,
        reason=reason.strip(),
        released_appointment_ids=released,
        released_course_ids=courses,
        created_by_user_id=principal.user_id,
    )
    session.add(closure)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "site.closure",
        "site_closure",
        closure.id,
        detail={
            "site_id": site.id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "released_appointments": released,
            "released_courses": courses,
            "messages": told,
        },
    )
    session.commit()
    return closure


def _tell_patients(
    session: Session, site: Site, start: dt.date, end: dt.date, reason: str, course_ids: list[int]
) -> int:
    """A message to each patient whose course was released, through the outbox (email or SMS as they
    allow); those igflow cannot write to are listed on the closure page to be called."""
    from igflow.messages.service import notify_patient

    sent = 0
    for patient_id in sorted({c.patient_id for c in (session.get(Course, i) for i in course_ids) if c}):
        sent += len(
            notify_patient(
                session,
                patient_id,
                "closure",
                f"{site.name} is closed from {start:%d %B} to {end:%d %B}",
                (
                    f"{site.name} is closed from {start:%A %d %B} to {end:%A %d %B %Y} ({reason}). Your "
                    "infusion appointment there on those days cannot go ahead. We are finding you a new "
                    "appointment at another of our centres and will tell you the day and time. Call us with "
                    "any question."
                ),
                f"closure:{site.id}:{start.isoformat()}:patient:{patient_id}",
            )
        )
    return sent


def replan_params(closure: SiteClosure) -> dict[str, Any]:
    """The planning job's parameters for a closure's re-plan: from its first day (or today) to three weeks
    past its last, with the closed dates in the instance as closed dates and the released courses free to
    go to any open centre."""
    start = max(closure.start_date, utcnow().date())
    days = (closure.end_date - start).days + 1 + REPLAN_AFTER_DAYS
    return {
        "start_date": start.isoformat(),
        "days": days,
        "time_limit_s": None,
        "seed": 0,
        "free_appointment_ids": [],
        # the released courses may go to any open centre, the patient's own first
        "any_centre_course_ids": list(closure.released_course_ids),
    }


def record_job(session: Session, closure_id: int, job_id: int) -> None:
    closure = session.get(SiteClosure, closure_id)
    assert closure is not None
    closure.job_id = job_id
    session.commit()


def list_closures(session: Session, principal: Principal) -> list[SiteClosure]:
    query = scope.rows(select(SiteClosure).order_by(SiteClosure.id.desc()).limit(50), principal, SiteClosure)
    return list(session.execute(query).scalars())


def view(session: Session, principal: Principal, closure_id: int) -> dict[str, Any]:
    """A closure and where each released course stands now: booked again (where and when), or still
    waiting, most urgent first; with the patients to tell."""
    closure = scope.get(session, principal, SiteClosure, closure_id, "closure")
    site = session.get(Site, closure.site_id)
    assert site is not None
    placed: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    patient_ids: list[int] = []
    for course_id in closure.released_course_ids:
        course = session.get(Course, course_id)
        if course is None:
            continue
        patient_ids.append(course.patient_id)
        booked = session.execute(
            select(Appointment)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(CourseSession.course_id == course.id, Appointment.status.in_(("booked", "completed")))
            .order_by(Appointment.date)
        ).scalars()
        now = [appointment_out(session, a) for a in booked]
        row = {"course": course, "appointments": now}
        (placed if course.status != "waiting" else waiting).append(row)
    names = patients_service.display_names(session, patient_ids)
    from igflow.messages.models import OutboundMessage

    told = {
        pid
        for (pid,) in session.execute(
            select(OutboundMessage.patient_id).where(
                OutboundMessage.kind == "closure",
                OutboundMessage.dedupe_key.like(f"closure:{site.id}:{closure.start_date.isoformat()}:%"),
            )
        ).all()
    }
    contacts = {
        pid: phone
        for pid, phone in session.execute(
            select(Patient.id, Patient.phone).where(Patient.id.in_(set(patient_ids)))
        ).all()
    }
    audit.record(
        session,
        principal.actor,
        "site.closure.read",
        "site_closure",
        closure.id,
        detail={"patients": len(set(patient_ids))},
    )
    session.commit()
    return {
        "closure": closure,
        "site": site,
        "placed": placed,
        "waiting": sorted(waiting, key=lambda r: (r["course"].priority, r["course"].target)),
        "names": names,
        "contacts": contacts,
        "told": told,
    }


def tell_new_places(session: Session, principal: Principal, closure_id: int) -> int:
    """A message to each patient placed again after the closure with their new days, times and centres
    (once per new appointment set); returns how many messages were written."""
    from igflow.messages.service import notify_patient

    view_ = view(session, principal, closure_id)
    closure = view_["closure"]
    written = 0
    for row in view_["placed"]:
        course = row["course"]
        upcoming = [a for a in row["appointments"] if a.status == "booked"]
        if not upcoming:
            continue
        lines = "\n".join(f"- {a.date:%A %d %B %Y} at {a.start}, {a.site_name}" for a in upcoming)
        key = "closure-new:" + str(closure.id) + ":" + ",".join(str(a.id) for a in upcoming)
        written += len(
            notify_patient(
                session,
                course.patient_id,
                "closure_new_place",
                "Your new infusion appointment",
                f"Because {view_['site'].name} is closed, your infusion appointments are now:\n{lines}\n\n"
                "Call us if these do not suit you.",
                key,
            )
        )
    audit.record(
        session,
        principal.actor,
        "site.closure.notify",
        "site_closure",
        closure.id,
        detail={"messages": written},
    )
    session.commit()
    return written
