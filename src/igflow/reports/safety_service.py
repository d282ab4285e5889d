"""The safety report: the infusions charted in the period at the principal's centres, with their reactions
and the rate step each reached, handed to :mod:`igflow.reports.safety`; the baseline is the catalog's
(``infusion_day.yaml`` ``baseline_rates``: the same published figures, with their sources, that the
reactions page (/reports/reactions) shows, so there is one copy of them).

An infusion counts once its chart is done or stopped (signed, in observation or stopped), on its
appointment's date. Its highest grade is the record's; headache is a reaction charted with headache among
its symptoms; the rate step reached is the highest IV step a rate change reached (step 1 when only started),
none for a subcutaneous plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import load_catalog
from igflow.infusions.models import ChartEntry, InfusionRecord
from igflow.orders.models import Order
from igflow.reports import safety
from igflow.reports.charts import Bar, bar_chart_svg
from igflow.reports.service_b import (
    CHART_WIDTH,
    ReportView,
    choices,
    indication_words,
    percent,
    product_words,
    read_filters,
    short,
    site_names,
)
from igflow.reports.table import Column, Table
from igflow.security import scope
from igflow.security.principal import Principal

NAME = "safety"
USED = ("centre", "product", "indication")
CHARTED = ("signed", "observation", "stopped")
DIMENSION_WORDS = {
    "product": "Product",
    "indication": "Indication",
    "centre": "Centre",
    "infusion": "First or later infusion",
    "step": "Rate step reached",
}
MEASURE_WORDS = {
    "headache": "Headache",
    "moderate-or-severe": "Moderate or severe reaction (grade 2 or more)",
    "serious": "Serious reaction (grade 3 or more)",
}
CHART_TITLES = {"headache": "Headache", "moderate-or-severe": "Moderate or severe", "serious": "Serious"}
DEFAULT_MEASURE = "moderate-or-severe"


def baselines() -> list[safety.Baseline]:
    return [
        safety.Baseline(b.id, b.label, b.high_percent, b.low_percent, b.source, b.verified)
        for b in load_catalog().infusion_day.baseline_rates
    ]


def _entries(session: Session, ids: list[int]) -> dict[int, list[ChartEntry]]:
    out: dict[int, list[ChartEntry]] = {}
    for start in range(0, len(ids), 500):
        for e in session.execute(
            select(ChartEntry).where(
                ChartEntry.record_id.in_(ids[start : start + 500]),
                ChartEntry.kind.in_(("reaction", "rate_change")),
            )
        ).scalars():
            out.setdefault(e.record_id, []).append(e)
    return out


def _infusions(session: Session, principal: Principal, view: ReportView) -> list[safety.Infusion]:
    f = view.filters
    query = (
        select(InfusionRecord, Order.indication_id, Appointment.site_id)
        .join(Order, Order.id == InfusionRecord.order_id)
        .join(Appointment, Appointment.id == InfusionRecord.appointment_id)
        .where(InfusionRecord.status.in_(CHARTED), Appointment.date >= f.start, Appointment.date <= f.end)
        .order_by(InfusionRecord.id)
    )
    if f.centre:
        query = query.where(Appointment.site_id == f.centre)
    if f.product:
        query = query.where(InfusionRecord.product_id == f.product)
    if f.indication:
        query = query.where(Order.indication_id == f.indication)
    # the record's site is its appointment's (scope's rule for InfusionRecord), joined here already
    rows = session.execute(scope.by_site(query, principal, Appointment.site_id)).all()
    entries = _entries(session, [r.id for r, _i, _s in rows])
    products, centres = load_catalog().products, site_names(session)
    out = []
    for record, indication, site_id in rows:
        mine = entries.get(record.id, [])
        product = products.get(record.product_id)
        iv = product is None or product.is_iv
        steps = [int(e.result.get("step") or 0) for e in mine if e.kind == "rate_change"]
        started = record.started_at is not None or bool(steps)
        headache = any("headache" in (e.payload.get("symptoms") or []) for e in mine if e.kind == "reaction")
        out.append(
            safety.Infusion(
                product=product_words(record.product_id),
                indication=indication_words(indication),
                centre=centres.get(site_id, ""),
                first=bool(record.first_infusion),
                step_reached=(max(steps, default=0) + 1 if started else 1) if iv else None,
                max_grade=record.max_reaction_grade,
                headache=headache,
            )
        )
    return out


def _pct(value: float | None) -> float | None:
    return percent(value, 1)


def report(session: Session, principal: Principal, params: Mapping[str, str]) -> ReportView:
    found = choices(session, principal)
    filters, error = read_filters(params, found, USED)
    measure = params.get("measure") or DEFAULT_MEASURE
    if measure not in MEASURE_WORDS:
        measure = DEFAULT_MEASURE
    view = ReportView(NAME, "Safety", filters, found, USED, {}, error=error)
    infusions = _infusions(session, principal, view)
    base = baselines()
    by_id = {b.id: b for b in base}
    groups = {d: safety.groups(infusions, d, base) for d in DIMENSION_WORDS}
    overall = safety.overall(infusions, base)
    rows = []
    for dimension, words in [("all", "All infusions"), *DIMENSION_WORDS.items()]:
        for g in [overall] if dimension == "all" else groups[dimension]:
            for m, m_words in MEASURE_WORDS.items():
                r = g.rates[m]
                low, high = r.interval or (None, None)
                rows.append(
                    {
                        "dimension": words,
                        "group": g.label,
                        "measure": m_words,
                        "infusions": r.infusions,
                        "events": r.events,
                        "rate": _pct(r.rate),
                        "low": _pct(low),
                        "high": _pct(high),
                        "baseline": by_id[m].words if m in by_id else "",
                        "above": r.above_baseline,
                    }
                )
    view.tables = {
        "rates": Table(
            "Reaction rates",
            (
                Column("dimension", "Grouped by"),
                Column("group", "Group"),
                Column("measure", "Measure"),
                Column("infusions", "n infusions"),
                Column("events", "Infusions with it"),
                Column("rate", "Rate", "%"),
                Column("low", "95 % interval, low", "%"),
                Column("high", "95 % interval, high", "%"),
                Column("baseline", "Published baseline"),
                Column("above", "Interval wholly above the baseline"),
            ),
            tuple(rows),
            (
                "Rate = infusions with the event / infusions in the group. Interval: Wilson score, 95 %. "
                "Marked above the baseline only when the whole interval lies above its upper figure.",
            ),
        ),
        "baseline": Table(
            "Published baseline",
            (
                Column("measure", "Measure"),
                Column("figure", "Per infusion"),
                Column("source", "Source"),
                Column("verified", "Source verified"),
            ),
            tuple(
                {
                    "measure": MEASURE_WORDS.get(b.id, b.label),
                    "figure": b.words,
                    "source": b.source,
                    "verified": b.verified,
                }
                for b in base
            ),
        ),
    }
    chosen = by_id.get(measure)
    for dimension, words in DIMENSION_WORDS.items():
        bars = []
        for g in groups[dimension]:
            r = g.rates[measure]
            low, high = r.interval or (0.0, 0.0)
            mark = " ▲" if r.above_baseline else ""
            bars.append(
                Bar(
                    f"{short(g.label, 17)} · n {g.infusions}",
                    100 * (r.rate or 0.0),
                    low=100 * low,
                    high=100 * high,
                    text=f"{100 * (r.rate or 0.0):.1f} %{mark}",
                )
            )
        view.charts[dimension] = bar_chart_svg(
            bars,
            title=f"{CHART_TITLES[measure]}, by {words.lower()} (95 % intervals)",
            width=CHART_WIDTH,
            unit="% of infusions",
            reference=chosen.high_percent if chosen else None,
            reference_label=f"baseline {chosen.words}" if chosen else None,
        )
    view.extra = {
        "groups": groups,
        "overall": overall,
        "measure": measure,
        "measures": MEASURE_WORDS,
        "dimensions": DIMENSION_WORDS,
        "baselines": base,
        "by_id": by_id,
    }
    return view
