"""Trough monitoring from scig.yaml: when to measure, the target where a source gives one, and the label's
trough-gap rows (only those the sources give; nothing interpolated)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.clinical.trough import (
    NO_ROW_ADVICE,
    TroughInputError,
    TroughRowMissing,
    adjustment,
    assess,
    monitoring,
)

CATALOG = load_catalog()


def test_when_to_measure_per_product() -> None:
    hizentra = monitoring("hizentra", CATALOG)
    first = hizentra.first_measure
    assert first is not None and (first.low, first.high, first.unit) == (2, 3, "months")
    assert hizentra.minimum_g_per_l is None and "prescriber sets it" in " ".join(hizentra.words)
    xembify = monitoring("xembify", CATALOG)
    assert xembify.first_measure is not None and (xembify.first_measure.low, xembify.first_measure.unit) == (
        5,
        "weeks",
    )
    assert xembify.repeat_every is not None and (xembify.repeat_every.low, xembify.repeat_every.high) == (
        2,
        3,
    )
    cutaquig = monitoring("cutaquig", CATALOG)
    assert cutaquig.first_measure is not None and cutaquig.first_measure.unit == "months"
    cuvitru = monitoring("cuvitru", CATALOG)
    assert (cuvitru.minimum_g_per_l, cuvitru.aim_g_per_l, cuvitru.target_applies_to) == (
        5,
        6,
        "Cuvitru EU SmPC",
    )
    for product in ("hizentra", "xembify", "cutaquig", "gammagard-liquid", "hyqvia"):
        assert monitoring(product, CATALOG).minimum_g_per_l is None  # no target in the sources for these


def test_only_the_rows_the_sources_give() -> None:
    # Cuvitru: 100 mg/dL gap, weekly: +3 mL at 30 kg ... +11 mL at 110 kg
    assert adjustment("cuvitru", 100, 30, CATALOG).change_ml == 3
    row = adjustment("cuvitru", 100, 110, CATALOG)
    assert row.change_ml == 11 and row.per == "week" and row.verified is False
    # Xembify: 70 kg, 100 mg/dL below target, +5 mL a week
    # Cutaquig: 70 kg, 100 mg/dL, +12 mL (per what: the source does not say)
    assert adjustment("xembify", 100, 70, CATALOG).change_ml == 5
    cutaquig = adjustment("cutaquig", 100, 70, CATALOG)
    assert cutaquig.change_ml == 12 and cutaquig.per is None and "does not say" in cutaquig.words
    # Cuvitru changes nothing below a 100 mg/dL gap
    assert adjustment("cuvitru", 60, 70, CATALOG).change_ml is None


@pytest.mark.parametrize(
    ("product", "gap", "weight"),
    [("cuvitru", 100, 70), ("cuvitru", 200, 30), ("xembify", 100, 71), ("hizentra", 100, 70)],
)
def test_a_row_not_in_the_catalog_is_refused_not_interpolated(
    product: str, gap: float, weight: float
) -> None:
    with pytest.raises(TroughRowMissing, match=NO_ROW_ADVICE):
        adjustment(product, gap, weight, CATALOG)


def test_a_reading_against_the_target() -> None:
    # Cuvitru aim 6 g/L: 5.0 g/L is (6 - 5) x 100 = 100 mg/dL short; at 110 kg the row gives +11 mL a week
    low = assess("cuvitru", 5.0, 110, CATALOG)
    assert low.below_target and low.gap_mg_per_dl == 100 and low.adjustment and low.adjustment.change_ml == 11
    assert "below the 6 g/L aim" in low.words
    # 4.2 g/L: below the minimum, 180 mg/dL short; no row: adjust by clinical response
    lower = assess("cuvitru", 4.2, 70, CATALOG)
    assert lower.below_target and lower.gap_mg_per_dl == 180 and lower.adjustment is None
    assert "below the minimum 5 g/L" in lower.words and NO_ROW_ADVICE in lower.words
    assert not assess("cuvitru", 6.0, 70, CATALOG).below_target
    unknown = assess("hizentra", 2.0, 70, CATALOG)
    assert not unknown.below_target and unknown.target_g_per_l is None
    no_weight = assess("cuvitru", 5.0, None, CATALOG)
    assert no_weight.below_target and NO_ROW_ADVICE in no_weight.words


def test_input_is_checked() -> None:
    with pytest.raises(TroughInputError, match="product_id"):
        monitoring("privigen", CATALOG)
    with pytest.raises(TroughInputError, match="reading_g_per_l"):
        assess("cuvitru", 600, 70, CATALOG)  # a mg/dL figure entered as g/L
    with pytest.raises(TroughInputError, match="gap_mg_per_dl"):
        adjustment("cuvitru", 0, 70, CATALOG)


@given(reading=st.floats(0, 12), weight=st.floats(1, 200))
def test_below_target_exactly_when_under_the_aim(reading: float, weight: float) -> None:
    found = assess("cuvitru", reading, weight, CATALOG)
    assert found.below_target == (reading < 6.0)
    if found.below_target:
        assert found.gap_mg_per_dl == pytest.approx((6.0 - reading) * 100, abs=0.05)
        if found.adjustment is not None and found.adjustment.change_ml is not None:
            assert any(abs(weight - w) < 0.5 for w in (30, 110))  # only the rows the catalog holds
