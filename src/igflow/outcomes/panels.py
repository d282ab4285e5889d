"""What the patient page's Outcomes section and the order page's Response panel show, in words.

Pages never show internal codes: measures, indications and products by their catalog names, statuses,
methods, decisions and review reasons in words. The band on a chart (change too small to count) and the
level lines come from the catalog's thresholds, never from numbers here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from igflow.catalog import Catalog, load_catalog
from igflow.catalog.models import ChangeThreshold, IndicationOutcomes, Measure, ResponseThreshold
from igflow.clinical.response import CANNOT_JUDGE_TEXT, REVIEW_REASONS, CourseOutcome
from igflow.outcomes import service
from igflow.outcomes.models import OutcomeReading
from igflow.security import service as security_service
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.charts import outcome_trend_svg
from igflow.web.forms import FormFailure
from igflow.web.render import field_error

METHOD_WORDS = {
    "chair": "at the chair",
    "review": "at a review",
    "patient_reported": "reported by the patient",
}
STATUS_WORDS = {
    "improved": "Improved",
    "stable": "Stable",
    "worse": "Worse",
    "not_improved": "Not improved",
    "cannot_judge": "Cannot judge",
}
DECISION_WORDS = {
    "continue": "Continue",
    "change_dose": "Change the dose",
    "change_interval": "Change the interval",
    "switch_product": "Switch product",
    "trial_off": "Trial off treatment",
    "stop": "Stop treatment",
}
DIRECTION_WORDS = {"lower_is_better": "lower is better", "higher_is_better": "higher is better"}
#: form inputs whose service field reads badly as a label ("amends_id"): the name the form shows
_FORM_FIELDS = {
    "amends_id": "corrects",
    "parts": "value",
    "measure_id": "measure",
    "order_id": "order",
    "kind": "decision",
    "new_dose_g_per_kg": "new_dose",
    "new_interval_days": "new_interval",
    "new_product_id": "new_product",
    "review_in_days": "review_again_after",
}


def form_errors(failure: FormFailure) -> dict[str, str]:
    """A refusal as the form's error list takes it: each field by the name the form shows, said once."""
    out: dict[str, str] = {}
    for name, message in failure.errors.items():
        base = name.split(".")[0]
        out.setdefault(_FORM_FIELDS.get(base, base), field_error(base, field_error(name, message)))
    return out


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def scale_text(spec: Measure) -> str:
    low, high = spec.scale_min.value, spec.scale_max.value
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)} {spec.unit}"
    if low is not None:
        return f"{_number(low)} {spec.unit} or more"
    if high is not None:
        return f"up to {_number(high)} {spec.unit}"
    return spec.unit


def _amount(value: float, unit: str) -> str:
    """``3 points``, ``1 point``: a number with its unit."""
    text = _number(value)
    return f"1 {unit[:-1]}" if text == "1" and unit in ("points", "infections", "days") else f"{text} {unit}"


def _change_words(change: ChangeThreshold, unit: str) -> str:
    amount = f"{_number(change.value)}% of baseline" if unit == "%" else _amount(change.value, unit)
    return f"{'at least' if change.inclusive else 'more than'} {amount}"


def rule_text(threshold: ResponseThreshold, spec: Measure) -> tuple[str, str]:
    """(what counts as a response, its source) for one measure of one indication, from the catalog."""
    unit = "%" if threshold.kind == "percent_of_baseline" else spec.unit
    if threshold.kind in ("points", "percent_of_baseline") and threshold.improvement is not None:
        text = f"Improvement: {_change_words(threshold.improvement, unit)}"
        sources = [threshold.improvement.source]
        if threshold.worsening is not None:
            text += f"; worsening: {_change_words(threshold.worsening, unit)}"
            if threshold.worsening.source not in sources:
                sources.append(threshold.worsening.source)
        else:
            text += "; no worsening threshold is sourced"
        return text + ".", "; ".join(sources)
    if threshold.kind == "level_on_current":
        levels = ", ".join(f"{lv.label} from {_number(lv.min_value)} {spec.unit}" for lv in threshold.levels)
        return f"Levels of the current value: {levels}.", "; ".join(
            dict.fromkeys(lv.source for lv in threshold.levels)
        )
    if threshold.kind == "itp_iwg_2009" and threshold.iwg is not None:
        iwg = threshold.iwg
        cr, r, fold = (
            iwg.complete_response_min.value,
            iwg.response_min.value,
            iwg.response_min_fold_of_baseline.value,
        )
        if cr is None or r is None or fold is None:
            return CANNOT_JUDGE_TEXT, iwg.source
        return (
            f"Complete response from {_number(cr)} {spec.unit}; response from {_number(r)} {spec.unit} "
            f"and at least {_number(fold)} times the baseline count.",
            iwg.source,
        )
    return f"{CANNOT_JUDGE_TEXT} {threshold.note or ''}".strip(), ""


