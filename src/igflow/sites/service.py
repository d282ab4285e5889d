"""Use cases of the sites capability: the site directory and each site's set-up (details, opening hours
and nurses on duty, closed dates, chairs).

Writes need a user who works at the site (``scope.require_own_site``); every change is audited with what
it was before and what it is after. Settings that booked appointments depend on are guarded: a closed date
on which appointments are booked is refused (the scheduler moves them first), and hours or nurses that no
longer fit booked appointments are saved but named (:func:`misfits`), so the page can say what to move.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, SiteClosure
from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from igflow.security import audit, scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites.models import Chair, ClosedDate, Organisation, Site, SiteHours
from igflow.sites.schemas import (
    WEEKDAY_NAMES,
    WEEKDAYS,
    ChairIn,
    ChairOut,
    ClosedDateOut,
    ClosedDatesIn,
    HoursOut,
    MisfitOut,
    SiteDetailsIn,
    SiteHoursIn,
    SiteIn,
    SiteOut,
)

# how many dates a refusal lists before it says "and N more days"
_DATES_LISTED = 10


def get_organisation(session: Session) -> Organisation | None:
    return session.execute(select(Organisation).limit(1)).scalar_one_or_none()


def list_sites(
    session: Session, *, only: frozenset[int] | None = None, active_only: bool = False
) -> list[Site]:
    query = select(Site).order_by(Site.kind, Site.name)
    if only is not None:
        query = query.where(Site.id.in_(only))
    if active_only:
        query = query.where(Site.active.is_(True))
    return list(session.execute(query).scalars())


def centres(session: Session, *, only: frozenset[int] | None = None) -> list[Site]:
    """Active infusion centres (no home service), limited to ``only`` when given."""
    return [s for s in list_sites(session, only=only, active_only=True) if s.kind == "centre"]


def get_site(session: Session, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


def may_edit(principal: Principal, site: Site) -> bool:
    """The principal manages sites and works at this one."""
    return principal.can(Perm.SITE_MANAGE) and scope.sees_site(principal, site.id)


def editable_site(session: Session, principal: Principal, site_id: int) -> Site:
    """The site, for a change of its set-up: refused (403) to a user who does not work at it."""
    site = get_site(session, site_id)
    scope.require_own_site(principal, site.id, "site_id")
    return site


def site_ids_exist(session: Session, site_ids: list[int], field: str) -> None:
    if not site_ids:
        return
    found = set(session.execute(select(Site.id).where(Site.id.in_(site_ids))).scalars())
    missing = sorted(set(site_ids) - found)
    if missing:
        raise InvalidInput(f"{field}: unknown site id(s) {missing}", field)


# --- snapshots for the audit log ----------------------------------------------------------------------------


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def _details(site: Site) -> dict[str, Any]:
    return {
        "name": site.name,
        "address": site.address,
        "lat": site.lat,
        "lon": site.lon,
        "timezone": site.timezone,
    }


def _capacity(site: Site) -> dict[str, Any]:
    by_day = {h.weekday: h for h in site.hours}
    return {
        "hours": {
            code: (
                {"open": _hhmm(h.open_time), "close": _hhmm(h.close_time), "nurses": h.nurses}
                if (h := by_day.get(i)) is not None
                else "closed"
            )
            for i, code in enumerate(WEEKDAYS)
        },
        "patients_per_nurse": site.patients_per_nurse,
        "starts_per_nurse_per_slot": site.starts_per_nurse_per_slot,
    }


def _chair(chair: Chair) -> dict[str, Any]:
    return {"label": chair.label, "kind": chair.kind, "active": chair.active}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{"before": …, "after": …}`` of the keys whose value changed (both sides, for the audit row)."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {"before": {k: before.get(k) for k in changed}, "after": {k: after[k] for k in changed}}


# --- booked appointments that settings must respect ---------------------------------------------------------
#
# A read of the appointments capability's table (its service imports this module, so it cannot be called
# from here): which bookings a closed date or new hours would strand. Nothing here changes an appointment.


def site_today(site: Site) -> dt.date:
    return utcnow().astimezone(ZoneInfo(site.timezone)).date()


def booked_counts(session: Session, site_id: int, days: list[dt.date]) -> dict[dt.date, int]:
    """Booked appointments at the site on each of ``days`` that has any."""
    if not days:
        return {}
    rows = session.execute(
        select(Appointment.date, func.count(Appointment.id))
        .where(
            Appointment.site_id == site_id,
            Appointment.status == "booked",
            Appointment.date >= min(days),
            Appointment.date <= max(days),
        )
        .group_by(Appointment.date)
    )
    wanted = set(days)
    return {day: int(n) for day, n in rows if day in wanted and n}


def _refuse_booked_days(session: Session, site: Site, days: list[dt.date]) -> None:
    counts = booked_counts(session, site.id, days)
    if not counts:
        return
    total = sum(counts.values())
    dated = sorted(counts.items())
    if len(dated) == 1:
        where = f"on {dated[0][0].isoformat()}"
    else:
        parts = [f"{n} on {day.isoformat()}" for day, n in dated[:_DATES_LISTED]]
        if len(dated) > _DATES_LISTED:
            parts.append(f"and {len(dated) - _DATES_LISTED} more days")
        where = f"on those days ({', '.join(parts)})"
    one = total == 1
    booked = f"{total} appointment{' is' if one else 's are'} booked at {site.name} {where}"
    them, days_ = ("it", "another day") if one else ("them", "other days")
    raise Conflict(
        f"date: {booked}: the scheduler must move {them} to {days_} first, or record a centre closure "
        f"(Scheduling, centre closures), which re-plans {them}",
        "date",
    )


@dataclass(frozen=True)
class Misfit:
    """Booked appointments on one date that the site's settings no longer fit, and why (counts only)."""

    date: dt.date
    appointments: int
    reasons: tuple[str, ...]

    def out(self) -> MisfitOut:
        return MisfitOut(date=self.date, appointments=self.appointments, reasons=list(self.reasons))


