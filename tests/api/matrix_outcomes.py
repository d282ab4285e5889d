"""Role-matrix rows for the outcomes routes (imported by test_role_matrix.py)."""

from __future__ import annotations

NURSE, PHARM, PRESC = "nurse", "pharmacist", "prescriber"
READERS = {NURSE, PHARM, PRESC}  # not the scheduler, intake, administrator or auditor

# (method, path template, roles allowed). Readings are recorded by nurses, pharmacists and prescribers;
# only the prescriber decides whether treatment continues.
OUTCOME_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/patients/{ann}/outcomes", READERS),
    ("POST", "/api/v1/patients/{ann}/outcomes", READERS),
    ("GET", "/api/v1/orders/{order}/response", READERS),
    ("POST", "/api/v1/orders/{order}/continuation-decisions", {PRESC}),
    ("POST", "/patients/{ann}/outcomes", READERS),
    ("POST", "/orders/{order}/continuation-decisions", {PRESC}),
]
