"""Catalog facts of home supply: each product's storage range with its source (or why it is unknown), the
operational defaults of deliveries and the self-infusion log (each said to be igflow's), and the patient's
plain-word reaction answers, each standing for a grade of the chair's scale."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from igflow.catalog import CatalogError, load_catalog, load_catalog_from
from igflow.catalog.loader import default_data_dir


def test_each_product_has_a_storage_range_or_says_why_not() -> None:
    products = load_catalog().products
    octagam, hizentra = products["octagam-10"].storage_range_c, products["hizentra"].storage_range_c
    assert octagam.value is not None and (octagam.value.min_c, octagam.value.max_c) == (2, 8)
    assert "9 months at <=25 C" in (octagam.note or "")  # the allowance is a release reason, not the range
    assert hizentra.value is not None and (hizentra.value.min_c, hizentra.value.max_c) == (None, 25)
    for product in products.values():
        fact = product.storage_range_c
        assert fact.source if fact.known else "pharmacist" in (fact.note or ""), product.id
    assert {p.id for p in products.values() if not p.storage_range_c.known} >= {
        "cuvitru",
        "hyqvia",
        "privigen",
    }


def test_operational_defaults_say_they_are_igflows() -> None:
    supply = load_catalog().home_supply
    for fact in (
        supply.deliveries.shipping_lead_days,
        supply.deliveries.due_horizon_days,
        supply.cold_chain.freezing_c,
        supply.self_infusion.missed_grace_days,
        supply.self_infusion.short_tolerance_percent,
    ):
        assert fact.value is not None and "igflow operational default" in (fact.source or "")
    assert (
        supply.deliveries.shipping_lead_days.value == 2 and supply.self_infusion.missed_grace_days.value == 2
    )


def test_plain_words_stand_for_the_chairs_grades() -> None:
    catalog = load_catalog()
    answers = catalog.home_supply.self_infusion.reaction_answers
    assert [a.grade for a in answers] == [0, 1, 2, 3, 4] and answers[0].words == "No reaction"
    scale = {g.grade: g.label for g in catalog.infusion_day.reaction_scale.grades}
    assert all(scale[a.grade] in ("mild", "moderate", "severe", "life-threatening") for a in answers[1:])
    assert all("CTCAE" in (a.source or "") for a in answers[1:])
    chart = {s.id for s in catalog.infusion_day.symptoms}
    assert all(
        s.chart_symptom in chart for s in catalog.home_supply.self_infusion.symptoms if s.chart_symptom
    )


def _copy(tmp_path: Path) -> Path:
    for source in default_data_dir().iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    return tmp_path


def test_a_symptom_naming_no_chair_symptom_is_refused(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    path = data / "home_supply.yaml"
    content = yaml.safe_load(path.read_text())
    content["self_infusion"]["symptoms"][1]["chart_symptom"] = "hiccups"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(CatalogError, match="not a chair symptom"):
        load_catalog_from(data)


def test_an_unknown_operational_setting_is_refused(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    path = data / "home_supply.yaml"
    content = yaml.safe_load(path.read_text())
    content["deliveries"]["shipping_lead_days"] = {"value": None, "note": "unknown"}
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(CatalogError, match="shipping_lead_days"):
        load_catalog_from(data)
