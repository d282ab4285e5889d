"""Patient and Coverage: the patient-owned rows, narrowed by the patient rule of ``scope``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from igflow.directory.models import Payer
from igflow.fhir.codes import MRN_SYSTEM
from igflow.fhir.mapping.coverage import to_coverage
from igflow.fhir.mapping.patient import to_patient
from igflow.fhir.search import Params, parse_token
from igflow.fhir.service.engine import Item, Source, all_of, date_filter, ids_filter, reference_filter
from igflow.patients.models import Coverage, Patient
from igflow.security import scope
from igflow.security.principal import Principal


def _identifier(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("identifier"):
        values = []
        for raw in group:
            token = parse_token(raw)
            if token.system in (None, MRN_SYSTEM) and token.code:
                values.append(token.code.strip().upper())  # MRNs are stored upper case
        clauses.append(Patient.mrn.in_(values) if values else false())
    return all_of(clauses)


def _name(params: Params) -> ColumnElement[bool]:
    """FHIR string search: a name part starting with the value, any case (``search_name`` is lower case)."""
    clauses = []
    for group in params.all("name"):
        words = []
        for raw in group:
            word = raw.lower().replace("%", "").replace("_", "").replace("\\", "")
            if word:
                words += [Patient.search_name.like(f"{word}%"), Patient.search_name.like(f"% {word}%")]
        clauses.append(or_(*words) if words else false())
    return all_of(clauses)


def _patients(_session: Session, rows: list[Any]) -> list[Item]:
    return [Item(to_patient(row[0]), row[0].id) for row in rows]


def patient_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = scope.rows(select(Patient), principal, Patient).where(
        ids_filter(params, Patient.id),
        _identifier(params),
        _name(params),
        date_filter(params, "birthdate", Patient.date_of_birth),
    )
    return [Source(query.order_by(Patient.id), _patients)]


def _coverages(session: Session, rows: list[Any]) -> list[Item]:
    payers = {
        p.id: p
        for p in session.execute(select(Payer).where(Payer.id.in_({r[0].payer_id for r in rows}))).scalars()
    }
    return [Item(to_coverage(r[0], payers[r[0].payer_id]), r[0].patient_id) for r in rows]


def coverage_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = scope.rows(select(Coverage), principal, Coverage).where(
        ids_filter(params, Coverage.id),
        reference_filter(params, "patient", "Patient", Coverage.patient_id),
        reference_filter(params, "beneficiary", "Patient", Coverage.patient_id),
    )
    return [Source(query.order_by(Coverage.id), _coverages)]