def _nurses(n: int) -> str:
    return f"{n} nurse{'' if n == 1 else 's'}"


def _day_problems(
    site: Site, day: dt.date, appts: list[Appointment], slot_minutes: int
) -> dict[str, set[int]]:
    """Reason -> ids of the booked appointments of one day that the site's settings do not fit."""
    problems: dict[str, set[int]] = defaultdict(set)
    closed = {c.date: c.reason for c in site.closed_dates}
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    if day in closed:
        reason = f" ({closed[day]})" if closed[day] else ""
        problems[f"the site is closed that day{reason}"] = {a.id for a in appts}
    elif hours is None:
        problems[f"the site is now closed on {WEEKDAY_NAMES[day.weekday()]}s"] = {a.id for a in appts}
    else:
        open_min = hours.open_time.hour * 60 + hours.open_time.minute
        close_min = hours.close_time.hour * 60 + hours.close_time.minute
        outside = f"outside the opening hours {_hhmm(hours.open_time)}–{_hhmm(hours.close_time)}"
        slots: dict[int, range] = {}
        in_chairs: Counter[int] = Counter()
        starts: Counter[int] = Counter()
        for a in appts:
            first = a.start_min // slot_minutes
            slots[a.id] = range(first, first + math.ceil(a.duration_min / slot_minutes))
            in_chairs.update(slots[a.id])
            starts[first] += 1
            if a.start_min < open_min or a.start_min + len(slots[a.id]) * slot_minutes > close_min:
                problems[outside].add(a.id)
        cap_in = hours.nurses * site.patients_per_nurse
        cap_starts = hours.nurses * site.starts_per_nurse_per_slot
        crowded = f"more patients in chairs at once than {_nurses(hours.nurses)} can watch (at most {cap_in})"
        rushed = (
            f"more infusions starting at once than {_nurses(hours.nurses)} can start (at most {cap_starts})"
        )
        for a in appts:
            if any(in_chairs[s] > cap_in for s in slots[a.id]):
                problems[crowded].add(a.id)
            if starts[slots[a.id][0]] > cap_starts:
                problems[rushed].add(a.id)
    out_of_use = {c.id for c in site.chairs if not c.active}
    for a in appts:
        if a.chair_id in out_of_use:
            problems["on a chair out of use"].add(a.id)
    return problems


def fit_check(site: Site, appts: list[Appointment], slot_minutes: int) -> list[Misfit]:
    """Per date, the booked appointments the site's hours, nurses, closed dates and chairs no longer fit."""
    by_day: dict[dt.date, list[Appointment]] = defaultdict(list)
    for a in appts:
        by_day[a.date].append(a)
    out = []
    for day in sorted(by_day):
        problems = _day_problems(site, day, by_day[day], slot_minutes)
        hit = set().union(*problems.values()) if problems else set()
        if hit:
            reasons = tuple(f"{reason}: {len(ids)}" for reason, ids in problems.items())
            out.append(Misfit(date=day, appointments=len(hit), reasons=reasons))
    return out


