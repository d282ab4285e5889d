"""Chair times and course shapes for generated instances, taken from the catalog and the clinical engine.

The generator draws synthetic patients; what each patient's course looks like (dose, split over days,
repeat interval, priority) comes from the catalog's regimen for the indication and phase, and how long
each day keeps a chair (set-up, titrated infusion, observation) from the dose engine's plan for a product
licensed for it. Nothing clinical is written here: only which product to try first, for synthetic data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from igflow.catalog import Catalog, load_catalog
from igflow.clinical import DoseRequest, plan_dose

# Products tried in turn for a synthetic patient; the first whose plan has chair times is used.
PRODUCT_PREFERENCE = ("gammagard-liquid", "privigen", "gamunex-c", "panzyga", "octagam-10", "bivigam")


@dataclass(frozen=True)
class CourseShape:
    """What the catalog says a course of this indication and phase is."""

    priority: int
    course_days: int
    interval_weeks: tuple[float, float] | None


def course_shape(indication: str, phase: str, catalog: Catalog | None = None) -> CourseShape:
    catalog = catalog or load_catalog()
    regimen = catalog.indications[indication].regimens.get(phase)  # type: ignore[call-overload]
    if regimen is None:
        raise KeyError(f"the catalog has no regimen for {indication!r} / {phase!r}")
    return CourseShape(
        priority=int(regimen.priority),
        course_days=int(regimen.usual_days),
        interval_weeks=None if regimen.interval_weeks is None else tuple(regimen.interval_weeks),
    )


def _typical_patient(weight_kg: float, paediatric: bool) -> tuple[float, float]:
    """(age_years, height_cm) for a synthetic patient of this weight (policy 'actual' ignores height)."""
    return (3.0, 95.0) if paediatric else (55.0, 170.0)


@lru_cache(maxsize=20000)
def clinical_chair_minutes(
    indication: str, phase: str, weight_kg: float, day_index: int, first_infusion: bool
) -> int:
    """Chair minutes of day ``day_index`` (0-based) of the engine's plan, for the first product that plans.

    Weight is rounded to the kilogram so that equal patients share a cached plan.
    """
    catalog = load_catalog()
    weight = float(round(weight_kg))
    paediatric = weight < 40 and catalog.indications[indication].id in ("kawasaki", "itp-child")
    age, height = _typical_patient(weight, paediatric)
    for product in PRODUCT_PREFERENCE:
        plan = plan_dose(
            DoseRequest(
                indication=indication,
                phase=phase,
                product=product,
                weight_kg=weight,
                height_cm=height,
                sex="female",
                age_years=age,
                policy="actual",
                first_infusion=first_infusion,
            ),
            catalog,
        )
        if plan.hard_stopped or not plan.days:
            continue
        day = plan.days[min(day_index, len(plan.days) - 1)]
        if day.chair_min is not None:
            return math.ceil(day.chair_min)
    raise ValueError(f"no product in {PRODUCT_PREFERENCE} gives a plan for {indication} / {phase}")
