"""The patient page's Coverage and prior-authorisation section (drawn by the patient page)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations import service
from igflow.authorizations.service import documents
from igflow.coverage import service as coverage_service
from igflow.directory.models import Payer
from igflow.orders.models import Order
from igflow.security.permissions import Perm
from igflow.security.principal import Principal


def patient_panel(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    panel: dict[str, Any] = {"coverages": coverage_service.list_coverages(session, principal, patient_id)}
    panel["payers"] = list(
        session.execute(select(Payer).where(Payer.active.is_(True)).order_by(Payer.name)).scalars()
    )
    if principal.can(Perm.PRIOR_AUTH_READ):
        panel["requests"] = service.requests_for_patient(session, principal, patient_id)
        panel["orders"] = list(
            session.execute(
                select(Order)
                .where(Order.patient_id == patient_id, Order.status == "active")
                .order_by(Order.id)
            ).scalars()
        )
    if principal.can(Perm.PATIENT_CLINICAL_READ):
        panel["therapies"] = documents.list_therapies(session, principal, patient_id)
    return panel
