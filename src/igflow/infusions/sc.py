"""Charting a subcutaneous infusion (an SC plan, ``route: "sc"``): the limits it is charted against.

An SC plan has no IV rate steps: the chart checks the start and each rate change against the plan's rate per
site x sites, the label's first-infusion figures for the order's first infusions and the later figures after,
and the deliverable volume comes from that rate (``infusions.service`` asks here).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.infusions.models import InfusionRecord


def is_sc(plan: dict[str, Any]) -> bool:
    return plan.get("route") == "sc"


def not_chartable(plan: dict[str, Any], day: dict[str, Any]) -> str | None:
    """Why the plan's day cannot be charted (None: it can): an IV day needs rate steps, an SC day a rate."""
    if is_sc(plan):
        if not day.get("total_rate_ml_per_h"):
            return "the subcutaneous plan has no infusion rate to follow (its rate is not in the catalog)"
        return None
    return None if day.get("steps") else "the plan for this day has no rate steps to follow"


def limits(
    session: Session, record: InfusionRecord, plan: dict[str, Any], day: dict[str, Any]
) -> dict[str, Any]:
    """An SC infusion's limits: the label's first-infusion figures for the first ``first_infusions``
    infusions of the order (counted from the plan's own infusion number), the later ones after."""
    earlier = session.execute(
        select(func.count())
        .select_from(InfusionRecord)
        .where(
            InfusionRecord.order_id == record.order_id,
            InfusionRecord.id < record.id,
            InfusionRecord.started_at.is_not(None),
        )
    ).scalar_one()
    number = int(plan.get("infusion_number") or 1) + int(earlier)
    infusions = plan.get("infusions") or {}
    first_count = infusions.get("first_infusions")
    phase = "first" if first_count is not None and number <= int(first_count) else "later"
    figures = infusions.get(phase)
    if not figures or figures.get("hard_stop") or not figures.get("total_rate_ml_per_h"):
        figures = day  # the plan's own figures (the infusion it was computed for)
    return {
        "infusion_number": number,
        "phase": phase,
        "sites": figures.get("sites"),
        "ml_per_site": figures.get("ml_per_site"),
        "rate_ml_per_h_per_site": figures.get("rate_ml_per_h_per_site"),
        "total_rate_ml_per_h": float(figures.get("total_rate_ml_per_h") or 0),
    }


def limit_words(sc: dict[str, Any]) -> str:
    which = "first-infusion" if sc["phase"] == "first" else "later-infusion"
    return (
        f"{sc['sites']} site(s) x {sc['rate_ml_per_h_per_site']:g} mL/h per site, the label's {which} limit "
        f"for infusion {sc['infusion_number']}"
    )
