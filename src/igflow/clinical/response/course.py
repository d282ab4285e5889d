"""A course: the per-course summary, the two-cycle rule and ``review_due``.

``evaluate_course`` evaluates every measure of an indication from its baseline (cycle 0) and latest
reading (``Reading``) and applies "no meaningful improvement after two cycles" to the primary
measure, giving a ``ResponseSummary`` with its ``CourseOutcome``. ``review_due`` says whether a
review interval (a site-protocol or prescriber parameter) has passed, as a ``ReviewDue``.
``REVIEW_REASONS`` holds the stable codes of why a review task is raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from igflow.catalog.models import IndicationOutcomes, OutcomesFile
from igflow.clinical.response.measure import (
    CANNOT_JUDGE_TEXT,
    MeasureResponse,
    ResponseStatus,
    evaluate,
)
from igflow.clinical.response.values import (
    ResponseInputError,
    Score,
    _amount,
    _plain_date,
    validate_value,
)


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
