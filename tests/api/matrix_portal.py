"""Role-matrix rows for the patient's questionnaires, costs and caregivers pages (imported by
test_role_matrix.py). A caregiver account (not a matrix user) is tested in test_caregivers.py."""

from __future__ import annotations

PATIENT = "patient.ann"
PHARM, NURSE, SCHED, INTAKE, PRESC = "pharmacist", "nurse", "scheduler", "intake", "prescriber"
CHART_READERS = {PHARM, NURSE, SCHED, INTAKE, PRESC, "prior_auth"}  # patient.read
CONSENT_RECORDERS = {PHARM, INTAKE}  # patient.write: record a caregiver consent when the patient asks

# (method, path template, roles allowed)
PORTAL_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/my/measures", {PATIENT}),
    ("POST", "/my/measures/{measure}", {PATIENT}),
    ("GET", "/my/costs", {PATIENT}),
    ("GET", "/my/caregivers", {PATIENT}),
    ("POST", "/my/caregivers", {PATIENT}),
    ("POST", "/my/caregivers/{no_row}/revoke", {PATIENT}),
    ("GET", "/patients/{ann}/caregivers", CHART_READERS),
    ("POST", "/patients/{ann}/caregivers", CONSENT_RECORDERS),
    ("POST", "/patients/{ann}/caregivers/{no_row}/revoke", CONSENT_RECORDERS),
]


def portal_ids() -> dict[str, object]:
    return {"measure": "mg-adl"}
