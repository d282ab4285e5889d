"""Response evaluation and continuation review (PURE: no I/O, no database, no clock; dates are passed in).

What the outcomes service calls:

- ``validate_value(measure, value)``: a reading checked against the measure's sourced scale; the total.
- ``evaluate(measure, threshold, baseline, current)``: one measure against baseline: improved, stable,
  worse, not improved or cannot judge, with the change, the threshold used and its source.
- ``evaluate_course(outcomes, indication_id, readings, cycles_completed)``: every measure of the
  indication, and the "no meaningful improvement after two cycles" rule on the primary measure.
- ``review_due(last_review_date, interval_days, today)``: whether a review interval has passed.
- ``Decision`` / ``DecisionKind``: the prescriber's decision (continue, change dose or interval,
  switch product, trial off, stop) with its reason, and what it means for the next order.

Every threshold comes from the catalog (``outcomes.yaml``) with its source. Where the catalog holds
no threshold (``kind: unknown``) the answer is ``cannot_judge``: "no sourced threshold; the
prescriber decides" - never a guessed number. Values outside a sourced scale are refused with the
range named (``ResponseInputError``); nothing is clamped.

Statuses. ``stable`` needs a sourced worsening threshold as well as an improvement threshold: only
then is a small change known to be within both. Where the source gives an improvement threshold or
response levels only (MG Composite, TIS, ITP IWG), a value short of it is ``not_improved``: it is
neither called stable nor worse.

A reading's number is in the measure's unit (``Measure.unit``: points, kPa, x10^9/L, g/L ...); one
reading type serves every measure, so the unit travels with the measure and every result names it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from igflow.catalog.models import (
    ChangeThreshold,
    Direction,
    Fact,
    IndicationOutcomes,
    Measure,
    OutcomesFile,
    ResponseThreshold,
)

#: A reading's value: a number in the measure's unit, or its parts by id (adjusted INCAT: arm, leg).
Score = float | int | Mapping[str, float | int]

# Float subtraction noise only (e.g. 30.1 - 22.1); not a clinical tolerance.
_FLOAT_TOLERANCE = 1e-9


class ResponseStatus(StrEnum):
    IMPROVED = "improved"
    STABLE = "stable"
    WORSE = "worse"
    NOT_IMPROVED = "not_improved"
    CANNOT_JUDGE = "cannot_judge"


class CourseOutcome(StrEnum):
    IMPROVED = "improved"
    NO_MEANINGFUL_IMPROVEMENT = "no_meaningful_improvement"
    NOT_YET_DUE = "not_yet_due"
    NO_READING = "no_reading"
    CANNOT_JUDGE = "cannot_judge"


#: Why a review task is raised (stable codes: services, tasks and the UI rely on them).
REVIEW_REASONS: dict[str, str] = {
    "no_meaningful_improvement": (
        "no meaningful improvement of the primary measure after the catalog's number of cycles"
    ),
    "cannot_judge_prescriber_decides": (
        "no sourced threshold (or no primary measure) to judge the response: the prescriber decides"
    ),
    "no_primary_reading_after_cycle": "no reading of the primary measure after the review cycle",
    "review_interval_passed": "the review interval set by the site protocol or prescriber has passed",
}

CANNOT_JUDGE_TEXT = "Cannot judge: no sourced threshold; the prescriber decides."


class ResponseInputError(ValueError):
    """Invalid input from the caller (names the field and what is allowed); not a clinical finding."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --- values ----------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _amount(value: float, unit: str) -> str:
    """``3 points``, ``1 point``, ``8 kPa``: a number with its unit."""
    text = _fmt(value)
    if unit in ("points", "infections", "days") and text == "1":
        return f"1 {unit[:-1]}"
    return f"{text} {unit}"


