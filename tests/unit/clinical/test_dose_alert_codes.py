"""Every alert code the engine can emit is triggered at least once, with its documented severity."""

from __future__ import annotations

import dataclasses

import pytest

from igflow.catalog import Catalog, load_catalog
from igflow.catalog.protocol import apply_protocol, parse_values
from igflow.clinical import ALERT_CODES, DoseInputError, DoseRequest, plan_dose

CATALOG = load_catalog()


def req(**kw: object) -> DoseRequest:
    base: dict[str, object] = {
        "indication": "cidp",
        "phase": "induction",
        "product": "privigen",
        "weight_kg": 70.0,
        "height_cm": 175.0,
        "sex": "male",
        "age_years": 45.0,
    }
    base.update(kw)
    return DoseRequest(**base)  # type: ignore[arg-type]


def with_product(product_id: str, **facts: object) -> Catalog:
    """A catalog copy where one product's facts are replaced (to reach data-driven stops)."""
    product = CATALOG.products[product_id]
    update = {
        name: getattr(product, name).model_copy(update={"value": value, "source": "test", "note": "test"})
        for name, value in facts.items()
    }
    products = dict(CATALOG.products)
    products[product_id] = product.model_copy(update=update)
    return dataclasses.replace(CATALOG, products=products)


def with_decisions(**values: object) -> Catalog:
    """The packaged catalog with a site protocol deciding ``values`` (each with a test basis)."""
    decided = parse_values(
        {name: {"value": value, "basis": "test protocol"} for name, value in values.items()}
    )
    return apply_protocol(CATALOG, decided, "Test protocol v1")


# code -> (request, catalog or None for the packaged one)
CASES: dict[str, tuple[DoseRequest, Catalog | None]] = {
    "route_not_supported": (req(indication="pid", phase="maintenance", product="hizentra"), None),
    "product_data_unknown": (req(product="privigen"), with_product("privigen", vial_sizes_g=None)),
    "no_regimen_for_phase": (req(indication="lupus-nephritis"), None),
    "not_recommended_indication": (req(indication="aiha", phase="acute"), None),
    "dose_above_max": (req(dose_g_per_kg=2.5), None),
    # 0.19 g/kg x 25 kg = 4.75 g, rounded down (NHS, adult) below the only 5 g vial -> nothing
    "dose_not_dispensable": (
        req(
            indication="pid",
            phase="maintenance",
            product="asceniv",
            weight_kg=25,
            height_cm=150,
            dose_g_per_kg=0.19,
            policy="nhs-england-2021",
        ),
        None,
    ),
    "iga_deficiency_with_antibodies": (req(iga_deficient_with_antibodies=True), None),
    "prior_severe_reaction": (req(risks=("prior-severe-reaction",)), None),
    "hyperprolinaemia_proline_product": (req(risks=("hyperprolinaemia",)), None),
    "sucrose_product_at_renal_risk": (
        req(product="panzyga", risks=("renal",)),
        with_product("panzyga", sucrose_free=False),
    ),
    "risk_rate_cap_unknown": (req(age_years=70), None),
    "dose_rounded": (req(weight_kg=71.3), None),
    "dose_below_range": (req(indication="pid", phase="maintenance", dose_g_per_kg=0.1), None),
    "days_outside_range": (req(days=1), None),
    "off_label_product": (req(indication="gbs", phase="acute"), None),
    "not_recommended_overridden": (
        req(indication="aiha", phase="acute", override_reason="life-threatening haemolysis, steroids failed"),
        None,
    ),
    "renal_risk": (req(product="panzyga", risks=("diabetes",)), None),
    "thrombosis_risk": (req(product="panzyga", risks=("thrombosis",)), None),
    "heart_failure_volume": (req(product="panzyga", risks=("cardiac",)), None),
    "rate_capped_for_risk": (req(product="panzyga", risks=("thrombosis",)), None),
    "pregnancy": (req(sex="female", pregnant=True), None),
    "conditional_indication": (req(indication="sle", phase="acute"), None),
    "titration_site_protocol": (req(), None),
    "policy_weight_reasoning": (req(policy="australia-2026", age_years=16), None),
    "product_label_note": (req(indication="dermatomyositis", product="octagam-10"), None),
    "rate_cap_by_pharmacist": (
        req(age_years=70, pharmacist_max_rate_mg_per_kg_min=2.0, pharmacist_reason="diabetic, eGFR 50"),
        None,
    ),
    "creatinine_out_of_date": (
        req(product="panzyga", risks=("diabetes",), creatinine_age_days=45),
        with_decisions(renal_creatinine_max_age_days=30),
    ),
    # 16-year-old, 100 kg, 175 cm: no adjustment in children; the formula would give 82.3 kg
    "dosing_weight_fallback": (req(policy="australia-2026", age_years=16, weight_kg=100.0), None),
    "premedication_after_reaction": (
        req(prior_reaction_grade=2),
        with_decisions(premedication_after_reaction=["Paracetamol by mouth, dose as prescribed"]),
    ),
    "rate_slowed_after_reaction": (
        req(prior_reaction_grade=2),
        with_decisions(after_reaction_max_rate_fraction=0.5),
    ),
    "after_reaction_no_protocol": (req(prior_reaction_grade=1), None),
    "pre_pregnancy_weight_needed": (req(sex="female", pregnant=True, policy="ontario"), None),
    # Asceniv is licensed for PI from 12 years of age
    "outside_licensed_age": (
        req(
            indication="pid",
            phase="maintenance",
            product="asceniv",
            age_years=8,
            weight_kg=26.0,
            height_cm=128.0,
        ),
        None,
    ),
}


