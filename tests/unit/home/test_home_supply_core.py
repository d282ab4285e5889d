"""The pure parts of home supply: judging logger readings against storage ranges, reading a logger's
export, and what a plan dict gives a delivery and the patient's log (vials, interval, SC figures)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.catalog.models import StorageRange
from igflow.home import plan_reading
from igflow.home.cold_chain import Reading, judge, parse_logger_text, range_words

AT = dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC)
FRIDGE = StorageRange(min_c=2, max_c=8)


@given(st.lists(st.floats(min_value=-30, max_value=45, allow_nan=False), max_size=30))
def test_a_reading_is_out_of_range_exactly_when_it_leaves_the_label_range(temps: list[float]) -> None:
    readings = [Reading(AT + dt.timedelta(minutes=k), t) for k, t in enumerate(temps)]
    judged = judge(readings, {"octagam-10": FRIDGE}, freezing_c=0)
    outside = {o.reading for o in judged.out_of_range}
    assert outside == {r for r in readings if not 2 <= r.celsius <= 8}
    assert judged.excursion == bool(outside)


def test_without_a_range_only_freezing_is_judged_and_the_product_is_named() -> None:
    judged = judge([Reading(AT, 30.0), Reading(AT, 0.0)], {"cuvitru": None}, freezing_c=0)
    assert judged.unknown_products == ("cuvitru",)
    assert [(o.reading.celsius, o.why) for o in judged.out_of_range] == [(0.0, "at or below freezing (0 °C)")]
    no_floor = judge([Reading(AT, 1.0), Reading(AT, 26.0)], {"hizentra": StorageRange(max_c=25)}, 0)
    assert [o.reading.celsius for o in no_floor.out_of_range] == [26.0]


def test_range_words() -> None:
    assert range_words(FRIDGE) == "2–8 °C" and range_words(StorageRange(max_c=25)) == "up to 25 °C"
    assert "pharmacist judges" in range_words(None)
    with pytest.raises(ValueError):
        StorageRange(min_c=8, max_c=2)


def test_a_logger_export_is_read_line_by_line() -> None:
    text = "Time;Temp\n2026-11-03 08:00;4.5\n\n2026-11-03T09:30, 5 C\n2026-11-03 10:00\t-0.5\n"
    assert parse_logger_text(text) == [
        (dt.datetime(2026, 11, 3, 8, 0), 4.5),
        (dt.datetime(2026, 11, 3, 9, 30), 5.0),
        (dt.datetime(2026, 11, 3, 10, 0), -0.5),
    ]
    with pytest.raises(ValueError, match="line 2"):
        parse_logger_text("2026-11-03 08:00, 4\nnot a reading")


SC_PLAN = {
    "route": "sc",
    "product": "cuvitru",
    "volume_ml": 50.0,
    "sites": 1,
    "ml_per_site": 50.0,
    "rate_ml_per_h_per_site": 20,
    "duration_min": 150,
    "vials": [{"size_g": 8, "count": 1}, {"size_g": 2, "count": 1}],
    "infusions": {
        "later": {"sites": 1, "ml_per_site": 50.0, "rate_ml_per_h_per_site": 60, "duration_min": 50}
    },
    "regimen": {"interval_days": 7, "interval_weeks": [1.0, 1.0]},
    "days": [{"day": 1, "vials": [{"size_g": 8, "count": 1}, {"size_g": 2, "count": 1}]}],
}


def test_an_sc_plan_gives_the_later_infusions_figures_and_its_interval() -> None:
    figures = plan_reading.sc_figures(SC_PLAN)
    assert (figures.volume_ml, figures.sites, figures.rate_ml_per_h_per_site, figures.duration_min) == (
        50,
        1,
        60,
        50,
    )
    assert figures.interval_days == 7 and figures.vials == [(8.0, 1), (2.0, 1)]
    weeks_only = {**SC_PLAN, "regimen": {"interval_weeks": [2.0, 2.0]}}
    assert plan_reading.interval_days(weeks_only) == 14


def test_an_iv_plans_cycle_is_every_day_of_it() -> None:
    iv = {
        "days": [
            {"vials": [{"size_g": 10, "count": 3}]},
            {"vials": [{"size_g": 10, "count": 2}, {"size_g": 5, "count": 1}]},
        ]
    }
    assert plan_reading.vials_per_infusion(iv) == [(10.0, 5), (5.0, 1)]
    assert plan_reading.interval_days(iv) is None
