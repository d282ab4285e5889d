"""Reviewed reference data (YAML with sources) and its validating loader."""

from igflow.catalog.loader import (
    CONTRACT_INDICATION_IDS,
    CONTRACT_POLICY_IDS,
    CONTRACT_PRODUCT_IDS,
    Catalog,
    CatalogError,
    load_catalog,
    load_catalog_from,
)
from igflow.catalog.models import PHASES, Fact, Indication, Phase, Policy, Product, Regimen, Titration

__all__ = [
    "CONTRACT_INDICATION_IDS",
    "CONTRACT_POLICY_IDS",
    "CONTRACT_PRODUCT_IDS",
    "PHASES",
    "Catalog",
    "CatalogError",
    "Fact",
    "Indication",
    "Phase",
    "Policy",
    "Product",
    "Regimen",
    "Titration",
    "load_catalog",
    "load_catalog_from",
]
