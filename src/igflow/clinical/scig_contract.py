"""The plan dict of a subcutaneous (SCIG) plan: what an order stores, ``igflow dose`` prints for an SC
product and the pages show (``docs/dose-scig.md``).

It wraps the pure planners of ``clinical.scig`` (``plan_scig``, HyQvia's ``plan_hyqvia``) and adds what an
order needs around them: the indication's scope and the patient's contraindications (the IV engine's
screening, keeping the checks that hold for every route), the figures for the first and the later
infusions, the nurse visit's time (set-up, teaching, the infusion, observation: ``administration.yaml``
and ``home.yaml``), trough monitoring (``clinical.trough``), and the keys scheduling reads (``days``,
``priority``, ``regimen.interval_weeks``). Every alert says who resolves it (``resolves``).

Pure: no database, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

from igflow.catalog import PHASES, Catalog, Phase
from igflow.catalog.models import ScigProduct
from igflow.clinical.models import DoseRequest
from igflow.clinical.scig import (
    HyqviaPlan,
    ScigAlert,
    ScigInputError,
    ScigPlan,
    ScigRequest,
    check_input,
    plan_hyqvia,
    plan_scig,
)
from igflow.clinical.screening import screen
from igflow.clinical.trough import TroughInputError, TroughMonitoring, monitoring

#: The phase an IV-to-SC switch is given in (the labels' conversions replace maintenance IVIG).
SWITCH_PHASE = "maintenance"

#: Screening findings that hold whatever the route (the renal findings and the off-label titration note are
#: the IV boxed warning's and the IV rate protocol's; the indication's scope is checked here instead).
_SCREENING_KEPT = frozenset(
    {
        "not_recommended_indication",
        "not_recommended_overridden",
        "conditional_indication",
        "iga_deficiency_with_antibodies",
        "prior_severe_reaction",
        "hyperprolinaemia_proline_product",
        "thrombosis_risk",
        "outside_licensed_age",
        "product_label_note",
        "pregnancy",
    }
)

_BY_HAND = "a pharmacist plans it by hand from the label (reject this order, or the prescriber keeps IVIG)"
_CATALOG = "igflow's catalog maintainers add the missing label value to scig.yaml"
_NEW_ORDER = "the prescriber enters a new order"

#: Who resolves each alert, inside igflow, in words for the page.
RESOLVES: dict[str, str] = {
    "too_many_sites": f"{_NEW_ORDER} at the SC interval that fits; the pharmacist rejects this one",
    "frequency_not_allowed": f"{_NEW_ORDER} at an interval the label allows; the pharmacist rejects this one",
    "scig_indication_not_planned": f"{_BY_HAND}; {_CATALOG} when a label regimen is retrieved",
    "scig_phase_not_planned": f"{_NEW_ORDER} for the maintenance phase, or {_BY_HAND}",
    "conversion_unknown": f"{_BY_HAND}; {_CATALOG}",
    "scig_not_in_catalog": f"{_BY_HAND}; {_CATALOG}",
    "no_site_limits": f"{_BY_HAND}; {_CATALOG}",
    "product_data_missing": f"{_BY_HAND}; {_CATALOG}",
    "no_vial_combination": f"{_NEW_ORDER} with another SC interval, or {_BY_HAND}",
    "too_much_volume": f"{_NEW_ORDER} with a shorter IV-equivalent interval, or {_BY_HAND}",
    "rate_not_in_catalog": f"{_BY_HAND}; {_CATALOG} (HyQvia's rate table)",
    "sites_unknown": "the verifying pharmacist confirms the number of sites, on this order's verification "
    "form",
    "not_recommended_indication": "the prescriber: a documented reason to proceed on a new order, or no Ig",
    "iga_deficiency_with_antibodies": "the prescriber, with immunology advice: another product (a new order)",
    "prior_severe_reaction": "the prescriber, after an immunology review",
    "hyperprolinaemia_proline_product": f"{_NEW_ORDER} for a product without proline",
    "product_data_unknown": f"{_CATALOG}, or {_BY_HAND}",
}

_SEVERITY_ORDER = {"hard_stop": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class ScigContext:
    """The order around an SC plan: its indication and phase, and the patient's facts the screening reads.
    All optional (``igflow dose`` may give none): what is not given is not screened, and the plan says so."""

    indication: str | None = None
    phase: str | None = None
    risks: tuple[str, ...] = ()
    iga_deficient_with_antibodies: bool = False
    pregnant: bool = False
    override_reason: str | None = None
    sex: str | None = None
    height_cm: float | None = None


def is_sc_product(product_id: str, catalog: Catalog) -> bool:
    """True for a product given only subcutaneously (an order for it is an SC order)."""
    product = catalog.products.get(product_id)
    return product is not None and not product.is_iv


def first_infusions(product_id: str, catalog: Catalog) -> int | None:
    """How many infusions keep the label's first-infusion limits (None: unknown or HyQvia)."""
    try:
        return catalog.scig.for_product(product_id).first_infusions.value
    except LookupError:
        return None


