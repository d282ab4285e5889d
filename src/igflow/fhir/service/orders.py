"""MedicationRequest: orders, narrowed by the patient rule, each with its currently verified plan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.catalog_access import indication_names
from igflow.fhir.mapping.medication_request import VerifiedPlan, to_medication_request
from igflow.fhir.search import Params
from igflow.fhir.service.engine import Item, Source, ids_filter, reference_filter
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.security import scope
from igflow.security.principal import Principal


def product_name(product_id: str) -> str:
    product = load_catalog().products.get(product_id)
    return product.name if product else product_id


def _verified(session: Session, order_id: int) -> VerifiedPlan | None:
    found = orders_service.current_verified_plan(session, order_id)
    if found is None:
        return None
    version, verification = found
    return VerifiedPlan(version.version, version.plan, verification.verified_at)


def _build(session: Session, rows: list[Any]) -> list[Item]:
    names = indication_names()
    out = []
    for (order,) in rows:
        resource = to_medication_request(
            order,
            product_name=product_name(order.product_id),
            indication_name=names.get(order.indication_id, order.indication_id),
            verified=_verified(session, order.id),
        )
        out.append(Item(resource, order.patient_id))
    return out


def medication_request_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = scope.rows(select(Order), principal, Order).where(
        ids_filter(params, Order.id), reference_filter(params, "patient", "Patient", Order.patient_id)
    )
    return [Source(query.order_by(Order.id), _build)]
