"""The patient's outcomes over time, for the patient page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog.models import Measure
from igflow.infusions.models import InfusionRecord
from igflow.orders.models import Order
from igflow.outcomes.models import OutcomeReading
from igflow.outcomes.service._common import (
    current_catalog,
    effective,
    measure_ids_of,
    patient_indications,
    patient_measure_ids,
    rows_of,
    today_utc,
)
from igflow.outcomes.service.response import OrderResponse, evaluate
from igflow.patients import service as patients_service
from igflow.security import audit
from igflow.security.principal import Principal


def infusion_dates(session: Session, patient_id: int) -> list[date]:
    """The dates of the patient's signed infusions (every order), for the chart's marks."""
    return list(
        session.execute(
            select(Appointment.date)
            .join(InfusionRecord, InfusionRecord.appointment_id == Appointment.id)
            .where(InfusionRecord.patient_id == patient_id, InfusionRecord.status == "signed")
            .order_by(Appointment.date)
            .distinct()
        ).scalars()
    )


@dataclass
class MeasureHistory:
    """One measure of the patient over time, judged against the order it bears on (if any)."""

    measure: Measure
    readings: list[OutcomeReading]  # every reading, corrected ones too, oldest first
    order: Order | None = None
    indication_id: str | None = None
    baseline: OutcomeReading | None = None


def patient_outcomes(session: Session, principal: Principal, patient_id: int) -> list[MeasureHistory]:
    """Each measure of the patient's indications (and any measure with readings), audited as one read."""
    patient = patients_service.check_access(session, principal, patient_id)
    catalog = current_catalog()
    rows = rows_of(session, patient.id)
    ids = list(
        dict.fromkeys([*patient_measure_ids(session, patient.id, catalog), *(r.measure_id for r in rows)])
    )
    orders = list(
        session.execute(
            select(Order)
            .where(Order.patient_id == patient.id, Order.status == "active")
            .order_by(Order.id.desc())
        ).scalars()
    )
    views: dict[int, OrderResponse] = {}
    out: list[MeasureHistory] = []
    for measure_id in ids:
        history = MeasureHistory(
            catalog.outcomes.measure(measure_id), [r for r in rows if r.measure_id == measure_id]
        )
        order = next((o for o in orders if measure_id in measure_ids_of(o.indication_id)), None)
        if order is not None:
            view = views.get(order.id) or views.setdefault(order.id, evaluate(session, order, today_utc()))
            history.order, history.indication_id = order, order.indication_id
            history.baseline = view.baseline.get(measure_id)
        else:
            indication = next(
                (i for i in patient_indications(session, patient.id) if measure_id in measure_ids_of(i)),
                None,
            )
            history.indication_id = indication
            kept = effective(history.readings)
            history.baseline = kept[-1] if kept else None
        out.append(history)
    audit.record(
        session,
        principal.actor,
        "outcome.reading.list",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"returned_ids": [r.id for r in rows]},
    )
    session.commit()
    return out
