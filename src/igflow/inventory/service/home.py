"""Stock for deliveries to a patient's home and the vials used there (called by ``igflow.home``'s services).

The home-infusion site (a site of kind ``home``) holds, in the ledger, every vial at every patient's home:

* a delivery is a transfer from a pharmacy site to the home site carrying the patient's id
  (``transfer_out`` at the pharmacy, ``transfer_in`` at the home site), written when it is packed;
* a packed delivery that is cancelled is the reverse pair (the vials come back to the pharmacy);
* a vial the patient logs as infused is a ``dispense`` at the home site, and a vial wasted after a
  temperature excursion a ``waste`` there (reason ``temperature_excursion``), both with the patient's id.

Every move goes through the one ledger writer, so the database's CHECKs refuse any move that would take a
lot below zero at either site (a 409 naming the lot's stock). Nothing here commits: the caller's transaction
also updates the patient's ``home_stock``. Lots are picked first-expiry-first-out with the pure core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Course, CourseSession
from igflow.errors import Conflict, NotFound
from igflow.inventory import core
from igflow.inventory.models import InventoryLot, StockBalance, StockMove
from igflow.inventory.service._common import (
    _appointment,
    _lot,
    _plan_of,
    _product,
    effective_expiry_of,
    lot_number_is,
)
from igflow.inventory.service.ledger import _MoveSpec, _write_move
from igflow.security.principal import Principal


@dataclass(frozen=True)
class HomeLot:
    """What a delivery or a patient's log needs to know of a lot."""

    id: int
    product_id: str
    product_name: str
    lot_number: str
    gtin: str
    vial_size_g: float
    effective_expiry: dt.date
    status: str


def _view(lot: InventoryLot) -> HomeLot:
    return HomeLot(
        id=lot.id,
        product_id=lot.product_id,
        product_name=_product(lot.product_id).name,
        lot_number=lot.lot_number,
        gtin=lot.gtin,
        vial_size_g=lot.vial_size_g,
        effective_expiry=effective_expiry_of(lot),
        status=lot.status,
    )


def lots(session: Session, lot_ids: Iterable[int]) -> dict[int, HomeLot]:
    ids = sorted(set(lot_ids))
    if not ids:
        return {}
    rows = session.execute(select(InventoryLot).where(InventoryLot.id.in_(ids))).scalars()
    return {lot.id: _view(lot) for lot in rows}


def find_lot(session: Session, lot_number: str, gtin: str | None = None) -> HomeLot | None:
    """The lot with this number (and GTIN, when the barcode gave one); None when unknown or ambiguous."""
    query = select(InventoryLot).where(lot_number_is(lot_number))
    if gtin is not None:
        query = query.where(InventoryLot.gtin == gtin)
    found = list(session.execute(query.limit(2)).scalars())
    return _view(found[0]) if len(found) == 1 else None


@dataclass(frozen=True)
class VisitVials:
    """The vials a booked visit's verified plan day needs (what a delivery for that visit carries)."""

    appointment_id: int
    patient_id: int
    site_id: int
    date: dt.date
    order_id: int
    product_id: str
    vials: list[tuple[float, int]]  # (size g, count)


def visit_vials(session: Session, principal: Principal, appointment_id: int) -> VisitVials:
    """The visit's day of its verified plan (404 for an appointment the principal may not see)."""
    appt = _appointment(session, principal, appointment_id)
    plan = _plan_of(session, appt)
    cs = session.get(CourseSession, appt.course_session_id)
    course = session.get(Course, cs.course_id) if cs is not None else None
    assert course is not None
    return VisitVials(
        appointment_id=appt.id,
        patient_id=appt.patient_id,
        site_id=appt.site_id,
        date=appt.date,
        order_id=course.order_id,
        product_id=plan.product,
        vials=plan.vials,
    )


def _free(session: Session, lot_id: int, site_id: int) -> int:
    row = session.execute(
        select(StockBalance.on_hand, StockBalance.allocated).where(
            StockBalance.lot_id == lot_id, StockBalance.site_id == site_id
        )
    ).first()
    return 0 if row is None else int(row[0]) - int(row[1])


def check_usable(
    session: Session, lot_id: int, site_id: int, on_date: dt.date, count: int, field: str = "lines"
) -> HomeLot:
    """A lot a pharmacist chose for a delivery: available, usable on ``on_date``, with ``count`` free vials
    at the site (not held for appointments). 404 for an unknown lot, else 409 naming what is wrong."""
    try:
        lot = _lot(session, lot_id)
    except NotFound:
        raise NotFound(f"{field}: lot {lot_id} not found", field) from None
    view = _view(lot)
    if lot.status != "available":
        raise Conflict(
            f"{field}: lot {lot.lot_number} is {lot.status}: it cannot be sent to a patient", field
        )
    if view.effective_expiry < on_date:
        raise Conflict(
            f"{field}: lot {lot.lot_number} is usable until {view.effective_expiry.isoformat()}, before "
            f"{on_date.isoformat()} when it would be used",
            field,
        )
    free = _free(session, lot.id, site_id)
    if free < count:
        raise Conflict(
            f"{field}: lot {lot.lot_number} has {max(free, 0)} free vial(s) at this site (not held for "
            f"appointments); {count} asked for",
            field,
        )
    return view


