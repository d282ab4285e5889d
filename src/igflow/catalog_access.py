"""Read-only views of the clinical catalog for the capability services (ids and names for validation)."""

from __future__ import annotations

from functools import lru_cache

from igflow.catalog import load_catalog


@lru_cache(maxsize=1)
def indication_names() -> dict[str, str]:
    """Indication id -> name, for validating referrals and orders."""
    catalog = load_catalog()
    return {ind.id: ind.name for ind in catalog.indications.values()}
