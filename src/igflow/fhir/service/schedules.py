"""Schedule and Slot: the chairs of the centres the user may see (``scope``: the user's sites), and their
free slots, worked out in the database from the centres' hours, closed dates, the chairs' booked slots
(``chair_slot``) and the nurses' load (``site_slot_load``).

A Slot search covers a window of days: ``start`` (site-local dates, as Appointment's ``date``) narrows it;
without one it is the :data:`DEFAULT_DAYS` days from today (UTC), and a window longer than
:data:`MAX_DAYS` is refused (400) so that one search stays one bounded query. These are paging bounds of
the API, not scheduling rules.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, literal, or_, select, true
from sqlalchemy.orm import Session

from igflow.appointments.models import ChairSlot, SiteSlotLoad
from igflow.appointments.service._common import policy
from igflow.db import utcnow
from igflow.fhir.mapping.schedule import OpeningHours, SlotKey, parse_slot_id, to_schedule, to_slot
from igflow.fhir.search import BadRequest, Params, parse_date, parse_reference, parse_token, prefixed_id
from igflow.fhir.service.engine import Item, Source, all_of, ids_filter
from igflow.security import scope
from igflow.security.principal import Principal
from igflow.sites.models import Chair, ClosedDate, Site, SiteHours

DEFAULT_DAYS = 7
MAX_DAYS = 31


def _chairs(principal: Principal) -> Any:
    query = select(Chair, Site).join(Site, Site.id == Chair.site_id).where(Site.kind == "centre")
    return scope.by_site(query, principal, Chair.site_id)


def _chair_refs(params: Params, name: str, resource_type: str) -> ColumnElement[bool]:
    clauses = []
    for group in params.all(name):
        wanted = [prefixed_id(parse_reference(name, v, resource_type), "chair-") for v in group]
        ids = [i for i in wanted if i is not None]
        clauses.append(Chair.id.in_(ids) if ids else false())
    return all_of(clauses)


def _hours(session: Session, site_ids: Iterable[int]) -> dict[int, list[OpeningHours]]:
    out: dict[int, list[OpeningHours]] = {}
    ids = set(site_ids)
    if not ids:
        return out
    for h in session.execute(select(SiteHours).where(SiteHours.site_id.in_(ids))).scalars():
        out.setdefault(h.site_id, []).append(OpeningHours(h.weekday, h.open_time, h.close_time))
    return out


def _today() -> dt.date:
    return utcnow().date()


def schedule_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = _chairs(principal).where(
        ids_filter(params, Chair.id, lambda v: prefixed_id(v, "chair-")),
        _chair_refs(params, "actor", "Location"),
    )
    first = _today()
    horizon = (first, first + dt.timedelta(days=DEFAULT_DAYS - 1))

    def build(session: Session, rows: list[Any]) -> list[Item]:
        hours = _hours(session, {site.id for _chair, site in rows})
        return [Item(to_schedule(chair, site, hours.get(site.id, []), horizon), None) for chair, site in rows]

    return [Source(query.order_by(Chair.id), build)]


# --- slots ---------------------------------------------------------------------------------------------


def _window(params: Params, keys: list[SlotKey]) -> tuple[dt.date, dt.date]:
    """[first, last] days searched."""
    if params.has("_id"):
        days = [k.day for k in keys] or [_today()]
        return min(days), max(days)
    first: dt.date | None = None
    after: dt.date | None = None
    for group in params.all("start"):
        ranges = [parse_date("start", v) for v in group]
        if len(ranges) != 1:
            raise BadRequest("start: give one date or range per parameter (repeat it for ge and lt)", "start")
        rng = ranges[0]
        if rng.start is not None:
            first = rng.start if first is None else max(first, rng.start)
        if rng.end is not None:
            after = rng.end if after is None else min(after, rng.end)
    first = first or (after - dt.timedelta(days=DEFAULT_DAYS) if after else _today())
    after = after or first + dt.timedelta(days=DEFAULT_DAYS)
    if (after - first).days > MAX_DAYS:
        raise BadRequest(f"start: a search covers at most {MAX_DAYS} days of slots; narrow it", "start")
    return first, after - dt.timedelta(days=1)


def _status(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("status"):
        clauses.append(true() if any(parse_token(v).code == "free" for v in group) else false())
    return all_of(clauses)


def _closed(session: Session, site_ids: set[int], first: dt.date, last: dt.date) -> set[tuple[int, dt.date]]:
    if not site_ids:
        return set()
    rows = session.execute(
        select(ClosedDate.site_id, ClosedDate.date).where(
            ClosedDate.site_id.in_(site_ids), ClosedDate.date.between(first, last)
        )
    ).all()
    return {(site_id, day) for site_id, day in rows}


def _open(
    session: Session, site_ids: set[int], days: list[dt.date], day: Any, slot: Any, slot_minutes: int
) -> ColumnElement[bool]:
    """(chair, day offset, slot of the day) within a centre's hours on a day it is not closed."""
    hours = _hours(session, site_ids)
    closed = _closed(session, site_ids, days[0], days[-1])
    windows = []
    for site_id in site_ids:
        for offset, when in enumerate(days):
            if (site_id, when) in closed:
                continue
            for h in hours.get(site_id, []):
                if h.weekday == when.weekday():
                    opens = math.ceil((h.open_time.hour * 60 + h.open_time.minute) / slot_minutes)
                    closes = (h.close_time.hour * 60 + h.close_time.minute) // slot_minutes
                    windows.append(
                        and_(
                            Chair.site_id == site_id, day.c.k == offset, slot.c.k >= opens, slot.c.k < closes
                        )
                    )
    return or_(*windows) if windows else false()


