"""FEFO allocation of whole vials to booked appointments, pick lists, shortfalls, shortage mode (priority
order and proposals, never applied) and reorder suggestions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import load_catalog
from igflow.inventory import core
from igflow.inventory.models import InventoryLot, ParLevel, StockAllocation
from igflow.inventory.schemas import (
    AllocationRunOut,
    PickOut,
    ProposalOut,
    ReleasedOut,
    ReorderOut,
    ShortageOut,
    ShortfallOut,
)
from igflow.inventory.service._common import _site, _site_codes, effective_expiry_of
from igflow.inventory.service.demand import (
    _demand,
    _demand_rows,
    _held_sizes,
    _holdings,
    _lot_supply,
    _supplies,
    forget_demand,
)
from igflow.inventory.service.ledger import _MoveSpec, _write_move
from igflow.inventory.service.needs import plan_allocation
from igflow.patients.models import Patient
from igflow.scheduling.models import min_to_hhmm
from igflow.security import audit, scope
from igflow.security.principal import Principal


def run_allocation(session: Session, principal: Principal, start: dt.date, days: int) -> AllocationRunOut:
    """FEFO allocation of whole vials to the booked appointments of ``days`` days from ``start``.

    Allocations of appointments that are no longer booked are released first. What an appointment already
    holds counts towards its need; the rest is allocated first-expiry-first-out at its site (appointments in
    date order, or, for a product in shortage over the horizon, in clinical-priority order: urgent, then
    recommended indications, induction, maintenance), and what cannot be found is reported as a shortfall.
    """
    scope.require_unlimited(principal, "An allocation run")
    released: list[ReleasedOut] = []
    stale = session.execute(
        select(StockAllocation, Appointment)
        .join(Appointment, Appointment.id == StockAllocation.appointment_id)
        .where(StockAllocation.count > 0, Appointment.status != "booked")
    ).all()
    for hold, appt in stale:
        _write_move(
            session,
            principal,
            _MoveSpec(
                hold.lot_id,
                hold.site_id,
                "deallocation",
                hold.count,
                appointment_id=appt.id,
                patient_id=appt.patient_id,
                reason=f"appointment {appt.status}",
            ),
        )
        released.append(ReleasedOut(appointment_id=appt.id, site_id=hold.site_id, count=hold.count))
    session.expire_all()
    forget_demand(session)  # a run allocates against the bookings as they are now
    # Hold the usable lots until the run commits: a quarantine or recall of one of them waits for the run
    # (then releases what it allocated) instead of committing between the run's read and its writes,
    # which left allocations on a quarantined lot. (SQLite: the run already holds the write lock.)
    session.execute(
        select(InventoryLot.id).where(InventoryLot.status == "available").with_for_update(read=True)
    ).all()
    # FEFO in date order; for a product whose demand exceeds its supply, by clinical priority instead.
    # The shortage proposals (switch, interval extension) are only shown, never applied here.
    plan = plan_allocation(session, start, days)
    supplies, shortage_result = plan.supplies, plan.result
    result = shortage_result.allocation
    by_id = {r.appointment.id: r for r in plan.rows}
    allocated = 0
    for pick in result.picks:
        s = supplies[pick.lot_id]
        booked = by_id[int(pick.appointment_id)].appointment
        _write_move(
            session,
            principal,
            _MoveSpec(
                s.lot.id,
                s.balance.site_id,
                "allocation",
                pick.count,
                appointment_id=booked.id,
                patient_id=booked.patient_id,
                reason=f"FEFO allocation for {booked.date.isoformat()}",
            ),
        )
        allocated += pick.count
    audit.record(
        session,
        principal.actor,
        "inventory.allocate",
        "inventory",
        None,
        detail={
            "start": start.isoformat(),
            "days": days,
            "appointment_ids": sorted({int(p.appointment_id) for p in result.picks}),
            "vials": allocated,
            "released_appointment_ids": [r.appointment_id for r in released],
        },
    )
    session.commit()
    session.expire_all()
    return AllocationRunOut(
        start=start,
        days=days,
        allocated_vials=allocated,
        picks=_picks(session, principal, start, days, None, audit_read=False),
        shortfalls=_shortfalls(session, start, days),
        released=released,
        shortage_products=list(shortage_result.shortage_products),
    )


def _patient_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {
        pid: f"{family}, {given}"
        for pid, family, given in session.execute(
            select(Patient.id, Patient.family_name, Patient.given_name).where(Patient.id.in_(wanted))
        ).all()
    }


def _picks(
    session: Session,
    principal: Principal,
    start: dt.date,
    days: int,
    site_id: int | None,
    *,
    audit_read: bool = True,
) -> list[PickOut]:
    rows = _demand_rows(session, start, days, site_id)
    holdings = _holdings(session, [r.appointment.id for r in rows])
    codes = _site_codes(session)
    names = _patient_names(session, [r.appointment.patient_id for r in rows])
    out: list[PickOut] = []
    for r in rows:
        for hold, lot in holdings[r.appointment.id]:
            out.append(
                PickOut(
                    site_id=hold.site_id,
                    site_code=codes.get(hold.site_id, ""),
                    date=r.appointment.date,
                    appointment_id=r.appointment.id,
                    start=min_to_hhmm(r.appointment.start_min),
                    patient_id=r.appointment.patient_id,
                    patient_name=names.get(r.appointment.patient_id, ""),
                    lot_id=lot.id,
                    lot_number=lot.lot_number,
                    product_id=lot.product_id,
                    vial_size_g=lot.vial_size_g,
                    count=hold.count,
                    storage_place=lot.storage_place,
                    effective_expiry=effective_expiry_of(lot),
                )
            )
    if audit_read and out:
        audit.record(
            session,
            principal.actor,
            "inventory.pick_list.read",
            "site",
            site_id,
            detail={
                "start": start.isoformat(),
                "days": days,
                "appointment_ids": sorted({p.appointment_id for p in out}),
            },
        )
        session.commit()
    return out


def pick_list(session: Session, principal: Principal, site_id: int, day: dt.date) -> list[PickOut]:
    """What to take out of the fridge at a site for a day, per appointment (FEFO allocations held)."""
    _site(session, site_id)
    scope.require_own_site(principal, site_id)
    return _picks(session, principal, day, 1, site_id)


def _shortfalls(session: Session, start: dt.date, days: int) -> list[ShortfallOut]:
    rows = _demand_rows(session, start, days)
    holdings = _holdings(session, [r.appointment.id for r in rows])
    codes = _site_codes(session)
    usable: dict[tuple[int, str, float], int] = {}
    for s in _supplies(session):
        if s.lot.status == "available":
            key = (s.balance.site_id, s.lot.product_id, s.lot.vial_size_g)
            usable[key] = usable.get(key, 0) + s.balance.on_hand
    out: list[ShortfallOut] = []
    for r in rows:
        held = _held_sizes(holdings[r.appointment.id], r.plan.product)
        for size, count in r.plan.vials:
            have = held.get(size, 0)
            if have >= count:
                continue
            stock = usable.get((r.appointment.site_id, r.plan.product, size), 0)
            out.append(
                ShortfallOut(
                    site_id=r.appointment.site_id,
                    site_code=codes.get(r.appointment.site_id, ""),
                    date=r.appointment.date,
                    appointment_id=r.appointment.id,
                    product_id=r.plan.product,
                    vial_size_g=size,
                    needed=count,
                    held=have,
                    missing=count - have,
                    reason="no_eligible_stock" if stock == 0 else "not_allocated_or_insufficient",
                )
            )
    return out


def shortfalls(session: Session, principal: Principal, start: dt.date, days: int) -> list[ShortfallOut]:
    """Booked appointment days whose vials are not (all) allocated yet (at the principal's sites)."""
    return [s for s in _shortfalls(session, start, days) if scope.sees_site(principal, s.site_id)]


def shortage(session: Session, principal: Principal, start: dt.date, days: int) -> ShortageOut:
    """Shortage mode over the horizon: priority order and proposals (switch or interval); never applied."""
    codes = _site_codes(session)
    rows = _demand_rows(session, start, days)
    demands = [d for r in rows if (d := _demand(r, codes)) is not None]
    in_horizon = {r.appointment.id for r in rows}
    held_outside: dict[tuple[int, int], int] = {}
    for hold in session.execute(select(StockAllocation).where(StockAllocation.count > 0)).scalars():
        if hold.appointment_id not in in_horizon:
            key = (hold.lot_id, hold.site_id)
            held_outside[key] = held_outside.get(key, 0) + hold.count
    supplies = _supplies(session)
    lots = [
        _lot_supply(s, codes, s.balance.on_hand - held_outside.get((s.lot.id, s.balance.site_id), 0))
        for s in supplies
    ]
    profiles = {p.id: core.profile_from_catalog(p) for p in load_catalog().products.values()}
    result = core.allocate_with_shortage(demands, lots, profiles)
    demand_g: dict[str, float] = {}
    for d in demands:
        demand_g[d.product] = demand_g.get(d.product, 0.0) + d.grams
    supply_g: dict[str, float] = {}
    for lot in lots:
        if lot.status == "active":
            supply_g[lot.product] = supply_g.get(lot.product, 0.0) + lot.vial_size_g * lot.available_count
    by_id = {str(r.appointment.id): r for r in rows}
    served = [
        int(d.demand_id)
        for d in sorted(demands, key=lambda d: (d.priority, not d.recommended, d.on_date, d.demand_id))
        if d.product in result.shortage_products
        and scope.sees_site(principal, by_id[d.demand_id].appointment.site_id)
    ]
    proposals = []
    for p in result.proposals:
        r = by_id[p.demand_id]
        if not scope.sees_site(principal, r.appointment.site_id):
            continue  # the priority order is the network's; each site sees its own appointments in it
        proposals.append(
            ProposalOut(
                appointment_id=r.appointment.id,
                site_code=codes.get(r.appointment.site_id, ""),
                date=r.appointment.date,
                product_id=r.plan.product,
                kind=p.kind,
                message=_product_names(p.message),
                switch_to=p.product,
                switch_vials=[
                    {"lot_id": int(k.lot_id.split("@")[0]), "vial_size_g": k.vial_size_g, "count": k.count}
                    for k in p.picks
                ],
            )
        )
    audit.record(
        session,
        principal.actor,
        "inventory.shortage.read",
        "inventory",
        None,
        detail={"start": start.isoformat(), "days": days, "appointment_ids": sorted(int(k) for k in by_id)},
    )
    session.commit()
    return ShortageOut(
        start=start,
        days=days,
        shortage_products=list(result.shortage_products),
        demand_g={k: round(v, 2) for k, v in sorted(demand_g.items())},
        supply_g={k: round(v, 2) for k, v in sorted(supply_g.items())},
        served_in_order=served,
        proposals=proposals,
        note="Proposals only: a switch needs the pharmacist to re-verify the plan; an interval extension "
        "needs the prescriber to document it. Nothing here changes an order or an allocation.",
    )


def reorder(session: Session, principal: Principal, start: dt.date, days: int) -> list[ReorderOut]:
    """Order-up-to suggestions: par level + forecast use over the horizon - usable stock."""
    codes = _site_codes(session)
    by_code = {code: sid for sid, code in codes.items()}
    pars = [
        core.ParLevel(codes.get(p.site_id, str(p.site_id)), p.product_id, p.vial_size_g, p.par_count)
        for p in session.execute(select(ParLevel).order_by(ParLevel.site_id, ParLevel.product_id)).scalars()
    ]
    lots = [_lot_supply(s, codes, s.balance.on_hand) for s in _supplies(session)]
    forecast: dict[tuple[str, str, float], int] = {}
    for r in _demand_rows(session, start, days):
        for size, count in r.plan.vials:
            key = (codes.get(r.appointment.site_id, ""), r.plan.product, size)
            forecast[key] = forecast.get(key, 0) + count
    known = {(p.site, p.product, p.vial_size_g) for p in pars}
    pars += [
        core.ParLevel(site, product, size, 0)
        for site, product, size in forecast
        if (site, product, size) not in known
    ]
    return [
        ReorderOut(
            site_id=by_code.get(s.site, 0),
            site_code=s.site,
            product_id=s.product,
            vial_size_g=s.vial_size_g,
            usable=s.usable_count,
            forecast=s.forecast_count,
            par=s.par_count,
            suggested=s.suggested_count,
        )
        for s in core.reorder_suggestions(pars, lots, forecast, start)
    ]


def _product_names(message: str) -> str:
    """The pure core's proposal text with catalog product ids replaced by the products' names."""
    import re

    from igflow.catalog import load_catalog

    products = load_catalog().products
    ids = sorted(products, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(i) for i in ids) + r")(?![\w-])")
    return pattern.sub(lambda m: products[m.group(1)].name, message)