def misfits(session: Session, site: Site) -> list[Misfit]:
    """Booked appointments at a centre, from its today on, that its settings no longer fit."""
    if site.kind != "centre":
        return []  # home visits follow the home nurses' hours, not the site's
    from igflow.appointments.service import policy  # the appointments capability imports this module

    appts = list(
        session.execute(
            select(Appointment)
            .where(
                Appointment.site_id == site.id,
                Appointment.status == "booked",
                Appointment.date >= site_today(site),
            )
            .order_by(Appointment.date, Appointment.start_min)
        ).scalars()
    )
    return fit_check(site, appts, policy().slot_minutes)


# --- the whole site (API) -----------------------------------------------------------------------------------


def _apply(site: Site, data: SiteIn) -> None:
    site.code = data.code
    site.name = data.name
    site.kind = data.kind
    site.address = data.address
    site.timezone = data.timezone
    site.patients_per_nurse = data.patients_per_nurse
    site.starts_per_nurse_per_slot = data.starts_per_nurse_per_slot
    site.hours = _hours_rows(data.hours)
    site.closed_dates = [
        ClosedDate(date=c.date, reason=c.reason) for c in sorted(data.closed_dates, key=lambda c: c.date)
    ]


def _hours_rows(hours: list[Any]) -> list[SiteHours]:
    return [
        SiteHours(weekday=WEEKDAYS.index(h.weekday), open_time=h.open, close_time=h.close, nurses=h.nurses)
        for h in sorted(hours, key=lambda h: WEEKDAYS.index(h.weekday))
    ]


def _whole(site: Site) -> dict[str, Any]:
    return {
        "code": site.code,
        "kind": site.kind,
        **_details(site),
        **_capacity(site),
        "closed_dates": {c.date.isoformat(): c.reason for c in site.closed_dates},
    }


def create_site(session: Session, principal: Principal, data: SiteIn, chairs: int = 0) -> Site:
    if scope.limited(principal):
        raise Forbidden("a user limited to some sites cannot add a site")
    if session.execute(select(Site.id).where(Site.code == data.code)).first():
        raise Conflict(f"code: a site with code '{data.code}' already exists", "code")
    site = Site()
    _apply(site, data)
    site.chairs = [Chair(label=f"{i:02d}", kind="recliner", position=i) for i in range(1, chairs + 1)]
    session.add(site)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "site.create",
        "site",
        site.id,
        detail={"code": data.code, "after": _whole(site)},
    )
    session.commit()
    return site


def update_site(session: Session, principal: Principal, site_id: int, data: SiteIn) -> Site:
    site = editable_site(session, principal, site_id)
    clash = session.execute(select(Site.id).where(Site.code == data.code, Site.id != site_id)).first()
    if clash:
        raise Conflict(f"code: a site with code '{data.code}' already exists", "code")
    before = _whole(site)
    known = {c.date for c in site.closed_dates}
    _refuse_booked_days(session, site, sorted({c.date for c in data.closed_dates} - known))
    session.execute(delete(SiteHours).where(SiteHours.site_id == site_id))
    session.execute(delete(ClosedDate).where(ClosedDate.site_id == site_id))
    session.expire(site, ["hours", "closed_dates"])
    _apply(site, data)
    session.flush()
    audit.record(
        session, principal.actor, "site.update", "site", site.id, detail=_changes(before, _whole(site))
    )
    session.commit()
    return site


# --- a site's set-up, one part at a time (pages and API) ----------------------------------------------------


def update_details(session: Session, principal: Principal, site_id: int, data: SiteDetailsIn) -> Site:
    """Name, address, coordinates and time zone."""
    site = editable_site(session, principal, site_id)
    before = _details(site)
    site.name, site.address, site.timezone = data.name, data.address, data.timezone
    site.lat, site.lon = data.lat, data.lon
    session.flush()
    audit.record(
        session,
        principal.actor,
        "site.details.update",
        "site",
        site.id,
        detail=_changes(before, _details(site)),
    )
    session.commit()
    return site


def update_hours(
    session: Session, principal: Principal, site_id: int, data: SiteHoursIn
) -> tuple[Site, list[Misfit]]:
    """Opening hours and nurses per weekday, patients per nurse, starts per nurse per slot. Saved even when
    booked appointments no longer fit (they are returned, and recorded in the audit row, to be moved)."""
    site = editable_site(session, principal, site_id)
    before = _capacity(site)
    session.execute(delete(SiteHours).where(SiteHours.site_id == site_id))
    session.expire(site, ["hours"])
    site.hours = _hours_rows(data.hours)
    site.patients_per_nurse = data.patients_per_nurse
    site.starts_per_nurse_per_slot = data.starts_per_nurse_per_slot
    session.flush()
    stranded = misfits(session, site)
    detail = _changes(before, _capacity(site))
    detail["booked_not_fitting"] = sum(m.appointments for m in stranded)
    audit.record(session, principal.actor, "site.hours.update", "site", site.id, detail=detail)
    session.commit()
    return site, stranded


