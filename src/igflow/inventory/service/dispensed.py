"""What was dispensed for appointments, net of returns: the vials the cost capability prices."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.inventory.models import InventoryLot, StockMove


@dataclass(frozen=True)
class DispensedVials:
    """``count`` vials of ``vial_size_g`` of ``product_id`` dispensed for an appointment (net of returns)."""

    product_id: str
    vial_size_g: float
    count: int


def dispensed_for_appointments(
    session: Session, appointment_ids: Iterable[int]
) -> dict[int, list[DispensedVials]]:
    """For each appointment, the vials dispensed for it minus those returned unopened, by product and size
    (an appointment with none maps to ``[]``). Reads only; the caller checks the principal's scope."""
    ids = sorted(set(appointment_ids))
    out: dict[int, list[DispensedVials]] = {i: [] for i in ids}
    if not ids:
        return out
    net: dict[tuple[int, str, float], int] = defaultdict(int)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                StockMove.appointment_id,
                StockMove.kind,
                StockMove.count,
                InventoryLot.product_id,
                InventoryLot.vial_size_g,
            )
            .join(InventoryLot, InventoryLot.id == StockMove.lot_id)
            .where(
                StockMove.appointment_id.in_(ids[start : start + 500]),
                StockMove.kind.in_(("dispense", "return")),
            )
        ).all()
        for appointment_id, kind, count, product_id, size in rows:
            net[(appointment_id, product_id, float(size))] += count if kind == "dispense" else -count
    for (appointment_id, product_id, size), count in sorted(net.items()):
        if count > 0:
            out[appointment_id].append(DispensedVials(product_id, size, count))
    return out
