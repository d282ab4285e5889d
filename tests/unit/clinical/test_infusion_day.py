"""Infusion day (pure): vitals due-times, vital limits, reaction protocol, weight check, follow-up."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import igflow.clinical.infusion_day as infusion_day_module
from igflow.catalog import load_catalog
from igflow.catalog.models import Fact, InfusionDay, VitalLimits, VitalsSchedule, WeightCheck
from igflow.clinical import DoseRequest, plan_dose
from igflow.clinical.infusion_day import (
    INFUSION_DAY_CODES,
    VITALS_REASONS,
    DayAlert,
    InfusionDayDataError,
    InfusionDayInputError,
    VitalSigns,
    assess_reaction,
    check_weight,
    evaluate_vitals,
    follow_up_state,
    follow_up_task,
    vitals_due,
)
from igflow.clinical.models import Step

DAY = load_catalog().infusion_day
NORMAL = VitalSigns(
    systolic_bp_mmhg=120, heart_rate_bpm=75, resp_rate_per_min=14, spo2_percent=98, temperature_c=36.8
)


def _steps(*pairs: tuple[float, float]) -> tuple[Step, ...]:
    """Steps from (minutes, rate_ml_per_h) pairs, back to back from minute 0."""
    out: list[Step] = []
    start = 0.0
    for minutes, rate in pairs:
        out.append(Step(start, minutes, 1.0, rate, rate * minutes / 60))
        start += minutes
    return tuple(out)


def _codes(alerts: tuple[DayAlert, ...]) -> set[str]:
    return {a.code for a in alerts}


def _with(model: object, **changes: object) -> object:
    return model.model_copy(update=changes)  # type: ignore[attr-defined]


# --- vitals schedule ------------------------------------------------------------------------------


def test_vitals_due_for_a_four_step_plan() -> None:
    # 30 min at 20, 30 min at 40, 30 min at 80, then 150 min at 160 mL/h: ends at 240 min.
    steps = _steps((30, 20), (30, 40), (30, 80), (150, 160))
    due = vitals_due(steps, DAY.vitals_schedule, observation_min=60)
    as_pairs = [(d.minute, d.reasons) for d in due]
    assert as_pairs == [
        (0.0, ("baseline",)),
        (15.0, ("after_start",)),
        (30.0, ("before_rate_increase",)),
        (60.0, ("before_rate_increase",)),
        (90.0, ("before_rate_increase",)),
        (150.0, ("at_max_rate",)),
        (210.0, ("at_max_rate",)),
        (240.0, ("end_of_infusion",)),
        (300.0, ("after_observation",)),
    ]


def test_coinciding_checks_are_merged_and_decrease_is_a_rate_change() -> None:
    steps = _steps((15, 50), (15, 100), (20, 80))
    due = {d.minute: d.reasons for d in vitals_due(steps, DAY.vitals_schedule, observation_min=20)}
    assert due[15.0] == ("after_start", "before_rate_increase")
    assert due[30.0] == ("before_rate_change",)
    assert due[50.0] == ("end_of_infusion",)
    assert due[70.0] == ("after_observation",)


def test_short_single_step_infusion_has_no_after_start_check() -> None:
    due = vitals_due(_steps((10, 100)), DAY.vitals_schedule, observation_min=0)
    assert [(d.minute, d.reasons) for d in due] == [(0.0, ("baseline",)), (10.0, ("end_of_infusion",))]


def test_vitals_due_on_an_engine_plan() -> None:
    plan = plan_dose(
        DoseRequest(
            indication="pid",
            phase="maintenance",
            product="gammaplex-10",
            weight_kg=70,
            height_cm=175,
            sex="male",
            age_years=40,
        ),
        load_catalog(),
    )
    steps = plan.days[0].steps
    due = vitals_due(steps, DAY.vitals_schedule, observation_min=20)
    reasons = [r for d in due for r in d.reasons]
    assert reasons.count("before_rate_increase") == len(steps) - 1
    end = steps[-1].start_min + steps[-1].minutes
    assert due[-2].minute == round(end, 1) and due[-1].minute == round(end + 20, 1)
    assert all(r in VITALS_REASONS for r in reasons)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 120), st.integers(1, 400)), min_size=1, max_size=6),
    st.integers(0, 120),
)
def test_vitals_due_properties(pairs: list[tuple[int, int]], observation: int) -> None:
    steps = _steps(*[(float(m), float(r)) for m, r in pairs])
    due = vitals_due(steps, DAY.vitals_schedule, observation_min=observation)
    minutes = [d.minute for d in due]
    assert minutes == sorted(minutes) and len(set(minutes)) == len(minutes)
    end = steps[-1].start_min + steps[-1].minutes
    assert minutes[0] == 0 and "baseline" in due[0].reasons
    assert any("end_of_infusion" in d.reasons and d.minute == round(end, 1) for d in due)
    changes = sum(1 for a, b in itertools.pairwise(steps) if a.rate_ml_per_h != b.rate_ml_per_h)
    flat = [r for d in due for r in d.reasons]
    assert flat.count("before_rate_increase") + flat.count("before_rate_change") == changes
    # while at the maximum rate, no gap between checks exceeds the schedule's interval
    every = DAY.vitals_schedule.at_max_rate_every_min.value
    assert every is not None
    top = max(step.rate_ml_per_h for step in steps)
    for step in (s for s in steps if s.rate_ml_per_h == top):
        window = [step.start_min, *(m for m in minutes if step.start_min < m < step.start_min + step.minutes)]
        window.append(step.start_min + step.minutes)
        assert all(b - a <= every + 0.1 for a, b in itertools.pairwise(window))


def test_bad_steps_rejected() -> None:
    with pytest.raises(InfusionDayInputError, match="at least one step"):
        vitals_due((), DAY.vitals_schedule, 20)
    with pytest.raises(InfusionDayInputError, match="minute 0"):
        vitals_due((Step(5, 10, 1, 10, 1),), DAY.vitals_schedule, 20)
    with pytest.raises(InfusionDayInputError, match="gaps"):
        vitals_due((Step(0, 10, 1, 10, 1), Step(15, 10, 1, 20, 1)), DAY.vitals_schedule, 20)
    with pytest.raises(InfusionDayInputError, match="positive"):
        vitals_due((Step(0, 10, 1, 0, 1),), DAY.vitals_schedule, 20)
    with pytest.raises(InfusionDayInputError, match="observation_min"):
        vitals_due(_steps((10, 10)), DAY.vitals_schedule, -1)


def test_unknown_schedule_value_refused() -> None:
    schedule = _with(DAY.vitals_schedule, after_start_min=Fact[float](value=None, note="site to set"))
    assert isinstance(schedule, VitalsSchedule)
    with pytest.raises(InfusionDayDataError, match="after_start_min"):
        vitals_due(_steps((30, 10)), schedule, 20)
    schedule = _with(DAY.vitals_schedule, at_max_rate_every_min=Fact[float](value=0, source="test"))
    assert isinstance(schedule, VitalsSchedule)
    with pytest.raises(InfusionDayDataError, match="positive"):
        vitals_due(_steps((30, 10)), schedule, 20)


# --- vital limits ---------------------------------------------------------------------------------


def test_normal_vitals_raise_nothing() -> None:
    assert evaluate_vitals(NORMAL, DAY.vital_limits, baseline=NORMAL) == ()


def test_out_of_limit_vitals_alert() -> None:
    reading = VitalSigns(systolic_bp_mmhg=88, heart_rate_bpm=135, spo2_percent=90, temperature_c=37.0)
    alerts = evaluate_vitals(reading, DAY.vital_limits)
    assert [a.code for a in alerts] == ["vital_below_limit", "vital_above_limit", "vital_below_limit"]
    assert "systolic_bp_mmhg 88" in alerts[0].message


def test_limits_are_inclusive() -> None:
    alerts = evaluate_vitals(VitalSigns(systolic_bp_mmhg=90, temperature_c=39.1), DAY.vital_limits)
    assert _codes(alerts) == {"vital_below_limit", "vital_above_limit"}


def test_temperature_rise_from_baseline() -> None:
    reading = VitalSigns(temperature_c=38.0)
    assert _codes(evaluate_vitals(reading, DAY.vital_limits, baseline=NORMAL)) == {
        "temperature_rise_from_baseline"
    }
    assert evaluate_vitals(reading, DAY.vital_limits) == ()  # no baseline: rise not assessable


def test_unset_limit_is_reported_not_skipped() -> None:
    unknown = Fact[float](value=None, note="site to set")
    hr = DAY.vital_limits.limits["heart_rate_bpm"].model_copy(update={"high": unknown})
    limits = DAY.vital_limits.model_copy(
        update={
            "limits": {**DAY.vital_limits.limits, "heart_rate_bpm": hr},
            "temperature_rise_from_baseline_c": unknown,
        }
    )
    assert isinstance(limits, VitalLimits)
    alerts = evaluate_vitals(VitalSigns(heart_rate_bpm=80, temperature_c=37), limits, baseline=NORMAL)
    assert [a.code for a in alerts] == ["vital_limit_unknown", "vital_limit_unknown"]
    assert "heart_rate_bpm: high" in alerts[0].message


# --- reactions ------------------------------------------------------------------------------------


def test_grade_1_continue_or_slow() -> None:
    result = assess_reaction(1, ["headache"], DAY, action_taken="slow_to_previous_step")
    assert result.recommended_action == "slow_to_previous_step"
    assert not result.stops_infusion and result.notify_queues == () and result.next_plan_flags == ()
    assert _codes(result.alerts) == {"protocol_needs_signoff"}


def test_grade_2_pause_and_resume_lower() -> None:
    result = assess_reaction(2, ["chills", "flushing"], DAY)
    assert result.recommended_action == "pause_then_resume_lower"
    assert not result.stops_infusion


@pytest.mark.parametrize("grade", [3, 4, 5])
def test_grade_3_or_more_stops_and_escalates(grade: int) -> None:
    result = assess_reaction(grade, ["dyspnoea", "hypotension"], DAY, action_taken="stop_and_escalate")
    assert result.stops_infusion and result.recommended_action == "stop_and_escalate"
    assert set(result.notify_queues) == {"pharmacist", "prescriber"}
    assert set(result.next_plan_flags) == {"slower_titration", "premedication", "product_review"}
    assert {"reaction_stops_infusion", "reaction_escalated", "next_plan_flagged"} <= _codes(result.alerts)
    assert "action_outside_protocol" not in _codes(result.alerts)


def test_action_outside_protocol_flagged() -> None:
    result = assess_reaction(3, ["chest-tightness"], DAY, action_taken="continue")
    assert result.stops_infusion  # the record still stops the infusion
    assert "action_outside_protocol" in _codes(result.alerts)
    assert "continue" in next(a.message for a in result.alerts if a.code == "action_outside_protocol")


def test_reaction_input_errors() -> None:
    for bad in (0, 6, True):
        with pytest.raises(InfusionDayInputError, match="grade"):
            assess_reaction(bad, ["headache"], DAY)
    with pytest.raises(InfusionDayInputError, match="at least one"):
        assess_reaction(2, [], DAY)
    with pytest.raises(InfusionDayInputError, match="unknown symptom"):
        assess_reaction(2, ["sneezing-fit"], DAY)


def test_unknown_stop_grade_refused() -> None:
    protocol = DAY.reaction_protocol.model_copy(
        update={"stop_infusion_from_grade": Fact[int](value=None, note="P&T to decide")}
    )
    day = DAY.model_copy(update={"reaction_protocol": protocol})
    assert isinstance(day, InfusionDay)
    with pytest.raises(InfusionDayDataError, match="stop_infusion_from_grade"):
        assess_reaction(1, ["headache"], day)


# --- weight ---------------------------------------------------------------------------------------


def test_unknown_threshold_sends_any_change_to_pharmacist() -> None:
    assert DAY.weight_check.max_change_percent.value is None  # shipped catalog: unsourced
    same = check_weight(70, 70, DAY.weight_check)
    assert not same.needs_pharmacist and same.alerts == ()
    changed = check_weight(70, 70.5, DAY.weight_check)
    assert changed.needs_pharmacist and _codes(changed.alerts) == {"weight_threshold_unknown"}
    assert changed.threshold_percent is None


def test_configured_threshold() -> None:
    check = WeightCheck(max_change_percent=Fact[float](value=10, source="site setting (test)"))
    within = check_weight(80, 88, check)  # +10 %: not beyond
    assert not within.needs_pharmacist and within.change_percent == pytest.approx(10)
    beyond = check_weight(80, 71.9, check)
    assert beyond.needs_pharmacist and _codes(beyond.alerts) == {"weight_change_above_threshold"}
    assert beyond.change_kg == pytest.approx(-8.1)


def test_weight_inputs_validated() -> None:
    with pytest.raises(InfusionDayInputError, match="chair_weight_kg"):
        check_weight(70, 0, DAY.weight_check)
    with pytest.raises(InfusionDayInputError, match="plan_weight_kg"):
        check_weight(float("nan"), 70, DAY.weight_check)


# --- follow-up ------------------------------------------------------------------------------------


def test_follow_up_window_and_state() -> None:
    end = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    task = follow_up_task(end, DAY.follow_up)
    assert task.due_from_utc == end + timedelta(hours=24)
    assert task.due_by_utc == end + timedelta(hours=72)
    assert {item.id for item in task.checklist} >= {
        "late-headache",
        "aseptic-meningitis",
        "thrombosis",
        "renal",
    }
    assert follow_up_state(task, end + timedelta(hours=23)) == "not_yet_due"
    assert follow_up_state(task, end + timedelta(hours=24)) == "due"
    assert follow_up_state(task, end + timedelta(hours=72)) == "due"
    assert follow_up_state(task, end + timedelta(hours=72, seconds=1)) == "overdue"


def test_follow_up_needs_aware_times_and_known_window() -> None:
    with pytest.raises(InfusionDayInputError, match="timezone"):
        follow_up_task(datetime(2026, 3, 2, 14, 30), DAY.follow_up)
    task = follow_up_task(datetime(2026, 3, 2, tzinfo=UTC), DAY.follow_up)
    with pytest.raises(InfusionDayInputError, match="timezone"):
        follow_up_state(task, datetime(2026, 3, 3))
    follow_up = DAY.follow_up.model_copy(update={"window_end_h": Fact[float](value=None, note="unset")})
    with pytest.raises(InfusionDayDataError, match="window_end_h"):
        follow_up_task(datetime(2026, 3, 2, tzinfo=UTC), follow_up)


# --- code registry --------------------------------------------------------------------------------


def test_every_code_is_registered_and_emitted_in_source() -> None:
    source = Path(infusion_day_module.__file__).read_text()
    used = set(re.findall(r'_alert\(\s*"([a-z_]+)"', source))
    assert used == set(INFUSION_DAY_CODES)


def test_every_code_is_triggered() -> None:
    seen: set[str] = set()
    seen |= _codes(evaluate_vitals(VitalSigns(systolic_bp_mmhg=80, heart_rate_bpm=140), DAY.vital_limits))
    seen |= _codes(evaluate_vitals(VitalSigns(temperature_c=38.5), DAY.vital_limits, baseline=NORMAL))
    unknown = Fact[float](value=None, note="unset")
    limits = DAY.vital_limits.model_copy(update={"temperature_rise_from_baseline_c": unknown})
    assert isinstance(limits, VitalLimits)
    seen |= _codes(evaluate_vitals(VitalSigns(temperature_c=37), limits, baseline=NORMAL))
    seen |= _codes(assess_reaction(3, ["rash"], DAY, action_taken="continue").alerts)
    seen |= _codes(check_weight(70, 71, DAY.weight_check).alerts)
    check = WeightCheck(max_change_percent=Fact[float](value=5, source="test"))
    seen |= _codes(check_weight(70, 80, check).alerts)
    assert seen == set(INFUSION_DAY_CODES)
