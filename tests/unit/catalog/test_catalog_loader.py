"""The packaged catalog loads, holds every contract id, and rejects bad data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from igflow.catalog import (
    CONTRACT_INDICATION_IDS,
    CONTRACT_POLICY_IDS,
    CONTRACT_PRODUCT_IDS,
    PHASES,
    CatalogError,
    Fact,
    load_catalog,
    load_catalog_from,
)
from igflow.catalog.loader import default_data_dir


def test_packaged_catalog_loads_and_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_contract_ids_present() -> None:
    catalog = load_catalog()
    assert set(CONTRACT_PRODUCT_IDS) <= set(catalog.products)
    assert set(CONTRACT_INDICATION_IDS) <= set(catalog.indications)
    assert set(CONTRACT_POLICY_IDS) <= set(catalog.policies)
    assert catalog.default_policy in catalog.policies


def test_every_known_fact_has_a_source_and_unknowns_a_note() -> None:
    for product in load_catalog().products.values():
        for name, fact in product.fact_fields().items():
            assert fact.source if fact.known else fact.note, (product.id, name)


def test_iv_products_have_rate_protocols_and_sc_products_have_records() -> None:
    for product in load_catalog().products.values():
        if product.is_iv:
            assert product.titration, product.id
            assert product.default_titration_indication is not None
        assert product.concentration_g_per_ml.known, product.id


def test_indications_carry_required_fields() -> None:
    for indication in load_catalog().indications.values():
        assert indication.icd10 and indication.recommendation and indication.urgency in (1, 2, 3)
        for phase, regimen in indication.regimens.items():
            assert phase in PHASES
            assert regimen.source
        if not indication.regimens:
            assert indication.regimen_note
    not_recommended = {
        i.id for i in load_catalog().indications.values() if i.recommendation == "not-recommended"
    }
    assert {"ms", "ra", "aiha", "acquired-haemophilia", "autoimmune-neutropenia"} <= not_recommended


def test_fact_rules() -> None:
    with pytest.raises(ValidationError):
        Fact[float].model_validate({"value": None})  # unknown without a note
    with pytest.raises(ValidationError):
        Fact[float].model_validate({"value": 1.0})  # known without a source
    with pytest.raises(ValidationError):
        Fact[float].model_validate({"value": 1.0, "source": "x", "surprise": 1})


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(default_data_dir(), target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_unknown_key_rejected(data_copy: Path) -> None:
    _edit(data_copy / "products.yaml", lambda d: d["products"][0].update({"colour": "blue"}))
    with pytest.raises(CatalogError, match="colour"):
        load_catalog_from(data_copy)


def test_unknown_indication_in_product_rejected(data_copy: Path) -> None:
    _edit(
        data_copy / "products.yaml",
        lambda d: d["products"][0]["approved_indications"]["value"].append("gout"),
    )
    with pytest.raises(CatalogError, match="gout"):
        load_catalog_from(data_copy)


def test_missing_contract_product_rejected(data_copy: Path) -> None:
    _edit(data_copy / "products.yaml", lambda d: d["products"].pop())
    with pytest.raises(CatalogError, match="cutaquig"):
        load_catalog_from(data_copy)


def test_regimen_usual_outside_range_rejected(data_copy: Path) -> None:
    _edit(
        data_copy / "indications.yaml",
        lambda d: d["indications"][0]["regimens"]["acute"].update({"usual_g_per_kg": 9.0}),
    )
    with pytest.raises(CatalogError, match="usual_g_per_kg"):
        load_catalog_from(data_copy)
