"""MedicationDispense: dispense and return moves of the stock ledger, per appointment and lot, narrowed by
the stock-move rule (the dispensing site) and the patient rule of ``scope``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.fhir.mapping.medication_dispense import DispensedLot, to_medication_dispense
from igflow.fhir.search import Params, numeric_id
from igflow.fhir.service.engine import Item, Source, all_of, reference_filter
from igflow.fhir.service.orders import product_name
from igflow.inventory.models import InventoryLot, StockMove
from igflow.security import scope
from igflow.security.principal import Principal

_NET = func.sum(case((StockMove.kind == "dispense", StockMove.count), else_=-StockMove.count))


def _pair(value: str) -> tuple[int, int] | None:
    appointment, _, lot = value.partition("-")
    a, b = numeric_id(appointment), numeric_id(lot)
    return (a, b) if a is not None and b is not None else None


def _ids(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("_id"):
        pairs = [p for p in map(_pair, group) if p is not None]
        clauses.append(
            or_(*(and_(StockMove.appointment_id == a, StockMove.lot_id == b) for a, b in pairs))
            if pairs
            else false()
        )
    return all_of(clauses)


def _build(session: Session, rows: list[Any]) -> list[Item]:
    if not rows:
        return []
    lots = {
        lot.id: lot
        for lot in session.execute(
            select(InventoryLot).where(InventoryLot.id.in_({r.lot_id for r in rows}))
        ).scalars()
    }
    appointments = {
        a.id: (a, order_id)
        for a, order_id in session.execute(
            select(Appointment, Course.order_id)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .join(Course, Course.id == CourseSession.course_id)
            .where(Appointment.id.in_({r.appointment_id for r in rows}))
        ).all()
    }
    out = []
    for row in rows:
        lot = lots[row.lot_id]
        appointment, order_id = appointments[row.appointment_id]
        dispensed = DispensedLot(
            appointment_id=appointment.id,
            lot_id=lot.id,
            vials=int(row.vials),
            first_at=row.first_at,
            patient_id=appointment.patient_id,
            site_id=appointment.site_id,
            order_id=order_id,
            product_id=lot.product_id,
            product_name=product_name(lot.product_id),
            lot_number=lot.lot_number,
            label_expiry=lot.label_expiry,
            vial_size_g=lot.vial_size_g,
        )
        out.append(Item(to_medication_dispense(dispensed), appointment.patient_id))
    return out


def dispensed_lots_query(principal: Principal) -> Any:
    """Net vials per (appointment, lot) that the principal may see, more than none."""
    query: Any = (
        select(
            StockMove.appointment_id,
            StockMove.lot_id,
            _NET.label("vials"),
            func.min(StockMove.at).label("first_at"),
        )
        .join(Appointment, Appointment.id == StockMove.appointment_id)
        .where(StockMove.kind.in_(("dispense", "return")), StockMove.appointment_id.is_not(None))
    )
    query = scope.by_patient(scope.rows(query, principal, StockMove), principal, Appointment.patient_id)
    return query


def medication_dispense_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = (
        dispensed_lots_query(principal)
        .where(_ids(params), reference_filter(params, "patient", "Patient", Appointment.patient_id))
        .group_by(StockMove.appointment_id, StockMove.lot_id)
        .having(_NET > 0)
    )
    return [Source(query.order_by(StockMove.appointment_id, StockMove.lot_id), _build)]


def dispense_ids_for(
    session: Session, principal: Principal, appointment_ids: set[int]
) -> dict[int, list[str]]:
    """The MedicationDispense ids of each appointment (for an administration's supporting information)."""
    if not appointment_ids:
        return {}
    rows = session.execute(
        dispensed_lots_query(principal)
        .where(StockMove.appointment_id.in_(appointment_ids))
        .group_by(StockMove.appointment_id, StockMove.lot_id)
        .having(_NET > 0)
        .order_by(StockMove.appointment_id, StockMove.lot_id)
    ).all()
    out: dict[int, list[str]] = {}
    for row in rows:
        out.setdefault(row.appointment_id, []).append(f"{row.appointment_id}-{row.lot_id}")
    return out
