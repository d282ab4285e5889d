"""Role-matrix rows for the infusion routes (imported by test_role_matrix.py)."""

from __future__ import annotations

from typing import Any

NURSE, PHARM, PRESC = "nurse", "pharmacist", "prescriber"
READERS = {NURSE, PHARM, PRESC}

# (method, path template, roles allowed). The task row names a pharmacist's weight-review task, which only
# pharmacists may complete (a nurse or prescriber is refused by the queue rule, which is intended).
INFUSION_MATRIX: list[tuple[str, str, set[str]]] = [
    ("POST", "/api/v1/appointments/{appointment}/infusion", {NURSE}),
    ("GET", "/api/v1/infusions/{record}", READERS),
    ("POST", "/api/v1/infusions/{record}/entries", {NURSE}),
    ("POST", "/api/v1/infusions/{record}/pharmacist-release", {PHARM}),
    ("POST", "/infusions/{record}/release", {PHARM}),
    ("GET", "/api/v1/patients/{ann}/infusions", READERS),
    ("GET", "/api/v1/sites/{north}/infusions", READERS),
    ("GET", "/api/v1/tasks", READERS),
    ("POST", "/api/v1/tasks/{task}/done", {PHARM}),
    ("GET", "/api/v1/reports/reactions", READERS),
    ("GET", "/chair", {NURSE}),
    ("POST", "/chair/appointments/{appointment}/check-in", {NURSE}),
    ("GET", "/chair/records/{record}", {NURSE}),
    ("POST", "/chair/records/{record}/entries", {NURSE}),
    ("GET", "/tasks", READERS),
    ("POST", "/tasks/{task}/done", {PHARM}),
    ("GET", "/patients/{ann}/infusions", READERS),
    ("GET", "/reports/reactions", READERS),
]


def infusion_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """An opened chart for the shared appointment, and a pharmacist task from a weight change at the chair."""
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{ids['appointment']}/infusion")
    assert record.status_code == 201, record.text
    record_id = record.json()["id"]
    entry = nurse.post(
        f"/api/v1/infusions/{record_id}/entries",
        json={"client_id": "matrix-weight-1", "kind": "weight", "payload": {"weight_kg": 75}},
    )
    assert entry.status_code == 201, entry.text
    tasks = world.client("pharmacist").get("/api/v1/tasks").json()
    return {"record": record_id, "task": tasks[0]["id"]}