def band_and_levels(
    threshold: ResponseThreshold | None, spec: Measure, baseline: float | None
) -> tuple[tuple[float, float] | None, list[tuple[float, str]]]:
    """The band around the baseline where a change does not count, and level lines, from the catalog."""
    if threshold is None:
        return None, []
    if threshold.kind == "level_on_current":
        return None, [(lv.min_value, lv.label) for lv in threshold.levels]
    if threshold.kind == "itp_iwg_2009" and threshold.iwg is not None:
        lines = [
            (fact.value, name)
            for fact, name in (
                (threshold.iwg.response_min, "response"),
                (threshold.iwg.complete_response_min, "complete response"),
            )
            if fact.value is not None
        ]
        return None, lines
    if baseline is None or threshold.improvement is None or spec.direction.value is None:
        return None, []

    def amount(change: ChangeThreshold | None) -> float:
        if change is None:
            return 0.0
        return change.value * abs(baseline) / 100 if threshold.kind == "percent_of_baseline" else change.value

    better, worse = amount(threshold.improvement), amount(threshold.worsening)
    if spec.direction.value == "higher_is_better":
        return (baseline - worse, baseline + better), []
    return (baseline - better, baseline + worse), []


def _named(text: str, catalog: Catalog) -> str:
    """Catalog prose with the measure ids it cites ("see incat-adjusted") put as the measures' names."""
    for spec in catalog.outcomes.measures:
        if "-" in spec.id:
            text = re.sub(rf"(?<![\w/-]){re.escape(spec.id)}(?![\w/-])", spec.name, text)
    return text


def reading_text(reading: OutcomeReading, spec: Measure) -> str:
    text = f"{_number(reading.value)} {spec.unit}"
    if reading.parts:
        parts = ", ".join(f"{p.name} {_number(reading.parts.get(p.id))}" for p in spec.parts)
        text += f" ({parts})"
    return text


# --- the patient page ------------------------------------------------------------------------------------


@dataclass
class MeasurePanel:
    spec: Measure
    indication: str
    scale: str
    direction: str
    rule: str
    source: str
    svg: Markup
    rows: list[dict[str, Any]]
    choices: list[tuple[int, str]]  # readings in force a correction may name
    parts: list[tuple[str, str]]  # (part id, its label with its scale) for a measure entered in parts
    order_id: int | None
    baseline: str
    caption: str = ""
    notes: list[str] = field(default_factory=list)