def infusion_number_for(product_id: str, first_infusion: bool, catalog: Catalog) -> int:
    """The infusion an order plans: the first, or (a patient already on this product) the first with the
    later limits."""
    if first_infusion:
        return 1
    return (first_infusions(product_id, catalog) or 0) + 1


def frequency_words(interval_days: int) -> str:
    if interval_days == 1:
        return "daily"
    if interval_days == 7:
        return "weekly"
    if interval_days % 7 == 0:
        return f"every {interval_days // 7} weeks"
    return f"every {interval_days} days"


def _alert(alert: ScigAlert) -> dict[str, str]:
    out = {"severity": alert.severity, "code": alert.code, "message": alert.message}
    if alert.code in RESOLVES:
        out["resolves"] = RESOLVES[alert.code]
    return out


def _check(request: ScigRequest, context: ScigContext, catalog: Catalog) -> None:
    product = catalog.products.get(request.product_id)
    if product is None:
        raise ScigInputError(
            f"product_id: unknown id {request.product_id!r}; valid: {', '.join(catalog.products)}"
        )
    if "sc" not in product.routes:
        raise ScigInputError(
            f"product_id: {product.name} is given intravenously only; a subcutaneous plan needs an SC product"
        )
    if context.indication is not None and context.indication not in catalog.indications:
        raise ScigInputError(
            f"indication: unknown id {context.indication!r}; valid: {', '.join(catalog.indications)}"
        )
    if context.phase is not None and context.phase not in PHASES:
        raise ScigInputError(f"phase: unknown phase {context.phase!r}; valid: {', '.join(PHASES)}")
    valid = catalog.risk_ids()
    for risk in context.risks:
        if risk not in valid:
            raise ScigInputError(f"risk: unknown risk {risk!r}; valid: {', '.join(valid)}")


def _scope_and_screening(request: ScigRequest, context: ScigContext, catalog: Catalog) -> list[ScigAlert]:
    """The indication's scope for the switch, and the patient's contraindications."""
    product = catalog.products[request.product_id]
    alerts: list[ScigAlert] = []
    if context.indication is None:
        alerts.append(
            ScigAlert(
                "info",
                "indication_not_given",
                "No indication given: the label's scope for the switch and the screening for "
                "contraindications were not checked.",
            )
        )
        return alerts
    indication = catalog.indications[context.indication]
    hyqvia = catalog.scig.hyqvia
    scope = (
        hyqvia.conversion_indications
        if request.product_id == hyqvia.product
        else _scope_of(catalog, request.product_id)
    )
    if scope is not None and scope.value is not None and context.indication not in scope.value:
        names = ", ".join(catalog.indications[i].name for i in scope.value)
        alerts.append(
            ScigAlert(
                "hard_stop",
                "scig_indication_not_planned",
                f"{product.name}: the switch from IVIG igflow holds is the label's for {names}; for "
                f"{indication.name} the label's regimen is not in igflow's catalog ({scope.source}).",
            )
        )
    if context.phase is not None and context.phase != SWITCH_PHASE:
        alerts.append(
            ScigAlert(
                "hard_stop",
                "scig_phase_not_planned",
                f"A switch from IVIG to {product.name} replaces maintenance IVIG; igflow plans no "
                f"subcutaneous {context.phase} regimen.",
            )
        )
    # The IV engine's screening reads the patient's risks, age and pregnancy, not height or sex (its
    # DoseRequest needs them: the order's are passed where known).
    screened = screen(
        DoseRequest(
            indication=indication.id,
            phase=context.phase or SWITCH_PHASE,
            product=product.id,
            weight_kg=request.weight_kg,
            height_cm=context.height_cm or 0.0,
            sex=context.sex or ("female" if context.pregnant else "male"),
            age_years=request.age_years,
            risks=context.risks,
            iga_deficient_with_antibodies=context.iga_deficient_with_antibodies,
            pregnant=context.pregnant,
            override_reason=context.override_reason,
        ),
        indication,
        product,
        catalog,
    )
    for found in screened.alerts:
        if found.code in _SCREENING_KEPT:
            alerts.append(ScigAlert(found.severity, found.code, found.message))
    if "proline" in screened.risk_groups and product.proline_stabilised.value is None:
        alerts.append(
            ScigAlert(
                "hard_stop",
                "product_data_unknown",
                f"Hyperprolinaemia: whether {product.name} is proline-stabilised is unknown in the catalog.",
            )
        )
    return alerts


