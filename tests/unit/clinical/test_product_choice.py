"""The product-choice assistant ranks every IV product with reasons; the prescriber chooses."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.clinical import DoseRequest
from igflow.clinical.choice import ChoiceContext, rank_products
from tests.unit.clinical.test_site_protocols import DEMO_CATALOG, cidp_70_diabetic

CATALOG = load_catalog()
IV = sorted(pid for pid, p in CATALOG.products.items() if p.is_iv)


def test_every_iv_product_is_ranked_once_with_reasons() -> None:
    options = rank_products(cidp_70_diabetic(), DEMO_CATALOG)
    assert sorted(o.product for o in options) == IV
    assert [o.rank for o in options] == list(range(1, len(IV) + 1))
    assert all(o.reasons for o in options)
    assert all("no coverage data" in " ".join(o.reasons) for o in options)  # said, not guessed


def test_without_a_protocol_at_risk_products_without_a_label_cap_rank_below_usable_ones() -> None:
    options = rank_products(cidp_70_diabetic(), CATALOG)
    usable = [o for o in options if o.usable]
    stopped = [o for o in options if not o.usable]
    assert usable and stopped
    assert max(o.rank for o in usable) < min(o.rank for o in stopped)
    privigen = next(o for o in options if o.product == "privigen")
    assert not privigen.usable and any("verifying pharmacist" in s for s in privigen.stops)


def test_stock_and_licensing_order_the_usable_products() -> None:
    request = cidp_70_diabetic(age_years=50, risks=())
    some = IV[:2]
    stock = {pid: (1000.0 if pid == some[1] else 0.0) for pid in IV}
    options = rank_products(request, DEMO_CATALOG, ChoiceContext(grams_available=stock))
    by_id = {o.product: o for o in options}
    assert any("in stock at the patient's centre" in r for r in by_id[some[1]].reasons)
    assert any("short at the patient's centre" in r for r in by_id[some[0]].reasons)
    licensed = [o for o in options if o.usable and o.licensed]
    off_label = [o for o in options if o.usable and o.licensed is False]
    if licensed and off_label:
        assert max(o.rank for o in licensed) < min(o.rank for o in off_label)


def test_renal_and_heart_failure_cautions_name_sucrose_volume_and_sodium() -> None:
    options = rank_products(cidp_70_diabetic(risks=("diabetes", "cardiac")), DEMO_CATALOG)
    texts = " ".join(c for o in options for c in o.cautions)
    assert "sucrose" in texts and "mL in the course" in texts and "sodium" in texts


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["cidp", "itp-adult", "pid", "gbs", "kawasaki", "mmn"]),
    st.lists(st.sampled_from(["renal", "diabetes", "thrombosis", "cardiac"]), max_size=2, unique=True),
    st.floats(45, 140),
)
def test_ranking_is_consistent_with_its_stated_order(
    indication: str, risks: list[str], weight: float
) -> None:
    phase = sorted(CATALOG.indications[indication].regimens)[0]
    age = 4.0 if indication == "kawasaki" else 60.0
    request = DoseRequest(
        indication=indication,
        phase=phase,
        product="privigen",
        weight_kg=round(weight if indication != "kawasaki" else 18.0, 1),
        height_cm=170.0 if indication != "kawasaki" else 105.0,
        sex="female",
        age_years=age,
        risks=tuple(risks),
    )
    options = rank_products(request, DEMO_CATALOG)
    keys = [(not o.usable, o.licensed is not True) for o in options]
    assert keys == sorted(keys)
    for option in options:
        single = rank_products(dataclasses.replace(request, product=option.product), DEMO_CATALOG)
        assert [o.product for o in single] == [
            o.product for o in options
        ]  # independent of the order's product
        break
