"""Hypothesis properties of response evaluation (clinical/response/) over the whole outcomes catalog.

Thresholds and scales are read from the catalog: the tests hold no clinical number of their own.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.catalog.models import ChangeThreshold, Measure, ResponseThreshold
from igflow.clinical.response import (
    ResponseInputError,
    ResponseStatus,
    evaluate,
    review_due,
    validate_value,
)

OUTCOMES = load_catalog().outcomes
# Generation span for scales without a sourced maximum (test data only, not a clinical bound).
OPEN_SPAN = 500.0
# Keep generated changes clear of a strict threshold's edge and of float noise.
EDGE = 1e-3

PAIRS: list[tuple[str, Measure, ResponseThreshold]] = [
    (entry.indication, OUTCOMES.measure(used.measure), used.threshold)
    for entry in OUTCOMES.indications
    for used in entry.measures
]
POINTS = [(i, m, t) for i, m, t in PAIRS if t.kind == "points"]
PERCENT = [(i, m, t) for i, m, t in PAIRS if t.kind == "percent_of_baseline"]
BOUNDED = [m for m in OUTCOMES.measures if m.scale_min.known and m.scale_max.known]


def _bounds(measure: Measure) -> tuple[float, float]:
    low = measure.scale_min.value
    high = measure.scale_max.value
    assert low is not None
    return low, high if high is not None else low + OPEN_SPAN


def _smallest_change(change: ChangeThreshold, integer: bool) -> float:
    """The smallest change that meets the threshold."""
    if integer:
        return change.value if change.inclusive else math.floor(change.value) + 1
    return change.value if change.inclusive else change.value + EDGE


def _largest_within(change: ChangeThreshold, integer: bool) -> float:
    """The largest change that does not meet the threshold."""
    if integer:
        return math.ceil(change.value) - 1 if change.inclusive else math.floor(change.value)
    return change.value - EDGE if change.inclusive else change.value


def _number(draw: st.DrawFn, low: float, high: float, integer: bool) -> float:
    if integer:
        return float(draw(st.integers(math.ceil(low), math.floor(high))))
    return draw(st.floats(low, high, allow_nan=False, allow_infinity=False))


def _reading(measure: Measure, total: float) -> object:
    """A reading of ``total``: for a measure with parts, put the change in a part no rule excludes."""
    if not measure.parts:
        return total
    excluded = {rule.part for rule in measure.excluded_part_changes}
    free = next(part for part in measure.parts if part.id not in excluded)
    rest = [part for part in measure.parts if part is not free]
    values = {part.id: part.scale_min.value or 0.0 for part in rest}
    values[free.id] = total - sum(values.values())
    return values


def _pair_bounds(measure: Measure) -> tuple[float, float]:
    """Totals a reading built by ``_reading`` can take."""
    if not measure.parts:
        return _bounds(measure)
    excluded = {rule.part for rule in measure.excluded_part_changes}
    free = next(part for part in measure.parts if part.id not in excluded)
    others = sum(p.scale_min.value or 0.0 for p in measure.parts if p is not free)
    assert free.scale_min.value is not None and free.scale_max.value is not None
    return others + free.scale_min.value, others + free.scale_max.value


@st.composite
def moved(draw: st.DrawFn, pairs: list[tuple[str, Measure, ResponseThreshold]], kind: str) -> tuple:
    indication, measure, threshold = draw(st.sampled_from(pairs))
    low, high = _pair_bounds(measure)
    assert threshold.improvement is not None
    change = threshold.improvement if kind == "better" else threshold.worsening
    if kind == "within":
        limits = [
            _largest_within(c, measure.integer) for c in (threshold.improvement, threshold.worsening) if c
        ]
        span = min(limits)
        delta = _number(draw, -span if threshold.worsening else -(high - low), span, measure.integer)
    else:
        assert change is not None
        smallest = _smallest_change(change, measure.integer)
        delta = _number(draw, smallest, max(smallest, (high - low)), measure.integer)
        if kind == "worse":
            delta = -delta
    if measure.direction.value == "lower_is_better":
        delta = -delta
    base_low, base_high = max(low, low - delta), min(high, high - delta)
    if base_low > base_high:
        return None
    baseline = _number(draw, base_low, base_high, measure.integer)
    return indication, measure, threshold, baseline, baseline + delta


@settings(max_examples=300, deadline=None)
@given(moved(POINTS, "better"))
def test_a_change_reaching_the_threshold_in_the_better_direction_is_improved(case: tuple | None) -> None:
    if case is None:
        return
    indication, measure, threshold, baseline, current = case
    result = evaluate(measure, threshold, _reading(measure, baseline), _reading(measure, current))
    assert result.status is ResponseStatus.IMPROVED, (indication, result.message)
    assert result.threshold_source


@settings(max_examples=300, deadline=None)
@given(moved([p for p in POINTS if p[2].worsening is not None], "worse"))
def test_a_change_reaching_the_threshold_in_the_worse_direction_is_worse(case: tuple | None) -> None:
    if case is None:
        return
    indication, measure, threshold, baseline, current = case
    result = evaluate(measure, threshold, _reading(measure, baseline), _reading(measure, current))
    assert result.status is ResponseStatus.WORSE, (indication, result.message)


@settings(max_examples=300, deadline=None)
@given(moved(POINTS, "within"))
def test_a_change_within_the_thresholds_is_stable_or_not_improved(case: tuple | None) -> None:
    if case is None:
        return
    indication, measure, threshold, baseline, current = case
    result = evaluate(measure, threshold, _reading(measure, baseline), _reading(measure, current))
    expected = ResponseStatus.STABLE if threshold.worsening is not None else ResponseStatus.NOT_IMPROVED
    assert result.status is expected, (indication, result.message)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_without_a_worsening_threshold_nothing_is_ever_worse_or_stable(data: st.DataObject) -> None:
    pairs = [p for p in POINTS if p[2].worsening is None]
    indication, measure, threshold = data.draw(st.sampled_from(pairs))
    low, high = _bounds(measure)
    baseline = _number(data.draw, low, high, measure.integer)
    current = _number(data.draw, low, high, measure.integer)
    result = evaluate(measure, threshold, baseline, current)
    assert result.status in (ResponseStatus.IMPROVED, ResponseStatus.NOT_IMPROVED), indication


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_percent_thresholds_follow_the_change_relative_to_baseline(data: st.DataObject) -> None:
    indication, measure, threshold = data.draw(st.sampled_from(PERCENT))
    low, high = _bounds(measure)
    baseline = _number(data.draw, max(low, 1), high, measure.integer)
    current = _number(data.draw, low, high, measure.integer)
    result = evaluate(measure, threshold, baseline, current)
    assert threshold.improvement is not None and threshold.worsening is not None
    sign = 1 if measure.direction.value == "higher_is_better" else -1
    percent = sign * (current - baseline) / baseline * 100
    if percent >= threshold.improvement.value + EDGE:
        assert result.status is ResponseStatus.IMPROVED, indication
    elif -percent >= threshold.worsening.value + EDGE:
        assert result.status is ResponseStatus.WORSE, indication
    elif abs(percent) < min(threshold.improvement.value, threshold.worsening.value) - EDGE:
        assert result.status is ResponseStatus.STABLE, indication


@st.composite
def any_reading(draw: st.DrawFn) -> tuple:
    indication, measure, threshold = draw(st.sampled_from(PAIRS))
    low, high = _pair_bounds(measure)
    floor = max(low, 1) if threshold.kind == "percent_of_baseline" else low
    baseline = _number(draw, floor, high, measure.integer)
    current = _number(draw, low, high, measure.integer)
    return indication, measure, threshold, baseline, current


@settings(max_examples=400, deadline=None)
@given(any_reading())
def test_cannot_judge_exactly_when_no_threshold_is_sourced(case: tuple) -> None:
    indication, measure, threshold, baseline, current = case
    result = evaluate(
        measure, threshold, _reading(measure, baseline), _reading(measure, current), patient_is_adult=True
    )
    assert (result.status is ResponseStatus.CANNOT_JUDGE) == (not threshold.sourced), (
        indication,
        measure.id,
        result.message,
    )
    if not threshold.sourced:
        assert "no sourced threshold; the prescriber decides" in result.message
        assert result.threshold is None and result.threshold_source is None


@settings(max_examples=100, deadline=None)
@given(any_reading())
def test_adult_only_thresholds_do_not_judge_a_patient_not_known_to_be_adult(case: tuple) -> None:
    indication, measure, threshold, baseline, current = case
    for adult in (None, False):
        result = evaluate(
            measure,
            threshold,
            _reading(measure, baseline),
            _reading(measure, current),
            patient_is_adult=adult,
        )
        if threshold.population == "adult":
            assert result.status is ResponseStatus.CANNOT_JUDGE, indication


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BOUNDED), st.floats(min_value=EDGE, max_value=1000), st.booleans())
def test_values_outside_the_scale_are_refused_with_the_range_named(
    measure: Measure, beyond: float, above: bool
) -> None:
    low, high = _bounds(measure)
    value = high + beyond if above else low - beyond
    if measure.integer:
        value = math.ceil(value) if above else math.floor(value)
    reading = _reading(measure, value) if not measure.parts else value
    with pytest.raises(ResponseInputError) as error:
        validate_value(measure, reading)
    if not measure.parts:
        assert f"{low:g} to {high:g} {measure.unit}" in str(error.value)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([m for m in OUTCOMES.measures if not m.scale_max.known]), st.floats(0, 1e6))
def test_no_sourced_maximum_means_no_upper_refusal_and_no_clamp(measure: Measure, value: float) -> None:
    low = measure.scale_min.value
    assert low is not None
    number = math.floor(value) + low if measure.integer else value + low
    assert validate_value(measure, number) == number
    with pytest.raises(ResponseInputError, match="no upper bound is sourced"):
        validate_value(measure, low - 1)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([m for m in OUTCOMES.measures if m.integer and not m.parts]), st.floats(0.01, 0.99))
def test_integer_scales_refuse_fractions(measure: Measure, fraction: float) -> None:
    low, _ = _bounds(measure)
    with pytest.raises(ResponseInputError, match="whole"):
        validate_value(measure, low + fraction)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "3", None])
def test_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises(ResponseInputError):
        validate_value(OUTCOMES.measure("grip-strength"), bad)


@settings(max_examples=300, deadline=None)
@given(
    st.dates(date(2000, 1, 1), date(2040, 1, 1)),
    st.integers(1, 800),
    st.integers(0, 1600),
)
def test_review_due_passes_exactly_when_the_interval_has_elapsed(
    last: date, interval_days: int, elapsed_days: int
) -> None:
    today = last + timedelta(days=elapsed_days)
    due = review_due(last, interval_days, today)
    assert due.passed == (elapsed_days >= interval_days)
    assert due.raises_review == due.passed == due.flags_order_and_authorisation
    assert due.due_date == last + timedelta(days=interval_days)
    assert due.days_overdue == max(elapsed_days - interval_days, 0)
    assert (due.review_reason == "review_interval_passed") == due.passed