def test_cases_cover_every_code() -> None:
    assert set(CASES) == set(ALERT_CODES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_code_is_emitted_with_its_severity(code: str) -> None:
    request, catalog = CASES[code]
    plan = plan_dose(request, catalog or CATALOG)
    found = [alert for alert in plan.alerts if alert.code == code]
    assert found, f"{code} not emitted; got {plan.alert_codes}"
    assert found[0].severity == ALERT_CODES[code][0]
    assert len(found[0].message) > 20
    assert plan.hard_stopped == any(a.severity == "hard_stop" for a in plan.alerts)


def test_override_turns_not_recommended_into_warning_and_a_plan() -> None:
    plan = plan_dose(CASES["not_recommended_overridden"][0], CATALOG)
    assert not plan.hard_stopped and plan.days


def test_unsupported_route_and_missing_regimen_give_no_days() -> None:
    for code in ("route_not_supported", "no_regimen_for_phase", "dose_above_max"):
        plan = plan_dose(CASES[code][0], CATALOG)
        assert plan.hard_stopped and not plan.days


def test_rate_cap_unknown_keeps_vials_but_no_steps() -> None:
    plan = plan_dose(CASES["risk_rate_cap_unknown"][0], CATALOG)
    assert plan.hard_stopped and plan.days
    assert all(not day.steps and day.infusion_min is None for day in plan.days)


INVALID: list[tuple[dict[str, object], str]] = [
    ({"indication": "gout"}, "indication"),
    ({"phase": "loading"}, "phase"),
    ({"product": "intragam"}, "product"),
    ({"policy": "texas"}, "policy"),
    ({"sex": "x"}, "sex"),
    ({"age_years": 130}, "age_years"),
    ({"age_years": 3, "weight_kg": 90}, "weight_kg"),
    ({"height_cm": 300}, "height_cm"),
    ({"weight_kg": float("nan")}, "weight_kg"),
    ({"dose_g_per_kg": 0}, "dose_g_per_kg"),
    ({"days": 0}, "days"),
    ({"risks": ("smoker",)}, "risk"),
    ({"pregnant": True}, "pregnant"),
    ({"override_reason": "  "}, "override_reason"),
]


@pytest.mark.parametrize(("change", "field"), INVALID)
def test_invalid_input_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(DoseInputError) as info:
        plan_dose(req(**change), CATALOG)
    assert info.value.field == field


def test_unknown_ids_list_the_valid_ids() -> None:
    with pytest.raises(DoseInputError, match="privigen"):
        plan_dose(req(product="intragam"), CATALOG)
    with pytest.raises(DoseInputError, match="kawasaki"):
        plan_dose(req(indication="gout"), CATALOG)
