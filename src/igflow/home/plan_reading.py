"""What home supply reads from a verified plan dict (pure): the vials of one infusion, the days between
infusions, and an SC plan's figures for the patient (volume, sites, mL per site, rate, duration).

An SC plan (``route: "sc"``, ``docs/dose-scig.md``) gives them at the top level, with the later infusions'
figures under ``infusions.later`` (what a patient infusing at home after the training visits uses); an IV
plan's cycle is its ``days``. Missing keys give ``None``: the caller says what is not known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def is_sc(plan: dict[str, Any]) -> bool:
    return str(plan.get("route") or "") == "sc"


def _vials(rows: Any) -> list[tuple[float, int]]:
    out: dict[float, int] = {}
    for row in rows or []:
        size, count = float(row["size_g"]), int(row["count"])
        if count > 0:
            out[size] = out.get(size, 0) + count
    return sorted(out.items(), reverse=True)


def vials_per_infusion(plan: dict[str, Any]) -> list[tuple[float, int]]:
    """(size g, count) of one SC infusion, or of one IV cycle (every day of it)."""
    if is_sc(plan):
        if plan.get("vials"):
            return _vials(plan["vials"])
        days = plan.get("days") or []
        return _vials(days[0].get("vials")) if days else []
    return _vials([v for day in plan.get("days") or [] for v in day.get("vials") or []])


def interval_days(plan: dict[str, Any]) -> int | None:
    """Days from one infusion (or cycle) to the next, when the plan says."""
    for value in (plan.get("interval_days"), (plan.get("regimen") or {}).get("interval_days")):
        if isinstance(value, int | float) and value > 0:
            return int(value)
    weeks = (plan.get("regimen") or {}).get("interval_weeks")
    if isinstance(weeks, list | tuple) and weeks and isinstance(weeks[0], int | float) and weeks[0] > 0:
        return round(float(weeks[0]) * 7)
    return None


@dataclass(frozen=True)
class ScFigures:
    product_id: str
    volume_ml: float | None
    sites: int | None
    ml_per_site: float | None
    rate_ml_per_h_per_site: float | None
    duration_min: int | None
    interval_days: int | None
    vials: list[tuple[float, int]]


def sc_figures(plan: dict[str, Any]) -> ScFigures:
    """The figures of the infusions a patient gives at home: the later infusions' where the plan has them."""
    later = (plan.get("infusions") or {}).get("later") or {}

    def pick(key: str) -> Any:
        value = later.get(key)
        return plan.get(key) if value is None else value

    volume = plan.get("volume_ml")
    sites = pick("sites")
    per_site = pick("ml_per_site")
    rate = pick("rate_ml_per_h_per_site")
    duration = later.get("duration_min")
    if duration is None and volume and rate and sites:
        duration = round(float(volume) / (float(rate) * int(sites)) * 60)
    elif duration is None:
        duration = plan.get("duration_min")
    return ScFigures(
        product_id=str(plan.get("product") or ""),
        volume_ml=None if volume is None else float(volume),
        sites=None if sites is None else int(sites),
        ml_per_site=None if per_site is None else float(per_site),
        rate_ml_per_h_per_site=None if rate is None else float(rate),
        duration_min=None if duration is None else int(duration),
        interval_days=interval_days(plan),
        vials=vials_per_infusion(plan),
    )
