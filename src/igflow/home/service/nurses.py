"""Home nurses: home base, skills, visits a day, weekly hours, and days off (a sick day re-routes her visits).

A nurse belongs to a home-infusion site (a site of kind ``home``); site scope applies through it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.errors import Conflict, InvalidInput
from igflow.home.models import HomeNurse, HomeNurseAbsence, HomeNurseShift, HomeVisit
from igflow.home.schemas import AbsenceIn, AbsenceOut, NurseIn, NurseOut
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Site


def home_sites(session: Session, principal: Principal) -> list[Site]:
    """The home-infusion sites this principal may see."""
    query = select(Site).where(Site.kind == "home", Site.active.is_(True)).order_by(Site.id)
    return list(session.execute(scope.by_site(query, principal, Site.id)).scalars())


def _home_site(session: Session, principal: Principal) -> Site:
    sites = home_sites(session, principal)
    if not sites:
        raise InvalidInput(
            "site: there is no home-infusion site you may plan; an administrator adds one on the Sites page",
            "site",
        )
    return sites[0]


def list_nurses(session: Session, principal: Principal, *, active_only: bool = False) -> list[HomeNurse]:
    query = select(HomeNurse).order_by(HomeNurse.region, HomeNurse.name)
    if active_only:
        query = query.where(HomeNurse.active.is_(True))
    return list(session.execute(scope.rows(query, principal, HomeNurse)).scalars())


def get_nurse(session: Session, principal: Principal, nurse_id: int) -> HomeNurse:
    return scope.get(session, principal, HomeNurse, nurse_id, "nurse")


def nurse_for_user(session: Session, user_id: int) -> HomeNurse | None:
    return session.execute(select(HomeNurse).where(HomeNurse.user_id == user_id)).scalar_one_or_none()


def _check_shifts(data: NurseIn) -> None:
    seen: set[int] = set()
    for i, shift in enumerate(data.shifts):
        if shift.end_min <= shift.start_min:
            raise InvalidInput(
                f"shifts.{i}.end_min: the shift must end after it starts", f"shifts.{i}.end_min"
            )
        if shift.break_min >= shift.end_min - shift.start_min:
            raise InvalidInput(
                f"shifts.{i}.break_min: the break is longer than the shift", f"shifts.{i}.break_min"
            )
        if shift.weekday in seen:
            raise InvalidInput(f"shifts.{i}.weekday: two shifts on the same weekday", f"shifts.{i}.weekday")
        seen.add(shift.weekday)


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


def _check_user(session: Session, data: NurseIn, nurse_id: int | None) -> None:
    if data.user_id is None:
        return
    other = nurse_for_user(session, data.user_id)
    if other is not None and other.id != nurse_id:
        raise Conflict(f"user_id: that sign-in already belongs to nurse {other.name}", "user_id")


def create_nurse(session: Session, principal: Principal, data: NurseIn) -> HomeNurse:
    _check_shifts(data)
    _check_user(session, data, None)
    nurse = HomeNurse(site_id=_home_site(session, principal).id)
    _apply(nurse, data)
    session.add(nurse)
    session.flush()
    audit.record(session, principal.actor, "home_nurse.create", "home_nurse", nurse.id)
    session.commit()
    return nurse


def update_nurse(session: Session, principal: Principal, nurse_id: int, data: NurseIn) -> HomeNurse:
    nurse = get_nurse(session, principal, nurse_id)
    _check_shifts(data)
    _check_user(session, data, nurse.id)
    _apply(nurse, data)
    session.flush()
    audit.record(session, principal.actor, "home_nurse.update", "home_nurse", nurse.id)
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


def add_absence(session: Session, principal: Principal, nurse_id: int, data: AbsenceIn) -> AbsenceOut:
    """A day off (sick, leave). Her booked visits that day stay booked without a nurse until a repair run
    re-routes them; the page lists them."""
    nurse = get_nurse(session, principal, nurse_id)
    exists = session.execute(
        select(HomeNurseAbsence.id).where(
            HomeNurseAbsence.nurse_id == nurse.id, HomeNurseAbsence.date == data.date
        )
    ).first()
    if exists is not None:
        raise Conflict(f"date: {nurse.name} is already off on {data.date.isoformat()}", "date")
    session.add(
        HomeNurseAbsence(
            nurse_id=nurse.id, date=data.date, reason=data.reason, created_by_user_id=principal.user_id
        )
    )
    affected = visits_of_nurse_on(session, nurse.id, data.date)
    for appt in affected:
        visit = session.execute(select(HomeVisit).where(HomeVisit.appointment_id == appt.id)).scalar_one()
        visit.nurse_id = None
        visit.sequence = None
        from igflow.home.service.visits import release_nurse_slots

        release_nurse_slots(session, appt.id)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "home_nurse.absence",
        "home_nurse",
        nurse.id,
        detail={"date": data.date.isoformat(), "visits_without_nurse": [a.id for a in affected]},
    )
    session.commit()
    return AbsenceOut(nurse_id=nurse.id, date=data.date, reason=data.reason, affected_visits=len(affected))


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
