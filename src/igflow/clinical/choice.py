"""Product choice assistant: rank the catalog's IV products for one patient and order, with reasons.

Pure: the same dose request planned on each product (``plan_dose``), plus what the caller knows about
coverage (the payer's preferred products) and stock (grams free at the patient's centre). The
prescriber chooses; the ranking only explains. Every number in a reason comes from the catalog or from
the plan; products the catalog knows too little about say so rather than guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from igflow.catalog import Catalog
from igflow.clinical.engine import plan_dose
from igflow.clinical.models import DosePlan, DoseRequest
from igflow.clinical.screening import risk_groups


@dataclass(frozen=True)
class ChoiceContext:
    """What the caller knows beyond the catalog (None: not known, and the reasons say so)."""

    payer_preferred: tuple[str, ...] | None = None
    grams_available: dict[str, float] | None = None  # product id -> grams free at the patient's centre


@dataclass(frozen=True)
class ProductOption:
    product: str
    name: str
    rank: int
    usable: bool  # no hard stop for this patient
    licensed: bool | None
    chair_min_total: float | None
    dispensed_g: float | None
    reasons: tuple[str, ...]
    cautions: tuple[str, ...] = field(default_factory=tuple)
    stops: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _cautions(request: DoseRequest, plan: DosePlan, catalog: Catalog) -> list[str]:
    product = catalog.products[request.product]
    groups = risk_groups(request, catalog)
    out: list[str] = []
    if "renal" in groups:
        sucrose_free = product.sucrose_free.value
        if sucrose_free is None:
            out.append("renal risk: whether it is sucrose-free is unknown in the catalog")
        elif sucrose_free:
            out.append("renal risk: sucrose-free (preferred)")
    if "cardiac" in groups:
        concentration = product.concentration_g_per_ml.value
        if concentration is not None:
            volume = sum(day.volume_ml for day in plan.days)
            out.append(f"heart failure: {concentration * 100:g} % solution, {volume:g} mL in the course")
        sodium = product.sodium.value
        out.append(f"heart failure: sodium {sodium}" if sodium else "heart failure: sodium content unknown")
        osmolality = product.osmolality_mosm_per_kg.value
        if osmolality is not None:
            out.append(f"osmolality {osmolality:g} mOsm/kg")
    if request.iga_deficient_with_antibodies:
        iga = product.iga_ug_per_ml.value
        out.append(f"IgA content {iga:g} micrograms/mL" if iga is not None else "IgA content unknown")
    if "proline" in groups:
        proline = product.proline_stabilised.value
        out.append(
            "proline-stabilised"
            if proline
            else "not proline-stabilised"
            if proline is not None
            else "proline stabiliser unknown"
        )
    return out


def rank_products(
    request: DoseRequest, catalog: Catalog, context: ChoiceContext | None = None
) -> list[ProductOption]:
    """Every IV product planned for this request, best first, each with the reasons for its place.

    Order: usable (no hard stop) before stopped; licensed for the indication before off-label; for heart
    failure the smaller volume; in stock before short; the payer's preferred before others; then the
    shortest total chair time.
    """
    context = context or ChoiceContext()
    cardiac = "cardiac" in risk_groups(request, catalog)
    scored: list[tuple[tuple[object, ...], ProductOption]] = []
    for product_id, product in catalog.products.items():
        if not product.is_iv:
            continue
        plan = plan_dose(dataclasses.replace(request, product=product_id), catalog)
        stops = tuple(a.message for a in plan.alerts if a.severity == "hard_stop")
        approved = product.approved_indications.value
        licensed = None if approved is None else request.indication in approved
        chair = None
        if plan.days and all(day.chair_min is not None for day in plan.days):
            chair = round(sum(day.chair_min or 0 for day in plan.days), 1)
        reasons: list[str] = []
        reasons.append(
            "licensed for this indication"
            if licensed
            else "off-label for this indication"
            if licensed is False
            else "licensed indications unknown in the catalog"
        )
        in_stock: bool | None = None
        if context.grams_available is not None and plan.dispensed_g is not None:
            free = context.grams_available.get(product_id, 0.0)
            in_stock = free >= plan.dispensed_g
            reasons.append(
                f"in stock at the patient's centre ({free:g} g free, {plan.dispensed_g:g} g needed)"
                if in_stock
                else f"short at the patient's centre ({free:g} g free, {plan.dispensed_g:g} g needed)"
            )
        elif context.grams_available is None:
            reasons.append("stock at the patient's centre not known")
        preferred: bool | None = None
        if context.payer_preferred is not None:
            preferred = product_id in context.payer_preferred
            reasons.append(
                "the payer's preferred product" if preferred else "not on the payer's preferred list"
            )
        else:
            reasons.append("no coverage data on the payer's preferred products")
        if chair is not None:
            reasons.append(f"chair time {chair:g} min over {len(plan.days)} day(s)")
        if any(a.code == "rate_capped_for_risk" for a in plan.alerts):
            reasons.append("slower plan for the patient's risks")
        cautions = tuple(_cautions(dataclasses.replace(request, product=product_id), plan, catalog))
        # heart failure: less volume (a more concentrated product) first, among the usable and licensed
        volume_ml = sum(day.volume_ml for day in plan.days) if cardiac and plan.days else 0.0
        key = (
            bool(stops),
            licensed is not True,
            volume_ml,
            in_stock is False,
            preferred is False,
            chair if chair is not None else float("inf"),
            product.name,
        )
        scored.append(
            (
                key,
                ProductOption(
                    product=product_id,
                    name=product.name,
                    rank=0,
                    usable=not stops,
                    licensed=licensed,
                    chair_min_total=chair,
                    dispensed_g=plan.dispensed_g,
                    reasons=tuple(reasons),
                    cautions=cautions,
                    stops=stops,
                ),
            )
        )
    scored.sort(key=lambda item: item[0])
    return [dataclasses.replace(option, rank=index + 1) for index, (_, option) in enumerate(scored)]


__all__ = ["ChoiceContext", "ProductOption", "rank_products"]
