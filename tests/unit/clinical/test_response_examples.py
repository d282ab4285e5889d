"""Worked examples of response evaluation: ITP IWG levels, TIS levels, adjusted INCAT, the two-cycle
rule, review intervals and decisions. Synthetic readings only; thresholds come from the catalog."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from igflow.catalog import load_catalog
from igflow.catalog.models import Measure, ResponseThreshold
from igflow.clinical.response import (
    NEXT_STEPS,
    REVIEW_REASONS,
    CourseOutcome,
    Decision,
    DecisionKind,
    MeasureResponse,
    Reading,
    ResponseInputError,
    ResponseStatus,
    ResponseSummary,
    Score,
    evaluate,
    evaluate_course,
    review_due,
    validate_value,
)

OUTCOMES = load_catalog().outcomes


def _pair(indication: str, measure_id: str) -> tuple[Measure, ResponseThreshold]:
    return OUTCOMES.measure(measure_id), OUTCOMES.for_indication(indication).threshold_for(measure_id)


def _judge(
    indication: str, measure_id: str, baseline: Score | None, current: Score, **kw: bool
) -> MeasureResponse:
    measure, threshold = _pair(indication, measure_id)
    return evaluate(measure, threshold, baseline, current, **kw)


def _status(indication: str, measure_id: str, baseline: Score | None, current: Score, **kw: bool) -> str:
    measure, threshold = _pair(indication, measure_id)
    return evaluate(measure, threshold, baseline, current, **kw).status.value


def _incat(arm: int, leg: int) -> dict[str, float]:
    return {"arm": arm, "leg": leg}


# --- ITP: IWG response levels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "current", "status", "level"),
    [
        (10, 100, "improved", "complete_response"),  # CR at the level itself
        (None, 150, "improved", "complete_response"),  # CR needs no baseline
        (10, 35, "improved", "response"),  # >= 30 and >= 2 x 10
        (15, 30, "improved", "response"),  # both limits met exactly
        (20, 39, "not_improved", "no_response"),  # >= 30 but < 2 x 20
        (10, 29, "not_improved", "no_response"),  # doubled but < 30
        (60, 80, "not_improved", "no_response"),  # < CR and < 2 x 60
        (40, 12, "not_improved", "no_response"),  # IWG has no "worse": a fall is no response
    ],
)
def test_itp_iwg_levels(baseline: float | None, current: float, status: str, level: str) -> None:
    for indication in ("itp-adult", "itp-child"):
        measure, threshold = _pair(indication, "platelet-count")
        result = evaluate(measure, threshold, baseline, current)
        assert (result.status.value, result.level) == (status, level)
        assert "Rodeghiero" in (result.threshold_source or "")
        assert any("bleeding" in c for c in result.caveats)
        assert any("7 days apart" in c for c in result.caveats)


def test_itp_response_without_baseline_cannot_be_judged() -> None:
    measure, threshold = _pair("itp-adult", "platelet-count")
    result = evaluate(measure, threshold, None, 50)
    assert result.status is ResponseStatus.CANNOT_JUDGE and "baseline" in result.message


# --- dermatomyositis: TIS levels (adults) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("tis", "status", "level"),
    [
        (0, "not_improved", None),
        (19.9, "not_improved", None),
        (20, "improved", "minimal"),
        (39.9, "improved", "minimal"),
        (40, "improved", "moderate"),
        (60, "improved", "major"),
        (100, "improved", "major"),
    ],
)
def test_tis_levels_for_adults(tis: float, status: str, level: str | None) -> None:
    measure, threshold = _pair("dermatomyositis", "tis")
    result = evaluate(measure, threshold, None, tis, patient_is_adult=True)
    assert (result.status.value, result.level) == (status, level)


def test_tis_is_not_judged_for_a_child_or_unknown_age() -> None:
    assert _status("dermatomyositis", "tis", None, 70, patient_is_adult=False) == "cannot_judge"
    assert _status("polymyositis", "tis", None, 70) == "cannot_judge"
    with pytest.raises(ResponseInputError, match="0 to 100 points"):
        _judge("dermatomyositis", "tis", None, 101, patient_is_adult=True)


# --- CIDP: adjusted INCAT, INCAT, grip strength ----------------------------------------------------


def test_adjusted_incat_ignores_an_arm_change_between_0_and_1() -> None:
    assert _status("cidp", "incat-adjusted", _incat(1, 3), _incat(0, 3)) == "stable"
    assert _status("cidp", "incat-adjusted", _incat(0, 3), _incat(1, 3)) == "stable"
    assert _status("cidp", "incat-adjusted", _incat(1, 3), _incat(0, 2)) == "improved"  # leg counts
    assert _status("cidp", "incat-adjusted", _incat(2, 3), _incat(1, 3)) == "improved"  # arm 2 -> 1 counts
    assert _status("cidp", "incat-adjusted", _incat(0, 2), _incat(0, 3)) == "worse"
    result = _judge("cidp", "incat-adjusted", _incat(1, 3), _incat(0, 3))
    assert result.change == 0
    assert "not counted" in result.caveats[0]
    assert "counted change" in result.message


def test_adjusted_incat_needs_its_parts() -> None:
    with pytest.raises(ResponseInputError, match="arm, leg"):
        _judge("cidp", "incat-adjusted", 4, 3)
    with pytest.raises(ResponseInputError, match="0 to 5 points"):
        validate_value(OUTCOMES.measure("incat-adjusted"), _incat(6, 0))


def test_unadjusted_incat_needs_more_than_one_point() -> None:
    assert _status("cidp", "incat", 5, 4) == "stable"
    assert _status("cidp", "incat", 5, 3) == "improved"
    assert _status("cidp", "incat", 3, 5) == "worse"


def test_grip_strength_threshold_is_strict_in_cidp_and_inclusive_in_mmn() -> None:
    assert _status("cidp", "grip-strength", 22.1, 30.1) == "stable"  # exactly 8 kPa is not > 8
    assert _status("cidp", "grip-strength", 22.1, 30.2) == "improved"
    assert _status("cidp", "grip-strength", 40.0, 31.9) == "worse"
    assert _status("mmn", "grip-strength", 22.1, 30.1) == "improved"  # +-8 kPa: 8 counts
    result = _judge("mmn", "grip-strength", 22.1, 30.1)
    assert result.threshold_verified is False
    assert any("confirm" in c for c in result.caveats)


def test_i_rods_cannot_be_judged_the_prescriber_decides() -> None:
    result = _judge("cidp", "i-rods", 20, 40)
    assert result.status is ResponseStatus.CANNOT_JUDGE
    assert "no sourced threshold; the prescriber decides" in result.message


# --- myasthenia ------------------------------------------------------------------------------------


def test_mg_composite_improvement_only_and_mg_adl_both_ways() -> None:
    assert _status("myasthenia-gravis", "mg-composite", 12, 9) == "improved"
    assert _status("myasthenia-gravis", "mg-composite", 12, 10) == "not_improved"
    assert _status("myasthenia-gravis", "mg-composite", 10, 20) == "not_improved"  # never "worse"
    assert _status("myasthenia-gravis", "mg-adl", 8, 5) == "improved"
    assert _status("myasthenia-gravis", "mg-adl", 8, 6) == "stable"  # the unconfirmed 2 points is not used
    assert _status("myasthenia-gravis", "mg-adl", 5, 8) == "worse"


def test_mmt8_percent_change_and_a_zero_baseline() -> None:
    assert _status("dermatomyositis", "mmt8", 40, 46) == "improved"  # +15 %
    assert _status("dermatomyositis", "mmt8", 40, 45) == "stable"
    assert _status("dermatomyositis", "mmt8", 40, 34) == "worse"  # -15 %
    assert _status("dermatomyositis", "mmt8", 0, 10) == "cannot_judge"
    result = _judge("dermatomyositis", "mmt8", 40, 46)
    assert result.change_percent == pytest.approx(15)


# --- the two-cycle rule ----------------------------------------------------------------------------


def _cidp_course(
    adjusted: list[tuple[int, dict[str, float]]], cycles: int, **extra: list[Reading]
) -> ResponseSummary:
    readings = {"incat-adjusted": [Reading(c, v) for c, v in adjusted], **extra}
    return evaluate_course(OUTCOMES, "cidp", readings, cycles)


def test_no_meaningful_improvement_after_two_cycles_raises_review_and_flags() -> None:
    summary = _cidp_course([(0, _incat(2, 3)), (1, _incat(2, 3)), (2, _incat(2, 3))], 2)
    assert summary.outcome is CourseOutcome.NO_MEANINGFUL_IMPROVEMENT
    assert summary.raises_review and summary.flags_order_and_authorisation
    assert summary.review_reason == "no_meaningful_improvement"
    assert summary.review_reason in REVIEW_REASONS
    assert summary.review_after_cycles == OUTCOMES.course_rules.no_improvement_review_after_cycles.value


def test_improvement_by_the_second_cycle_raises_nothing() -> None:
    summary = _cidp_course([(0, _incat(2, 3)), (2, _incat(2, 2))], 2)
    assert summary.outcome is CourseOutcome.IMPROVED
    assert not summary.raises_review and not summary.flags_order_and_authorisation


def test_before_the_second_cycle_the_rule_is_not_due() -> None:
    summary = _cidp_course([(0, _incat(2, 3)), (1, _incat(2, 4))], 1)
    assert summary.outcome is CourseOutcome.NOT_YET_DUE
    assert not summary.raises_review
    assert summary.primary.status is ResponseStatus.WORSE


def test_a_lost_response_at_cycle_two_raises_review() -> None:
    summary = _cidp_course([(0, _incat(2, 3)), (1, _incat(2, 1)), (2, _incat(2, 3))], 2)
    assert summary.outcome is CourseOutcome.NO_MEANINGFUL_IMPROVEMENT


def test_a_secondary_improvement_does_not_silence_the_primary_rule() -> None:
    grip = [Reading(0, 30.0), Reading(2, 50.0)]
    summary = _cidp_course([(0, _incat(2, 3)), (2, _incat(2, 3))], 2, **{"grip-strength": grip})
    assert summary.outcome is CourseOutcome.NO_MEANINGFUL_IMPROVEMENT
    by_id = {m.measure_id: m.status for m in summary.measures}
    assert by_id == {"incat-adjusted": ResponseStatus.STABLE, "grip-strength": ResponseStatus.IMPROVED}


def test_no_primary_reading_after_the_second_cycle_asks_the_prescriber() -> None:
    summary = _cidp_course([(0, _incat(2, 3)), (1, _incat(2, 1))], 3)
    assert summary.outcome is CourseOutcome.NO_READING
    assert summary.raises_review and not summary.flags_order_and_authorisation
    assert summary.review_reason == "no_primary_reading_after_cycle"


def test_no_baseline_means_cannot_judge_after_two_cycles() -> None:
    summary = _cidp_course([(2, _incat(2, 3))], 2)
    assert summary.outcome is CourseOutcome.CANNOT_JUDGE
    assert summary.review_reason == "cannot_judge_prescriber_decides"


def test_pid_has_no_sourced_threshold_the_prescriber_decides() -> None:
    readings = {
        "igg-trough": [Reading(0, 3.2), Reading(2, 7.5)],
        "infection-count": [Reading(0, 6), Reading(2, 1)],
    }
    summary = evaluate_course(OUTCOMES, "pid", readings, 2)
    assert summary.outcome is CourseOutcome.CANNOT_JUDGE
    assert summary.raises_review and not summary.flags_order_and_authorisation
    assert summary.primary_measure_id is None
    assert all(m.status is ResponseStatus.CANNOT_JUDGE for m in summary.measures)
    assert "the prescriber decides" in summary.message
    early = evaluate_course(OUTCOMES, "pid", {"igg-trough": [Reading(0, 3.2), Reading(1, 6.0)]}, 1)
    assert not early.raises_review


def test_itp_course_uses_the_iwg_rule() -> None:
    readings = {"platelet-count": [Reading(0, 12), Reading(2, 18)]}
    summary = evaluate_course(OUTCOMES, "itp-adult", readings, 2)
    assert summary.outcome is CourseOutcome.NO_MEANINGFUL_IMPROVEMENT
    readings = {"platelet-count": [Reading(0, 12), Reading(2, 40)]}
    assert evaluate_course(OUTCOMES, "itp-adult", readings, 2).outcome is CourseOutcome.IMPROVED


@pytest.mark.parametrize(
    ("indication", "readings", "cycles", "field"),
    [
        ("cidp", {"incat-adjusted": [Reading(0, _incat(1, 1)), Reading(3, _incat(1, 1))]}, 2, "readings"),
        ("cidp", {"incat-adjusted": [Reading(1, _incat(1, 1)), Reading(1, _incat(1, 2))]}, 2, "readings"),
        ("cidp", {"incat-adjusted": [Reading(-1, _incat(1, 1))]}, 2, "readings"),
        ("cidp", {"mg-adl": [Reading(0, 3)]}, 2, "readings"),
        ("cidp", {"grip-strength": [Reading(0, -4.0)]}, 2, "grip-strength"),
        ("no-such-indication", {}, 2, "indication_id"),
        ("cidp", {}, -1, "cycles_completed"),
    ],
)
def test_course_input_errors_name_the_field(
    indication: str, readings: dict[str, list[Reading]], cycles: int, field: str
) -> None:
    with pytest.raises(ResponseInputError) as error:
        evaluate_course(OUTCOMES, indication, readings, cycles)
    assert error.value.field.startswith(field)


# --- review interval -------------------------------------------------------------------------------


def test_review_interval_boundaries() -> None:
    last = date(2025, 1, 10)
    assert not review_due(last, 180, date(2025, 7, 8)).passed
    on_the_day = review_due(last, 180, date(2025, 7, 9))
    assert on_the_day.passed and on_the_day.days_overdue == 0
    assert on_the_day.review_reason == "review_interval_passed"
    later = review_due(last, 180, date(2025, 7, 19))
    assert later.days_overdue == 10 and "10 days overdue" in later.message


@pytest.mark.parametrize(
    ("last", "interval", "today", "field"),
    [
        (date(2025, 1, 10), 0, date(2025, 2, 1), "interval_days"),
        (date(2025, 1, 10), True, date(2025, 2, 1), "interval_days"),
        (date(2025, 1, 10), 30.5, date(2025, 2, 1), "interval_days"),
        (date(2025, 1, 10), 30, date(2025, 1, 9), "today"),
        (datetime(2025, 1, 10, 9, 0), 30, date(2025, 2, 1), "last_review_date"),
    ],
)
def test_review_due_input_errors(last: date, interval: int, today: date, field: str) -> None:
    with pytest.raises(ResponseInputError) as error:
        review_due(last, interval, today)
    assert error.value.field == field


# --- decisions -------------------------------------------------------------------------------------


def test_decision_kinds_and_what_they_feed() -> None:
    assert [k.value for k in DecisionKind] == [
        "continue",
        "change_dose",
        "change_interval",
        "switch_product",
        "trial_off",
        "stop",
    ]
    assert set(NEXT_STEPS) == set(DecisionKind)
    on = date(2025, 3, 1)
    assert Decision(DecisionKind.CONTINUE, "INCAT improved by 2", on).next_step.next_order == "same_plan"
    dose = Decision(DecisionKind.CHANGE_DOSE, "stable; try 20% lower", on, new_dose_g_per_kg=0.8)
    assert dose.next_step.next_order == "new_plan_version" and dose.next_step.continues_therapy
    stop = Decision(
        DecisionKind.STOP, "no benefit after two cycles", on, review_reason="no_meaningful_improvement"
    )
    assert not stop.next_step.continues_therapy and stop.next_step.reauthorisation == "not_requested"
    assert Decision("trial_off", "stable for a year", on).kind is DecisionKind.TRIAL_OFF  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "reason", "extra", "field"),
    [
        ("continue", "  ", {}, "reason"),
        ("pause", "why", {}, "kind"),
        ("change_dose", "why", {}, "new_dose_g_per_kg"),
        ("change_dose", "why", {"new_dose_g_per_kg": 0}, "new_dose_g_per_kg"),
        ("change_dose", "why", {"new_dose_g_per_kg": 0.8, "new_interval_days": 21}, "new_interval_days"),
        ("change_interval", "why", {"new_interval_days": 0}, "new_interval_days"),
        ("switch_product", "why", {}, "new_product_id"),
        ("continue", "why", {"new_product_id": "privigen"}, "new_product_id"),
        ("stop", "why", {"review_reason": "bored"}, "review_reason"),
    ],
)
def test_decision_refuses_incomplete_or_mixed_input(kind: str, reason: str, extra: dict, field: str) -> None:
    with pytest.raises(ResponseInputError) as error:
        Decision(kind, reason, date(2025, 3, 1), **extra)  # type: ignore[arg-type]
    assert error.value.field == field
