"""What the booked appointments of the next days need, per site, day, product and vial size, against what is
on hand, and which lots first-expiry-first-out would pick for what is not allocated yet.

``plan_allocation`` is the allocation's computation without its writes: the same demand (booked appointment
days less what each already holds), the same supply (free vials of every lot at every site) and the same
pure-core allocation (``core.allocate_with_shortage``: FEFO, or clinical priority for a product in shortage).
``run_allocation`` writes what it returns; ``needs`` only shows it, so the page's "would pick" is what the
Allocate button would do now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import load_catalog
from igflow.inventory import core
from igflow.inventory.models import InventoryLot, StockAllocation
from igflow.inventory.schemas import NeedOut, NeedPickOut
from igflow.inventory.service._common import _site, _site_codes
from igflow.inventory.service.demand import (
    _demand,
    _demand_rows,
    _DemandRow,
    _held_sizes,
    _holdings,
    _lot_supply,
    _supplies,
    _Supply,
)
from igflow.security import scope
from igflow.security.principal import Principal


@dataclass(frozen=True)
class AllocationPlan:
    """The demand and supply of a horizon and the pure core's allocation of them (nothing written)."""

    codes: dict[int, str]
    rows: list[_DemandRow]
    holdings: dict[int, list[tuple[StockAllocation, InventoryLot]]]
    supplies: dict[str, _Supply]  # by ``_Supply.key`` ("lot@site"), as the core's picks name them
    result: core.ShortageResult


def stale_holds(session: Session) -> dict[tuple[int, int], int]:
    """Vials held per (lot, site) for appointments no longer booked: an allocation run releases them first."""
    return {
        (lot_id, site_id): int(count)
        for lot_id, site_id, count in session.execute(
            select(StockAllocation.lot_id, StockAllocation.site_id, func.sum(StockAllocation.count))
            .join(Appointment, Appointment.id == StockAllocation.appointment_id)
            .where(StockAllocation.count > 0, Appointment.status != "booked")
            .group_by(StockAllocation.lot_id, StockAllocation.site_id)
        ).all()
    }


def plan_allocation(
    session: Session, start: dt.date, days: int, freed: dict[tuple[int, int], int] | None = None
) -> AllocationPlan:
    """What an allocation run over ``days`` days from ``start`` allocates; ``freed`` adds vials back to the
    free stock of a lot at a site (the holds a run releases before it allocates)."""
    codes = _site_codes(session)
    rows = _demand_rows(session, start, days)
    holdings = _holdings(session, [r.appointment.id for r in rows])
    demands = [
        d
        for r in rows
        if (d := _demand(r, codes, _held_sizes(holdings[r.appointment.id], r.plan.product))) is not None
    ]
    supplies = {s.key: s for s in _supplies(session)}
    back = freed or {}
    lots = [
        _lot_supply(
            s,
            codes,
            s.balance.on_hand - s.balance.allocated + back.get((s.lot.id, s.balance.site_id), 0),
        )
        for s in supplies.values()
    ]
    profiles = {p.id: core.profile_from_catalog(p) for p in load_catalog().products.values()}
    return AllocationPlan(
        codes, rows, holdings, supplies, core.allocate_with_shortage(demands, lots, profiles)
    )


@dataclass
class _Need:
    appointments: int = 0
    vials: int = 0
    allocated: int = 0
    short: int = 0
    picks: dict[int, list[int]] = field(default_factory=dict)  # lot id -> [count]


def needs(
    session: Session, principal: Principal, start: dt.date, days: int, site_id: int | None = None
) -> list[NeedOut]:
    """Per site, day, product and vial size: vials and grams the booked appointments need, what they already
    hold, the lots FEFO would pick for the rest, what is short, and the usable vials on hand at the site.

    At one site (``site_id``, refused as not found when it is not the principal's) or at every site the
    principal sees; in date, site, product and vial-size order. No patient is named.
    """
    if site_id is not None:
        scope.require_site(principal, site_id)
        _site(session, site_id)
    plan = plan_allocation(session, start, days, stale_holds(session))

    def wanted(site: int) -> bool:
        return scope.sees_site(principal, site) and (site_id is None or site == site_id)

    by_appointment = {r.appointment.id: r for r in plan.rows}
    acc: dict[tuple[dt.date, int, str, float], _Need] = {}
    for r in plan.rows:
        if not wanted(r.appointment.site_id):
            continue
        held = _held_sizes(plan.holdings[r.appointment.id], r.plan.product)
        for size, count in r.plan.vials:
            need = acc.setdefault((r.appointment.date, r.appointment.site_id, r.plan.product, size), _Need())
            need.appointments += 1
            need.vials += count
            need.allocated += min(count, held.get(size, 0))
    allocation = plan.result.allocation
    for pick in allocation.picks:
        row = by_appointment[int(pick.appointment_id)]
        key = (row.appointment.date, row.appointment.site_id, pick.product, pick.vial_size_g)
        if key in acc:
            lot_id = plan.supplies[pick.lot_id].lot.id
            acc[key].picks.setdefault(lot_id, []).append(pick.count)
    for shortfall in allocation.shortfalls:
        row = by_appointment[int(shortfall.appointment_id)]
        key = (row.appointment.date, row.appointment.site_id, shortfall.product, shortfall.vial_size_g)
        if key in acc:
            acc[key].short += shortfall.missing_count
    lots = {s.lot.id: s for s in plan.supplies.values()}
    out: list[NeedOut] = []
    for (day, site, product, size), need in sorted(acc.items()):
        on_hand = sum(
            s.balance.on_hand
            for s in plan.supplies.values()
            if s.balance.site_id == site
            and s.lot.product_id == product
            and s.lot.vial_size_g == size
            and s.lot.status == "available"
            and s.expiry >= day
        )
        picks = [
            NeedPickOut(
                lot_id=lot_id,
                lot_number=lots[lot_id].lot.lot_number,
                effective_expiry=lots[lot_id].expiry,
                storage_place=lots[lot_id].lot.storage_place,
                count=sum(counts),
            )
            for lot_id, counts in need.picks.items()
        ]
        out.append(
            NeedOut(
                site_id=site,
                site_code=plan.codes.get(site, ""),
                date=day,
                product_id=product,
                vial_size_g=size,
                appointments=need.appointments,
                vials_needed=need.vials,
                grams_needed=round(need.vials * size, 2),
                allocated=need.allocated,
                would_pick=sorted(picks, key=lambda p: (p.effective_expiry, p.lot_number)),
                short=need.short,
                on_hand=on_hand,
            )
        )
    return out
