"""One measure against baseline: ``evaluate`` and its ``MeasureResponse``.

The answer is improved, stable, worse, not improved or cannot judge, by the indication's threshold
from the catalog with its source, in words a clinician reads. Each threshold kind (points, percent
of baseline, level on the current value, ITP IWG 2009) has its own small handler in ``_HANDLERS``;
where the catalog holds no sourced threshold the answer is ``cannot_judge`` (``CANNOT_JUDGE_TEXT``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from igflow.catalog.models import ChangeThreshold, Direction, Measure, ResponseThreshold
from igflow.clinical.response.values import (
    _FLOAT_TOLERANCE,
    Score,
    _adjusted_change,
    _amount,
    _fmt,
    validate_value,
)


class ResponseStatus(StrEnum):
    IMPROVED = "improved"
    STABLE = "stable"
    WORSE = "worse"
    NOT_IMPROVED = "not_improved"
    CANNOT_JUDGE = "cannot_judge"


CANNOT_JUDGE_TEXT = "Cannot judge: no sourced threshold; the prescriber decides."


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
