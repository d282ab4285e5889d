"""The history of a patient's record: every change to demographics, sites and screening facts.

A change to a fact that screening or dosing reads (the risk flags, allergies, IgA status, pregnancy, date of
birth, sex) needs a reason, so that whoever reads the history later knows why the answer changed (a new lab
result, a correction of a wrong entry). Rows are only ever added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.patients.models import Patient, PatientFactChange
from igflow.security import audit, scope
from igflow.security.principal import Principal

# Facts that screening or dosing reads: a change to one needs a reason.
CLINICAL_FIELDS = frozenset(
    {
        "date_of_birth",
        "sex",
        "allergies",
        "prior_severe_ig_reaction",
        "iga_deficiency_anti_iga",
        "pregnancy_status",
        "renal_impairment",
        "diabetes",
        "heart_failure",
        "thrombosis_history",
        "hyperviscosity",
        "hyperprolinaemia",
    }
)

FIELD_LABELS = {
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "phone": "Phone",
    "email": "Email",
    "address": "Address",
    "home_lat": "Home latitude",
    "home_lon": "Home longitude",
    "site_ids": "Preferred sites",
    "allergies": "Allergies",
    "prior_severe_ig_reaction": "Prior severe immunoglobulin reaction",
    "iga_deficiency_anti_iga": "IgA deficiency with anti-IgA antibodies",
    "pregnancy_status": "Pregnancy",
    "renal_impairment": "Renal impairment",
    "diabetes": "Diabetes",
    "heart_failure": "Heart failure",
    "thrombosis_history": "History of thrombosis",
    "hyperviscosity": "Hyperviscosity",
    "hyperprolinaemia": "Hyperprolinaemia",
    "change_reason": "Reason for the change",
}

_WORDS = {"not_pregnant": "not pregnant", "not_applicable": "not applicable"}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _encode(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def current_value(patient: Patient, field: str) -> Any:
    if field == "site_ids":
        return [s.site_id for s in sorted(patient.sites, key=lambda s: s.rank)]
    return getattr(patient, field)


def diff(patient: Patient, changes: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The fields whose value really changes, as (field, old, new), in a stable order."""
    out = []
    for field in sorted(changes):
        old, new = current_value(patient, field), changes[field]
        if _plain(old) != _plain(new):
            out.append((field, old, new))
    return out


def check_reason(diffs: list[tuple[str, Any, Any]], reason: str | None) -> str:
    clinical = [FIELD_LABELS[f] for f, _, _ in diffs if f in CLINICAL_FIELDS]
    if clinical and not (reason or "").strip():
        raise InvalidInput(
            "change_reason: say why these screening facts changed (for example a new result, or a "
            f"correction of a wrong entry): {', '.join(clinical)}",
            "change_reason",
        )
    return (reason or "").strip()


def record(
    session: Session,
    principal: Principal,
    patient: Patient,
    diffs: list[tuple[str, Any, Any]],
    reason: str,
) -> None:
    """Add one history row per changed field; call after the flush that bumped the patient's version."""
    for field, old, new in diffs:
        session.add(
            PatientFactChange(
                patient_id=patient.id,
                patient_version=patient.version,
                field=field,
                old_value=_encode(old),
                new_value=_encode(new),
                reason=reason,
                changed_by_user_id=principal.user_id,
            )
        )


@dataclass(frozen=True)
class Change:
    changed_at: datetime
    patient_version: int
    field: str
    label: str
    clinical: bool
    old_value: Any
    new_value: Any
    reason: str
    changed_by_user_id: int | None


def changes(session: Session, principal: Principal, patient: Patient) -> list[Change]:
    """The patient's record history, newest first (the caller has checked access to the patient)."""
    rows = session.execute(
        scope.rows(select(PatientFactChange), principal, PatientFactChange)
        .where(PatientFactChange.patient_id == patient.id)
        .order_by(PatientFactChange.id.desc())
    ).scalars()
    out = [
        Change(
            changed_at=r.changed_at,
            patient_version=r.patient_version,
            field=r.field,
            label=FIELD_LABELS.get(r.field, r.field),
            clinical=r.field in CLINICAL_FIELDS,
            old_value=json.loads(r.old_value),
            new_value=json.loads(r.new_value),
            reason=r.reason,
            changed_by_user_id=r.changed_by_user_id,
        )
        for r in rows
    ]
    audit.record(
        session, principal.actor, "patient.history.read", "patient", patient.id, patient_id=patient.id
    )
    return out


def shown(field: str, value: Any, site_names: dict[int, str]) -> str:
    """A value as a person reads it: yes/no, words not codes, site names."""
    if field == "site_ids":
        return "; ".join(site_names.get(i, f"a site no longer listed ({i})") for i in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value in (None, ""):
        return "—"
    return _WORDS.get(str(value), str(value))
