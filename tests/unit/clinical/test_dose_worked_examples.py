"""Worked examples from the policies and labels, with the arithmetic shown."""

from __future__ import annotations

import pytest

from igflow.catalog import load_catalog
from igflow.clinical import DoseRequest, dosing_weight, plan_dose
from igflow.clinical.titration import build_ladder, ml_per_h, to_mg_per_kg_min
from igflow.clinical.vials import fewest_vials, plan_vials

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


def weight(policy: str, **kw: object) -> tuple[float | None, float, str]:
    result = dosing_weight(req(**kw), CATALOG.policies[policy], CATALOG)
    return result.ideal_weight_kg, result.dosing_weight_kg, result.weight_basis


def test_devine_ibw_and_adjusted_weight_165_cm_female() -> None:
    # 165 cm = 64.96 in, 4.96 in over 60 in; IBW = 45.5 + 2.3 x 4.961 = 56.91 kg
    # BMI = 110 / 1.65^2 = 40.4 >= 30 -> adjusted = 56.91 + 0.4 x (110 - 56.91) = 78.15 -> 78.1 kg
    assert weight("adjusted-bmi30", weight_kg=110, height_cm=165, sex="female") == (56.9, 78.1, "adjusted")


def test_contract_shape_example_cidp_privigen_adjusted_bmi30() -> None:
    # prescribed = 2.0 g/kg x 78.1 kg = 156.2 g over 5 days = 31.24 g/day
    # nearest whole-vial course on 5 g steps: 155 (1.2 below) beats 160 (3.8 above, also above the
    # 2 g/kg maximum of 156.2 g); 155 g = 31 x 5 g units over 5 days -> 30, 30, 30, 30, 35 g
    plan = plan_dose(
        req(weight_kg=110, height_cm=165, sex="female", policy="adjusted-bmi30"), CATALOG
    ).to_contract_dict()
    assert plan["prescribed_g"] == 156.2
    assert plan["dispensed_g"] == 155.0
    assert [d["prescribed_g"] for d in plan["days"]] == [31.24] * 5
    assert [d["dispensed_g"] for d in plan["days"]] == [30, 30, 30, 30, 35]
    assert plan["days"][0]["vials"] == [{"size_g": 20, "count": 1}, {"size_g": 10, "count": 1}]
    # rate at 0.5 mg/kg/min x 78.1 kg x 60 / (0.1 x 1000) = 23.43 -> 23.4 mL/h
    assert plan["days"][0]["steps"][0]["rate_ml_per_h"] == 23.4
    assert plan["days"][0]["steps"][1]["rate_ml_per_h"] == 46.9
    assert "dose_rounded" in [a["code"] for a in plan["alerts"]]


def test_robinson_nhs_threshold() -> None:
    # Robinson male 180 cm: 52 + 0.75 x (180 - 152) = 73.0 kg; 120% of IBW = 87.6 kg
    # 100 kg > 87.6 -> adjusted = 73 + 0.4 x 27 = 83.8 kg
    assert weight("nhs-england-2021", weight_kg=100, height_cm=180) == (73.0, 83.8, "adjusted")
    # 85 kg <= 87.6 -> actual weight
    assert weight("nhs-england-2021", weight_kg=85, height_cm=180) == (73.0, 85.0, "actual")
    # children: no obesity adjustment
    assert weight("nhs-england-2021", weight_kg=90, height_cm=165, age_years=15)[1:] == (90.0, "actual")


def test_nhs_rounds_adult_dose_down_to_whole_vials() -> None:
    # dosing 83.8 kg x 2 g/kg = 167.6 g -> down to 165 g (Privigen 5 g steps); 33 units over 5 days
    # -> 6, 6, 7, 7, 7 units = 30, 30, 35, 35, 35 g; 35 g = 20 + 10 + 5 (3 vials)
    plan = plan_dose(req(weight_kg=100, height_cm=180, policy="nhs-england-2021"), CATALOG)
    assert plan.prescribed_g == 167.6
    assert plan.dispensed_g == 165.0
    assert [d.dispensed_g for d in plan.days] == [30, 30, 35, 35, 35]
    assert sum(v.count for v in plan.days[-1].vials) == 3


