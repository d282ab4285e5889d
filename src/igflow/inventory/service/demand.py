"""What is needed and what is there: the booked appointments of a horizon with their verified plans
(``_demand_rows``), their vial demand for the pure core, the lots with stock at each site (``_supplies``),
and what each appointment already holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.inventory import core
from igflow.inventory.models import InventoryLot, StockAllocation, StockBalance
from igflow.inventory.service._common import _Plan, effective_expiry_of
from igflow.orders.models import Order, PlanVersion


@dataclass(frozen=True)
class _Booked:
    """The columns of an appointment the reports read (plain values: they outlive the ORM state)."""

    id: int
    patient_id: int
    site_id: int
    date: dt.date
    start_min: int
    status: str


@dataclass(frozen=True)
class _DemandRow:
    appointment: _Booked
    priority: int  # the course's clinical priority
    plan: _Plan
    indication: str
    inputs: dict[str, Any]


_DEMAND_MODELS = (Appointment, CourseSession, Course, Order, PlanVersion)
_DEMAND_TABLES = frozenset(model.__tablename__ for model in _DEMAND_MODELS)
_MEMO = "igflow.inventory.demand"
_PLAN_CHUNK = 500  # plan versions per IN (...) list


@dataclass
class _DemandMemo:
    """What this session has read of the demand: each plan version decoded once, and the demand rows per
    appointment status set and day. It lives in ``session.info``, so as long as the session (a request),
    across its commits (the reports' audited reads commit), and is dropped when this session writes to an
    appointment, course, order or plan version, executes a statement it cannot place, or rolls back.
    A long-lived session that wants bookings made meanwhile by others calls ``forget_demand``."""

    plans: dict[int, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    days: dict[frozenset[str], dict[dt.date, list[_DemandRow]]] = field(default_factory=dict)


def forget_demand(session: Session) -> None:
    """Drop the session's demand memo: the next report reads appointments and plans again."""
    session.info.pop(_MEMO, None)


def _after_flush(session: Session, _context: Any) -> None:
    if _MEMO in session.info and any(
        isinstance(obj, _DEMAND_MODELS) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        forget_demand(session)


def _after_rollback(session: Session, _previous: Any) -> None:
    forget_demand(session)


def _on_execute(state: ORMExecuteState) -> None:
    if _MEMO not in state.session.info or state.is_select:
        return
    table = getattr(state.statement, "table", None)  # INSERT, UPDATE, DELETE name theirs; text() does not
    if getattr(table, "name", None) not in _DEMAND_TABLES and table is not None:
        return
    forget_demand(state.session)


def _memo(session: Session) -> _DemandMemo:
    memo = session.info.get(_MEMO)
    if memo is None:
        memo = session.info[_MEMO] = _DemandMemo()
        if not session.info.get(f"{_MEMO}.listening"):
            session.info[f"{_MEMO}.listening"] = True
            event.listen(session, "after_flush", _after_flush)
            event.listen(session, "after_soft_rollback", _after_rollback)
            event.listen(session, "do_orm_execute", _on_execute)
    return memo


def _plans(session: Session, memo: _DemandMemo, version_ids: Iterable[int]) -> None:
    """Decode each plan version once per session (versions are never changed: a new plan is a new row)."""
    missing = sorted(set(version_ids) - set(memo.plans))
    for k in range(0, len(missing), _PLAN_CHUNK):
        chunk = missing[k : k + _PLAN_CHUNK]
        for vid, plan, inputs in session.execute(
            select(PlanVersion.id, PlanVersion.plan, PlanVersion.inputs).where(PlanVersion.id.in_(chunk))
        ).all():
            memo.plans[vid] = (dict(plan), dict(inputs or {}))


def _load_days(
    session: Session, memo: _DemandMemo, statuses: frozenset[str], first: dt.date, end: dt.date
) -> None:
    stmt = (
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.site_id,
            Appointment.date,
            Appointment.start_min,
            Appointment.status,
            CourseSession.day_index,
            Course.priority,
            Course.plan_version_id,
            Order.indication_id,
        )
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Order, Order.id == Course.order_id)
        .where(Appointment.status.in_(sorted(statuses)), Appointment.date >= first, Appointment.date < end)
        .order_by(Appointment.date, Appointment.start_min, Appointment.id)
    )
    rows = session.execute(stmt).all()
    _plans(session, memo, (r.plan_version_id for r in rows))
    by_day = memo.days.setdefault(statuses, {})
    for k in range((end - first).days):
        by_day[first + dt.timedelta(days=k)] = []
    for r in rows:
        if r.plan_version_id not in memo.plans:
            continue  # as an inner join with the plan version would
        plan, inputs = memo.plans[r.plan_version_id]
        by_day[r.date].append(
            _DemandRow(
                _Booked(r.id, r.patient_id, r.site_id, r.date, r.start_min, r.status),
                r.priority,
                _Plan(r.day_index, dict(plan)),
                r.indication_id,
                dict(inputs),
            )
        )


def _demand_rows(
    session: Session,
    start: dt.date,
    days: int,
    site_id: int | None = None,
    statuses: tuple[str, ...] = ("booked",),
) -> list[_DemandRow]:
    """The appointments of ``days`` days from ``start`` (at one site, or all) with their verified plan day,
    in date and start order. Read once per session and day (``_DemandMemo``): the inventory page's pick
    list, shortfalls, shortage and reorder share one read, and each plan version is decoded once."""
    memo = _memo(session)
    key = frozenset(statuses)
    wanted = [start + dt.timedelta(days=k) for k in range(days)]
    loaded = memo.days.get(key, {})
    missing = [d for d in wanted if d not in loaded]
    if missing:
        _load_days(session, memo, key, missing[0], missing[-1] + dt.timedelta(days=1))
        loaded = memo.days[key]
    return [
        row for day in wanted for row in loaded[day] if site_id is None or row.appointment.site_id == site_id
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
    priority = row.priority if row.priority in (1, 2, 3) else 3
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