def _scope_of(catalog: Catalog, product_id: str) -> Any:
    try:
        return catalog.scig.for_product(product_id).conversion_indications
    except LookupError:
        return None


def _infusion(plan: ScigPlan) -> dict[str, Any]:
    return {
        "sites": plan.sites,
        "ml_per_site": plan.volume_per_site_ml,
        "rate_ml_per_h_per_site": plan.rate_per_site_ml_per_h,
        "total_rate_ml_per_h": plan.total_rate_ml_per_h,
        "duration_min": plan.duration_min,
        "hard_stop": plan.hard_stopped,
        "suggested_interval_days": plan.suggested_interval_days,
    }


def _vials(vials: dict[float, int]) -> list[dict[str, Any]]:
    return [
        {"size_g": int(size) if float(size).is_integer() else size, "count": count}
        for size, count in sorted(vials.items(), reverse=True)
    ]


def _visit_minutes(
    catalog: Catalog, infusion_min: int | None, first: bool, sources: list[str]
) -> dict[str, Any]:
    """The nurse visit: set-up, teaching, the infusion and observation (first infusion or later)."""
    chair = catalog.administration.chair
    teaching = catalog.scig.training_visit.teaching_min
    setup = chair.setup_min.value
    observation = (chair.observation_first_infusion_min if first else chair.observation_later_min).value
    sources.append(
        f"Visit time: set-up {chair.setup_min.source}; observation "
        f"{(chair.observation_first_infusion_min if first else chair.observation_later_min).source}; "
        f"SCIG teaching {teaching.source}"
    )
    parts = (setup, teaching.value, infusion_min, observation)
    return {
        "infusion_min": infusion_min,
        "chair_min": None if any(p is None for p in parts) else sum(p for p in parts if p is not None),
        "setup_min": setup,
        "teaching_min": teaching.value,
        "observation_min": observation,
    }