def test_australia_2026_rules() -> None:
    # Devine male 180 cm: 70.87 in -> 50 + 2.3 x 10.87 = 74.99 kg; actual 120 kg
    # adjusted = 74.99 + 0.4 x 45.01 = 92.99 -> 93.0; actual >= adjusted -> adjusted
    assert weight("australia-2026", weight_kg=120, height_cm=180) == (75.0, 93.0, "adjusted")
    # actual 70 kg < adjusted 72.99 kg -> actual
    assert weight("australia-2026", weight_kg=70, height_cm=180)[1:] == (70.0, "actual")
    # exemptions: under 18, under 152 cm, pregnant
    assert weight("australia-2026", weight_kg=120, height_cm=180, age_years=17)[2] == "actual"
    assert weight("australia-2026", weight_kg=120, height_cm=150)[2] == "actual"
    assert weight("australia-2026", weight_kg=120, height_cm=180, sex="female", pregnant=True)[2] == "actual"


def test_ontario_bmi_and_nearest_5_g() -> None:
    # female 160 cm 90 kg: BMI 35.2 > 30; Devine 45.5 + 2.3 x 2.99 = 52.38; adjusted
    # = 52.38 + 0.4 x 37.62 = 67.43 -> 67.4 kg
    assert weight("ontario", weight_kg=90, height_cm=160, sex="female") == (52.4, 67.4, "adjusted")
    # PID 0.4 g/kg x 67.4 = 26.96 g -> nearest 5 g = 25 g (Gammagard: 20 + 5)
    plan = plan_dose(
        req(
            indication="pid",
            phase="maintenance",
            product="gammagard-liquid",
            weight_kg=90,
            height_cm=160,
            sex="female",
            policy="ontario",
        ),
        CATALOG,
    )
    assert plan.dispensed_g == 25.0
    assert [(v.size_g, v.count) for v in plan.days[0].vials] == [(20, 1), (5, 1)]


def test_bmi_threshold_strict_vs_inclusive() -> None:
    # 200 cm, 120 kg -> BMI exactly 30.0: Ontario needs > 30, the payer rule >= 30
    assert weight("ontario", weight_kg=120, height_cm=200)[2] == "actual"
    assert weight("adjusted-bmi30", weight_kg=120, height_cm=200)[2] == "adjusted"


def test_privigen_cidp_maintenance_titration() -> None:
    # 70 kg, actual weight, 1 g/kg over 2 days = 35 g/day = 350 mL of 10%
    # rates: 0.5 mg/kg/min x 70 kg = 35 mg/min = 0.35 mL/min = 21.0 mL/h, then 42, 84, 168, 336 mL/h
    # 30 min each delivers 10.5 + 21 + 42 + 84 = 157.5 mL in 120 min
    # remaining 192.5 mL at 336 mL/h = 34.375 -> 34.4 min; infusion 154.4 min
    # chair day 1 (first infusion) = 15 set-up + 154.4 + 60 observation = 229.4; day 2 = 15 + 154.4 + 20
    plan = plan_dose(req(phase="maintenance", first_infusion=True), CATALOG)
    day1, day2 = plan.days
    assert day1.volume_ml == 350.0
    assert [s.rate_ml_per_h for s in day1.steps] == [21.0, 42.0, 84.0, 168.0, 336.0]
    assert [s.start_min for s in day1.steps] == [0, 30, 60, 90, 120]
    assert day1.steps[-1].minutes == 34.4
    assert day1.infusion_min == 154.4
    assert day1.chair_min == 229.4
    assert day2.chair_min == 189.4
    assert [(v.size_g, v.count) for v in day1.vials] == [(20, 1), (10, 1), (5, 1)]


