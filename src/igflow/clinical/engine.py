"""The single entry point of the dose engine: ``plan_dose(request, catalog) -> DosePlan``.

Pure: no I/O, no clock, no database. Every number comes from the catalog (with its source) or
from the request. Invalid input raises ``DoseInputError``; unsafe or unsupported combinations
return a plan whose alerts contain a ``hard_stop``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from igflow.catalog import PHASES, Catalog, Indication, Phase, Policy, Product, Regimen
from igflow.clinical.adapt import creatinine_alert, fallback_alert, premedication, rate_limit, weight_request
from igflow.clinical.alerts import Alert
from igflow.clinical.errors import DoseInputError
from igflow.clinical.models import DayPlan, DosePlan, DoseRequest, WeightResult
from igflow.clinical.screening import screen
from igflow.clinical.titration import Ladder, build_ladder, plan_steps
from igflow.clinical.vials import VialPlan, plan_vials
from igflow.clinical.weight import dosing_weight

SEXES = ("female", "male")


def _ids(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


def validate_request(request: DoseRequest, catalog: Catalog) -> Policy:
    """Check the request against the catalog and the plausibility bounds; return the policy to use.

    Raises ``DoseInputError(field, message)`` naming the field and the allowed values or range.
    """
    if request.indication not in catalog.indications:
        raise DoseInputError(
            "indication", f"unknown id {request.indication!r}; valid: {_ids(catalog.indications)}"
        )
    if request.phase not in PHASES:
        raise DoseInputError("phase", f"unknown phase {request.phase!r}; valid: {_ids(PHASES)}")
    if request.product not in catalog.products:
        raise DoseInputError("product", f"unknown id {request.product!r}; valid: {_ids(catalog.products)}")
    policy_id = request.policy or catalog.default_policy
    if policy_id not in catalog.policies:
        raise DoseInputError("policy", f"unknown id {policy_id!r}; valid: {_ids(catalog.policies)}")
    if request.sex not in SEXES:
        raise DoseInputError("sex", f"unknown value {request.sex!r}; valid: {_ids(SEXES)}")
    bounds = catalog.administration.plausibility
    for name, value in (("age_years", request.age_years), ("weight_kg", request.weight_kg)):
        if not math.isfinite(value):
            raise DoseInputError(name, "must be a finite number")
    if not math.isfinite(request.height_cm):
        raise DoseInputError("height_cm", "must be a finite number")
    low_age, high_age = bounds.age_years
    if not low_age <= request.age_years <= high_age:
        raise DoseInputError("age_years", f"{request.age_years:g} is outside {low_age:g}-{high_age:g} years")
    band = bounds.band_for(request.age_years)
    for name, value, (low, high), unit in (
        ("weight_kg", request.weight_kg, band.weight_kg, "kg"),
        ("height_cm", request.height_cm, band.height_cm, "cm"),
    ):
        if not low <= value <= high:
            raise DoseInputError(
                name,
                f"{value:g} {unit} is implausible for age {request.age_years:g} y "
                f"(accepted {low:g}-{high:g} {unit} for ages {band.age_from:g}-{band.age_to:g} y)",
            )
    if request.dose_g_per_kg is not None and not (
        math.isfinite(request.dose_g_per_kg) and 0 < request.dose_g_per_kg <= bounds.max_dose_g_per_kg
    ):
        raise DoseInputError(
            "dose_g_per_kg",
            f"{request.dose_g_per_kg:g} must be above 0 and at most {bounds.max_dose_g_per_kg:g} g/kg",
        )
    if request.days is not None and not 1 <= request.days <= bounds.max_days:
        raise DoseInputError("days", f"{request.days} must be a whole number from 1 to {bounds.max_days}")
    valid_risks = catalog.risk_ids()
    for risk in request.risks:
        if risk not in valid_risks:
            raise DoseInputError("risk", f"unknown risk {risk!r}; valid: {_ids(valid_risks)}")
    if request.pregnant and request.sex != "female":
        raise DoseInputError("pregnant", "only valid with sex female")
    if request.override_reason is not None and not request.override_reason.strip():
        raise DoseInputError("override_reason", "must be non-empty text when given")
    return catalog.policies[policy_id]


def plan_dose(request: DoseRequest, catalog: Catalog) -> DosePlan:
    """Plan one course: dosing weight, per-day whole vials, volumes, rate steps, chair time, alerts.

    Raises ``DoseInputError`` for invalid input. Check ``plan.hard_stopped`` (or the alerts) before
    using the plan; ``plan.to_contract_dict()`` returns the JSON of ``shared/contracts/dose.md``.
    The steps, in order: weigh, screen, check route and regimen, check the dose, choose whole vials,
    build the titration ladder, plan each day. A step that finds a hard stop ends the plan there.
    """
    policy = validate_request(request, catalog)
    indication = catalog.indications[request.indication]
    product = catalog.products[request.product]
    alerts: list[Alert] = []
    sources: list[str] = [f"Policy '{policy.name}': {policy.source}"]
    weight = _weigh(request, catalog, policy, indication, alerts, sources)
    screening = screen(request, indication, product, catalog)
    alerts.extend(screening.alerts)
    if "renal" in screening.risk_groups:
        alerts.extend(creatinine_alert(request, catalog))
    ctx = _context(request, catalog, policy, indication, weight)
    concentration = product.concentration_g_per_ml.value
    if concentration is not None:
        sources.append(f"{product.name} concentration: {product.concentration_g_per_ml.source}")
    regimen = _route_and_regimen(ctx, product, alerts, sources)
    if regimen is None:
        return _finish(ctx, alerts, sources, (), None, concentration)
    days = request.days if request.days is not None else regimen.usual_days
    max_course_g = round(regimen.max_g_per_kg * weight.dosing_weight_kg, 2)
    sizes = product.vial_sizes_g.value
    if not _dose_in_range(ctx, regimen, days, max_course_g, alerts) or not _product_known(
        product, concentration, sizes, alerts, sources
    ):
        return _finish(ctx, alerts, sources, (), max_course_g, concentration)
    assert concentration is not None and sizes is not None and ctx.prescribed_g is not None
    vial_plan = _vials(ctx, catalog, product, tuple(sizes), days, max_course_g, alerts)
    if vial_plan is None:
        return _finish(ctx, alerts, sources, (), max_course_g, concentration)
    ladder = _ladder(
        request, catalog, product, indication, screening.cap_groups, concentration, alerts, sources
    )
    day_plans = _days(ctx, catalog, vial_plan, days, ladder, concentration, sources)
    dispensed_g = vial_plan.course_cg / 100
    if "cardiac" in screening.risk_groups:
        largest = max(day.volume_ml for day in day_plans)
        alerts.append(
            Alert.make(
                "heart_failure_volume",
                f"Heart failure / volume overload risk: up to {largest:g} mL in one day at "
                f"{concentration * 100:g}% ({dispensed_g:g} g over {days} day(s)); "
                "slower rate, consider more "
                "days, prefer a 10% product, monitor fluid balance.",
            )
        )
    return _finish(ctx, alerts, sources, tuple(day_plans), max_course_g, concentration, dispensed_g)


def _weigh(
    request: DoseRequest,
    catalog: Catalog,
    policy: Policy,
    indication: Indication,
    alerts: list[Alert],
    sources: list[str],
) -> WeightResult:
    """The dosing weight under the policy (pre-pregnancy weight where it says so), with its reasoning."""
    weight = dosing_weight(weight_request(request, policy, alerts), policy, catalog)
    if weight.fell_back_to_actual and policy.ibw_formula is not None:
        alerts.append(fallback_alert(request, catalog, indication, policy, weight))
    if policy.ibw_formula is not None:
        sources.append(f"IBW formula: {catalog.formulas[policy.ibw_formula].source}")
    if request.pregnant and policy.pregnancy_weight == "pre-pregnancy" and request.pre_pregnancy_weight_kg:
        before = request.pre_pregnancy_weight_kg
        sources.append(f"Pregnancy: dosed on pre-pregnancy weight {before:g} kg ({policy.source})")
    return weight


def _context(
    request: DoseRequest, catalog: Catalog, policy: Policy, indication: Indication, weight: WeightResult
) -> _Context:
    regimen = indication.regimens.get(cast(Phase, request.phase))  # phase validated above
    dose_g_per_kg = (
        request.dose_g_per_kg
        if request.dose_g_per_kg is not None
        else (regimen.usual_g_per_kg if regimen is not None else None)
    )
    return _Context(
        request=request,
        policy=policy,
        weight=weight,
        rate_weight_kg=round(min(request.weight_kg, weight.dosing_weight_kg), 1),
        dose_g_per_kg=dose_g_per_kg,
        prescribed_g=None if dose_g_per_kg is None else round(dose_g_per_kg * weight.dosing_weight_kg, 2),
        regimen=regimen,
        indication=indication,
        premedication=premedication(request, catalog),
    )


def _route_and_regimen(
    ctx: _Context, product: Product, alerts: list[Alert], sources: list[str]
) -> Regimen | None:
    """The regimen to dose by, or None with a hard stop (SC product, no sourced regimen for the phase)."""
    request, indication = ctx.request, ctx.indication
    if not product.is_iv:
        alerts.append(
            Alert.make(
                "route_not_supported",
                f"{product.name} is a subcutaneous product; SC dosing and rate protocols are not in this "
                "engine version. No plan.",
            )
        )
        return None
    if ctx.regimen is None:
        alerts.append(
            Alert.make(
                "no_regimen_for_phase",
                f"No sourced {request.phase} regimen for {indication.name}"
                + (f" ({indication.regimen_note})" if indication.regimen_note else "")
                + f". Phases with a regimen: {_ids(indication.regimens) or 'none'}.",
            )
        )
        return None
    sources.append(f"{indication.name} {request.phase} regimen: {ctx.regimen.source}")
    return ctx.regimen


def _dose_in_range(
    ctx: _Context, regimen: Regimen, days: int, max_course_g: float, alerts: list[Alert]
) -> bool:
    """Dose and days against the regimen: above the maximum stops; below the range or odd days warn."""
    request, indication, dose_g_per_kg = ctx.request, ctx.indication, ctx.dose_g_per_kg
    assert dose_g_per_kg is not None
    if dose_g_per_kg > regimen.max_g_per_kg + 1e-9:
        alerts.append(
            Alert.make(
                "dose_above_max",
                f"{dose_g_per_kg:g} g/kg is above the {request.phase} maximum of "
                f"{regimen.max_g_per_kg:g} g/kg per course for {indication.name} "
                f"({max_course_g:g} g at {ctx.weight.dosing_weight_kg:g} kg). No plan.",
            )
        )
        return False
    if dose_g_per_kg < regimen.min_g_per_kg - 1e-9:
        alerts.append(
            Alert.make(
                "dose_below_range",
                f"{dose_g_per_kg:g} g/kg is below the usual range {regimen.min_g_per_kg:g}-"
                f"{regimen.max_g_per_kg:g} g/kg for {indication.name} ({request.phase}).",
            )
        )
    if not regimen.min_days <= days <= regimen.max_days:
        alerts.append(
            Alert.make(
                "days_outside_range",
                f"{days} day(s) is outside the regimen's {regimen.min_days}-{regimen.max_days} days "
                f"for {indication.name} ({request.phase}).",
            )
        )
    return True


def _product_known(
    product: Product,
    concentration: float | None,
    sizes: list[float] | None,
    alerts: list[Alert],
    sources: list[str],
) -> bool:
    if concentration is None or sizes is None:
        missing = [
            name for name, fact in (("concentration", concentration), ("vial sizes", sizes)) if fact is None
        ]
        alerts.append(
            Alert.make(
                "product_data_unknown", f"{product.name}: {' and '.join(missing)} unknown in the catalog."
            )
        )
        return False
    sources.append(f"{product.name} vial sizes: {product.vial_sizes_g.source}")
    return True


def _vials(
    ctx: _Context,
    catalog: Catalog,
    product: Product,
    sizes: tuple[float, ...],
    days: int,
    max_course_g: float,
    alerts: list[Alert],
) -> VialPlan | None:
    """Whole vials per day by the policy's rounding rule (children's rule under the adult age)."""
    request, policy, prescribed_g = ctx.request, ctx.policy, ctx.prescribed_g
    assert prescribed_g is not None
    adult_age = catalog.administration.screening.adult_age_years.value
    is_child = adult_age is not None and request.age_years < adult_age
    rule = policy.rounding_children if is_child else policy.rounding
    vial_plan = plan_vials(prescribed_g, max_course_g, days, sizes, rule, policy.rounding_step_g)
    if vial_plan is None:
        alerts.append(
            Alert.make(
                "dose_not_dispensable",
                f"No whole-vial amount of {product.name} (vials {_ids(sizes)} g) fits "
                f"{prescribed_g:g} g over "
                f"{days} day(s) with rounding '{rule}' and the maximum {max_course_g:g} g.",
            )
        )
        return None
    dispensed_g = vial_plan.course_cg / 100
    if vial_plan.course_cg != round(prescribed_g * 100):
        difference = dispensed_g - prescribed_g
        alerts.append(
            Alert.make(
                "dose_rounded",
                f"Prescribed {prescribed_g:g} g; dispensed {dispensed_g:g} g in whole vials "
                f"({difference:+.2f} g, {100 * difference / prescribed_g:+.1f}%), "
                f"rounding '{rule}' of policy "
                f"{policy.id}, never above the maximum {max_course_g:g} g.",
            )
        )
    return vial_plan


def _ladder(
    request: DoseRequest,
    catalog: Catalog,
    product: Product,
    indication: Indication,
    cap_groups: list[str],
    concentration: float,
    alerts: list[Alert],
    sources: list[str],
) -> Ladder | None:
    """The rate ladder: the label's protocol for the indication (or its general one, off-label), capped
    for the patient's risks and history; None when no rate can be given (with the alert that says why)."""
    protocol = product.titration_for(indication.id)
    if protocol is None and product.default_titration_indication is not None:
        protocol = product.titration_for(product.default_titration_indication)
    if protocol is None or protocol.max_rate is None:
        alerts.append(
            Alert.make("product_data_unknown", f"{product.name}: no infusion-rate protocol in the catalog.")
        )
        return None
    sources.append(f"{product.name} infusion rates: {protocol.source}")
    limit = rate_limit(request, catalog, product, protocol, cap_groups, concentration)
    alerts.extend(limit.alerts)
    sources.extend(limit.sources)
    if not limit.known:
        return None
    cap = limit.cap_mg_per_kg_min
    site = catalog.administration.site_titration
    ladder = build_ladder(protocol, concentration, site.interval_min, cap)
    if cap_groups and cap is not None and ladder.cap_mg_per_kg_min < ladder.label_max_mg_per_kg_min:
        alerts.append(
            Alert.make(
                "rate_capped_for_risk",
                f"Slower plan: maximum rate {ladder.cap_mg_per_kg_min:.4g} mg/kg/min instead of the "
                f"label's {ladder.label_max_mg_per_kg_min:.4g} because of: "
                f"{', '.join(cap_groups)}. Steps, pump rates, infusion and chair time are "
                "computed for the slower rate.",
            )
        )
    if ladder.uses_site_protocol:
        sources.append(f"Step schedule: {site.source}")
        interval_text = (
            f"the label's {protocol.step_interval_min}-min interval"
            if protocol.step_interval_min
            else f"every {site.interval_min} min (site interval)"
        )
        alerts.append(
            Alert.make(
                "titration_site_protocol",
                f"{product.name}'s label says to increase the rate gradually as tolerated without "
                f"step sizes; the site protocol doubles the rate, {interval_text}, up to the "
                "maximum.",
            )
        )
    return ladder