def plan_sc(request: ScigRequest, catalog: Catalog, context: ScigContext | None = None) -> dict[str, Any]:
    """The SC plan dict (``docs/dose-scig.md``). Raises :class:`ScigInputError` for invalid input (the
    message names the field); an unsafe or unplannable request is a plan whose alerts hold a hard stop."""
    context = context or ScigContext()
    _check(request, context, catalog)
    check_input(request)
    alerts = _scope_and_screening(request, context, catalog)
    sources: list[str] = []
    if request.product_id == catalog.scig.hyqvia.product:
        out = _hyqvia(request, catalog, alerts, sources)
    else:
        out = _scig(request, catalog, alerts, sources)
    product = catalog.products[request.product_id]
    phase = cast(Phase, context.phase or SWITCH_PHASE)
    regimen = (
        None if context.indication is None else catalog.indications[context.indication].regimens.get(phase)
    )
    trough = _trough(request.product_id, catalog)
    sources.extend(trough.sources if trough else ())
    ordered = sorted(alerts, key=lambda a: _SEVERITY_ORDER[a.severity])
    return {
        "route": "sc",
        "product": request.product_id,
        "indication": context.indication,
        "phase": context.phase,
        "status": "hard_stop" if any(a.severity == "hard_stop" for a in alerts) else "ok",
        "weight_kg": request.weight_kg,
        "age_years": request.age_years,
        "previous_iv_dose_g": request.previous_iv_dose_g,
        "iv_interval_weeks": request.iv_interval_weeks,
        "concentration_g_per_ml": product.concentration_g_per_ml.value,
        **out,
        "priority": None if regimen is None else regimen.priority,
        "trough": None
        if trough is None
        else {
            "words": list(trough.words),
            "notes": list(trough.notes),
            "minimum_g_per_l": trough.minimum_g_per_l,
            "aim_g_per_l": trough.aim_g_per_l,
            "applies_to": trough.target_applies_to,
        },
        "alerts": [_alert(a) for a in ordered],
        "sources": list(dict.fromkeys(sources)),
    }


def _trough(product_id: str, catalog: Catalog) -> TroughMonitoring | None:
    try:
        return monitoring(product_id, catalog)
    except TroughInputError:
        return None


def _scig(
    request: ScigRequest, catalog: Catalog, alerts: list[ScigAlert], sources: list[str]
) -> dict[str, Any]:
    plan = plan_scig(request, catalog)
    alerts.extend(plan.alerts)
    sources.extend(plan.sources)
    entry: ScigProduct | None
    try:
        entry = catalog.scig.for_product(request.product_id)
    except LookupError:
        entry = None
    first_count = None if entry is None else entry.first_infusions.value
    infusions: dict[str, Any] = {"first_infusions": first_count, "first": None, "later": None}
    if first_count is not None:
        infusions["first"] = _infusion(plan_scig(replace(request, infusion_number=1), catalog))
        infusions["later"] = _infusion(plan_scig(replace(request, infusion_number=first_count + 1), catalog))
    is_first = first_count is not None and request.infusion_number <= first_count
    day: list[dict[str, Any]] = []
    if plan.dispensed_g is not None:
        day.append(
            {
                "day": 1,
                "prescribed_g": plan.dose_per_infusion_g,
                "dispensed_g": plan.dispensed_g,
                "vials": _vials(plan.vials),
                "volume_ml": plan.volume_ml,
                "sites": plan.sites,
                "ml_per_site": plan.volume_per_site_ml,
                "rate_ml_per_h_per_site": plan.rate_per_site_ml_per_h,
                "total_rate_ml_per_h": plan.total_rate_ml_per_h,
                **_visit_minutes(catalog, plan.duration_min, is_first, sources),
                "steps": [],
            }
        )
    weeks = request.interval_days / 7
    return {
        "interval_days": request.interval_days,
        "frequency": frequency_words(request.interval_days),
        "infusion_number": request.infusion_number,
        "first_infusion": is_first,
        "conversion_factor": None if entry is None else entry.conversion_factor.value,
        "weekly_dose_g": plan.weekly_dose_g,
        "dose_per_infusion_g": plan.dose_per_infusion_g,
        "prescribed_g": plan.dose_per_infusion_g,
        "dispensed_g": plan.dispensed_g,
        "difference_g": None
        if plan.dispensed_g is None or plan.dose_per_infusion_g is None
        else round(plan.dispensed_g - plan.dose_per_infusion_g, 2),
        "vials": _vials(plan.vials),
        "volume_ml": plan.volume_ml,
        "total_volume_ml": plan.volume_ml,
        "max_sites": None if entry is None else entry.max_sites.value,
        "sites": plan.sites,
        "ml_per_site": plan.volume_per_site_ml,
        "rate_ml_per_h_per_site": plan.rate_per_site_ml_per_h,
        "total_rate_ml_per_h": plan.total_rate_ml_per_h,
        "duration_min": plan.duration_min,
        "suggested_interval_days": plan.suggested_interval_days,
        "infusions": infusions,
        "ramp_up": [],
        "days": day,
        "regimen": {"interval_days": request.interval_days, "interval_weeks": [weeks, weeks]},
    }