def _taken(days: list[dt.date], day: Any, slot: Any) -> ColumnElement[bool]:
    """The chair is booked then, or the centre's nurses have no room for one more patient in chairs."""
    on_day = or_(*(and_(day.c.k == offset, ChairSlot.date == when) for offset, when in enumerate(days)))
    booked = exists().where(ChairSlot.chair_id == Chair.id, ChairSlot.slot == slot.c.k, on_day)
    load_day = or_(*(and_(day.c.k == offset, SiteSlotLoad.date == when) for offset, when in enumerate(days)))
    full = exists().where(
        SiteSlotLoad.site_id == Chair.site_id,
        SiteSlotLoad.slot == slot.c.k,
        SiteSlotLoad.in_chairs >= SiteSlotLoad.max_in_chairs,
        load_day,
    )
    return or_(booked, full)


def _named(
    keys: list[SlotKey], first: dt.date, day: Any, slot: Any, slot_minutes: int
) -> ColumnElement[bool]:
    if not keys:
        return true()
    return or_(
        *(
            and_(
                Chair.id == k.chair_id,
                day.c.k == (k.day - first).days,
                slot.c.k * slot_minutes == k.start_min,
            )
            for k in keys
        )
    )


def slot_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    """Free slots: chairs x days x steps of the day (a recursive CTE), open, not booked, nurses free."""
    slot_minutes = policy().slot_minutes
    keys = [k for group in params.all("_id") for k in map(parse_slot_id, group) if k is not None]
    if params.has("_id") and not keys:
        return [Source(_chairs(principal).where(false()), lambda _s, _r: [])]
    first, last = _window(params, keys)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    chairs = _chairs(principal).where(
        Chair.active.is_(True),
        Site.active.is_(True),
        _chair_refs(params, "schedule", "Schedule"),
        _status(params),
    )
    if keys:
        chairs = chairs.where(Chair.id.in_({k.chair_id for k in keys}))
    site_ids = set(session.execute(chairs.with_only_columns(Chair.site_id).distinct()).scalars())
    grid = select(literal(0).label("k")).cte("igflow_grid", recursive=True)
    grid = grid.union_all(select(grid.c.k + 1).where(grid.c.k < max(24 * 60 // slot_minutes, len(days)) - 1))
    day, slot = grid.alias("slot_day"), grid.alias("slot_of_day")
    query = (
        chairs.with_only_columns(Chair.id, Site.timezone, day.c.k, slot.c.k)
        .join(day, true())
        .join(slot, true())
        .where(
            _open(session, site_ids, days, day, slot, slot_minutes),
            ~_taken(days, day, slot),
            _named(keys, first, day, slot, slot_minutes),
        )
        .order_by(Chair.id, day.c.k, slot.c.k)
    )

    def build(_session: Session, rows: list[Any]) -> list[Item]:
        return [
            Item(
                to_slot(
                    SlotKey(chair, first + dt.timedelta(days=offset), k * slot_minutes), slot_minutes, tz
                ),
                None,
            )
            for chair, tz, offset, k in rows
        ]

    return [Source(query, build)]