def pick_fefo(
    session: Session, site_id: int, product_id: str, vials: list[tuple[float, int]], on_date: dt.date
) -> list[tuple[int, int]]:
    """(lot id, vials) first-expiry-first-out for ``vials`` ((size g, count) pairs) of ``product_id`` at the
    site, from lots available and usable on ``on_date``, never taking vials held for appointments. A 409
    names what is short (and refuses nothing silently: expired, quarantined and recalled lots are skipped)."""
    rows = session.execute(
        select(InventoryLot, StockBalance)
        .join(StockBalance, StockBalance.lot_id == InventoryLot.id)
        .where(
            StockBalance.site_id == site_id,
            StockBalance.on_hand > 0,
            InventoryLot.product_id == product_id,
        )
        .order_by(InventoryLot.id)
    ).all()
    supplies = [
        core.LotSupply(
            lot_id=str(lot.id),
            site="pharmacy",
            product=product_id,
            vial_size_g=lot.vial_size_g,
            effective_expiry=effective_expiry_of(lot),
            available_count=max(0, balance.on_hand - balance.allocated),
            status="active" if lot.status == "available" else lot.status,  # type: ignore[arg-type]
        )
        for lot, balance in rows
    ]
    needs = tuple(core.VialNeed(size, count) for size, count in vials if count > 0)
    if not needs:
        return []
    demand = core.Demand(
        demand_id="delivery",
        appointment_id="delivery",
        on_date=on_date,
        site="pharmacy",
        product=product_id,
        route="sc",
        vials=needs,
    )
    result = core.allocate_fefo([demand], supplies)
    if result.shortfalls:
        name = _product(product_id).name
        short = "; ".join(
            f"{s.missing_count} x {s.vial_size_g:g} g"
            + (" (no lot usable on that date)" if s.reason == "no_eligible_stock" else "")
            for s in result.shortfalls
        )
        raise Conflict(
            f"lines: not enough {name} at this site usable on {on_date.isoformat()}: {short} short; receive "
            "or transfer stock first, or choose the lots by hand",
            "lines",
        )
    picked: dict[int, int] = {}
    for pick in result.picks:
        picked[int(pick.lot_id)] = picked.get(int(pick.lot_id), 0) + pick.count
    return sorted(picked.items())


def _pair(
    session: Session,
    principal: Principal,
    lot_id: int,
    out_site: int,
    in_site: int,
    count: int,
    patient_id: int,
    reason: str,
    detail: dict[str, Any],
) -> tuple[StockMove, StockMove]:
    _lot(session, lot_id, lock="share")  # a quarantine or recall of the lot waits for this move
    out_move, _ = _write_move(
        session,
        principal,
        _MoveSpec(
            lot_id,
            out_site,
            "transfer_out",
            count,
            patient_id=patient_id,
            other_site_id=in_site,
            reason=reason,
            detail=detail,
        ),
    )
    in_move, _ = _write_move(
        session,
        principal,
        _MoveSpec(
            lot_id,
            in_site,
            "transfer_in",
            count,
            patient_id=patient_id,
            other_site_id=out_site,
            reason=reason,
            detail={**detail, "transfer_out_move_id": out_move.id},
        ),
    )
    return out_move, in_move


def to_home(
    session: Session,
    principal: Principal,
    lot_id: int,
    from_site_id: int,
    home_site_id: int,
    count: int,
    patient_id: int,
    reason: str,
    detail: dict[str, Any],
) -> tuple[StockMove, StockMove]:
    """Vials leave the pharmacy for the patient's home (no commit)."""
    return _pair(session, principal, lot_id, from_site_id, home_site_id, count, patient_id, reason, detail)


def back_from_home(
    session: Session,
    principal: Principal,
    lot_id: int,
    home_site_id: int,
    to_site_id: int,
    count: int,
    patient_id: int,
    reason: str,
    detail: dict[str, Any],
) -> tuple[StockMove, StockMove]:
    """The reverse of :func:`to_home`: a packed delivery cancelled returns its vials (no commit)."""
    return _pair(session, principal, lot_id, home_site_id, to_site_id, count, patient_id, reason, detail)


def used_at_home(
    session: Session,
    principal: Principal,
    lot_id: int,
    home_site_id: int,
    count: int,
    patient_id: int,
    *,
    kind: str,
    reason: str,
    detail: dict[str, Any],
    waste_reason: str | None = None,
) -> StockMove:
    """A dispense (the patient infused them) or a waste (after an excursion) at the home site (no commit)."""
    if kind not in ("dispense", "waste"):
        raise ValueError(kind)
    move, _ = _write_move(
        session,
        principal,
        _MoveSpec(
            lot_id,
            home_site_id,
            kind,
            count,
            patient_id=patient_id,
            waste_reason=waste_reason,
            reason=reason,
            detail=detail,
        ),
    )
    return move
