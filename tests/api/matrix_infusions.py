"""Role-matrix rows for the infusion routes (imported by test_role_matrix.py)."""

from __future__ import annotations

from typing import Any

# (method, path template, roles allowed); role names as in test_role_matrix.py.
INFUSION_MATRIX: list[tuple[str, str, set[str]]] = []


def infusion_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """Ids the rows above need (created through the API as a user would), given the shared ones."""
    return {}
