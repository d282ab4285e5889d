"""Dosing weight under a catalog policy, with the reasoning spelled out."""

from __future__ import annotations

from igflow.catalog import Catalog, Policy
from igflow.catalog.models import IbwFormula
from igflow.clinical.models import DoseRequest, WeightResult


def bmi_kg_per_m2(weight_kg: float, height_cm: float) -> float:
    height_m = height_cm / 100.0
    return weight_kg / (height_m * height_m)


def ideal_weight_kg(formula: IbwFormula, sex: str, height_cm: float) -> float:
    """IBW = base(sex) + slope(sex) x (height above the base height, in the formula's unit)."""
    base = formula.male_base_kg if sex == "male" else formula.female_base_kg
    units_above_base = (height_cm - formula.base_height_cm) / formula.unit_cm
    return base + formula.slope_kg_per_unit(sex) * units_above_base


def adjusted_weight_kg(ideal_kg: float, actual_kg: float, factor: float) -> float:
    """Adjusted (dose-determining) weight = IBW + factor x (actual - IBW)."""
    return ideal_kg + factor * (actual_kg - ideal_kg)


def dosing_weight(request: DoseRequest, policy: Policy, catalog: Catalog) -> WeightResult:
    """Apply ``policy`` to the patient. Results are rounded to 0.1 kg; the reasoning says why."""
    actual = request.weight_kg
    bmi = round(bmi_kg_per_m2(actual, request.height_cm), 1)
    reasons: list[str] = []

    def actual_result(
        why: str, ideal: float | None = None, fell_back: bool = True, excluded: bool = False
    ) -> WeightResult:
        """``excluded``: the patient is outside the formula's population (age, height, weight,
        pregnancy), so what the formula would have given is worth showing beside the actual-weight dose."""
        reasons.append(why)
        formula_kg = None
        if excluded and ideal is not None and policy.adjustment_factor is not None:
            adjusted = adjusted_weight_kg(ideal, actual, policy.adjustment_factor)
            formula_kg = round(adjusted, 1) if 0 < adjusted < actual else None
        return WeightResult(
            bmi=bmi,
            ideal_weight_kg=None if ideal is None else round(ideal, 1),
            dosing_weight_kg=round(actual, 1),
            weight_basis="actual",
            reasoning=tuple(reasons),
            fell_back_to_actual=fell_back,
            formula_weight_kg=formula_kg,
        )

    if policy.ibw_formula is None:
        return actual_result(
            f"Policy '{policy.name}': dose on actual body weight {actual:.1f} kg.", fell_back=False
        )
    formula = catalog.formulas[policy.ibw_formula]
    factor = policy.adjustment_factor
    assert factor is not None  # guaranteed by the Policy validator
    ideal = ideal_weight_kg(formula, request.sex, request.height_cm)
    reasons.append(
        f"{policy.ibw_formula.title()} IBW for a {request.sex} of {request.height_cm:g} cm = {ideal:.1f} kg."
    )
    if policy.adult_min_age_years is not None and request.age_years < policy.adult_min_age_years:
        return actual_result(
            f"Age {request.age_years:g} y is under {policy.adult_min_age_years:g} y: "
            "no obesity adjustment in children, actual weight used.",
            ideal,
            excluded=True,
        )
    if policy.excludes_pregnant and request.pregnant:
        return actual_result("Pregnant: this policy uses actual weight in pregnancy.", ideal, excluded=True)
    if policy.min_height_cm is not None and request.height_cm < policy.min_height_cm:
        return actual_result(
            f"Height {request.height_cm:g} cm is under {policy.min_height_cm:g} cm: "
            "the formula does not apply, actual weight used.",
            ideal,
            excluded=True,
        )
    minimum_weight = policy.min_weight_kg_male if request.sex == "male" else policy.min_weight_kg_female
    if minimum_weight is not None and actual <= minimum_weight:
        return actual_result(
            f"Weight {actual:g} kg is not above {minimum_weight:g} kg: actual weight used.",
            ideal,
            excluded=True,
        )
    adjusted = adjusted_weight_kg(ideal, actual, factor)
    formula_text = f"adjusted = {ideal:.1f} + {factor:g} x ({actual:g} - {ideal:.1f}) = {adjusted:.1f} kg"
    if policy.trigger == "actual-at-least-adjusted":
        applies = actual >= adjusted
        test = f"actual {actual:g} kg {'>=' if applies else '<'} adjusted {adjusted:.1f} kg"
    elif policy.trigger == "actual-above-ibw-ratio":
        ratio = policy.ibw_ratio_threshold
        assert ratio is not None
        limit = ratio * ideal
        applies = actual > limit
        test = f"actual {actual:g} kg {'>' if applies else '<='} {ratio:g} x IBW = {limit:.1f} kg"
    else:
        threshold = policy.bmi_threshold
        assert threshold is not None
        exact_bmi = bmi_kg_per_m2(actual, request.height_cm)
        applies = exact_bmi >= threshold if policy.bmi_inclusive else exact_bmi > threshold
        sign = (">=" if applies else "<") if policy.bmi_inclusive else (">" if applies else "<=")
        test = f"BMI {exact_bmi:.1f} {sign} {threshold:g}"
    if not applies:
        return actual_result(f"{test}: no adjustment, actual weight used.", ideal)
    if adjusted > actual:
        return actual_result(f"{formula_text} exceeds actual weight: actual weight used.", ideal)
    reasons.append(f"{test}: {formula_text}.")
    return WeightResult(
        bmi=bmi,
        ideal_weight_kg=round(ideal, 1),
        dosing_weight_kg=round(adjusted, 1),
        weight_basis="adjusted",
        reasoning=tuple(reasons),
    )
