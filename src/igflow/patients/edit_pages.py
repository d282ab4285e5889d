"""Pages to change a patient's record (demographics, contact, sites, screening facts) and read its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.patients import history
from igflow.patients import service as patients_service
from igflow.patients.schemas import PatientPatch
from igflow.security import service as security_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import form_action, form_values, validate_form
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

_TEXT = ("given_name", "family_name", "date_of_birth", "sex", "phone", "email", "address", "allergies")
_CHOICES = ("iga_deficiency_anti_iga", "pregnancy_status")
_FLAGS = (
    "prior_severe_ig_reaction",
    "renal_impairment",
    "diabetes",
    "heart_failure",
    "thrombosis_history",
    "hyperviscosity",
    "hyperprolinaemia",
)


def _values_of(patient: Any) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(getattr(patient, name) or "") for name in _TEXT + _CHOICES}
    values |= {flag: bool(getattr(patient, flag)) for flag in _FLAGS}
    values["site_ids"] = [str(s.site_id) for s in sorted(patient.sites, key=lambda s: s.rank)]
    values["version"] = str(patient.version)
    return values


def _edit_page(
    request: Request,
    session: Session,
    principal: Principal,
    patient_id: int,
    values: dict[str, Any] | None,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    patient = patients_service.read(session, principal, patient_id)
    sites = sites_service.list_sites(session, active_only=True)
    visible = [s for s in sites if principal.site_ids is None or s.id in principal.site_ids]
    context = {
        "patient": patient,
        "site_options": [(str(s.id), s.name) for s in visible],
        "values": values if values is not None else _values_of(patient),
        "errors": errors,
        "labels": history.FIELD_LABELS,
        "flags": [(f, history.FIELD_LABELS[f]) for f in _FLAGS],
        "current_version": patient.version,
    }
    return render(request, "patients/edit.html", context, status_code=status_code)


@router.get("/patients/{patient_id}/edit", response_class=HTMLResponse)
def patient_edit(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return _edit_page(request, session, principal, patient_id, None, {})


@router.post("/patients/{patient_id}/edit", response_class=HTMLResponse)
async def patient_save(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form, lists=("site_ids",))
    values |= {flag: flag in form for flag in _FLAGS}
    data: dict[str, Any] = {name: values.get(name, "") for name in _TEXT + _CHOICES}
    data |= {flag: values[flag] for flag in _FLAGS}
    data["site_ids"] = [int(v) for v in values.get("site_ids", []) if v.isdigit()]
    data["version"] = values.get("version") or None
    data["change_reason"] = values.get("change_reason", "")
    return await form_action(
        session,
        lambda: patients_service.update(
            session, principal, patient_id, validate_form(PatientPatch, data), None
        ),
        f"/patients/{patient_id}/history",
        lambda failure: _edit_page(
            request, session, principal, patient_id, values, failure.errors, failure.status_code
        ),
    )


@router.get("/patients/{patient_id}/history", response_class=HTMLResponse)
def patient_history(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_CLINICAL_READ),
    session: Session = Depends(get_session),
) -> Response:
    patient = patients_service.read(session, principal, patient_id)
    changes = history.changes(session, principal, patient)
    site_names = {s.id: s.name for s in sites_service.list_sites(session)}
    people = security_service.display_names(session, {c.changed_by_user_id for c in changes} - {None})
    rows = [
        {
            "change": c,
            "old": history.shown(c.field, c.old_value, site_names),
            "new": history.shown(c.field, c.new_value, site_names),
            "by": people.get(c.changed_by_user_id, "a person no longer listed")
            if c.changed_by_user_id is not None
            else "the system",
        }
        for c in changes
    ]
    session.commit()
    return render(request, "patients/history.html", {"patient": patient, "rows": rows})