def add_closed_dates(
    session: Session, principal: Principal, site_id: int, data: ClosedDatesIn
) -> list[ClosedDate]:
    """Close the site on a date or a range of dates. Refused while appointments are booked on any of them:
    the scheduler moves them first (closing never leaves a booking stranded without saying so)."""
    site = editable_site(session, principal, site_id)
    days = data.days()
    already = sorted(c.date for c in site.closed_dates if c.date in set(days))
    if already:
        shown = ", ".join(d.isoformat() for d in already[:_DATES_LISTED])
        raise Conflict(f"date: {site.name} is already closed on {shown}", "date")
    _refuse_booked_days(session, site, days)
    rows = [ClosedDate(site_id=site.id, date=day, reason=data.reason) for day in days]
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "site.closed_date.add",
        "site",
        site.id,
        detail={"after": {"dates": [d.isoformat() for d in days], "reason": data.reason}},
    )
    session.commit()
    session.expire(site, ["closed_dates"])
    return rows


def closures_by_date(session: Session, site: Site) -> dict[dt.date, SiteClosure]:
    """The centre closures (closed in one step, with their appointments released) that each of the site's
    closed dates belongs to: the site page says so beside the day, and that opening the day again leaves
    the moved appointments where they went."""
    closures = session.execute(select(SiteClosure).where(SiteClosure.site_id == site.id)).scalars().all()
    return {
        c.date: closure
        for c in site.closed_dates
        for closure in closures
        if closure.start_date <= c.date <= closure.end_date
    }


def remove_closed_date(session: Session, principal: Principal, site_id: int, closed_id: int) -> ClosedDateOut:
    site = editable_site(session, principal, site_id)
    row = session.get(ClosedDate, closed_id)
    if row is None or row.site_id != site.id:
        raise NotFound(f"closed date {closed_id} not found at site {site_id}")
    gone = ClosedDateOut.model_validate(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "site.closed_date.remove",
        "site",
        site.id,
        detail={"before": {"date": gone.date.isoformat(), "reason": gone.reason}},
    )
    session.commit()
    session.expire(site, ["closed_dates"])
    return gone


def add_chair(session: Session, principal: Principal, site_id: int, data: ChairIn) -> Chair:
    site = editable_site(session, principal, site_id)
    if site.kind != "centre":
        raise InvalidInput("label: chairs belong to infusion centres; home visits need none", "label")
    if any(c.label == data.label for c in site.chairs):
        raise Conflict(f"label: chair '{data.label}' already exists at {site.name}", "label")
    chair = Chair(label=data.label, kind=data.kind, active=data.active, position=len(site.chairs) + 1)
    site.chairs.append(chair)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "chair.create",
        "chair",
        chair.id,
        detail={"site_id": site_id, "after": _chair(chair)},
    )
    session.commit()
    return chair


def update_chair(session: Session, principal: Principal, site_id: int, chair_id: int, data: ChairIn) -> Chair:
    """Rename a chair, change its kind, take it out of use or bring it back."""
    editable_site(session, principal, site_id)
    chair = session.get(Chair, chair_id)
    if chair is None or chair.site_id != site_id:
        raise NotFound(f"chair {chair_id} not found at site {site_id}")
    clash = session.execute(
        select(Chair.id).where(Chair.site_id == site_id, Chair.label == data.label, Chair.id != chair_id)
    ).first()
    if clash:
        raise Conflict(f"label: chair '{data.label}' already exists at this site", "label")
    before = _chair(chair)
    chair.label, chair.kind, chair.active = data.label, data.kind, data.active
    detail = {"site_id": site_id, "active": data.active, **_changes(before, _chair(chair))}
    audit.record(session, principal.actor, "chair.update", "chair", chair.id, detail=detail)
    session.commit()
    return chair


def to_out(site: Site) -> SiteOut:
    return SiteOut(
        id=site.id,
        code=site.code,
        name=site.name,
        kind=site.kind,
        address=site.address,
        lat=site.lat,
        lon=site.lon,
        timezone=site.timezone,
        patients_per_nurse=site.patients_per_nurse,
        starts_per_nurse_per_slot=site.starts_per_nurse_per_slot,
        active=site.active,
        hours=[
            HoursOut(
                weekday=WEEKDAYS[h.weekday],
                open=_hhmm(h.open_time),
                close=_hhmm(h.close_time),
                nurses=h.nurses,
            )
            for h in site.hours
        ],
        closed_dates=[ClosedDateOut.model_validate(c) for c in site.closed_dates],
        chairs=[ChairOut.model_validate(c) for c in site.chairs],
    )
