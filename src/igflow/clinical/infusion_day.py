"""Infusion day at the chair (PURE: no I/O, no clock; times are passed in).

What the chair-side service calls:

- ``vitals_due(steps, schedule, observation_min)``: when vitals are due for a rate plan, and why.
- ``evaluate_vitals(reading, limits, baseline)``: alerts for a set of vital signs.
- ``assess_reaction(grade, symptoms, infusion_day, action_taken)``: the protocol's action for a
  CTCAE-graded reaction, whether it stops the infusion, and the follow-ups it triggers.
- ``check_weight(plan_weight_kg, chair_weight_kg, weight_check)``: today's weight against the plan's.
- ``follow_up_task(infusion_end_utc, follow_up)`` / ``follow_up_state(task, now_utc)``: the 24-72 h
  follow-up task and whether it is due.

Every number comes from the catalog (``infusion_day.yaml``). A catalog value the function needs that
is unknown (null) raises ``InfusionDayDataError`` or, where a safe default exists (weight check,
vital limits), produces an explicit alert; nothing is skipped silently. Alert codes are stable and
listed in ``INFUSION_DAY_CODES``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from igflow.catalog.models import (
    ChecklistItem,
    Fact,
    FollowUp,
    InfusionDay,
    NextPlanFlag,
    NotifyQueue,
    ReactionAction,
    VitalLimits,
    VitalName,
    VitalsSchedule,
    WeightCheck,
)
from igflow.clinical.alerts import Severity
from igflow.clinical.models import Step

#: Every alert code this module can emit: severity and meaning. Stable: services and the UI rely on them.
INFUSION_DAY_CODES: dict[str, tuple[Severity, str]] = {
    # vital signs
    "vital_below_limit": ("warning", "a vital sign is below the site's alert limit"),
    "vital_above_limit": ("warning", "a vital sign is above the site's alert limit"),
    "temperature_rise_from_baseline": ("warning", "temperature has risen from baseline by the alert amount"),
    "vital_limit_unknown": ("warning", "the site has not set this alert limit; the value was not checked"),
    # reactions
    "reaction_stops_infusion": ("hard_stop", "reaction grade at or above the stop grade: infusion stopped"),
    "reaction_escalated": ("warning", "pharmacist and prescriber work queues notified of the reaction"),
    "next_plan_flagged": ("warning", "the patient's next plan is flagged for review after this reaction"),
    "action_outside_protocol": ("warning", "the action recorded is not one the reaction protocol allows"),
    "protocol_needs_signoff": ("info", "the reaction protocol is local practice awaiting P&T sign-off"),
    # weight at the chair
    "weight_change_above_threshold": (
        "hard_stop",
        "weight changed beyond the threshold: pharmacist re-check",
    ),
    "weight_threshold_unknown": ("hard_stop", "weight differs from the plan and no threshold is set"),
}

#: Reasons a vitals check is due (stable codes).
VITALS_REASONS: dict[str, str] = {
    "baseline": "baseline before the infusion starts",
    "after_start": "set time after the infusion starts",
    "before_rate_increase": "before the rate is increased",
    "before_rate_change": "before the rate is changed (decrease)",
    "at_max_rate": "periodic check while at the maximum rate",
    "end_of_infusion": "end of the infusion",
    "after_observation": "end of the post-infusion observation",
}

_T = TypeVar("_T")
FollowUpState = Literal["not_yet_due", "due", "overdue"]
_MINUTE_DECIMALS = 1
_TIME_TOLERANCE_MIN = 0.05


class InfusionDayInputError(ValueError):
    """Invalid input from the caller (names the field); not a clinical alert."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InfusionDayDataError(ValueError):
    """A catalog value this calculation needs is unknown (null): the engine refuses to guess."""

    def __init__(self, field: str, note: str | None) -> None:
        self.field = field
        self.note = note
        super().__init__(f"catalog value {field} is unknown and must be set before use: {note or 'no note'}")


@dataclass(frozen=True)
class DayAlert:
    severity: Severity
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message}


