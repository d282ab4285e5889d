"""vread and _history of Patient: the versions rebuilt exactly from the change log, through ``scope``.

A patient another site's user may not see is a 404, as on read. Each history read and vread is audited
(``fhir.history``, ``fhir.vread``) with the patient, like any read of patient data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import NotFound
from igflow.fhir.mapping.patient import demographics, to_patient, to_patient_version
from igflow.fhir.mapping.patient_history import FieldChange, History, PatientVersion, rebuild
from igflow.fhir.search import numeric_id
from igflow.fhir.service.engine import Item
from igflow.patients.models import Patient, PatientFactChange
from igflow.security import audit, scope
from igflow.security.principal import Principal


def _patient(session: Session, principal: Principal, ident: str) -> Patient:
    pid = numeric_id(ident)
    patient = (
        session.execute(
            scope.rows(select(Patient), principal, Patient).where(Patient.id == pid)
        ).scalar_one_or_none()
        if pid is not None
        else None
    )
    if patient is None:
        raise NotFound(f"Patient/{ident} not found")
    return patient


def _history(session: Session, principal: Principal, patient: Patient) -> History:
    rows = session.execute(
        scope.rows(select(PatientFactChange), principal, PatientFactChange)
        .where(PatientFactChange.patient_id == patient.id)
        .order_by(PatientFactChange.id)
    ).scalars()
    changes = [
        FieldChange(
            r.patient_version, r.field, json.loads(r.old_value), json.loads(r.new_value), r.changed_at
        )
        for r in rows
    ]
    return rebuild(demographics(patient), patient.version, patient.updated_at, patient.created_at, changes)


def _item(patient: Patient, version: PatientVersion) -> Item:
    if version.version == patient.version:
        return Item(to_patient(patient), patient.id)  # exactly what a read answers
    resource = to_patient_version(
        patient.id, patient.mrn, version.values, version.version, version.last_updated
    )
    return Item(resource, patient.id)


def patient_history(session: Session, principal: Principal, ident: str) -> tuple[list[Item], History]:
    """Every version that can be rebuilt exactly, newest first (audited)."""
    patient = _patient(session, principal, ident)
    history = _history(session, principal, patient)
    items = [_item(patient, v) for v in history.versions]
    audit.record(
        session,
        principal.actor,
        "fhir.history",
        "Patient",
        patient.id,
        patient_id=patient.id,
        detail={"versions": [v.version for v in history.versions]},
    )
    session.commit()
    return items, history


def patient_version(session: Session, principal: Principal, ident: str, version_id: str) -> Item:
    """One version (audited); one that does not exist or cannot be rebuilt exactly is a 404 saying so."""
    patient = _patient(session, principal, ident)
    wanted = numeric_id(version_id)
    if wanted is None or not 1 <= wanted <= patient.version:
        raise NotFound(
            f"Patient/{ident} has no version {version_id} (its current version is {patient.version})"
        )
    history = _history(session, principal, patient)
    found = next((v for v in history.versions if v.version == wanted), None)
    if found is None:
        raise NotFound(
            f"Patient/{ident} version {wanted} cannot be rebuilt exactly from igflow's change log (the "
            f"history is exact from version {history.earliest_exact}); see {ident}/_history"
        )
    audit.record(
        session,
        principal.actor,
        "fhir.vread",
        "Patient",
        patient.id,
        patient_id=patient.id,
        detail={"version": wanted},
    )
    session.commit()
    return _item(patient, found)


@dataclass(frozen=True)
class Histories:
    """How one versioned type answers _history and vread."""

    versions: Callable[[Session, Principal, str], tuple[list[Item], History]]
    version: Callable[[Session, Principal, str, str], Item]


#: The types whose earlier versions igflow keeps (routes are added for these only).
HISTORIES = {"Patient": Histories(patient_history, patient_version)}