def _days(
    ctx: _Context,
    catalog: Catalog,
    vial_plan: VialPlan,
    days: int,
    ladder: Ladder | None,
    concentration: float,
    sources: list[str],
) -> list[DayPlan]:
    """Each day: its share of the dose, vials, volume, pump steps and chair time."""
    assert ctx.prescribed_g is not None
    chair = catalog.administration.chair
    setup = chair.setup_min.value
    obs_first = chair.observation_first_infusion_min.value
    obs_later = chair.observation_later_min.value
    sources.append(
        f"Chair time: set-up {chair.setup_min.source}; observation "
        f"{chair.observation_first_infusion_min.source}; {chair.observation_later_min.source}"
    )
    day_prescribed_cg = _split_exact(round(ctx.prescribed_g * 100), days)
    day_plans: list[DayPlan] = []
    for index in range(days):
        dispensed_day = vial_plan.days_cg[index] / 100
        volume = round(dispensed_day / concentration, 1)
        steps = () if ladder is None else plan_steps(ladder, volume, ctx.rate_weight_kg, concentration)
        infusion = round(sum(step.minutes for step in steps), 1) if steps else None
        observation = obs_first if (ctx.request.first_infusion and index == 0) else obs_later
        chair_min = (
            None
            if infusion is None or setup is None or observation is None
            else round(setup + infusion + observation, 1)
        )
        day_plans.append(
            DayPlan(
                day=index + 1,
                prescribed_g=day_prescribed_cg[index] / 100,
                dispensed_g=dispensed_day,
                vials=vial_plan.days_vials[index],
                volume_ml=volume,
                steps=steps,
                infusion_min=infusion,
                chair_min=chair_min,
                setup_min=setup,
                observation_min=observation,
            )
        )
    return day_plans