def _hyqvia(
    request: ScigRequest, catalog: Catalog, alerts: list[ScigAlert], sources: list[str]
) -> dict[str, Any]:
    """HyQvia: the ramp-up (1-week, 2-week, ... doses) to the IV interval, which is also the SC one."""
    spec = catalog.scig.hyqvia
    weeks = request.iv_interval_weeks
    whole = math.isclose(weeks, round(weeks))
    plan = HyqviaPlan()
    if not whole:
        plan.stop(
            "frequency_not_allowed",
            f"HyQvia keeps the IV interval in whole weeks after the ramp-up; {weeks:g} weeks has no ramp-up "
            f"in the label data igflow holds ({spec.interval_weeks.source}).",
        )
    else:
        plan = plan_hyqvia(
            request.previous_iv_dose_g, round(weeks), request.weight_kg, request.age_years, catalog
        )
        if request.interval_days != round(weeks) * 7:
            plan.stop(
                "frequency_not_allowed",
                f"HyQvia is given at the IV interval after the ramp-up: every {round(weeks) * 7} days for "
                f"an IV interval of {weeks:g} weeks, not every {request.interval_days} days "
                f"({spec.conversion_factor.source}).",
            )
    alerts.extend(plan.alerts)
    sources.extend(plan.sources)
    ramp = [
        {
            "week": s.week,
            "covers_weeks": s.covers_weeks,
            "dose_g": s.dose_g,
            "dispensed_g": s.dispensed_g,
            "vials": _vials(s.vials),
            "volume_ml": s.volume_ml,
            "sites": s.sites,
            "ml_per_site": s.volume_per_site_ml,
        }
        for s in plan.steps
    ]
    first = plan.steps[0] if plan.steps else None
    days: list[dict[str, Any]] = []
    if first is not None:
        days.append(
            {
                "day": 1,
                "prescribed_g": first.dose_g,
                "dispensed_g": first.dispensed_g,
                "vials": _vials(first.vials),
                "volume_ml": first.volume_ml,
                "sites": first.sites,
                "ml_per_site": first.volume_per_site_ml,
                "rate_ml_per_h_per_site": None,
                "total_rate_ml_per_h": None,
                **_visit_minutes(catalog, None, True, sources),
                "steps": [],
            }
        )
    factor = spec.conversion_factor.value or 1.0
    dose = round(request.previous_iv_dose_g * factor, 2)
    return {
        "interval_days": request.interval_days,
        "frequency": frequency_words(request.interval_days),
        "infusion_number": request.infusion_number,
        "first_infusion": True,
        "conversion_factor": spec.conversion_factor.value,
        "weekly_dose_g": round(dose / weeks, 2),
        "dose_per_infusion_g": dose,
        "prescribed_g": first.dose_g if first else None,
        "dispensed_g": first.dispensed_g if first else None,
        "difference_g": None if first is None else round(first.dispensed_g - first.dose_g, 2),
        "vials": days[0]["vials"] if days else [],
        "volume_ml": first.volume_ml if first else None,
        "total_volume_ml": first.volume_ml if first else None,
        "max_sites": spec.max_sites.value,
        "sites": first.sites if first else None,
        "ml_per_site": first.volume_per_site_ml if first else None,
        "rate_ml_per_h_per_site": None,
        "total_rate_ml_per_h": None,
        "duration_min": None,
        "suggested_interval_days": None,
        "infusions": {"first_infusions": None, "first": None, "later": None},
        "ramp_up": ramp,
        "hyaluronidase": spec.rate.note,
        "days": days,
        # the ramp-up's second infusion is a week after the first; later gaps grow to the IV interval
        "regimen": {"interval_days": request.interval_days, "interval_weeks": [1.0, float(round(weeks))]},
    }


__all__ = [
    "RESOLVES",
    "SWITCH_PHASE",
    "ScigContext",
    "first_infusions",
    "frequency_words",
    "infusion_number_for",
    "is_sc_product",
    "plan_sc",
]