def _alert(code: str, message: str) -> DayAlert:
    severity, _ = INFUSION_DAY_CODES[code]
    return DayAlert(severity=severity, code=code, message=message)


def _require(fact: Fact[_T], field: str) -> _T:
    if fact.value is None:
        raise InfusionDayDataError(field, fact.note)
    return fact.value


# --- vitals schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VitalsDue:
    """A vitals check at ``minute`` after the infusion start (negative: never; 0 = baseline)."""

    minute: float
    reasons: tuple[str, ...]


def _check_steps(steps: Sequence[Step]) -> None:
    if not steps:
        raise InfusionDayInputError("steps", "a rate plan needs at least one step")
    expected = steps[0].start_min
    if abs(expected) > _TIME_TOLERANCE_MIN:
        raise InfusionDayInputError("steps", "the first step must start at minute 0")
    for index, step in enumerate(steps):
        if step.minutes <= 0 or step.rate_ml_per_h <= 0:
            raise InfusionDayInputError(f"steps[{index}]", "minutes and rate_ml_per_h must be positive")
        if abs(step.start_min - expected) > _TIME_TOLERANCE_MIN:
            raise InfusionDayInputError(f"steps[{index}]", "steps must follow each other without gaps")
        expected = step.start_min + step.minutes


def vitals_due(
    steps: Sequence[Step], schedule: VitalsSchedule, observation_min: float
) -> tuple[VitalsDue, ...]:
    """Minutes (from infusion start) at which vitals are due for this rate plan, with the reasons.

    Checks falling on the same minute are merged. ``observation_min`` is the post-infusion
    observation for this patient (``administration.yaml`` chair: first infusion vs later).
    """
    _check_steps(steps)
    if observation_min < 0:
        raise InfusionDayInputError("observation_min", "must be zero or more")
    end_min = steps[-1].start_min + steps[-1].minutes
    due: dict[float, list[str]] = {}

    def add(minute: float, reason: str) -> None:
        due.setdefault(round(minute, _MINUTE_DECIMALS), []).append(reason)

    if _require(schedule.baseline, "vitals_schedule.baseline"):
        add(0.0, "baseline")
    after_start = _require(schedule.after_start_min, "vitals_schedule.after_start_min")
    if after_start < end_min:
        add(after_start, "after_start")
    if _require(schedule.before_each_rate_change, "vitals_schedule.before_each_rate_change"):
        for previous, step in itertools.pairwise(steps):
            if step.rate_ml_per_h > previous.rate_ml_per_h:
                add(step.start_min, "before_rate_increase")
            elif step.rate_ml_per_h < previous.rate_ml_per_h:
                add(step.start_min, "before_rate_change")
    every = _require(schedule.at_max_rate_every_min, "vitals_schedule.at_max_rate_every_min")
    if every <= 0:
        raise InfusionDayDataError("vitals_schedule.at_max_rate_every_min", "must be positive")
    max_rate = max(step.rate_ml_per_h for step in steps)
    for step in steps:
        if step.rate_ml_per_h != max_rate:
            continue
        minute = step.start_min + every
        while minute < step.start_min + step.minutes and minute < end_min:
            add(minute, "at_max_rate")
            minute += every
    if _require(schedule.at_end, "vitals_schedule.at_end"):
        add(end_min, "end_of_infusion")
    if _require(schedule.after_observation, "vitals_schedule.after_observation") and observation_min > 0:
        add(end_min + observation_min, "after_observation")
    return tuple(VitalsDue(minute, tuple(reasons)) for minute, reasons in sorted(due.items()))


# --- vital signs against limits --------------------------------------------------------------------


@dataclass(frozen=True)
class VitalSigns:
    """One set of vital signs; a sign not measured is ``None``."""

    systolic_bp_mmhg: float | None = None
    heart_rate_bpm: float | None = None
    resp_rate_per_min: float | None = None
    spo2_percent: float | None = None
    temperature_c: float | None = None

    def value(self, name: VitalName) -> float | None:
        result: float | None = getattr(self, name)
        return result


