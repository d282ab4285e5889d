"""Role-matrix rows for the site-protocol routes (imported by test_role_matrix.py)."""

from __future__ import annotations

from typing import Any

NURSE, PHARM, PRESC, INTAKE = "nurse", "pharmacist", "prescriber", "intake"
READERS = {NURSE, PHARM, PRESC, INTAKE}

# (method, path template, roles allowed). Deciding needs the P&T-approver role, which none of the
# matrix's users hold (tests/api/test_protocols_api.py covers the approver).
PROTOCOL_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/protocols", READERS),
    ("POST", "/api/v1/protocols", {PHARM}),
    ("GET", "/api/v1/protocols/in-force", READERS),
    ("GET", "/api/v1/protocols/{protocol}", READERS),
    ("GET", "/api/v1/protocols/{protocol}/document", READERS),
    ("PUT", "/api/v1/protocols/{protocol}", {PHARM}),
    ("POST", "/api/v1/protocols/{protocol}/decision", set()),
    ("GET", "/protocols", READERS),
    ("GET", "/protocols/new", {PHARM}),
    ("POST", "/protocols/new", {PHARM}),
    ("GET", "/protocols/{protocol}", READERS),
    ("GET", "/protocols/{protocol}/edit", {PHARM}),
    ("POST", "/protocols/{protocol}/edit", {PHARM}),
    ("POST", "/protocols/{protocol}/decision", set()),
]


def protocol_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """A draft protocol proposed by the pharmacist."""
    response = world.client("pharmacist").post(
        "/api/v1/protocols",
        json={
            "title": "Matrix draft",
            "effective_from": "2026-11-01",
            "values": {"observation_later_min": {"value": 30, "basis": "matrix test"}},
        },
    )
    assert response.status_code == 201, response.text
    return {"protocol": response.json()["id"]}
