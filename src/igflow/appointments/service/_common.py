"""What every use case of the appointments capability shares: the scheduling policy, the site's today,
and small loaders (a course's sessions, a course the principal may see, centres and their capacity).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Course, CourseSession
from igflow.db import utcnow
from igflow.errors import InvalidInput, NotFound
from igflow.patients import service as patients_service
from igflow.security import scope
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
    overdue_window_days: int
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
        overdue_window_days=int(data["overdue_window_days"]),
        planning_time_limit_s=float(data["planning_time_limit_s"]),
        suggestions=int(data["suggestions"]),
        ics_organiser=str(data["ics"]["organiser_name"]),
        ics_preparation=str(data["ics"]["preparation"]).strip(),
    )


def site_today(site_timezone: str) -> dt.date:
    return utcnow().astimezone(ZoneInfo(site_timezone)).date()


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


def course_row(session: Session, principal: Principal, course_id: int) -> Course:
    """The course row, for the pages' read-only helpers (site scope and patient access checked)."""
    return _load_course(session, principal, course_id)


def _centres(session: Session) -> list[Site]:
    return list(
        session.execute(
            select(Site).where(Site.kind == "centre", Site.active.is_(True)).order_by(Site.id)
        ).scalars()
    )


def _active_chairs(site: Site) -> list[Chair]:
    return [c for c in site.chairs if c.active]


def closed_days(site: Site, start: dt.date, end: dt.date) -> set[dt.date]:
    """The dates from ``start`` to ``end`` when the site gives no infusion: a weekday it does not open or
    has no nurse on duty, or one of its closed dates."""
    hours = {h.weekday: h for h in site.hours}
    closed = {c.date for c in site.closed_dates}
    out: set[dt.date] = set()
    day = start
    while day <= end:
        h = hours.get(day.weekday())
        if h is None or h.nurses <= 0 or day in closed:
            out.add(day)
        day += dt.timedelta(days=1)
    return out


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
