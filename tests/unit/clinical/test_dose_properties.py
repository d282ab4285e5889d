"""Hypothesis properties: the invariants of shared/contracts/dose.md over the whole catalog."""

from __future__ import annotations

import itertools
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igflow.catalog import PHASES, load_catalog
from igflow.clinical import DoseRequest, plan_dose
from igflow.clinical.screening import risk_groups
from igflow.clinical.titration import ml_per_h, to_mg_per_kg_min
from igflow.clinical.vials import to_cg

CATALOG = load_catalog()
BANDS = CATALOG.administration.plausibility.bands
CHAIR = CATALOG.administration.chair


@st.composite
def requests(draw: st.DrawFn) -> DoseRequest:
    indication_id = draw(st.sampled_from(sorted(CATALOG.indications)))
    indication = CATALOG.indications[indication_id]
    # mostly phases with a regimen, sometimes any phase
    phases = sorted(indication.regimens) or list(PHASES)
    phase = draw(st.one_of(st.sampled_from(phases), st.sampled_from(PHASES)))
    age = round(draw(st.floats(0, 110)), 1)
    band = CATALOG.administration.plausibility.band_for(age)
    weight = draw(st.floats(*band.weight_kg))
    height = draw(st.floats(*band.height_cm))
    sex = draw(st.sampled_from(["female", "male"]))
    regimen = indication.regimens.get(phase)  # type: ignore[call-overload]
    dose = None
    if regimen is not None:
        dose = draw(
            st.one_of(
                st.none(),
                st.floats(regimen.min_g_per_kg, regimen.max_g_per_kg),
                st.floats(0.05, CATALOG.administration.plausibility.max_dose_g_per_kg),
            )
        )
    risks = draw(
        st.lists(st.sampled_from(["renal", "thrombosis", "cardiac", "diabetes"]), max_size=2, unique=True)
    )
    return DoseRequest(
        indication=indication_id,
        phase=phase,
        product=draw(st.sampled_from(sorted(CATALOG.products))),
        weight_kg=round(weight, 1),
        height_cm=round(height, 1),
        sex=sex,
        age_years=age,
        policy=draw(st.sampled_from(sorted(CATALOG.policies))),
        dose_g_per_kg=None if dose is None else round(dose, 2),
        days=draw(st.one_of(st.none(), st.integers(1, CATALOG.administration.plausibility.max_days))),
        first_infusion=draw(st.booleans()),
        risks=tuple(risks),
        pregnant=sex == "female" and draw(st.booleans()),
        override_reason=draw(st.one_of(st.none(), st.just("documented by prescriber"))),
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_contract_invariants(request: DoseRequest) -> None:
    check_invariants(request)


FIXED_PATIENTS = [
    {"weight_kg": 110.0, "height_cm": 165.0, "sex": "female", "age_years": 50.0},
    {"weight_kg": 68.0, "height_cm": 178.0, "sex": "male", "age_years": 72.0, "risks": ("thrombosis",)},
    {"weight_kg": 18.5, "height_cm": 110.0, "sex": "male", "age_years": 5.0, "first_infusion": True},
    {"weight_kg": 140.0, "height_cm": 150.0, "sex": "female", "age_years": 35.0, "risks": ("cardiac",)},
]


def test_every_catalog_combination_for_fixed_patients() -> None:
    """Exhaustive sweep: every indication x phase x product x policy, for a few fixed patients."""
    count = 0
    for indication, phase, product, policy in itertools.product(
        CATALOG.indications, PHASES, CATALOG.products, CATALOG.policies
    ):
        for patient in FIXED_PATIENTS:
            check_invariants(
                DoseRequest(indication=indication, phase=phase, product=product, policy=policy, **patient)  # type: ignore[arg-type]
            )
            count += 1
    assert count == len(CATALOG.indications) * len(PHASES) * len(CATALOG.products) * len(CATALOG.policies) * 4


def check_invariants(request: DoseRequest) -> None:
    plan = plan_dose(request, CATALOG)
    data = plan.to_contract_dict()
    for key in (
        "indication",
        "phase",
        "product",
        "policy",
        "weight_kg",
        "height_cm",
        "bmi",
        "ideal_weight_kg",
        "dosing_weight_kg",
        "weight_basis",
        "dose_g_per_kg",
        "prescribed_g",
        "dispensed_g",
        "concentration_g_per_ml",
        "rate_weight_kg",
        "days",
        "alerts",
        "sources",
    ):
        assert key in data
    assert all(
        alert["code"] and alert["severity"] in ("hard_stop", "warning", "info") for alert in data["alerts"]
    )
    assert data["sources"]
    assert data["rate_weight_kg"] <= data["dosing_weight_kg"] + 1e-9
    assert data["rate_weight_kg"] <= request.weight_kg + 0.05
    if not plan.hard_stopped:
        assert data["days"], "a plan without a hard stop has days"
    if data["prescribed_g"] is None:
        return
    # prescribed = dose x dosing weight (0.1 g); the days' prescribed sum to it
    assert abs(data["prescribed_g"] - data["dose_g_per_kg"] * data["dosing_weight_kg"]) <= 0.05
    if not data["days"]:
        return
    assert abs(sum(d["prescribed_g"] for d in data["days"]) - data["prescribed_g"]) < 0.005
    product = CATALOG.products[request.product]
    policy = CATALOG.policies[data["policy"]]
    concentration = data["concentration_g_per_ml"]
    sizes = product.vial_sizes_g.value or []
    adult = CATALOG.administration.screening.adult_age_years.value or 0
    rule = policy.rounding_children if request.age_years < adult else policy.rounding
    unit_cg = math.gcd(*(to_cg(s) for s in sizes))
    step_cg = math.lcm(unit_cg, to_cg(policy.rounding_step_g or 0.01)) if rule == "nearest-5g" else unit_cg
    dispensed_cg = to_cg(data["dispensed_g"])
    # dispensed = sum of days = sum of vials; only product sizes; rounding rule; never above the maximum
    assert sum(to_cg(d["dispensed_g"]) for d in data["days"]) == dispensed_cg
    assert dispensed_cg <= to_cg(data["max_course_g"])
    assert dispensed_cg % step_cg == 0
    if rule == "down":
        assert dispensed_cg <= to_cg(data["prescribed_g"])
    else:
        assert dispensed_cg <= to_cg(data["prescribed_g"]) + step_cg / 2
    set_up = CHAIR.setup_min.value or 0
    groups = risk_groups(request, CATALOG)
    protocol = product.titration_for(request.indication) or product.titration_for(
        product.default_titration_indication or ""
    )
    for index, day in enumerate(data["days"]):
        assert sum(to_cg(v["size_g"]) * v["count"] for v in day["vials"]) == to_cg(day["dispensed_g"])
        assert all(v["size_g"] in sizes and v["count"] > 0 for v in day["vials"])
        assert abs(day["volume_ml"] - day["dispensed_g"] / concentration) <= 0.05
        if not day["steps"]:
            assert plan.hard_stopped
            continue
        steps = day["steps"]
        assert steps[0]["start_min"] == 0
        for before, after in itertools.pairwise(steps):
            assert abs(after["start_min"] - (before["start_min"] + before["minutes"])) < 1e-6
        delivered = sum(s["rate_ml_per_h"] * s["minutes"] / 60 for s in steps)
        assert abs(delivered - day["volume_ml"]) <= 0.01 * day["volume_ml"]
        assert abs(day["infusion_min"] - sum(s["minutes"] for s in steps)) < 0.051
        observation = (
            CHAIR.observation_first_infusion_min.value
            if request.first_infusion and index == 0
            else CHAIR.observation_later_min.value
        )
        assert abs(day["chair_min"] - (set_up + day["infusion_min"] + (observation or 0))) < 0.051
        for s in steps:
            expected = ml_per_h(s["rate_mg_per_kg_min"], data["rate_weight_kg"], concentration)
            assert abs(s["rate_ml_per_h"] - expected) <= 0.051
        assert protocol is not None and protocol.max_rate is not None
        initial = to_mg_per_kg_min(protocol.initial_rate, protocol.rate_unit, concentration)
        label_max = to_mg_per_kg_min(protocol.max_rate, protocol.rate_unit, concentration)
        assert abs(steps[0]["rate_mg_per_kg_min"] - initial) < 1e-3
        ceiling = label_max
        if groups & {"renal", "thrombosis", "cardiac"}:
            assert protocol.at_risk_max_rate is not None
            ceiling = min(
                ceiling, to_mg_per_kg_min(protocol.at_risk_max_rate, protocol.rate_unit, concentration)
            )
        assert all(s["rate_mg_per_kg_min"] <= ceiling + 1e-3 for s in steps)
        rates = [s["rate_mg_per_kg_min"] for s in steps]
        assert rates == sorted(rates)


@settings(max_examples=150, deadline=None)
@given(requests())
def test_plans_are_deterministic_and_pure(request: DoseRequest) -> None:
    assert plan_dose(request, CATALOG).to_contract_dict() == plan_dose(request, CATALOG).to_contract_dict()


@settings(max_examples=400, deadline=None)
@given(requests())
def test_dosing_weight_never_exceeds_actual_and_adjusts_only_when_the_policy_says(
    request: DoseRequest,
) -> None:
    plan = plan_dose(request, CATALOG)
    policy = CATALOG.policies[plan.policy]
    assert plan.dosing_weight_kg <= round(request.weight_kg, 1) + 1e-9
    assert plan.weight_reasoning
    if plan.weight_basis == "adjusted":
        assert policy.ibw_formula is not None
        assert plan.ideal_weight_kg is not None and plan.ideal_weight_kg <= plan.dosing_weight_kg + 0.1
        assert request.age_years >= (policy.adult_min_age_years or 0)
        assert request.height_cm >= (policy.min_height_cm or 0)
        if policy.excludes_pregnant:
            assert not request.pregnant
    else:
        assert plan.dosing_weight_kg == round(request.weight_kg, 1)


def test_a_formula_weight_of_zero_falls_back_without_dividing_by_it() -> None:
    """Found by the property above: an infant too short for the IBW formula (which gives 0 kg)."""
    from igflow.catalog import load_catalog
    from igflow.clinical.engine import plan_dose
    from igflow.clinical.models import DoseRequest

    request = DoseRequest(
        indication="acquired-haemophilia",
        phase="acute",
        product="asceniv",
        weight_kg=19.0,
        height_cm=65.8,
        sex="male",
        age_years=0.0,
        policy="nhs-england-2021",
    )
    plan = plan_dose(request, load_catalog())
    assert plan.alerts  # a plan (or a hard stop) with reasons, never a crash
