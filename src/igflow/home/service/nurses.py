"""Home nurses: home base, skills, visits a day, weekly hours, and days off (a sick day re-routes her visits).

A nurse belongs to a home-infusion site (a site of kind ``home``); site scope applies through it. Every
change is audited with what it was before and what it became.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.home.models import HomeNurse, HomeNurseAbsence, HomeNurseShift, HomeVisit
from igflow.home.schemas import AbsenceIn, AbsenceOut, NurseIn, NurseOut, ShiftIn
from igflow.security import audit, scope
from igflow.security import service as security_service
from igflow.security.models import User
from igflow.security.permissions import Role
from igflow.security.principal import Principal
from igflow.sites.models import Site

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Days off entered at once (leave): a data-entry bound, longer leave goes in parts.
MAX_ABSENCE_DAYS = 92


def home_sites(session: Session, principal: Principal) -> list[Site]:
    """The home-infusion sites this principal may see."""
    query = select(Site).where(Site.kind == "home", Site.active.is_(True)).order_by(Site.id)
    return list(session.execute(scope.by_site(query, principal, Site.id)).scalars())


def _home_site(session: Session, principal: Principal, site_id: int | None = None) -> Site:
    """The home-infusion site a new nurse joins: ``site_id`` when given (one the principal may plan), else
    the first."""
    sites = home_sites(session, principal)
    if not sites:
        raise InvalidInput(
            "site: there is no home-infusion site you may plan; an administrator adds one on the Sites page",
            "site",
        )
    if site_id is None:
        return sites[0]
    chosen = next((s for s in sites if s.id == site_id), None)
    if chosen is None:
        raise InvalidInput(f"site_id: site {site_id} is not a home-infusion site you may plan", "site_id")
    return chosen


def list_nurses(session: Session, principal: Principal, *, active_only: bool = False) -> list[HomeNurse]:
    query = select(HomeNurse).order_by(HomeNurse.region, HomeNurse.name)
    if active_only:
        query = query.where(HomeNurse.active.is_(True))
    return list(session.execute(scope.rows(query, principal, HomeNurse)).scalars())


def get_nurse(session: Session, principal: Principal, nurse_id: int) -> HomeNurse:
    return scope.get(session, principal, HomeNurse, nurse_id, "nurse")


def nurse_for_user(session: Session, user_id: int) -> HomeNurse | None:
    return session.execute(select(HomeNurse).where(HomeNurse.user_id == user_id)).scalar_one_or_none()


def shift_problems(shifts: Sequence[ShiftIn]) -> list[tuple[int, str, str]]:
    """Every problem of the weekly hours: (index of the shift, its field, what is wrong in words)."""
    out: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    for i, shift in enumerate(shifts):
        day = WEEKDAY_NAMES[shift.weekday]
        if shift.end_min <= shift.start_min:
            out.append((i, "end_min", f"the shift on {day} must end after it starts"))
        elif shift.break_min >= shift.end_min - shift.start_min:
            out.append((i, "break_min", f"the break on {day} is as long as the shift or longer"))
        if shift.weekday in seen:
            out.append((i, "weekday", f"two shifts on {day}"))
        seen.add(shift.weekday)
    return out


def _check_shifts(data: NurseIn) -> None:
    for i, field, message in shift_problems(data.shifts)[:1]:
        raise InvalidInput(f"shifts.{i}.{field}: {message}", f"shifts.{i}.{field}")


def _apply(nurse: HomeNurse, data: NurseIn) -> None:
    nurse.name = data.name
    nurse.user_id = data.user_id
    nurse.region = data.region
    nurse.home_lat = data.home_lat
    nurse.home_lon = data.home_lon
    nurse.skills = list(data.skills)
    nurse.max_visits_per_day = data.max_visits_per_day
    nurse.active = data.active
    nurse.shifts = [
        HomeNurseShift(weekday=s.weekday, start_min=s.start_min, end_min=s.end_min, break_min=s.break_min)
        for s in data.shifts
    ]


def _staff(user: User) -> bool:
    return user.active and not user.is_service_account and user.patient_id is None


def linkable_users(session: Session) -> list[User]:
    """Sign-ins a home nurse may be linked to (her own day on her phone): active staff with the nurse role."""
    users = security_service.list_users(session)
    return [u for u in users if _staff(u) and any(r.role == Role.NURSE for r in u.roles)]


def _check_user(session: Session, data: NurseIn, nurse_id: int | None) -> None:
    if data.user_id is None:
        return
    try:
        user = security_service.get_user(session, data.user_id)
    except NotFound:
        user = None
    if user is None or not _staff(user):
        raise InvalidInput(f"user_id: there is no active staff sign-in with id {data.user_id}", "user_id")
    other = nurse_for_user(session, data.user_id)
    if other is not None and other.id != nurse_id:
        raise Conflict(f"user_id: that sign-in already belongs to nurse {other.name}", "user_id")


def _snapshot(nurse: HomeNurse) -> dict[str, Any]:
    return {
        "name": nurse.name,
        "user_id": nurse.user_id,
        "region": nurse.region,
        "home_lat": nurse.home_lat,
        "home_lon": nurse.home_lon,
        "skills": sorted(nurse.skills or []),
        "max_visits_per_day": nurse.max_visits_per_day,
        "active": nurse.active,
        "shifts": {
            WEEKDAY_NAMES[s.weekday]: {
                "start_min": s.start_min,
                "end_min": s.end_min,
                "break_min": s.break_min,
            }
            for s in sorted(nurse.shifts, key=lambda s: s.weekday)
        },
    }


def create_nurse(
    session: Session, principal: Principal, data: NurseIn, *, site_id: int | None = None
) -> HomeNurse:
    """A new home nurse at ``site_id`` (a home-infusion site the principal may plan; the first when None)."""
    _check_shifts(data)
    _check_user(session, data, None)
    nurse = HomeNurse(site_id=_home_site(session, principal, site_id).id)
    _apply(nurse, data)
    session.add(nurse)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "home_nurse.create",
        "home_nurse",
        nurse.id,
        detail={"site_id": nurse.site_id, "after": _snapshot(nurse)},
    )
    session.commit()
    return nurse


def update_nurse(session: Session, principal: Principal, nurse_id: int, data: NurseIn) -> HomeNurse:
    nurse = get_nurse(session, principal, nurse_id)
    _check_shifts(data)
    _check_user(session, data, nurse.id)
    before = _snapshot(nurse)
    session.execute(delete(HomeNurseShift).where(HomeNurseShift.nurse_id == nurse.id))
    session.expire(nurse, ["shifts"])
    _apply(nurse, data)
    session.flush()
    after = _snapshot(nurse)
    changed = [k for k in after if before[k] != after[k]]
    audit.record(
        session,
        principal.actor,
        "home_nurse.update",
        "home_nurse",
        nurse.id,
        detail={"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}},
    )
    session.commit()
    return nurse


def nurse_out(nurse: HomeNurse) -> NurseOut:
    return NurseOut.model_validate(nurse)


def visits_of_nurse_on(session: Session, nurse_id: int, day: dt.date) -> list[Appointment]:
    return list(
        session.execute(
            select(Appointment)
            .join(HomeVisit, HomeVisit.appointment_id == Appointment.id)
            .where(HomeVisit.nurse_id == nurse_id, Appointment.date == day, Appointment.status == "booked")
            .order_by(Appointment.start_min)
        ).scalars()
    )


def _take_off(
    session: Session, principal: Principal, nurse: HomeNurse, day: dt.date, reason: str
) -> list[Appointment]:
    """Record one day off; her booked visits that day lose their nurse (and her slots). Returns them."""
    session.add(
        HomeNurseAbsence(nurse_id=nurse.id, date=day, reason=reason, created_by_user_id=principal.user_id)
    )
    affected = visits_of_nurse_on(session, nurse.id, day)
    for appt in affected:
        visit = session.execute(select(HomeVisit).where(HomeVisit.appointment_id == appt.id)).scalar_one()
        visit.nurse_id = None
        visit.sequence = None
        from igflow.home.service.visits import release_nurse_slots

        release_nurse_slots(session, appt.id)
    return affected


def _days_off(session: Session, nurse_id: int, start: dt.date, end: dt.date) -> list[dt.date]:
    return sorted(d for _n, d in absences(session, [nurse_id], start, end))


def add_absence(session: Session, principal: Principal, nurse_id: int, data: AbsenceIn) -> AbsenceOut:
    """A day off (sick, leave). Her booked visits that day stay booked without a nurse until a repair run
    re-routes them; the page lists them."""
    nurse = get_nurse(session, principal, nurse_id)
    if _days_off(session, nurse.id, data.date, data.date):
        raise Conflict(f"date: {nurse.name} is already off on {data.date.isoformat()}", "date")
    affected = _take_off(session, principal, nurse, data.date, data.reason)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "home_nurse.absence",
        "home_nurse",
        nurse.id,
        detail={
            "date": data.date.isoformat(),
            "reason": data.reason,
            "visits_without_nurse": [a.id for a in affected],
        },
    )
    session.commit()
    return AbsenceOut(nurse_id=nurse.id, date=data.date, reason=data.reason, affected_visits=len(affected))


def add_absences(
    session: Session, principal: Principal, nurse_id: int, data: AbsenceIn, end_date: dt.date | None
) -> list[AbsenceOut]:
    """Days off from ``data.date`` to ``end_date`` (inclusive; one day when None), with one reason: each
    day's booked visits lose their nurse until routing gives them to another. Refused whole when she is
    already off on one of the days."""
    nurse = get_nurse(session, principal, nurse_id)
    last = end_date or data.date
    if last < data.date:
        raise InvalidInput("end_date: the last day off must be on or after the first", "end_date")
    if (last - data.date).days + 1 > MAX_ABSENCE_DAYS:
        raise InvalidInput(
            f"end_date: at most {MAX_ABSENCE_DAYS} days at once; record longer leave in parts", "end_date"
        )
    taken = _days_off(session, nurse.id, data.date, last)
    if taken:
        shown = ", ".join(d.isoformat() for d in taken[:10])
        raise Conflict(f"date: {nurse.name} is already off on {shown}", "date")
    days = [data.date + dt.timedelta(days=i) for i in range((last - data.date).days + 1)]
    out, moved = [], []
    for day in days:
        affected = _take_off(session, principal, nurse, day, data.reason)
        moved += [a.id for a in affected]
        out.append(AbsenceOut(nurse_id=nurse.id, date=day, reason=data.reason, affected_visits=len(affected)))
    session.flush()
    audit.record(
        session,
        principal.actor,
        "home_nurse.absence",
        "home_nurse",
        nurse.id,
        detail={
            "date": data.date.isoformat(),
            "end_date": last.isoformat(),
            "reason": data.reason,
            "visits_without_nurse": moved,
        },
    )
    session.commit()
    return out


def upcoming_absences(session: Session, nurse_id: int, since: dt.date) -> list[HomeNurseAbsence]:
    """Her recorded days off from ``since`` on, first first."""
    return list(
        session.execute(
            select(HomeNurseAbsence)
            .where(HomeNurseAbsence.nurse_id == nurse_id, HomeNurseAbsence.date >= since)
            .order_by(HomeNurseAbsence.date)
        ).scalars()
    )


def absences(
    session: Session, nurse_ids: list[int], start: dt.date, end: dt.date
) -> set[tuple[int, dt.date]]:
    rows = session.execute(
        select(HomeNurseAbsence.nurse_id, HomeNurseAbsence.date).where(
            HomeNurseAbsence.nurse_id.in_(nurse_ids),
            HomeNurseAbsence.date >= start,
            HomeNurseAbsence.date <= end,
        )
    )
    return {(nurse_id, day) for nurse_id, day in rows}
