"""Overview: stock by site, product and vial size, lots expiring within 30/60/90 days, and the ledger
check (every move replayed through the pure core and compared with the stored balances)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.inventory import core
from igflow.inventory.models import StockAllocation, StockBalance, StockMove
from igflow.inventory.schemas import ExpiringOut, StockRowOut
from igflow.inventory.service._common import _balances, _product, _site_codes, lot_out
from igflow.inventory.service.demand import _supplies
from igflow.security.principal import Principal

EXPIRY_BANDS = (30, 60, 90)


def stock_by_site(session: Session, principal: Principal) -> list[StockRowOut]:
    codes = _site_codes(session)
    rows: dict[tuple[int, str, float], StockRowOut] = {}
    for s in _supplies(session):
        key = (s.balance.site_id, s.lot.product_id, s.lot.vial_size_g)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StockRowOut(
                site_id=key[0],
                site_code=codes.get(key[0], ""),
                product_id=key[1],
                product_name=_product(key[1]).name,
                vial_size_g=key[2],
                on_hand=0,
                allocated=0,
                available=0,
                grams_available=0.0,
                value_cents=0,
            )
        row.on_hand += s.balance.on_hand
        row.allocated += s.balance.allocated
        row.value_cents += s.balance.on_hand * s.lot.acquisition_cost_cents
        if s.lot.status == "available":
            free = s.balance.on_hand - s.balance.allocated
            row.available += free
            row.grams_available = round(row.grams_available + free * s.lot.vial_size_g, 2)
    return [rows[k] for k in sorted(rows)]


def expiring(
    session: Session, principal: Principal, today: dt.date, within_days: int = 90
) -> list[ExpiringOut]:
    """Lots with stock whose effective expiry falls within ``within_days`` (banded 30/60/90)."""
    lots = {s.lot.id: s for s in _supplies(session)}
    balances = _balances(session, list(lots))
    out: list[ExpiringOut] = []
    for lot_id, s in lots.items():
        left = (s.expiry - today).days
        if left > within_days:
            continue
        band = next((b for b in EXPIRY_BANDS if left <= b), within_days)
        out.append(ExpiringOut(lot=lot_out(session, s.lot, balances[lot_id]), days_left=left, band=band))
    return sorted(out, key=lambda e: (e.days_left, e.lot.id))


def ledger_check(session: Session) -> list[str]:
    """Replay every move through the pure core and compare with the stored balances (empty: consistent)."""
    ledger = core.Ledger()
    moves = session.execute(select(StockMove).order_by(StockMove.id)).scalars()
    for m in moves:
        ledger.apply(
            core.Move(
                str(m.lot_id),
                m.kind,  # type: ignore[arg-type]
                m.count,
                str(m.site_id),
                None if m.appointment_id is None else str(m.appointment_id),
                None if m.patient_id is None else str(m.patient_id),
            )
        )
    problems: list[str] = []
    for b in session.execute(select(StockBalance)).scalars():
        stock = ledger.stock(str(b.lot_id), str(b.site_id))
        if (stock.on_hand_count, stock.allocated_count) != (b.on_hand, b.allocated):
            problems.append(
                f"lot {b.lot_id} site {b.site_id}: ledger {stock.on_hand_count}/{stock.allocated_count}, "
                f"balance {b.on_hand}/{b.allocated}"
            )
    for hold in session.execute(select(StockAllocation)).scalars():
        expected = ledger.stock(str(hold.lot_id), str(hold.site_id)).allocations.get(
            str(hold.appointment_id), 0
        )
        if expected != hold.count:
            problems.append(f"allocation {hold.id}: ledger {expected}, table {hold.count}")
    return problems
