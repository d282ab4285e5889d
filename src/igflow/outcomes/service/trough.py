"""Trough reviews: an IgG trough below the target of a patient's subcutaneous product opens a pharmacist task.

Raised by an explicit step (:func:`review_trough`, called when a reading is added), never by a GET. For each
active SC order of the patient (the reading's own order, if it names one) the pure core
(``clinical.trough.assess``) compares the reading with the target the catalog holds for the product; when it
is below, one ``trough_review`` task opens in the pharmacist queue, with the label table's change where the
catalog has the row, else the advice to adjust by clinical response. A product without a target in the
catalog opens none (the order page says the prescriber sets the target). A trough measured before the order
was entered belongs to the IV regimen it replaced and is left out. One task per reading and order: a
correction is a new reading and is assessed afresh.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.clinical.scig_contract import is_sc_product
from igflow.clinical.trough import TroughInputError, assess
from igflow.infusions.models import WorkTask
from igflow.orders.models import Order
from igflow.outcomes.models import OutcomeReading
from igflow.outcomes.service._common import current_catalog
from igflow.patients import service as patients_service
from igflow.security import audit
from igflow.security.principal import Principal

TASK_KIND = "trough_review"
#: The outcome measure of the IgG trough (catalog ``outcomes.yaml``).
TROUGH_MEASURE = "igg-trough"


def _sc_orders(session: Session, reading: OutcomeReading) -> list[Order]:
    catalog = current_catalog()
    query = select(Order).where(Order.patient_id == reading.patient_id, Order.status == "active")
    if reading.order_id is not None:
        query = query.where(Order.id == reading.order_id)
    orders = session.execute(query.order_by(Order.id)).scalars()
    return [
        o
        for o in orders
        if is_sc_product(o.product_id, catalog) and reading.measured_on >= o.created_at.date()
    ]


def review_trough(session: Session, principal: Principal, reading: OutcomeReading) -> list[WorkTask]:
    """Open the pharmacist's trough-review task for each active SC order the reading is below target for.
    Runs in the caller's transaction; the caller commits."""
    if reading.measure_id != TROUGH_MEASURE:
        return []
    orders = _sc_orders(session, reading)
    if not orders:
        return []
    catalog = current_catalog()
    weight = patients_service.latest_measurements_for(session, [reading.patient_id])[reading.patient_id].get(
        "weight_kg"
    )
    opened: list[WorkTask] = []
    for order in orders:
        try:
            found = assess(order.product_id, reading.value, weight.value if weight else None, catalog)
        except TroughInputError:
            continue  # a value the core cannot assess (far outside any trough): nothing to suggest
        if not found.below_target:
            continue
        name = catalog.products[order.product_id].name
        task = WorkTask(
            kind=TASK_KIND,
            queue="pharmacist",
            patient_id=order.patient_id,
            record_id=None,
            title=f"IgG trough {reading.value:g} g/L below the {found.target_g_per_l:g} g/L target: "
            f"review the {name} dose (order {order.id})"[:200],
            detail={
                "order_id": order.id,
                "reading_id": reading.id,
                "reading_g_per_l": reading.value,
                "target_g_per_l": found.target_g_per_l,
                "gap_mg_per_dl": found.gap_mg_per_dl,
                "weight_kg": weight.value if weight else None,
                "suggestion": found.adjustment.words if found.adjustment else None,
                "change_ml": found.adjustment.change_ml if found.adjustment else None,
                "verified": found.adjustment.verified if found.adjustment else None,
                "assessment": found.words,
                "sources": found.sources,
            },
            status="open",
        )
        session.add(task)
        session.flush()
        audit.record(
            session,
            principal.actor,
            "outcome.trough_review.raise",
            "work_task",
            task.id,
            patient_id=order.patient_id,
            detail={"order_id": order.id, "reading_id": reading.id},
        )
        opened.append(task)
    return opened
