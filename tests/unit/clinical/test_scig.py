"""SCIG plans from an IV regimen: worked examples from the labels' arithmetic, properties, every hard stop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.clinical.scig import ScigInputError, ScigRequest, plan_scig

CATALOG = load_catalog()


def _plan(product: str = "cuvitru", **changes: object) -> object:
    base = dict(
        product_id=product,
        previous_iv_dose_g=30.0,
        iv_interval_weeks=4.0,
        interval_days=7,
        weight_kg=70.0,
        age_years=40.0,
        infusion_number=1,
    )
    return plan_scig(ScigRequest(**{**base, **changes}), CATALOG)  # type: ignore[arg-type]


def test_cuvitru_worked_example() -> None:
    # 30 g every 4 weeks x 1.30 = 9.75 g a week; whole vials (1, 2, 4, 8 g) nearest: 10 g = 8 + 2
    plan = _plan()
    assert plan.weekly_dose_g == 9.75 and plan.dose_per_infusion_g == 9.75
    assert plan.dispensed_g == 10.0 and plan.vials == {8.0: 1, 2.0: 1}
    # 10 g at 20% = 50 mL; first two infusions (>= 40 kg): <= 60 mL/site at 20 mL/h/site: 1 site, 150 min
    assert plan.volume_ml == 50.0 and plan.sites == 1 and plan.rate_per_site_ml_per_h == 20
    assert plan.duration_min == 150
    later = _plan(infusion_number=3)  # later: up to 60 mL/h/site: 50 min
    assert later.rate_per_site_ml_per_h == 60 and later.duration_min == 50
    assert any("1.30" in s for s in plan.sources)


def test_every_two_weeks_is_twice_the_weekly_dose() -> None:
    plan = _plan(interval_days=14)
    assert plan.dose_per_infusion_g == 19.5  # 9.75 x 2


def test_too_many_sites_is_a_hard_stop_that_offers_a_split_that_fits() -> None:
    # Hizentra: 60 g / 4 weeks x 1.37 = 20.55 g a week -> 21 g, 105 mL;
    # first infusion 15 mL/site = 7 sites > 4
    plan = _plan("hizentra", previous_iv_dose_g=60.0)
    assert plan.weekly_dose_g == 20.55 and plan.hard_stopped
    assert [a.code for a in plan.alerts if a.severity == "hard_stop"] == ["too_many_sites"]
    # every 4 days: 20.55 x 4 / 7 = 11.7 g = 58.7 mL -> 4 sites of 15 mL
    assert plan.suggested_interval_days == 4
    later = _plan("hizentra", previous_iv_dose_g=60.0, infusion_number=2)  # 25 mL/site: every 6 days fits
    assert later.suggested_interval_days == 6


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"product": "xembify"}, "conversion_unknown"),
        ({"product": "hyqvia"}, "scig_not_in_catalog"),
        ({"interval_days": 21}, "frequency_not_allowed"),
        ({"age_years": 1.0, "weight_kg": 10.0}, "no_site_limits"),
        ({"product": "gammagard-liquid", "interval_days": 3}, "frequency_not_allowed"),
    ],
)
def test_each_hard_stop_says_why(changes: dict[str, object], code: str) -> None:
    product = str(changes.pop("product", "cuvitru"))
    plan = _plan(product, **changes)
    stops = [a for a in plan.alerts if a.severity == "hard_stop"]
    assert [a.code for a in stops] == [code] and stops[0].message


def test_unknown_site_count_asks_the_pharmacist() -> None:
    plan = _plan("cutaquig")
    assert not plan.hard_stopped and any(a.code == "sites_unknown" for a in plan.alerts)


def test_input_out_of_range_is_refused_with_the_field() -> None:
    with pytest.raises(ScigInputError, match="iv_interval_weeks"):
        _plan(iv_interval_weeks=0.0)
    with pytest.raises(ScigInputError, match="product_id"):
        _plan("nonsense")


@given(
    product=st.sampled_from(["cuvitru", "gammagard-liquid", "hizentra", "cutaquig"]),
    dose=st.floats(5, 120),
    weeks=st.sampled_from([3.0, 4.0]),
    interval=st.integers(1, 14),
    weight=st.floats(20, 150),
    infusion=st.integers(1, 6),
)
def test_plans_stay_within_the_label(
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
    if plan.hard_stopped:
        return
    entry = CATALOG.scig.for_product(product)
    band = next(b for b in entry.bands if weight >= b.min_weight_kg and b.min_age_years <= 40)
    limits = band.first if infusion <= (entry.first_infusions.value or 1) else band.later
    sizes = CATALOG.products[product].vial_sizes_g.value or []
    assert plan.volume_per_site_ml is not None and plan.volume_per_site_ml <= limits.volume_per_site_ml + 0.05
    assert entry.max_sites.value is None or (plan.sites or 0) <= entry.max_sites.value
    assert plan.dispensed_g == pytest.approx(sum(size * n for size, n in plan.vials.items()))
    assert abs((plan.dispensed_g or 0) - (plan.dose_per_infusion_g or 0)) <= min(sizes) + 0.01
    assert (plan.duration_min or 0) * (plan.total_rate_ml_per_h or 0) / 60 >= (plan.volume_ml or 0) - 1e-6


def test_hyqvia_ramp_up_follows_the_label_example() -> None:
    from igflow.clinical.scig import plan_hyqvia

    # the label's example, 30 g every 4 weeks:
    # 7.5 g in week 1, 15 g in week 2, 22.5 g in week 4, 30 g in week 7
    plan = plan_hyqvia(30.0, 4, 70.0, 40.0, CATALOG)
    # the ramp-up is planned; the IG rate is not in the catalog, so the plan stops (and says why)
    assert [a.code for a in plan.alerts if a.severity == "hard_stop"] == ["rate_not_in_catalog"]
    assert [(s.week, s.covers_weeks, s.dose_g) for s in plan.steps] == [
        (1, 1, 7.5),
        (2, 2, 15.0),
        (4, 3, 22.5),
        (7, 4, 30.0),
    ]
    # whole vials (2.5, 5, 10, 20, 30 g) at 10%: 75, 150, 225, 300 mL, one site each (<= 600 mL)
    assert [s.volume_ml for s in plan.steps] == [75.0, 150.0, 225.0, 300.0] and {
        s.sites for s in plan.steps
    } == {1}
    three = plan_hyqvia(30.0, 3, 70.0, 40.0, CATALOG)
    assert [s.week for s in three.steps] == [1, 2, 4] and three.steps[-1].dose_g == 30.0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((30.0, 2, 70.0, 40.0), "frequency_not_allowed"),
        ((30.0, 4, 30.0, 8.0), "no_site_limits"),
        ((160.0, 4, 90.0, 40.0), "too_much_volume"),
    ],
)
def test_hyqvia_hard_stops(args: tuple[float, int, float, float], code: str) -> None:
    from igflow.clinical.scig import plan_hyqvia

    plan = plan_hyqvia(*args, CATALOG)
    assert [a.code for a in plan.alerts if a.severity == "hard_stop"] == [code]