def _split_exact(total_cg: int, days: int) -> list[int]:
    base, extra = divmod(total_cg, days)
    return [base + (1 if day >= days - extra else 0) for day in range(days)]


@dataclass(frozen=True)
class _Context:
    request: DoseRequest
    policy: Policy
    weight: WeightResult
    rate_weight_kg: float
    dose_g_per_kg: float | None
    prescribed_g: float | None
    regimen: Regimen | None
    indication: Indication
    premedication: list[str]


def _regimen_summary(indication: Indication, regimen: Regimen | None) -> dict[str, Any]:
    """Regimen and outcome facts the UI shows beside the plan (extra contract keys)."""
    return {
        "recommendation": indication.recommendation,
        "regimen": None
        if regimen is None
        else {
            "usual_g_per_kg": regimen.usual_g_per_kg,
            "min_g_per_kg": regimen.min_g_per_kg,
            "max_g_per_kg": regimen.max_g_per_kg,
            "usual_days": regimen.usual_days,
            "min_days": regimen.min_days,
            "max_days": regimen.max_days,
            "interval_weeks": None if regimen.interval_weeks is None else list(regimen.interval_weeks),
            "review_interval_weeks": regimen.review_interval_weeks,
            "review": regimen.review,
        },
        "outcomes": [
            {"measure": outcome.measure, "threshold": outcome.threshold, "source": outcome.source}
            for outcome in indication.outcomes
        ],
    }


