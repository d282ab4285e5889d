"""Readings: add one (validated against the catalog's scale; append-only with corrections) and list them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.catalog.models import Measure
from igflow.clinical.response import (
    ResponseInputError,
    validate_value,
)
from igflow.errors import Conflict, InvalidInput
from igflow.orders.models import Order
from igflow.outcomes.models import OutcomeReading
from igflow.outcomes.schemas import ReadingIn, ReadingOut
from igflow.outcomes.service._common import (
    current_catalog,
    indication_entry,
    measure,
    measure_ids_of,
    patient_measure_ids,
    rows_of,
    today_utc,
)
from igflow.outcomes.service.reviews import raise_reviews
from igflow.outcomes.service.trough import review_trough
from igflow.patients import service as patients_service
from igflow.security import audit
from igflow.security.principal import Principal


def _total(spec: Measure, data: ReadingIn) -> float:
    """The reading's total, checked against the catalog's scale (422 naming the range)."""
    if spec.parts:
        if data.value is not None and data.parts is None:
            names = " and ".join(p.name for p in spec.parts)
            raise InvalidInput(f"parts: {spec.name} is entered as its parts ({names})", "parts")
        raw: Any = data.parts
    else:
        if data.parts is not None or data.value is None:
            raise InvalidInput(f"value: enter {spec.name} as one number in {spec.unit}", "value")
        raw = data.value
    try:
        return validate_value(spec, raw)
    except ResponseInputError as exc:
        name = "parts" if spec.parts else "value"
        raise InvalidInput(f"{name}: {exc.message}", name) from None


def _check_applies(session: Session, patient_id: int, spec: Measure, order: Order | None) -> None:
    catalog = current_catalog()
    if order is not None:
        if spec.id not in indication_entry(order.indication_id, catalog).measure_ids:
            indication = catalog.indications[order.indication_id].name
            raise InvalidInput(
                f"measure_id: {spec.name} is not an outcome measure of {indication} (this order)",
                "measure_id",
            )
        return
    if spec.id not in patient_measure_ids(session, patient_id, catalog):
        raise InvalidInput(
            f"measure_id: {spec.name} is not an outcome measure of this patient's indications", "measure_id"
        )


def _check_correction(session: Session, patient_id: int, data: ReadingIn) -> OutcomeReading | None:
    if data.amends_id is None:
        return None
    original = session.get(OutcomeReading, data.amends_id)
    if original is None or original.patient_id != patient_id or original.measure_id != data.measure_id:
        raise InvalidInput(
            "amends_id: name an earlier reading of the same measure for this patient", "amends_id"
        )
    later = session.execute(
        select(OutcomeReading.id).where(OutcomeReading.amends_id == original.id)
    ).scalar_one_or_none()
    if later is not None:
        raise Conflict(
            f"amends_id: reading {original.id} was already corrected by reading {later}; correct that one",
            "amends_id",
        )
    if not data.note:
        raise InvalidInput("note: a correction must say why", "note")
    return original


def add_reading(session: Session, principal: Principal, patient_id: int, data: ReadingIn) -> OutcomeReading:
    """Append a reading (audited), then raise the reviews that are due on the orders it bears on."""
    patient = patients_service.check_access(session, principal, patient_id)
    spec = measure(data.measure_id)
    original = _check_correction(session, patient.id, data)
    order_id = data.order_id if data.order_id is not None else original.order_id if original else None
    order = None
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is None or order.patient_id != patient.id:
            raise InvalidInput("order_id: name an order of this patient", "order_id")
    _check_applies(session, patient.id, spec, order)
    total = _total(spec, data)
    if data.measured_on > today_utc():
        raise InvalidInput("measured_on: cannot be in the future", "measured_on")
    if data.measured_on < patient.date_of_birth:
        raise InvalidInput("measured_on: before the patient's date of birth", "measured_on")
    reading = OutcomeReading(
        patient_id=patient.id,
        order_id=order_id,
        measure_id=spec.id,
        value=total,
        parts=dict(data.parts) if spec.parts and data.parts else None,
        measured_on=data.measured_on,
        method=data.method,
        recorded_by_user_id=principal.user_id,
        amends_id=data.amends_id,
        note=data.note,
    )
    session.add(reading)
    try:
        session.flush()
    except IntegrityError:  # a concurrent correction of the same reading committed first
        session.rollback()
        raise Conflict(
            f"amends_id: reading {data.amends_id} was corrected a moment ago; reload and correct that one",
            "amends_id",
        ) from None
    audit.record(
        session,
        principal.actor,
        "outcome.reading.create",
        "outcome_reading",
        reading.id,
        patient_id=patient.id,
        detail={"measure_id": spec.id, "method": data.method, "amends_id": data.amends_id},
    )
    orders = [order] if order is not None else _active_orders_using(session, patient.id, spec.id)
    for each in orders:
        raise_reviews(session, principal, each.id)
    review_trough(session, principal, reading)  # below an SC product's target: a pharmacist's task
    session.commit()
    return reading


def _active_orders_using(session: Session, patient_id: int, measure_id: str) -> list[Order]:
    orders = session.execute(
        select(Order).where(Order.patient_id == patient_id, Order.status == "active").order_by(Order.id)
    ).scalars()
    return [o for o in orders if measure_id in measure_ids_of(o.indication_id)]


def reading_outs(rows: list[OutcomeReading]) -> list[ReadingOut]:
    by_amended = {r.amends_id: r.id for r in rows if r.amends_id}
    return [
        ReadingOut.model_validate(r).model_copy(update={"amended_by_id": by_amended.get(r.id)}) for r in rows
    ]


def list_readings(
    session: Session, principal: Principal, patient_id: int, measure_id: str | None = None
) -> list[OutcomeReading]:
    """Every reading of the patient (corrected ones too, each with the correction that replaces it)."""
    patient = patients_service.check_access(session, principal, patient_id)
    if measure_id is not None:
        measure(measure_id)
    rows = rows_of(session, patient.id, None if measure_id is None else [measure_id])
    audit.record(
        session,
        principal.actor,
        "outcome.reading.list",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"measure_id": measure_id, "returned_ids": [r.id for r in rows]},
    )
    session.commit()
    return rows