def test_gammagard_ml_per_kg_h_conversion() -> None:
    # 0.5 mL/kg/h of 100 mg/mL = 50 mg/kg/h = 0.8333 mg/kg/min; at 60 kg = 30 mL/h
    assert to_mg_per_kg_min(0.5, "ml_per_kg_h", 0.1) == pytest.approx(0.8333, abs=1e-4)
    assert ml_per_h(to_mg_per_kg_min(0.5, "ml_per_kg_h", 0.1), 60, 0.1) == pytest.approx(30.0)
    protocol = CATALOG.products["gammagard-liquid"].titration_for("pid")
    assert protocol is not None
    ladder = build_ladder(protocol, 0.1, 30, None)
    # doubling from 0.5 mL/kg/h to the 5 mL/kg/h maximum: 0.5, 1, 2, 4, 5 mL/kg/h -> x 60 kg
    assert [round(ml_per_h(r, 60, 0.1), 1) for r in ladder.rates_mg_per_kg_min] == [30, 60, 120, 240, 300]


def test_gammaplex_label_schedule_and_bivigam_increments() -> None:
    gammaplex = CATALOG.products["gammaplex-10"].titration_for("pid")
    assert gammaplex is not None
    ladder = build_ladder(gammaplex, 0.1, 30, None)
    # 0.005, 0.01, 0.02, 0.04, 0.06, 0.08 mL/kg/min x 100 mg/mL, every 15 min
    assert [round(r, 4) for r in ladder.rates_mg_per_kg_min] == [0.5, 1, 2, 4, 6, 8]
    assert ladder.minutes == (15, 15, 15, 15, 15)
    bivigam = CATALOG.products["bivigam"].titration_for("pid")
    assert bivigam is not None
    ladder = build_ladder(bivigam, 0.1, 30, None)
    # 0.5 for 10 min then +0.8 every 20 min: 1.3, 2.1, 2.9, 3.7, 4.5, 5.3, then the 6.0 maximum
    assert [round(r, 4) for r in ladder.rates_mg_per_kg_min] == [0.5, 1.3, 2.1, 2.9, 3.7, 4.5, 5.3, 6.0]
    assert ladder.minutes[0] == 10 and set(ladder.minutes[1:]) == {20}
    # thrombosis risk: the older label's ceiling of 2 mg/kg/min -> 0.5, 1.3, 2.0
    capped = build_ladder(bivigam, 0.1, 30, 2.0)
    assert [round(r, 4) for r in capped.rates_mg_per_kg_min] == [0.5, 1.3, 2.0]


def test_octagam_itp_at_risk_cap() -> None:
    plan = plan_dose(
        req(indication="itp-adult", phase="acute", product="octagam-10", risks=("thrombosis",)), CATALOG
    )
    rates = [s.rate_mg_per_kg_min for s in plan.days[0].steps]
    # label 1 -> 2 -> 4 -> 8 -> 12; cap 3.3 -> 1, 2, 3.3
    assert rates == [1.0, 2.0, 3.3]
    assert "rate_capped_for_risk" in plan.alert_codes and not plan.hard_stopped


def test_fewest_vials_and_rounding_rules() -> None:
    privigen = (5.0, 10.0, 20.0, 40.0)
    combo = fewest_vials(3500, privigen)
    assert combo is not None and [(v.size_g, v.count) for v in combo] == [(20, 1), (10, 1), (5, 1)]
    gammagard = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
    combo = fewest_vials(750, gammagard)
    assert combo is not None and [(v.size_g, v.count) for v in combo] == [(5, 1), (2.5, 1)]
    # 33.4 g prescribed, max 40: down -> 30, nearest -> 35, nearest-5g -> 35
    for rule, expected in (("down", 3000), ("nearest", 3500), ("nearest-5g", 3500)):
        vial_plan = plan_vials(33.4, 40.0, 1, privigen, rule, 5.0)  # type: ignore[arg-type]
        assert vial_plan is not None and vial_plan.course_cg == expected
    # nearest never goes above the maximum: 33.4 prescribed, max 33.4 -> 30
    vial_plan = plan_vials(33.4, 33.4, 1, privigen, "nearest")
    assert vial_plan is not None and vial_plan.course_cg == 3000
