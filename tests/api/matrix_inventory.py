"""Role-matrix rows for the inventory routes (imported by test_role_matrix.py)."""

from __future__ import annotations

from typing import Any

from igflow.inventory.service import gtin_check_digit

PHARM, NURSE = "pharmacist", "nurse"
READ = {PHARM, NURSE}  # Perm.INVENTORY_READ
WRITE = {PHARM}  # Perm.INVENTORY_WRITE
SCAN = {PHARM, NURSE}  # Perm.VIAL_SCAN

# (method, path template, roles allowed); role names as in test_role_matrix.py.
INVENTORY_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/inventory/lots", READ),
    ("POST", "/api/v1/inventory/lots", WRITE),
    ("GET", "/api/v1/inventory/lots/{lot}", READ),
    ("PUT", "/api/v1/inventory/lots/{lot}/storage", WRITE),
    ("POST", "/api/v1/inventory/lots/{lot}/status", WRITE),
    ("POST", "/api/v1/inventory/lots/{lot}/transfers", WRITE),
    ("POST", "/api/v1/inventory/lots/{lot}/waste", SCAN),
    ("POST", "/api/v1/inventory/lots/{lot}/returns", SCAN),
    ("PUT", "/api/v1/inventory/par-levels", WRITE),
    ("GET", "/api/v1/inventory/stock", READ),
    ("GET", "/api/v1/inventory/expiring", READ),
    ("POST", "/api/v1/inventory/allocations", WRITE),
    ("GET", "/api/v1/inventory/pick-list", READ),
    ("GET", "/api/v1/inventory/needs", READ),
    ("GET", "/api/v1/inventory/shortfalls", READ),
    ("GET", "/api/v1/inventory/shortage", READ),
    ("GET", "/api/v1/inventory/reorder", READ),
    ("GET", "/api/v1/inventory/trace", READ),
    ("GET", "/api/v1/inventory/trace.csv", READ),
    ("POST", "/api/v1/inventory/scan-checks", SCAN),
    ("POST", "/api/v1/inventory/dispenses", SCAN),
    ("GET", "/inventory", READ),
    ("GET", "/inventory/expiring", READ),
    ("GET", "/inventory/picks", READ),
    ("GET", "/inventory/receive", WRITE),
    ("POST", "/inventory/receive/scan", WRITE),
    ("POST", "/inventory/lots", WRITE),
    ("POST", "/inventory/allocate", WRITE),
    ("GET", "/inventory/lots/{lot}", READ),
    ("POST", "/inventory/lots/{lot}/status", WRITE),
    ("GET", "/inventory/recall", READ),
]


def inventory_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """Ids the rows above need (created through the API as a user would), given the shared ones."""
    first13 = "0300000000777"
    response = world.client("pharmacist").post(
        "/api/v1/inventory/lots",
        json={
            "product_id": "privigen",
            "lot_number": "MATRIX1",
            "gtin": first13 + str(gtin_check_digit(first13)),
            "label_expiry": "2027-12-31",
            "vial_size_g": 10,
            "site_id": ids["north"],
            "count": 20,
            "storage_place": "Fridge 1",
            "acquisition_cost_cents": 90000,
            "supplier": "Matrix Supplier",
        },
    )
    assert response.status_code == 201, response.text
    return {"lot": int(response.json()["id"])}
