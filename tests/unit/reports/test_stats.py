"""The Wilson interval, the median and the nearest-rank p90 (igflow.reports.stats): by hand, by property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.reports.stats import median, p90, percentile_nearest_rank, wilson_interval


def test_wilson_by_hand() -> None:
    # 1 in 3, z = 1.96: p = 1/3, z^2 = 3.8415, 1 + z^2/n = 2.2805
    # centre = (0.3333 + 3.8415/6) / 2.2805 = 0.9736 / 2.2805 = 0.4269
    # half   = 1.96 / 2.2805 * sqrt(0.2222/3 + 3.8415/36) = 0.8595 * 0.4252 = 0.3654
    low, high = wilson_interval(1, 3) or (0, 0)
    assert low == pytest.approx(0.0615, abs=1e-4) and high == pytest.approx(0.7923, abs=1e-4)
    # 0 in 10: centre = half = (3.8415/20) / 1.38415 = 0.1388 -> [0, 0.2775] (the "rule of three" is 0.3)
    low, high = wilson_interval(0, 10) or (1, 1)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    # 10 in 10 mirrors it
    low, high = wilson_interval(10, 10) or (0, 0)
    assert high == 1 and low == pytest.approx(1 - 0.2775, abs=1e-4)


def test_wilson_refuses_impossible_counts_and_has_no_interval_for_no_trials() -> None:
    assert wilson_interval(0, 0) is None
    for k, n in ((-1, 3), (4, 3), (0, -1)):
        with pytest.raises(ValueError):
            wilson_interval(k, n)


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_contains_the_estimate_and_stays_in_unit_interval(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(k, n) or (2.0, -1.0)
    assert 0.0 <= low <= k / n <= high <= 1.0


@given(st.integers(min_value=1, max_value=500), st.integers(min_value=0, max_value=500), st.integers(2, 20))
def test_wilson_narrows_as_n_grows(n: int, k_raw: int, factor: int) -> None:
    # the same proportion k/n observed on factor x as many infusions gives a narrower interval
    k = k_raw % (n + 1)
    low, high = wilson_interval(k, n) or (0, 0)
    big_low, big_high = wilson_interval(k * factor, n * factor) or (0, 0)
    assert big_high - big_low < high - low


def test_median_and_p90_definitions() -> None:
    # median: middle value; even count: mean of the two middle ones
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([]) is None
    # p90 nearest rank: rank ceil(0.9 n) of the sorted values
    ten = [float(v) for v in range(1, 11)]  # 1..10: ceil(9.0) = 9 -> 9
    assert p90(ten) == 9.0
    eleven = [float(v) for v in range(1, 12)]  # 1..11: ceil(9.9) = 10 -> 10
    assert p90(eleven) == 10.0
    assert p90([5.0]) == 5.0  # ceil(0.9) = 1
    assert p90([1.0, 7.0]) == 7.0  # ceil(1.8) = 2
    assert p90([]) is None
    with pytest.raises(ValueError):
        percentile_nearest_rank([1.0], 0)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_p90_is_a_value_with_at_least_90_percent_at_or_below(values: list[float]) -> None:
    q = p90(values)
    assert q in values
    assert sum(1 for v in values if v <= q) >= 0.9 * len(values)
    assert sum(1 for v in values if v < q) < 0.9 * len(values)
