"""What is needed and what is there: the booked appointments of a horizon with their verified plans
(``_demand_rows``), their vial demand for the pure core, the lots with stock at each site (``_supplies``),
and what each appointment already holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.inventory import core
from igflow.inventory.models import InventoryLot, StockAllocation, StockBalance
from igflow.inventory.service._common import _Plan, effective_expiry_of
from igflow.orders.models import Order, PlanVersion


@dataclass(frozen=True)
class _DemandRow:
    appointment: Appointment
    course: Course
    plan: _Plan
    indication: str
    inputs: dict[str, Any]


def _demand_rows(
    session: Session,
    start: dt.date,
    days: int,
    site_id: int | None = None,
    statuses: tuple[str, ...] = ("booked",),
) -> list[_DemandRow]:
    end = start + dt.timedelta(days=days)
    stmt = (
        select(Appointment, CourseSession, Course, PlanVersion, Order)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(PlanVersion, PlanVersion.id == Course.plan_version_id)
        .join(Order, Order.id == Course.order_id)
        .where(Appointment.status.in_(statuses), Appointment.date >= start, Appointment.date < end)
        .order_by(Appointment.date, Appointment.start_min, Appointment.id)
    )
    if site_id is not None:
        stmt = stmt.where(Appointment.site_id == site_id)
    return [
        _DemandRow(
            appt,
            course,
            _Plan(appt, course, cs.day_index, dict(version.plan)),
            order.indication_id,
            dict(version.inputs or {}),
        )
        for appt, cs, course, version, order in session.execute(stmt).all()
    ]


def _constraints(inputs: dict[str, Any]) -> core.Constraints:
    risks = set(inputs.get("risks") or [])
    limit = load_catalog().administration.screening.low_iga_max_ug_per_ml.value
    return core.Constraints(
        sucrose_free_required="renal" in risks,
        proline_excluded="proline" in risks,
        max_iga_ug_per_ml=limit if inputs.get("iga_deficient_with_antibodies") else None,
    )


def _demand(
    row: _DemandRow, codes: dict[int, str], held: dict[float, int] | None = None
) -> core.Demand | None:
    """The appointment day's whole vials (less what it already holds, when ``held`` is given)."""
    needs: list[core.VialNeed] = []
    for size, count in row.plan.vials:
        left = count - (held or {}).get(size, 0)
        if left > 0:
            needs.append(core.VialNeed(size, left))
    if not needs:
        return None
    indication = load_catalog().indications.get(row.indication)
    route = "sc" if str(row.plan.plan.get("route") or "") == "sc" else "iv"
    priority = row.course.priority if row.course.priority in (1, 2, 3) else 3
    return core.Demand(
        demand_id=str(row.appointment.id),
        appointment_id=str(row.appointment.id),
        on_date=row.appointment.date,
        site=codes.get(row.appointment.site_id, str(row.appointment.site_id)),
        product=row.plan.product,
        route=route,  # type: ignore[arg-type]
        vials=tuple(needs),
        priority=priority,  # type: ignore[arg-type]
        recommended=indication is None or indication.recommendation == "recommended",
        constraints=_constraints(row.inputs),
    )


@dataclass(frozen=True)
class _Supply:
    lot: InventoryLot
    balance: StockBalance
    expiry: dt.date

    @property
    def key(self) -> str:
        return f"{self.lot.id}@{self.balance.site_id}"


def _supplies(session: Session) -> list[_Supply]:
    rows = session.execute(
        select(InventoryLot, StockBalance)
        .join(StockBalance, StockBalance.lot_id == InventoryLot.id)
        .where(StockBalance.on_hand > 0)
        .order_by(InventoryLot.id, StockBalance.site_id)
    ).all()
    return [_Supply(lot, balance, effective_expiry_of(lot)) for lot, balance in rows]


def _lot_supply(s: _Supply, codes: dict[int, str], available: int) -> core.LotSupply:
    return core.LotSupply(
        lot_id=s.key,
        site=codes.get(s.balance.site_id, str(s.balance.site_id)),
        product=s.lot.product_id,
        vial_size_g=s.lot.vial_size_g,
        effective_expiry=s.expiry,
        available_count=max(0, available),
        status="active" if s.lot.status == "available" else s.lot.status,  # type: ignore[arg-type]
    )


def _holdings(
    session: Session, appointment_ids: Iterable[int]
) -> dict[int, list[tuple[StockAllocation, InventoryLot]]]:
    ids = list(appointment_ids)
    out: dict[int, list[tuple[StockAllocation, InventoryLot]]] = {i: [] for i in ids}
    if not ids:
        return out
    for hold, lot in session.execute(
        select(StockAllocation, InventoryLot)
        .join(InventoryLot, InventoryLot.id == StockAllocation.lot_id)
        .where(StockAllocation.appointment_id.in_(ids), StockAllocation.count > 0)
        .order_by(StockAllocation.id)
    ).all():
        out[hold.appointment_id].append((hold, lot))
    return out


def _held_sizes(rows: list[tuple[StockAllocation, InventoryLot]], product: str) -> dict[float, int]:
    held: dict[float, int] = {}
    for hold, lot in rows:
        if lot.product_id == product:
            held[lot.vial_size_g] = held.get(lot.vial_size_g, 0) + hold.count
    return held
