"""Shared by the outcomes use cases: the catalog's measures, the patient's indications, readings in force."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog import Catalog, load_catalog
from igflow.catalog.models import IndicationOutcomes, Measure
from igflow.db import utcnow
from igflow.errors import InvalidInput, NotFound
from igflow.orders.models import Order
from igflow.outcomes.models import OutcomeReading
from igflow.patients import service as patients_service
from igflow.referrals.models import Referral
from igflow.security import scope
from igflow.security.principal import Principal


def current_catalog() -> Catalog:
    return load_catalog()


def measure(measure_id: str, catalog: Catalog | None = None) -> Measure:
    try:
        return (catalog or current_catalog()).outcomes.measure(measure_id)
    except LookupError:
        raise InvalidInput(
            f"measure_id: no outcome measure {measure_id!r} in the catalog", "measure_id"
        ) from None


def indication_entry(indication_id: str, catalog: Catalog | None = None) -> IndicationOutcomes:
    return (catalog or current_catalog()).outcomes.for_indication(indication_id)


def patient_indications(session: Session, patient_id: int) -> list[str]:
    """The patient's indications, from their orders (newest first) then their referrals."""
    from_orders = session.execute(
        select(Order.indication_id).where(Order.patient_id == patient_id).order_by(Order.id.desc())
    ).scalars()
    from_referrals = session.execute(
        select(Referral.indication_id)
        .where(Referral.patient_id == patient_id, Referral.indication_id.is_not(None))
        .order_by(Referral.id.desc())
    ).scalars()
    return list(dict.fromkeys([*from_orders, *from_referrals]))


def patient_measure_ids(session: Session, patient_id: int, catalog: Catalog | None = None) -> list[str]:
    """Every measure of the patient's indications, in the catalog's order per indication."""
    catalog = catalog or current_catalog()
    found: list[str] = []
    for indication in patient_indications(session, patient_id):
        try:
            found += indication_entry(indication, catalog).measure_ids
        except LookupError:
            continue
    return list(dict.fromkeys(found))


def load_order(session: Session, principal: Principal, order_id: int) -> Order:
    order = scope.get(session, principal, Order, order_id, "order")
    try:
        patients_service.check_access(session, principal, order.patient_id)
    except NotFound:
        raise NotFound(f"order {order_id} not found") from None
    return order


def today_utc() -> date:
    return utcnow().date()


def score_of(reading: OutcomeReading) -> Any:
    return dict(reading.parts) if reading.parts else reading.value


def measure_ids_of(indication_id: str) -> list[str]:
    try:
        return indication_entry(indication_id).measure_ids
    except LookupError:
        return []


def rows_of(
    session: Session, patient_id: int, measure_ids: Iterable[str] | None = None
) -> list[OutcomeReading]:
    query = select(OutcomeReading).where(OutcomeReading.patient_id == patient_id)
    if measure_ids is not None:
        query = query.where(OutcomeReading.measure_id.in_(list(measure_ids)))
    return list(session.execute(query.order_by(OutcomeReading.measured_on, OutcomeReading.id)).scalars())


def effective(rows: list[OutcomeReading]) -> list[OutcomeReading]:
    """The readings in force: a corrected reading is replaced by its correction."""
    amended = {r.amends_id for r in rows if r.amends_id}
    return [r for r in rows if r.id not in amended]