def patient_panel(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    """One panel per measure of the patient (audited as one read by the service), and the form's words."""
    catalog = load_catalog()
    histories = service.patient_outcomes(session, principal, patient_id)
    infusions = service.infusion_dates(session, patient_id)
    people = security_service.display_names(
        session, {r.recorded_by_user_id for h in histories for r in h.readings}
    )
    return {
        "measures": [_measure_panel(h, catalog, infusions, people) for h in histories],
        "methods": METHOD_WORDS,
    }


def _threshold(catalog: Catalog, indication: str | None, measure_id: str) -> ResponseThreshold | None:
    if indication is None:
        return None
    try:
        return catalog.outcomes.for_indication(indication).threshold_for(measure_id)
    except LookupError:
        return None


def _measure_panel(
    history: service.MeasureHistory, catalog: Catalog, infusions: list[date], people: dict[int, str]
) -> MeasurePanel:
    spec = history.measure
    threshold = _threshold(catalog, history.indication_id, spec.id)
    kept = service.effective(history.readings)
    base = history.baseline.value if history.baseline is not None else None
    band, levels = band_and_levels(threshold, spec, base)
    rule, source = rule_text(threshold, spec) if threshold else ("", "")
    corrected_by = {r.amends_id: r for r in history.readings if r.amends_id}
    by_id = {r.id: r for r in history.readings}
    rows = [
        {
            "reading": r,
            "text": reading_text(r, spec),
            "method": METHOD_WORDS.get(r.method, ""),
            "by": people.get(r.recorded_by_user_id, ""),
            "corrected_by": corrected_by.get(r.id),
            "corrects": by_id.get(r.amends_id) if r.amends_id else None,
            "is_baseline": history.baseline is not None and r.id == history.baseline.id,
        }
        for r in reversed(history.readings)
    ]
    svg = outcome_trend_svg(
        spec.name,
        spec.unit,
        [(r.measured_on, r.value) for r in kept],
        baseline=base,
        band=band,
        levels=levels,
        infusions=infusions,
        scale=(spec.scale_min.value, spec.scale_max.value),
    )
    shown = ["readings in blue"] + (["the baseline dashed"] if base is not None else [])
    shown += ["the shaded band is change too small to count"] if band else []
    shown += ["dotted lines are the response levels"] if levels else []
    shown += (
        ["orange marks are infusions"] if kept and any(d >= kept[0].measured_on for d in infusions) else []
    )
    indication = catalog.indications[history.indication_id].name if history.indication_id else ""
    baseline = (
        f"{reading_text(history.baseline, spec)} on {history.baseline.measured_on}"
        if history.baseline
        else ""
    )
    return MeasurePanel(
        spec=spec,
        indication=indication,
        scale=scale_text(spec),
        direction=DIRECTION_WORDS.get(spec.direction.value or "", "direction unknown"),
        rule=rule,
        source=source,
        svg=svg,
        rows=rows,
        choices=[(r.id, f"{r.measured_on}: {reading_text(r, spec)}") for r in reversed(kept)],
        parts=[
            (p.id, f"{p.name} ({_number(p.scale_min.value)} to {_number(p.scale_max.value)} {spec.unit})")
            for p in spec.parts
        ],
        order_id=history.order.id if history.order else None,
        baseline=baseline,
        caption=(", ".join(shown) + ".").capitalize() if svg else "",
        notes=[_named(n, catalog) for n in (spec.note,) if n],
    )


# --- the order page --------------------------------------------------------------------------------------


def _primary_name(entry: IndicationOutcomes, catalog: Catalog) -> str:
    return catalog.outcomes.measure(entry.primary).name if entry.primary else "the primary measure"


def course_words(view: service.OrderResponse, catalog: Catalog) -> str:
    """The two-cycle rule's verdict in words (the core's message names the measure by its id)."""
    s, entry = view.summary, view.entry
    primary = _primary_name(entry, catalog)
    after = s.review_after_cycles
    indication = catalog.indications[view.order.indication_id].name
    if s.outcome is CourseOutcome.IMPROVED:
        return f"The primary measure, {primary}, improved."
    if s.outcome is CourseOutcome.NO_MEANINGFUL_IMPROVEMENT:
        return (
            f"No meaningful improvement of {primary} after {s.cycles_completed} cycles: the prescriber "
            "reviews the response, and the order is flagged until a decision is recorded."
        )
    if s.outcome is CourseOutcome.NOT_YET_DUE:
        done = f"{s.cycles_completed} of {after} cycles completed"
        return f"{done}: the review after {after} cycles is not due yet."
    if s.outcome is CourseOutcome.NO_READING:
        return (
            f"{s.cycles_completed} cycles completed and no reading of {primary} after cycle {after}: "
            "record one, or the prescriber decides."
        )
    if entry.primary is None:
        return (
            f"{CANNOT_JUDGE_TEXT} No primary measure is sourced for {indication}. {entry.note or ''}".strip()
        )
    if after is None:
        return f"{CANNOT_JUDGE_TEXT} The number of cycles for the review is not sourced."
    return s.primary.message if s.primary is not None else CANNOT_JUDGE_TEXT


def order_panel(session: Session, principal: Principal, order_id: int) -> dict[str, Any]:
    """The Response panel: the verdict, each measure, open reviews, decisions, the decision form's data."""
    catalog = load_catalog()
    view = service.response(session, principal, order_id)
    responses = {m.measure_id: m for m in view.summary.measures}
    measures = []
    for item in view.entry.measures:
        spec = catalog.outcomes.measure(item.measure)
        rule, source = rule_text(item.threshold, spec)
        evaluated = responses.get(spec.id)
        baseline, latest = view.baseline.get(spec.id), view.latest.get(spec.id)
        measures.append(
            {
                "name": spec.name,
                "primary": spec.id == view.entry.primary,
                "baseline": f"{reading_text(baseline, spec)} on {baseline.measured_on}" if baseline else "",
                "latest": f"{reading_text(latest, spec)} on {latest.measured_on}" if latest else "",
                "status": STATUS_WORDS[evaluated.status.value] if evaluated else "",
                "message": evaluated.message if evaluated else "",
                "threshold": (evaluated.threshold if evaluated and evaluated.threshold else rule),
                "source": (
                    evaluated.threshold_source if evaluated and evaluated.threshold_source else source
                ),
                "caveats": list(evaluated.caveats) if evaluated else [],
            }
        )
    people = security_service.display_names(session, {d.decided_by_user_id for d in view.decisions})
    decisions = [
        {
            "decision": d,
            "kind": DECISION_WORDS.get(d.kind, ""),
            "by": people.get(d.decided_by_user_id, ""),
            "next": (d.details or {}).get("next_step", {}).get("text", ""),
            "review_in_days": (d.details or {}).get("review_in_days"),
        }
        for d in reversed(view.decisions)
    ]
    reviews = [
        {
            "review": r,
            "reason": REVIEW_REASONS.get(r.reason, ""),
            "open": r.task_id in view.open_task_ids,
        }
        for r in reversed(view.reviews)
    ]
    products = {pid: p.name for pid, p in catalog.products.items()}
    return {
        "view": view,
        "verdict": course_words(view, catalog),
        "measures": measures,
        "reviews": reviews,
        "decisions": decisions,
        "flagged": view.flagged,
        "decision_words": DECISION_WORDS,
        "products": products,
        "primary_reason": view.entry.primary_reason or view.entry.note or "",
        "may_decide": principal.can(Perm.CONTINUATION_DECIDE),
    }