def evaluate_vitals(
    reading: VitalSigns, limits: VitalLimits, baseline: VitalSigns | None = None
) -> tuple[DayAlert, ...]:
    """Alerts for a reading. Limits are inclusive (at the limit alerts), as the NEWS2 bands are."""
    alerts: list[DayAlert] = []
    for name, limit in limits.limits.items():
        value = reading.value(name)
        if value is None:
            continue
        for side, fact in (("low", limit.low), ("high", limit.high)):
            if fact is None:
                continue
            if fact.value is None:
                alerts.append(
                    _alert("vital_limit_unknown", f"{name}: {side} alert limit not set ({fact.note})")
                )
            elif side == "low" and value <= fact.value:
                alerts.append(_alert("vital_below_limit", f"{name} {value:g} is at or below {fact.value:g}"))
            elif side == "high" and value >= fact.value:
                alerts.append(_alert("vital_above_limit", f"{name} {value:g} is at or above {fact.value:g}"))
    if reading.temperature_c is not None and baseline is not None and baseline.temperature_c is not None:
        rise = limits.temperature_rise_from_baseline_c
        if rise.value is None:
            alerts.append(_alert("vital_limit_unknown", f"temperature rise limit not set ({rise.note})"))
        elif reading.temperature_c - baseline.temperature_c > rise.value:
            alerts.append(
                _alert(
                    "temperature_rise_from_baseline",
                    f"temperature {reading.temperature_c:g} C is more than {rise.value:g} C above "
                    f"baseline {baseline.temperature_c:g} C",
                )
            )
    return tuple(alerts)


# --- reactions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReactionAssessment:
    grade: int
    symptoms: tuple[str, ...]
    recommended_action: ReactionAction
    allowed_actions: tuple[ReactionAction, ...]
    action_taken: ReactionAction | None
    stops_infusion: bool
    notify_queues: tuple[NotifyQueue, ...]
    next_plan_flags: tuple[NextPlanFlag, ...]
    protocol_source: str
    alerts: tuple[DayAlert, ...]


def assess_reaction(
    grade: int,
    symptoms: Sequence[str],
    infusion_day: InfusionDay,
    action_taken: ReactionAction | None = None,
) -> ReactionAssessment:
    """What the protocol says for a reaction of CTCAE ``grade`` with these symptom ids.

    ``stops_infusion`` is true from the protocol's stop grade (3 in the shipped catalog); from the
    escalation grade the pharmacist and prescriber queues are notified and the next plan is flagged.
    """
    if isinstance(grade, bool) or grade not in range(1, 6):
        raise InfusionDayInputError("grade", "CTCAE grade must be an integer 1 to 5")
    if not symptoms:
        raise InfusionDayInputError("symptoms", "record at least one symptom")
    known = {item.id for item in infusion_day.symptoms}
    unknown = [item for item in symptoms if item not in known]
    if unknown:
        raise InfusionDayInputError("symptoms", f"unknown symptom ids {unknown}; allowed: {sorted(known)}")
    protocol = infusion_day.reaction_protocol
    stop_grade = _require(protocol.stop_infusion_from_grade, "reaction_protocol.stop_infusion_from_grade")
    escalate_grade = _require(protocol.escalate_from_grade, "reaction_protocol.escalate_from_grade")
    rule = protocol.rule_for(grade)
    stops = grade >= stop_grade
    escalates = grade >= escalate_grade
    alerts: list[DayAlert] = []
    if stops:
        alerts.append(_alert("reaction_stops_infusion", f"grade {grade} reaction: stop the infusion"))
    queues: tuple[NotifyQueue, ...] = tuple(protocol.notify_queues) if escalates else ()
    flags: tuple[NextPlanFlag, ...] = tuple(protocol.next_plan_flags) if escalates else ()
    if escalates:
        alerts.append(_alert("reaction_escalated", f"grade {grade} reaction: notify {', '.join(queues)}"))
        alerts.append(_alert("next_plan_flagged", f"review next plan: {', '.join(flags)}"))
    if action_taken is not None and action_taken not in rule.allowed_actions:
        alerts.append(
            _alert(
                "action_outside_protocol",
                f"grade {grade}: {action_taken} recorded; protocol allows {', '.join(rule.allowed_actions)}",
            )
        )
    if protocol.needs_pt_signoff or not rule.verified:
        alerts.append(_alert("protocol_needs_signoff", f"reaction protocol source: {rule.source}"))
    return ReactionAssessment(
        grade=grade,
        symptoms=tuple(symptoms),
        recommended_action=rule.recommended_action,
        allowed_actions=tuple(rule.allowed_actions),
        action_taken=action_taken,
        stops_infusion=stops,
        notify_queues=queues,
        next_plan_flags=flags,
        protocol_source=rule.source,
        alerts=tuple(alerts),
    )


