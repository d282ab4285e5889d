"""A patient's standing scheduling wishes and the dates they cannot come: captured by a scheduler,
audited, and used by suggestions and planning runs.

The centres a patient may be seen at, in order, are the patient's sites (set at registration). The time
of day goes into the scheduling contract as each session's ``preferred_start`` (a soft wish the solver
counts); the contract has no weekday wish, so suggestions rank the options on chosen weekdays first and
planning runs count the sessions they place on other weekdays (:func:`weekday_misses`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession, SchedulePreference, UnavailableDate
from igflow.db import utcnow
from igflow.errors import InvalidInput, NotFound
from igflow.patients import service as patients_service
from igflow.scheduling.models import hhmm_to_min, min_to_hhmm
from igflow.security import audit
from igflow.security.principal import Principal

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PreferenceIn(BaseModel):
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    preferred_from: str = ""  # HH:MM, or empty for any time
    preferred_to: str = ""
    same_time_every_cycle: bool = False
    note: str = Field(default="", max_length=400)

    @model_validator(mode="after")
    def _check(self) -> PreferenceIn:
        if any(not 0 <= d <= 6 for d in self.weekdays) or len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("weekdays: choose each weekday at most once")
        if bool(self.preferred_from) != bool(self.preferred_to):
            raise ValueError("preferred_from: give both the earliest and the latest start, or neither")
        if self.preferred_from:
            try:
                lo, hi = hhmm_to_min(self.preferred_from), hhmm_to_min(self.preferred_to)
            except ValueError:
                raise ValueError("preferred_from: give times as HH:MM, for example 09:30") from None
            if lo >= hi:
                raise ValueError(
                    f"preferred_to: the latest start {self.preferred_to} must be after {self.preferred_from}"
                )
        return self


class PreferenceOut(BaseModel):
    patient_id: int
    weekdays: list[int]
    weekday_names: list[str]
    preferred_from: str
    preferred_to: str
    same_time_every_cycle: bool
    note: str
    unavailable: list[dict[str, Any]]
    summary: str


def _check(session: Session, principal: Principal, patient_id: int) -> None:
    try:
        patients_service.check_access(session, principal, patient_id)
    except NotFound:
        raise NotFound(f"patient {patient_id} not found") from None


def _row(session: Session, patient_id: int) -> SchedulePreference | None:
    return session.execute(
        select(SchedulePreference).where(SchedulePreference.patient_id == patient_id)
    ).scalar_one_or_none()


def summary(row: SchedulePreference | None) -> str:
    """The wishes in words ("Tuesday or Thursday, starting 09:00-11:00")."""
    if row is None:
        return "no standing wishes"
    parts = []
    if row.weekdays:
        parts.append(" or ".join(WEEKDAY_NAMES[d] for d in sorted(row.weekdays)))
    if row.preferred_from_min is not None and row.preferred_to_min is not None:
        parts.append(f"starting {min_to_hhmm(row.preferred_from_min)}-{min_to_hhmm(row.preferred_to_min)}")
    if row.same_time_every_cycle:
        parts.append("the same start time as the last cycle")
    return ", ".join(parts) or "no standing wishes"


def read(session: Session, principal: Principal, patient_id: int) -> PreferenceOut:
    _check(session, principal, patient_id)
    row = _row(session, patient_id)
    away = session.execute(
        select(UnavailableDate)
        .where(UnavailableDate.patient_id == patient_id, UnavailableDate.date >= utcnow().date())
        .order_by(UnavailableDate.date)
    ).scalars()
    audit.record(
        session,
        principal.actor,
        "patient.schedule_preferences.read",
        "patient",
        patient_id,
        patient_id=patient_id,
    )
    session.commit()
    return PreferenceOut(
        patient_id=patient_id,
        weekdays=sorted(row.weekdays) if row else [],
        weekday_names=[WEEKDAY_NAMES[d] for d in sorted(row.weekdays)] if row else [],
        preferred_from=min_to_hhmm(row.preferred_from_min)
        if row and row.preferred_from_min is not None
        else "",
        preferred_to=min_to_hhmm(row.preferred_to_min) if row and row.preferred_to_min is not None else "",
        same_time_every_cycle=bool(row and row.same_time_every_cycle),
        note=row.note if row else "",
        unavailable=[{"id": u.id, "date": u.date, "reason": u.reason} for u in away],
        summary=summary(row),
    )


def save(session: Session, principal: Principal, patient_id: int, data: PreferenceIn) -> PreferenceOut:
    _check(session, principal, patient_id)
    row = _row(session, patient_id)
    before = summary(row)
    if row is None:
        row = SchedulePreference(patient_id=patient_id)
        session.add(row)
    row.weekdays = sorted(data.weekdays)
    row.preferred_from_min = hhmm_to_min(data.preferred_from) if data.preferred_from else None
    row.preferred_to_min = hhmm_to_min(data.preferred_to) if data.preferred_to else None
    row.same_time_every_cycle = data.same_time_every_cycle
    row.note = data.note.strip()
    row.updated_by_user_id = principal.user_id
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal.actor,
        "patient.schedule_preferences.save",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"before": before, "after": summary(row)},
    )
    session.commit()
    return read(session, principal, patient_id)


def add_unavailable(
    session: Session, principal: Principal, patient_id: int, day: dt.date, reason: str
) -> PreferenceOut:
    """Record a date the patient cannot come. A session already booked that day must be cancelled on its
    course page first (that page records the date too)."""
    _check(session, principal, patient_id)
    if day < utcnow().date():
        raise InvalidInput(f"date: {day} is in the past", "date")
    booked = session.execute(
        select(Appointment.id, CourseSession.course_id)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .where(Appointment.patient_id == patient_id, Appointment.date == day, Appointment.status == "booked")
    ).first()
    if booked is not None:
        raise InvalidInput(
            f"date: the patient is booked on {day} (course {booked[1]}); cancel that day on the course page "
            "and tick 'the patient cannot come', which records the date",
            "date",
        )
    exists_ = session.execute(
        select(UnavailableDate.id).where(
            UnavailableDate.patient_id == patient_id, UnavailableDate.date == day
        )
    ).first()
    if exists_ is None:
        row = UnavailableDate(
            patient_id=patient_id, date=day, reason=reason.strip(), created_by_user_id=principal.user_id
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            principal.actor,
            "patient.unavailable_date.add",
            "patient_unavailable_date",
            row.id,
            patient_id=patient_id,
            detail={"date": day.isoformat()},
        )
    session.commit()
    return read(session, principal, patient_id)


def remove_unavailable(session: Session, principal: Principal, patient_id: int, row_id: int) -> PreferenceOut:
    _check(session, principal, patient_id)
    row = session.get(UnavailableDate, row_id)
    if row is None or row.patient_id != patient_id:
        raise NotFound(f"unavailable date {row_id} not found")
    audit.record(
        session,
        principal.actor,
        "patient.unavailable_date.remove",
        "patient_unavailable_date",
        row.id,
        patient_id=patient_id,
        detail={"date": row.date.isoformat()},
    )
    session.delete(row)
    session.commit()
    return read(session, principal, patient_id)


def preferences_for(session: Session, patient_ids: Iterable[int]) -> dict[int, SchedulePreference]:
    ids = set(patient_ids)
    if not ids:
        return {}
    rows = session.execute(select(SchedulePreference).where(SchedulePreference.patient_id.in_(ids))).scalars()
    return {r.patient_id: r for r in rows}


def _last_start(session: Session, course: Course) -> int | None:
    """The start (minutes) of the last given or booked day of the order's earlier courses."""
    row = session.execute(
        select(Appointment.start_min)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .where(
            Course.order_id == course.order_id,
            Course.id != course.id,
            Appointment.status.in_(("booked", "completed")),
            Appointment.chair_id.is_not(None),
        )
        .order_by(Appointment.date.desc())
        .limit(1)
    ).first()
    return None if row is None else int(row[0])


def preferred_start(
    session: Session, course: Course, row: SchedulePreference | None
) -> tuple[str, str] | None:
    """The contract's ``preferred_start`` for a course's sessions: the last cycle's start when the patient
    keeps the same time every cycle (and it is known), else the chosen time of day, else none."""
    if row is None:
        return None
    if row.same_time_every_cycle:
        last = _last_start(session, course)
        if last is not None:
            return (min_to_hhmm(last), min_to_hhmm(last))
    if row.preferred_from_min is not None and row.preferred_to_min is not None:
        return (min_to_hhmm(row.preferred_from_min), min_to_hhmm(row.preferred_to_min))
    return None


def weekday_misses(dates: Iterable[dt.date], row: SchedulePreference | None) -> int:
    """How many of the dates fall on a weekday the patient did not choose (0 when they chose none)."""
    if row is None or not row.weekdays:
        return 0
    days = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in dates]
    return sum(1 for d in days if d.weekday() not in row.weekdays)


__all__ = [
    "PreferenceIn",
    "PreferenceOut",
    "add_unavailable",
    "preferences_for",
    "preferred_start",
    "read",
    "remove_unavailable",
    "save",
    "summary",
    "weekday_misses",
]
