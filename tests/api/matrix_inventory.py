"""Role-matrix rows for the inventory routes (imported by test_role_matrix.py)."""

from __future__ import annotations

from typing import Any

# (method, path template, roles allowed); role names as in test_role_matrix.py.
INVENTORY_MATRIX: list[tuple[str, str, set[str]]] = []


def inventory_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """Ids the rows above need (created through the API as a user would), given the shared ones."""
    return {}
