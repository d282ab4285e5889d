"""Role-matrix rows for the prior-authorisation, drug and safety reports (imported by test_role_matrix.py)."""

from __future__ import annotations

PHARM, NURSE, INTAKE, PRESC, PRIOR = "pharmacist", "nurse", "intake", "prescriber", "prior_auth"
PRIOR_AUTH_READERS = {PHARM, INTAKE, PRESC, PRIOR}  # Perm.PRIOR_AUTH_READ
COST_READERS = {PHARM, PRIOR}  # Perm.COST_READ, as the cost report
INFUSION_READERS = {PHARM, NURSE, PRESC}  # Perm.INFUSION_READ, as the reactions report

# (method, path template, roles allowed)
REPORTS_B_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/reports/prior-auth", PRIOR_AUTH_READERS),
    ("GET", "/reports/prior-auth/download", PRIOR_AUTH_READERS),
    ("GET", "/reports/drug", COST_READERS),
    ("GET", "/reports/drug/download", COST_READERS),
    ("GET", "/reports/safety", INFUSION_READERS),
    ("GET", "/reports/safety/download", INFUSION_READERS),
]