# --- weight at the chair --------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightCheckResult:
    plan_weight_kg: float
    chair_weight_kg: float
    change_kg: float
    change_percent: float
    threshold_percent: float | None
    needs_pharmacist: bool
    alerts: tuple[DayAlert, ...]


def check_weight(
    plan_weight_kg: float, chair_weight_kg: float, weight_check: WeightCheck
) -> WeightCheckResult:
    """Today's weight against the verified plan's weight.

    A change beyond the threshold (strictly greater, either direction) sends the plan back to the
    pharmacist. When the catalog has no threshold, ANY change sends it back (never skipped).
    """
    for field, value in (("plan_weight_kg", plan_weight_kg), ("chair_weight_kg", chair_weight_kg)):
        if not value > 0:
            raise InfusionDayInputError(field, "must be a positive weight in kg")
    change_kg = chair_weight_kg - plan_weight_kg
    change_percent = change_kg / plan_weight_kg * 100.0
    threshold = weight_check.max_change_percent.value
    alerts: list[DayAlert] = []
    if threshold is None:
        if change_kg != 0:
            alerts.append(
                _alert(
                    "weight_threshold_unknown",
                    f"weight {chair_weight_kg:g} kg differs from plan {plan_weight_kg:g} kg "
                    f"({change_percent:+.1f} %) and no change threshold is set: pharmacist to re-check",
                )
            )
    elif abs(change_percent) > threshold:
        alerts.append(
            _alert(
                "weight_change_above_threshold",
                f"weight {chair_weight_kg:g} kg is {change_percent:+.1f} % from plan {plan_weight_kg:g} kg "
                f"(threshold {threshold:g} %): pharmacist to re-check the dose",
            )
        )
    return WeightCheckResult(
        plan_weight_kg=plan_weight_kg,
        chair_weight_kg=chair_weight_kg,
        change_kg=change_kg,
        change_percent=change_percent,
        threshold_percent=threshold,
        needs_pharmacist=bool(alerts),
        alerts=tuple(alerts),
    )


# --- follow-up task -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpTask:
    due_from_utc: datetime
    due_by_utc: datetime
    checklist: tuple[ChecklistItem, ...]


def _aware(field: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InfusionDayInputError(field, "must be a timezone-aware datetime (UTC)")


def follow_up_task(infusion_end_utc: datetime, follow_up: FollowUp) -> FollowUpTask:
    """The follow-up call window after an infusion ended, with its checklist."""
    _aware("infusion_end_utc", infusion_end_utc)
    start_h = _require(follow_up.window_start_h, "follow_up.window_start_h")
    end_h = _require(follow_up.window_end_h, "follow_up.window_end_h")
    return FollowUpTask(
        due_from_utc=infusion_end_utc + timedelta(hours=start_h),
        due_by_utc=infusion_end_utc + timedelta(hours=end_h),
        checklist=tuple(follow_up.checklist),
    )


def follow_up_state(task: FollowUpTask, now_utc: datetime) -> FollowUpState:
    """``not_yet_due`` before the window, ``due`` inside it (both ends included), ``overdue`` after."""
    _aware("now_utc", now_utc)
    if now_utc < task.due_from_utc:
        return "not_yet_due"
    if now_utc <= task.due_by_utc:
        return "due"
    return "overdue"
