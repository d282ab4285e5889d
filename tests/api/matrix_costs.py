"""Role-matrix rows for the cost routes (imported by test_role_matrix.py)."""

from __future__ import annotations

ADMIN, PHARM, PRIOR_AUTH = "admin", "pharmacist", "prior_auth"
COST_READERS = {PHARM, PRIOR_AUTH}  # drug cost of plans, courses, infusions and patients; the report
PRICE_SETTERS = {ADMIN, PHARM}  # prices per gram: the administrator sets them but reads no patient's cost

# (method, path template, roles allowed)
COST_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/prices", PRICE_SETTERS),
    ("POST", "/api/v1/prices", PRICE_SETTERS),
    ("GET", "/api/v1/orders/{order}/cost", COST_READERS),
    ("GET", "/api/v1/courses/{course}/cost", COST_READERS),
    ("GET", "/api/v1/infusions/{record}/cost", COST_READERS),
    ("GET", "/api/v1/patients/{ann}/cost", COST_READERS),
    ("GET", "/api/v1/reports/cost", COST_READERS),
    ("GET", "/prices", PRICE_SETTERS),
    ("POST", "/prices", PRICE_SETTERS),
    ("GET", "/reports/cost", COST_READERS),
]
