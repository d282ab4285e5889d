"""AuditEvent: the audit log for auditors (``audit.read``), read-only.

The audit log is organisation-wide (``scope.UNSCOPED``); an auditor limited to some sites sees only the
rows that name a patient of those sites (rows about no patient, such as sign-ins and administration, are
left out for them). Reading the log over FHIR is itself audited (``fhir.read``/``fhir.search``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.fhir.mapping.audit_event import to_audit_event
from igflow.fhir.search import Params
from igflow.fhir.service.engine import Item, Source, date_filter, ids_filter, reference_filter
from igflow.security import scope
from igflow.security.models import AuditEvent
from igflow.security.principal import Principal


def _events(_session: Session, rows: list[Any]) -> list[Item]:
    return [Item(to_audit_event(r), r.patient_id) for (r,) in rows]


def audit_event_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = scope.by_patient(select(AuditEvent), principal, AuditEvent.patient_id)
    if scope.limited(principal):
        query = query.where(AuditEvent.patient_id.is_not(None))
    query = query.where(
        ids_filter(params, AuditEvent.id),
        reference_filter(params, "patient", "Patient", AuditEvent.patient_id),
        date_filter(params, "date", AuditEvent.at, as_datetime=True),
    )
    return [Source(query.order_by(AuditEvent.id), _events)]
