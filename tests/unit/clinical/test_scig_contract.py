"""The SC plan dict (docs/dose-scig.md): worked examples with the arithmetic shown, the keys scheduling reads,
properties, and a test for every hard stop the contract adds to the planner's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.clinical.scig import ScigInputError, ScigRequest
from igflow.clinical.scig_contract import (
    RESOLVES,
    ScigContext,
    frequency_words,
    infusion_number_for,
    plan_sc,
)

CATALOG = load_catalog()
PID = ScigContext(indication="pid", phase="maintenance")


def _plan(product: str = "cuvitru", context: ScigContext = PID, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        product_id=product,
        previous_iv_dose_g=30.0,
        iv_interval_weeks=4.0,
        interval_days=7,
        weight_kg=70.0,
        age_years=40.0,
        infusion_number=1,
    )
    return plan_sc(ScigRequest(**{**base, **changes}), CATALOG, context)


def _stops(plan: dict[str, Any]) -> list[str]:
    return [a["code"] for a in plan["alerts"] if a["severity"] == "hard_stop"]


def test_cuvitru_switch_with_the_visit_time_and_the_keys_scheduling_reads() -> None:
    plan = _plan()
    assert plan["route"] == "sc" and plan["status"] == "ok" and plan["frequency"] == "weekly"
    # 30 g every 4 weeks x 1.30 = 9.75 g a week; 8 + 2 g vials = 10 g; 10 g / 0.2 g/mL = 50 mL
    assert plan["weekly_dose_g"] == 9.75 and plan["dispensed_g"] == 10 and plan["volume_ml"] == 50
    assert plan["vials"] == [{"size_g": 8, "count": 1}, {"size_g": 2, "count": 1}]
    # first 2 infusions >= 40 kg: 60 mL per site at 20 mL/h per site: 1 site, 50 / 20 h = 150 min
    assert (plan["sites"], plan["ml_per_site"], plan["rate_ml_per_h_per_site"]) == (1, 50, 20)
    assert plan["duration_min"] == 150 and plan["first_infusion"] is True
    assert plan["infusions"]["first"]["total_rate_ml_per_h"] == 20
    assert (
        plan["infusions"]["later"]["rate_ml_per_h_per_site"] == 60
        and plan["infusions"]["later"]["duration_min"] == 50
    )
    day = plan["days"][0]
    # set-up 15 + teaching 30 (igflow operational default) + 150 + first-infusion observation 60
    assert day["day"] == 1 and day["chair_min"] == 15 + 30 + 150 + 60 and day["steps"] == []
    assert plan["regimen"]["interval_weeks"] == [1.0, 1.0] and plan["priority"] == 3
    assert any("operational default" in s for s in plan["sources"])
    # a later infusion: 20 min observation, 50 min infusion
    later = _plan(infusion_number=3)
    assert later["days"][0]["chair_min"] == 15 + 30 + 50 + 20 and later["first_infusion"] is False


def test_every_two_weeks_is_scheduled_two_weeks_apart() -> None:
    plan = _plan(interval_days=14)
    assert plan["dose_per_infusion_g"] == 9.75 * 2 and plan["regimen"]["interval_weeks"] == [2.0, 2.0]
    assert plan["frequency"] == "every 2 weeks"


def test_hyqvia_ramp_up_and_its_stop() -> None:
    plan = _plan("hyqvia", interval_days=28)
    # the label's example, 30 g every 4 weeks: 7.5, 15, 22.5, 30 g in weeks 1, 2, 4, 7
    assert [(s["week"], s["dose_g"]) for s in plan["ramp_up"]] == [(1, 7.5), (2, 15), (4, 22.5), (7, 30)]
    assert plan["days"][0]["dispensed_g"] == 7.5 and plan["days"][0]["chair_min"] is None
    assert _stops(plan) == ["rate_not_in_catalog"]
    assert _stops(_plan("hyqvia", interval_days=7)) == ["rate_not_in_catalog", "frequency_not_allowed"]
    assert "frequency_not_allowed" in _stops(_plan("hyqvia", iv_interval_weeks=3.5, interval_days=28))


@pytest.mark.parametrize(
    ("product", "context", "changes", "code"),
    [
        ("hizentra", ScigContext(indication="cidp", phase="maintenance"), {}, "scig_indication_not_planned"),
        ("cuvitru", ScigContext(indication="pid", phase="induction"), {}, "scig_phase_not_planned"),
        (
            "hizentra",
            ScigContext(indication="pid", risks=("hyperprolinaemia",)),
            {},
            "hyperprolinaemia_proline_product",
        ),
        (
            "cuvitru",
            ScigContext(indication="pid", iga_deficient_with_antibodies=True),
            {},
            "iga_deficiency_with_antibodies",
        ),
        (
            "cuvitru",
            ScigContext(indication="pid", risks=("prior-severe-reaction",)),
            {},
            "prior_severe_reaction",
        ),
        ("cutaquig", ScigContext(indication="pid", risks=("hyperprolinaemia",)), {}, "product_data_unknown"),
        ("hizentra", PID, {"previous_iv_dose_g": 60.0}, "too_many_sites"),
    ],
)
def test_each_hard_stop_says_why_and_who_resolves_it(
    product: str, context: ScigContext, changes: dict[str, Any], code: str
) -> None:
    plan = _plan(product, context, **changes)
    assert plan["status"] == "hard_stop" and code in _stops(plan)
    stop = next(a for a in plan["alerts"] if a["code"] == code)
    assert stop["message"] and stop["resolves"] == RESOLVES[code]


def test_renal_risk_is_the_iv_boxed_warning_and_not_an_sc_stop() -> None:
    plan = _plan(context=ScigContext(indication="pid", risks=("renal",)))
    codes = [a["code"] for a in plan["alerts"]]
    assert "renal_risk" not in codes and "sucrose_product_at_renal_risk" not in codes
    assert "thrombosis_risk" in [
        a["code"] for a in _plan(context=ScigContext(indication="pid", risks=("thrombosis",)))["alerts"]
    ]


def test_without_an_indication_the_plan_says_what_was_not_checked() -> None:
    plan = _plan(context=ScigContext())
    assert plan["status"] == "ok" and "indication_not_given" in [a["code"] for a in plan["alerts"]]


def test_invalid_input_names_the_field() -> None:
    with pytest.raises(ScigInputError) as raised:
        _plan("privigen")
    assert raised.value.field == "product_id" and "intravenously" in raised.value.message
    for changes, field in (
        ({"interval_days": 0}, "interval_days"),
        ({"previous_iv_dose_g": -1.0}, "previous_iv_dose_g"),
    ):
        with pytest.raises(ScigInputError) as raised:
            _plan(**changes)
        assert raised.value.field == field
    with pytest.raises(ScigInputError, match="risk"):
        _plan(context=ScigContext(indication="pid", risks=("smoker",)))
    with pytest.raises(ScigInputError, match="indication"):
        _plan(context=ScigContext(indication="nonsense"))


def test_infusion_number_and_frequency_words() -> None:
    assert infusion_number_for("cuvitru", True, CATALOG) == 1
    assert infusion_number_for("cuvitru", False, CATALOG) == 3  # after the label's first 2
    assert infusion_number_for("hizentra", False, CATALOG) == 2
    assert [frequency_words(d) for d in (1, 3, 7, 14)] == ["daily", "every 3 days", "weekly", "every 2 weeks"]


@settings(max_examples=60, deadline=None)
@given(
    product=st.sampled_from(["cuvitru", "gammagard-liquid", "hizentra", "cutaquig"]),
    dose=st.floats(5, 120),
    weeks=st.sampled_from([3.0, 4.0]),
    interval=st.integers(1, 14),
    weight=st.floats(20, 150),
    infusion=st.integers(1, 6),
)
def test_the_day_is_what_the_plan_gives_and_scheduling_can_read_it(
    product: str, dose: float, weeks: float, interval: int, weight: float, infusion: int
) -> None:
    plan = _plan(
        product,
        previous_iv_dose_g=dose,
        iv_interval_weeks=weeks,
        interval_days=interval,
        weight_kg=weight,
        infusion_number=infusion,
    )
    assert plan["regimen"]["interval_weeks"] == [interval / 7, interval / 7]
    if plan["days"]:
        day = plan["days"][0]
        assert day["dispensed_g"] == pytest.approx(sum(v["size_g"] * v["count"] for v in day["vials"]))
        assert day["volume_ml"] == pytest.approx(
            day["dispensed_g"] / plan["concentration_g_per_ml"], abs=0.05
        )
    if plan["status"] == "ok":
        day = plan["days"][0]
        assert (
            day["chair_min"]
            == day["setup_min"] + day["teaching_min"] + day["infusion_min"] + day["observation_min"]
        )
        assert plan["total_rate_ml_per_h"] <= plan["sites"] * plan["rate_ml_per_h_per_site"] + 0.1
        assert plan["duration_min"] * plan["total_rate_ml_per_h"] / 60 >= plan["volume_ml"] - 1e-6
