"""Role-matrix rows for the chair, on-time and outcome reports and the reports index (imported by
test_role_matrix.py)."""

from __future__ import annotations

ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, PRIOR = (
    "admin",
    "pharmacist",
    "nurse",
    "scheduler",
    "intake",
    "prescriber",
    "prior_auth",
)
STAFF = {ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, PRIOR}  # the index lists what each may open
SCHEDULE_READERS = {PHARM, NURSE, SCHED, PRIOR}  # chair utilisation and on-time therapy
OUTCOME_READERS = {PHARM, NURSE, PRESC, PRIOR}  # responders, patients past their review date

# (method, path template, roles allowed)
REPORTS_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/reports", STAFF),
    ("GET", "/reports/utilisation", SCHEDULE_READERS),
    ("GET", "/reports/utilisation/download", SCHEDULE_READERS),
    ("GET", "/reports/on-time", SCHEDULE_READERS),
    ("GET", "/reports/on-time/download", SCHEDULE_READERS),
    ("GET", "/reports/outcomes", OUTCOME_READERS),
    ("GET", "/reports/outcomes/download", OUTCOME_READERS),
    ("GET", "/api/v1/reports/utilisation", SCHEDULE_READERS),
    ("GET", "/api/v1/reports/on-time", SCHEDULE_READERS),
    ("GET", "/api/v1/reports/outcomes", OUTCOME_READERS),
]