def _finish(
    ctx: _Context,
    alerts: list[Alert],
    sources: list[str],
    days: tuple[DayPlan, ...],
    max_course_g: float | None,
    concentration: float | None,
    dispensed_g: float | None = None,
) -> DosePlan:
    request, weight, regimen = ctx.request, ctx.weight, ctx.regimen
    order = {"hard_stop": 0, "warning": 1, "info": 2}
    ordered = tuple(sorted(alerts, key=lambda alert: order[alert.severity]))
    return DosePlan(
        indication=request.indication,
        phase=request.phase,
        product=request.product,
        policy=ctx.policy.id,
        weight_kg=request.weight_kg,
        height_cm=request.height_cm,
        bmi=weight.bmi,
        ideal_weight_kg=weight.ideal_weight_kg,
        dosing_weight_kg=weight.dosing_weight_kg,
        weight_basis=weight.weight_basis,
        weight_reasoning=weight.reasoning,
        dose_g_per_kg=ctx.dose_g_per_kg,
        prescribed_g=ctx.prescribed_g,
        dispensed_g=dispensed_g,
        concentration_g_per_ml=concentration,
        rate_weight_kg=ctx.rate_weight_kg,
        days=days,
        alerts=ordered,
        sources=tuple(dict.fromkeys(sources)),
        max_course_g=max_course_g,
        priority=None if regimen is None else regimen.priority,
        first_infusion=request.first_infusion,
        extra={**_regimen_summary(ctx.indication, regimen), "premedication": ctx.premedication},
    )


__all__ = ["plan_dose", "validate_request"]
