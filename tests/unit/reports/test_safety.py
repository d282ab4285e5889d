"""The safety report's figures against a small data set worked out by hand."""

from __future__ import annotations

import pytest

from igflow.reports import safety

BASELINES = [
    safety.Baseline("headache", "headache", 15, 10, "test source", False),
    safety.Baseline("moderate-or-severe", "moderate or severe", 5, None, "test source", False),
    safety.Baseline("serious", "serious", 0.5, None, "test source", False),
]


def inf(product: str, centre: str, first: bool, step: int | None, grade: int, headache: bool = False):
    return safety.Infusion(product, "CIDP", centre, first, step, grade, headache)


# North: 20 infusions of Privigen, 1 moderate reaction (grade 2, with headache) on a first infusion at step 2
# South: 4 infusions of Gammagard, 2 moderate reactions (grade 2), one of them grade 3 -> serious
INFUSIONS = (
    [inf("Privigen", "North", True, 2, 2, headache=True)]
    + [inf("Privigen", "North", False, 4, 0) for _ in range(19)]
    + [inf("Gammagard", "South", True, 1, 3), inf("Gammagard", "South", False, 3, 2)]
    + [inf("Gammagard", "South", False, 3, 0) for _ in range(2)]
)


def test_rates_per_centre_with_wilson_intervals() -> None:
    by_centre = {g.label: g for g in safety.groups(INFUSIONS, "centre", BASELINES)}
    north, south = by_centre["North"], by_centre["South"]
    # North moderate or severe: 1 / 20 = 5 %; Wilson 95 % [0.0089, 0.2361] contains the 5 % baseline
    r = north.rates["moderate-or-severe"]
    assert (r.events, r.infusions, r.rate) == (1, 20, 0.05)
    assert r.interval == pytest.approx((0.00889, 0.23613), abs=1e-4)
    assert not r.above_baseline
    # South: 2 / 4 = 50 %; Wilson [0.1500, 0.8500]: low 15 % > 5 % -> wholly above the baseline
    r = south.rates["moderate-or-severe"]
    assert r.rate == 0.5 and r.interval == pytest.approx((0.15004, 0.84996), abs=1e-4)
    assert r.above_baseline
    # South serious: 1 / 4 = 25 %; Wilson [0.0456, 0.6994]: low 4.6 % > 0.5 % -> above
    assert south.rates["serious"].above_baseline
    # headache: North 1 / 20, interval reaches below 10 % -> not above 15 %
    assert north.rates["headache"].events == 1 and not north.rates["headache"].above_baseline


def test_first_versus_later_and_the_rate_step_reached() -> None:
    first, later = safety.groups(INFUSIONS, "infusion", BASELINES)
    # first infusions: Privigen (grade 2) and Gammagard (grade 3): 2 of 2 moderate or worse
    assert first.label.startswith("first") and first.rates["moderate-or-severe"].events == 2
    assert later.infusions == 22 and later.rates["moderate-or-severe"].events == 1
    steps = safety.groups(INFUSIONS, "step", BASELINES)
    assert [(g.label, g.infusions) for g in steps] == [
        ("step 1", 1),
        ("step 2", 1),
        ("step 3", 3),
        ("step 4", 19),
    ]
    assert steps[2].rates["moderate-or-severe"].events == 1


def test_subcutaneous_has_no_step_and_an_empty_group_has_no_interval() -> None:
    sc = safety.groups([inf("Hizentra", "Home", False, None, 0)], "step", BASELINES)
    assert sc[0].label == "subcutaneous (no rate steps)"
    empty = safety.overall([], BASELINES)
    assert empty.rates["serious"].interval is None and not empty.rates["serious"].above_baseline
    assert BASELINES[0].words == "10–15 %" and BASELINES[2].words == "under 0.5 %"


def test_the_baseline_is_the_catalogs_with_a_source_for_every_measure() -> None:
    # the report's measures are the catalog's baseline ids (infusion_day.yaml baseline_rates), so a renamed
    # id in the catalog would leave a measure without its baseline: this fails instead
    from igflow.reports.safety_service import baselines

    found = {b.id: b for b in baselines()}
    assert set(safety.MEASURES) <= set(found)
    assert all(b.source.strip() for b in found.values())
    assert (found["headache"].low_percent, found["headache"].high_percent) == (10, 15)
    assert found["moderate-or-severe"].high_percent == 5 and found["serious"].high_percent == 0.5