def _scale_text(low: float | None, high: float | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{_fmt(low)} to {_fmt(high)} {unit}"
    if low is not None:
        return f"at least {_fmt(low)} {unit} (no upper bound is sourced)"
    if high is not None:
        return f"at most {_fmt(high)} {unit} (no lower bound is sourced)"
    return "any value (no bound is sourced)"


def _check_number(
    field: str, label: str, value: object, scale: tuple[Fact[float], Fact[float]], unit: str, integer: bool
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResponseInputError(field, f"{label} must be a number in {unit}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ResponseInputError(field, f"{label} must be a finite number, got {value!r}")
    if integer and not number.is_integer():
        raise ResponseInputError(field, f"{label} is scored in whole {unit}, got {_fmt(number)}")
    low, high = scale[0].value, scale[1].value
    if (low is not None and number < low) or (high is not None and number > high):
        raise ResponseInputError(
            field, f"{label}: {_fmt(number)} {unit} is outside the scale {_scale_text(low, high, unit)}"
        )
    return number


def _validated_parts(measure: Measure, value: object) -> dict[str, float]:
    wanted = [part.id for part in measure.parts]
    if not isinstance(value, Mapping) or sorted(value) != sorted(wanted):
        raise ResponseInputError(
            measure.id, f"{measure.name} is entered as its parts {', '.join(wanted)}, got {value!r}"
        )
    return {
        part.id: _check_number(
            f"{measure.id}.{part.id}",
            f"{measure.name}, {part.name}",
            value[part.id],
            (part.scale_min, part.scale_max),
            measure.unit,
            measure.integer,
        )
        for part in measure.parts
    }


def validate_value(measure: Measure, value: object) -> float:
    """The reading's total in the measure's unit, refused (``ResponseInputError``) when outside the
    sourced scale, not whole on an integer scale, or not a finite number. Nothing is clamped.

    A measure with parts (adjusted INCAT) takes a mapping of every part; each part and the total are
    checked. A bound the catalog does not know (null) is not checked, and the message says so.
    """
    if measure.parts:
        total = sum(_validated_parts(measure, value).values())
        return _check_number(
            measure.id,
            measure.name,
            total,
            (measure.scale_min, measure.scale_max),
            measure.unit,
            measure.integer,
        )
    return _check_number(
        measure.id, measure.name, value, (measure.scale_min, measure.scale_max), measure.unit, measure.integer
    )


def _adjusted_change(measure: Measure, baseline: Score, current: Score) -> tuple[float, tuple[str, ...]]:
    """``current - baseline``, without the part changes the measure's definition excludes."""
    change = validate_value(measure, current) - validate_value(measure, baseline)
    if not measure.excluded_part_changes:
        return change, ()
    base, now = _validated_parts(measure, baseline), _validated_parts(measure, current)
    notes: list[str] = []
    for rule in measure.excluded_part_changes:
        before, after = base[rule.part], now[rule.part]
        if before != after and {before, after} == set(rule.between):
            change -= after - before
            notes.append(
                f"The {measure.part(rule.part).name} change {_fmt(before)} -> {_fmt(after)} is not counted "
                f"in {measure.name} (catalog: {rule.source})."
            )
    return change, tuple(notes)


# --- one measure -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureResponse:
    """One measure's latest reading against baseline, in words a clinician reads (``message``)."""

    measure_id: str
    measure_name: str
    unit: str
    status: ResponseStatus
    baseline: float | None
    current: float
    change: float | None
    change_percent: float | None
    level: str | None
    threshold: str | None
    threshold_source: str | None
    threshold_verified: bool | None
    message: str
    caveats: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "measure_id": self.measure_id,
            "measure_name": self.measure_name,
            "unit": self.unit,
            "status": self.status.value,
            "baseline": self.baseline,
            "current": self.current,
            "change": self.change,
            "change_percent": self.change_percent,
            "level": self.level,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "threshold_verified": self.threshold_verified,
            "message": self.message,
            "caveats": list(self.caveats),
        }


@dataclass(frozen=True)
class _Case:
    measure: Measure
    threshold: ResponseThreshold
    direction: Direction | None
    baseline: float | None
    current: float
    change: float | None
    caveats: tuple[str, ...]

    @property
    def better_by(self) -> float | None:
        """The change signed so that a positive amount is in the better direction (``None`` when there
        is no baseline or the direction is unknown)."""
        if self.change is None or self.direction is None:
            return None
        return self.change if self.direction == "higher_is_better" else -self.change

    def respond(
        self,
        status: ResponseStatus,
        verdict: str,
        *,
        threshold: str | None = None,
        source: str | None = None,
        verified: bool | None = None,
        level: str | None = None,
        change_percent: float | None = None,
        caveats: Sequence[str] = (),
    ) -> MeasureResponse:
        notes = self.caveats + tuple(caveats)
        if verified is False:
            notes += ("The threshold's source is secondary or igflow's reading of it: confirm it.",)
        return MeasureResponse(
            measure_id=self.measure.id,
            measure_name=self.measure.name,
            unit=self.measure.unit,
            status=status,
            baseline=self.baseline,
            current=self.current,
            change=self.change,
            change_percent=change_percent,
            level=level,
            threshold=threshold,
            threshold_source=source,
            threshold_verified=verified,
            message=f"{self._reading_text()} {verdict}",
            caveats=notes,
        )

    def _reading_text(self) -> str:
        unit = self.measure.unit
        now = f"{_fmt(self.current)} {unit}"
        if self.baseline is None:
            return f"{self.measure.name}: {now}."
        better = self.better_by
        counted = "counted change" if self.caveats else "change"
        if better is None and self.change is not None:
            moved = f"{counted} {'+' if self.change > 0 else ''}{_fmt(round(self.change, 6))} {unit}"
        elif better is None or abs(better) <= _FLOAT_TOLERANCE:
            moved = f"no {counted}"
        else:
            moved = f"{counted} {_amount(round(abs(better), 6), unit)} {'better' if better > 0 else 'worse'}"
        return f"{self.measure.name}: {_fmt(self.baseline)} -> {now} ({moved})."


def _threshold_text(change: ChangeThreshold, unit: str) -> str:
    amount = f"{_fmt(change.value)}% of baseline" if unit == "%" else _amount(change.value, unit)
    return f"{'at least' if change.inclusive else 'more than'} {amount}"


def _meets(amount: float, change: ChangeThreshold) -> bool:
    if change.inclusive:
        return amount >= change.value - _FLOAT_TOLERANCE
    return amount > change.value + _FLOAT_TOLERANCE


def _cannot_judge(case: _Case, why: str) -> MeasureResponse:
    return case.respond(ResponseStatus.CANNOT_JUDGE, f"{CANNOT_JUDGE_TEXT} {why}".strip())


def _judge_change(
    case: _Case, amount: float, unit: str, change_percent: float | None = None
) -> MeasureResponse:
    """Improved / worse / stable / not improved for a change ``amount`` (positive = better)."""
    improvement, worsening = case.threshold.improvement, case.threshold.worsening
    assert improvement is not None  # the model guarantees it for change kinds
    up = _threshold_text(improvement, unit)
    if _meets(amount, improvement):
        return case.respond(
            ResponseStatus.IMPROVED,
            f"Improved: the improvement reaches the threshold ({up}).",
            threshold=up,
            source=improvement.source,
            verified=improvement.verified,
            change_percent=change_percent,
        )
    if worsening is None:
        return case.respond(
            ResponseStatus.NOT_IMPROVED,
            f"Not improved: the change does not reach the improvement threshold ({up}). "
            "The source gives no worsening threshold, so this is not called "
            "stable or worse.",
            threshold=up,
            source=improvement.source,
            verified=improvement.verified,
            change_percent=change_percent,
        )
    down = _threshold_text(worsening, unit)
    sources = (
        improvement.source
        if worsening.source == improvement.source
        else (f"{improvement.source}; {worsening.source}")
    )
    verified = improvement.verified and worsening.verified
    if _meets(-amount, worsening):
        return case.respond(
            ResponseStatus.WORSE,
            f"Worse: the worsening reaches the threshold ({down}).",
            threshold=down,
            source=worsening.source,
            verified=worsening.verified,
            change_percent=change_percent,
        )
    return case.respond(
        ResponseStatus.STABLE,
        f"Stable: the change is within the thresholds ({up} better, {down} worse).",
        threshold=f"{up} better / {down} worse",
        source=sources,
        verified=verified,
        change_percent=change_percent,
    )


def _by_points(case: _Case) -> MeasureResponse:
    better = case.better_by
    if better is None:
        return _cannot_judge(case, "A change needs a baseline reading (cycle 0).")
    return _judge_change(case, better, case.measure.unit)


def _by_percent(case: _Case) -> MeasureResponse:
    better = case.better_by
    if better is None or case.baseline is None:
        return _cannot_judge(case, "A change needs a baseline reading (cycle 0).")
    if case.baseline == 0:
        return _cannot_judge(case, "A percent change from a baseline of 0 is undefined.")
    percent = better / abs(case.baseline) * 100
    signed = percent if case.direction == "higher_is_better" else -percent
    return _judge_change(case, percent, "%", change_percent=signed)


def _by_level(case: _Case) -> MeasureResponse:
    reached = [level for level in case.threshold.levels if case.current >= level.min_value]
    if reached:
        top = reached[-1]
        text = f"at least {_fmt(top.min_value)} {case.measure.unit}"
        return case.respond(
            ResponseStatus.IMPROVED,
            f"Improved: {top.label} ({text}).",
            level=top.id,
            threshold=text,
            source=top.source,
            verified=top.verified,
        )
    first = case.threshold.levels[0]
    text = f"at least {_fmt(first.min_value)} {case.measure.unit}"
    return case.respond(
        ResponseStatus.NOT_IMPROVED,
        f"Not improved: below {first.label} ({text}). The criteria define improvement "
        "only, so this is not called stable or worse.",
        threshold=text,
        source=first.source,
        verified=first.verified,
    )


def _by_iwg(case: _Case) -> MeasureResponse:
    rule = case.threshold.iwg
    assert rule is not None  # the model guarantees it for this kind
    cr, r, fold = rule.complete_response_min, rule.response_min, rule.response_min_fold_of_baseline
    if cr.value is None or r.value is None or fold.value is None:
        unknown = next(f for f in (cr, r, fold) if f.value is None)
        return _cannot_judge(case, unknown.note or "")
    unit = case.measure.unit
    cr_text = f"at least {_fmt(cr.value)} {unit}"
    if case.current >= cr.value:
        return case.respond(
            ResponseStatus.IMPROVED,
            f"Improved: complete response by IWG ({cr_text}).",
            level="complete_response",
            threshold=cr_text,
            source=rule.source,
            verified=cr.verified,
            caveats=rule.caveats,
        )
    r_text = f"at least {_fmt(r.value)} {unit} and at least {_fmt(fold.value)} times baseline"
    if case.baseline is None:
        return _cannot_judge(case, f"IWG response ({r_text}) needs the baseline count (cycle 0).")
    if case.current >= r.value and case.current >= fold.value * case.baseline:
        return case.respond(
            ResponseStatus.IMPROVED,
            f"Improved: response by IWG ({r_text}).",
            level="response",
            threshold=r_text,
            source=rule.source,
            verified=r.verified and fold.verified,
            caveats=rule.caveats,
        )
    return case.respond(
        ResponseStatus.NOT_IMPROVED,
        f"Not improved: no response by IWG (response needs {r_text}). IWG defines response "
        "levels, not worsening, so this is not called stable or worse.",
        level="no_response",
        threshold=r_text,
        source=rule.source,
        verified=r.verified and fold.verified,
        caveats=rule.caveats,
    )


_HANDLERS: dict[str, Callable[[_Case], MeasureResponse]] = {
    "points": _by_points,
    "percent_of_baseline": _by_percent,
    "level_on_current": _by_level,
    "itp_iwg_2009": _by_iwg,
}


def evaluate(
    measure: Measure,
    threshold: ResponseThreshold,
    baseline: Score | None,
    current: Score,
    *,
    patient_is_adult: bool | None = None,
) -> MeasureResponse:
    """One measure's ``current`` reading against ``baseline`` (cycle 0), by the indication's threshold.

    Both readings are validated first (``ResponseInputError`` names the scale). The answer is
    ``cannot_judge`` exactly when the catalog cannot support a judgement: no sourced threshold
    (``kind: unknown``), unknown direction, a threshold sourced for adults only and the patient not
    known to be an adult, or the comparison needs a baseline that is missing (or is 0 for a percent).
    ``baseline`` may be ``None`` for level criteria judged on the current value (TIS, IWG CR).
    """
    current_total = validate_value(measure, current)
    baseline_total = None if baseline is None else validate_value(measure, baseline)
    change: float | None = None
    caveats: tuple[str, ...] = ()
    if baseline is not None and baseline_total is not None:
        change, caveats = _adjusted_change(measure, baseline, current)
    direction = measure.direction.value
    case = _Case(
        measure=measure,
        threshold=threshold,
        direction=direction,
        baseline=baseline_total,
        current=current_total,
        change=change,
        caveats=caveats,
    )
    if threshold.kind == "unknown":
        return _cannot_judge(case, threshold.note or "")
    if direction is None:
        return _cannot_judge(case, f"The direction of {measure.name} is unknown: {measure.direction.note}")
    if threshold.population == "adult" and patient_is_adult is not True:
        return _cannot_judge(
            case,
            f"The threshold is sourced for adults only and the patient is not known to be an adult. "
            f"{threshold.note or ''}".strip(),
        )
    return _HANDLERS[threshold.kind](case)


# --- a course --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One reading of a measure. ``cycle`` 0 is the baseline before the first cycle; ``cycle`` n is the
    reading after cycle n (before cycle n + 1). ``value`` is in the measure's unit (or its parts)."""

    cycle: int
    value: Score


@dataclass(frozen=True)
class ResponseSummary:
    """The course's response: every measure's latest reading against baseline, and the review rule.

    ``raises_review``: the service raises a review task for the prescriber (``review_reason`` is a
    ``REVIEW_REASONS`` code). ``flags_order_and_authorisation``: the order and the authorisation are
    flagged too (a finding of no meaningful improvement, not a missing judgement).
    """

    indication_id: str
    cycles_completed: int
    review_after_cycles: int | None
    primary_measure_id: str | None
    outcome: CourseOutcome
    raises_review: bool
    flags_order_and_authorisation: bool
    review_reason: str | None
    primary: MeasureResponse | None
    measures: tuple[MeasureResponse, ...]
    message: str


def _check_cycle(measure_id: str, cycle: object, cycles_completed: int) -> int:
    if isinstance(cycle, bool) or not isinstance(cycle, int) or cycle < 0:
        raise ResponseInputError(
            f"readings.{measure_id}", f"cycle must be a whole number >= 0, got {cycle!r}"
        )
    if cycle > cycles_completed:
        raise ResponseInputError(
            f"readings.{measure_id}",
            f"a reading after cycle {cycle}, but cycles completed: {cycles_completed}",
        )
    return cycle


def _baseline_and_latest(
    measure_id: str, readings: Sequence[Reading], cycles_completed: int
) -> tuple[Reading | None, Reading | None]:
    by_cycle: dict[int, Reading] = {}
    for reading in readings:
        cycle = _check_cycle(measure_id, reading.cycle, cycles_completed)
        if cycle in by_cycle:
            raise ResponseInputError(f"readings.{measure_id}", f"two readings for cycle {cycle}")
        by_cycle[cycle] = reading
    later = [cycle for cycle in by_cycle if cycle > 0]
    return by_cycle.get(0), (by_cycle[max(later)] if later else None)


def _evaluate_measures(
    entry: IndicationOutcomes,
    outcomes: OutcomesFile,
    readings: Mapping[str, Sequence[Reading]],
    cycles_completed: int,
    patient_is_adult: bool | None,
) -> tuple[dict[str, MeasureResponse], dict[str, int]]:
    unknown = sorted(set(readings) - set(entry.measure_ids))
    if unknown:
        allowed = ", ".join(entry.measure_ids) or "none"
        raise ResponseInputError(
            "readings", f"{', '.join(unknown)} not used for {entry.indication} (measures: {allowed})"
        )
    responses: dict[str, MeasureResponse] = {}
    latest_cycles: dict[str, int] = {}
    for measure_id in entry.measure_ids:
        baseline, latest = _baseline_and_latest(measure_id, readings.get(measure_id, ()), cycles_completed)
        if baseline is not None:
            validate_value(outcomes.measure(measure_id), baseline.value)
        if latest is None:
            continue
        responses[measure_id] = evaluate(
            outcomes.measure(measure_id),
            entry.threshold_for(measure_id),
            None if baseline is None else baseline.value,
            latest.value,
            patient_is_adult=patient_is_adult,
        )
        latest_cycles[measure_id] = latest.cycle
    return responses, latest_cycles


@dataclass(frozen=True)
class _Verdict:
    outcome: CourseOutcome
    reason: str | None
    message: str

    @property
    def raises_review(self) -> bool:
        return self.reason is not None


def _course_verdict(
    entry: IndicationOutcomes,
    after: int | None,
    after_note: str | None,
    cycles_completed: int,
    primary: MeasureResponse | None,
    primary_cycle: int | None,
) -> _Verdict:
    if after is None:
        return _Verdict(
            CourseOutcome.CANNOT_JUDGE,
            "cannot_judge_prescriber_decides",
            f"{CANNOT_JUDGE_TEXT} The number of cycles for the review rule is unknown: {after_note}",
        )
    due = cycles_completed >= after
    if entry.primary is None:
        return _Verdict(
            CourseOutcome.CANNOT_JUDGE,
            "cannot_judge_prescriber_decides" if due else None,
            f"{CANNOT_JUDGE_TEXT} No primary measure is sourced for {entry.indication}: {entry.note}",
        )
    improved = primary is not None and primary.status is ResponseStatus.IMPROVED
    if not due:
        if primary is not None and improved:
            return _Verdict(CourseOutcome.IMPROVED, None, f"Primary measure improved. {primary.message}")
        shown = primary.message if primary is not None else "No reading of the primary measure yet."
        return _Verdict(
            CourseOutcome.NOT_YET_DUE,
            None,
            f"{cycles_completed} of {after} cycles completed: the improvement rule is not due yet. {shown}",
        )
    if primary is None or primary_cycle is None or primary_cycle < after:
        return _Verdict(
            CourseOutcome.NO_READING,
            "no_primary_reading_after_cycle",
            f"{cycles_completed} cycles completed and no reading of the primary measure ({entry.primary}) "
            f"after cycle {after}: record one, or the prescriber decides.",
        )
    if improved:
        return _Verdict(CourseOutcome.IMPROVED, None, f"Primary measure improved. {primary.message}")
    if primary.status is ResponseStatus.CANNOT_JUDGE:
        return _Verdict(CourseOutcome.CANNOT_JUDGE, "cannot_judge_prescriber_decides", primary.message)
    return _Verdict(
        CourseOutcome.NO_MEANINGFUL_IMPROVEMENT,
        "no_meaningful_improvement",
        f"No meaningful improvement after {cycles_completed} cycles: {primary.message} "
        "Review by the prescriber; the order and the authorisation are flagged.",
    )


def evaluate_course(
    outcomes: OutcomesFile,
    indication_id: str,
    readings: Mapping[str, Sequence[Reading]],
    cycles_completed: int,
    *,
    patient_is_adult: bool | None = None,
) -> ResponseSummary:
    """Every measure's latest reading against its baseline, and the review rule for the course.

    The rule ("no meaningful improvement after two cycles"): once ``cycles_completed`` reaches N
    (``course_rules.no_improvement_review_after_cycles`` in the catalog, 2), the latest reading of the
    indication's PRIMARY measure taken after cycle N or later, compared with its baseline (cycle 0),
    has not improved beyond its threshold (status stable, worse or not improved). That raises a review
    task and flags the order and the authorisation.

    Why the primary measure only: the trials that define response for these indications judge one
    primary measure (adjusted INCAT in PRIMA, PATH and ProCID; TIS in ProDERM; IWG platelet response in
    ITP); an improvement on a secondary, often less reliable measure (grip strength, MRC sum; AANEM
    review) should not silence the review, and a review is a question to the prescriber, not a stop.
    The other measures are reported beside it for the prescriber.

    When the rule cannot be applied after N cycles - no primary measure, no sourced threshold, or no
    primary reading after cycle N - a review task is raised for the prescriber to decide, without
    flagging the order or authorisation. Before N cycles no review is raised by this rule.
    """
    if isinstance(cycles_completed, bool) or not isinstance(cycles_completed, int) or cycles_completed < 0:
        raise ResponseInputError("cycles_completed", f"must be a whole number >= 0, got {cycles_completed!r}")
    try:
        entry = outcomes.for_indication(indication_id)
    except LookupError as exc:
        raise ResponseInputError("indication_id", str(exc)) from exc
    responses, latest_cycles = _evaluate_measures(
        entry, outcomes, readings, cycles_completed, patient_is_adult
    )
    rule = outcomes.course_rules.no_improvement_review_after_cycles
    primary = responses.get(entry.primary) if entry.primary else None
    primary_cycle = latest_cycles.get(entry.primary) if entry.primary else None
    verdict = _course_verdict(entry, rule.value, rule.note, cycles_completed, primary, primary_cycle)
    return ResponseSummary(
        indication_id=indication_id,
        cycles_completed=cycles_completed,
        review_after_cycles=rule.value,
        primary_measure_id=entry.primary,
        outcome=verdict.outcome,
        raises_review=verdict.raises_review,
        flags_order_and_authorisation=verdict.reason == "no_meaningful_improvement",
        review_reason=verdict.reason,
        primary=primary,
        measures=tuple(responses.values()),
        message=verdict.message,
    )


# --- review interval -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewDue:
    """Whether the review interval has passed. ``passed`` from the due date on (the interval has
    elapsed that day); a passed interval raises a review task and flags the order and authorisation."""

    last_review_date: date
    interval_days: int
    due_date: date
    passed: bool
    days_overdue: int
    days_remaining: int
    review_reason: str | None
    message: str

    @property
    def raises_review(self) -> bool:
        return self.passed

    @property
    def flags_order_and_authorisation(self) -> bool:
        return self.passed


def _plain_date(name: str, value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ResponseInputError(name, f"must be a date (not a date-time), got {value!r}")
    return value


def review_due(last_review_date: date, interval_days: int, today: date) -> ReviewDue:
    """Is a review due? ``interval_days`` is not a catalog value: the sources give no single interval
    (``course_rules.review_interval_days`` is unknown), so it comes from the site protocol or the
    prescriber. ``today`` is passed in (no clock here)."""
    last = _plain_date("last_review_date", last_review_date)
    now = _plain_date("today", today)
    if isinstance(interval_days, bool) or not isinstance(interval_days, int) or interval_days < 1:
        raise ResponseInputError(
            "interval_days", f"must be a whole number of days >= 1, got {interval_days!r}"
        )
    if now < last:
        raise ResponseInputError("today", f"{now.isoformat()} is before the last review {last.isoformat()}")
    due_date = last + timedelta(days=interval_days)
    passed = now >= due_date
    if passed:
        overdue = (now - due_date).days
        message = (
            f"Review due since {due_date.isoformat()} ({interval_days}-day interval from the review of "
            f"{last.isoformat()}; {_amount(overdue, 'days')} overdue): review task raised, order and "
            "authorisation flagged."
        )
    else:
        overdue = 0
        message = f"Next review due {due_date.isoformat()} (in {_amount((due_date - now).days, 'days')})."
    return ReviewDue(
        last_review_date=last,
        interval_days=interval_days,
        due_date=due_date,
        passed=passed,
        days_overdue=overdue,
        days_remaining=max((due_date - now).days, 0),
        review_reason="review_interval_passed" if passed else None,
        message=message,
    )


# --- decisions -------------------------------------------------------------------------------------


class DecisionKind(StrEnum):
    CONTINUE = "continue"
    CHANGE_DOSE = "change_dose"
    CHANGE_INTERVAL = "change_interval"
    SWITCH_PRODUCT = "switch_product"
    TRIAL_OFF = "trial_off"
    STOP = "stop"


NextOrder = Literal["same_plan", "new_plan_version", "none"]
Reauthorisation = Literal["continuing_request", "change_request", "not_requested"]


@dataclass(frozen=True)
class NextStep:
    """What a decision means downstream: the next order and the next (re-)authorisation request."""

    continues_therapy: bool
    next_order: NextOrder
    reauthorisation: Reauthorisation
    text: str


NEXT_STEPS: dict[DecisionKind, NextStep] = {
    DecisionKind.CONTINUE: NextStep(
        True, "same_plan", "continuing_request", "Continue: next order on the same plan; continuing request."
    ),
    DecisionKind.CHANGE_DOSE: NextStep(
        True, "new_plan_version", "change_request", "Change dose: new plan version; dose change request."
    ),
    DecisionKind.CHANGE_INTERVAL: NextStep(
        True, "new_plan_version", "change_request", "Change interval: new plan version; change request."
    ),
    DecisionKind.SWITCH_PRODUCT: NextStep(
        True,
        "new_plan_version",
        "change_request",
        "Switch product: new plan version; product change request.",
    ),
    DecisionKind.TRIAL_OFF: NextStep(
        False, "none", "not_requested", "Trial off: no next order; watch for relapse and record readings."
    ),
    DecisionKind.STOP: NextStep(False, "none", "not_requested", "Stop: no next order; no re-authorisation."),
}

#: The decision field each kind needs; the other change fields must stay empty (one change per decision).
_CHANGE_FIELD: dict[DecisionKind, str] = {
    DecisionKind.CHANGE_DOSE: "new_dose_g_per_kg",
    DecisionKind.CHANGE_INTERVAL: "new_interval_days",
    DecisionKind.SWITCH_PRODUCT: "new_product_id",
}
_CHANGE_FIELDS = ("new_dose_g_per_kg", "new_interval_days", "new_product_id")


@dataclass(frozen=True)
class Decision:
    """The prescriber's decision after a review, with a required reason.

    A change of dose, interval or product carries the new value (``new_dose_g_per_kg``,
    ``new_interval_days``, ``new_product_id``); the dose engine checks a new dose against the
    indication's regimen when the next plan is made, so no clinical range is checked here.
    """

    kind: DecisionKind
    reason: str
    decided_on: date
    new_dose_g_per_kg: float | None = None
    new_interval_days: int | None = None
    new_product_id: str | None = None
    review_reason: str | None = field(default=None)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", DecisionKind(self.kind))
        except ValueError as exc:
            kinds = ", ".join(k.value for k in DecisionKind)
            raise ResponseInputError("kind", f"{self.kind!r} is not one of {kinds}") from exc
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ResponseInputError("reason", "a decision needs a reason")
        _plain_date("decided_on", self.decided_on)
        if self.review_reason is not None and self.review_reason not in REVIEW_REASONS:
            raise ResponseInputError("review_reason", f"{self.review_reason!r} is not a review reason code")
        needed = _CHANGE_FIELD.get(self.kind)
        for name in _CHANGE_FIELDS:
            value = getattr(self, name)
            if name == needed and value is None:
                raise ResponseInputError(name, f"{self.kind.value} needs {name}")
            if name != needed and value is not None:
                raise ResponseInputError(name, f"{self.kind.value} takes no {name} (one change per decision)")
        self._check_change_value()

    def _check_change_value(self) -> None:
        dose, interval, product = self.new_dose_g_per_kg, self.new_interval_days, self.new_product_id
        if dose is not None and (
            isinstance(dose, bool)
            or not isinstance(dose, int | float)
            or not math.isfinite(dose)
            or dose <= 0
        ):
            raise ResponseInputError("new_dose_g_per_kg", f"must be a positive number of g/kg, got {dose!r}")
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, int) or interval < 1
        ):
            raise ResponseInputError(
                "new_interval_days", f"must be a whole number of days >= 1, got {interval!r}"
            )
        if product is not None and (not isinstance(product, str) or not product.strip()):
            raise ResponseInputError("new_product_id", "must name the product")

    @property
    def next_step(self) -> NextStep:
        return NEXT_STEPS[self.kind]
