"""Chair utilisation, the peak hour, first-case delay and check-in wait against a small data set computed by
hand (the arithmetic is in the comments), and a property: shares stay within [0, 1] and the minutes add up."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.reports import utilisation as u

MONDAY = date(2026, 11, 2)  # a Monday
TUESDAY = MONDAY + timedelta(days=1)
A = 1

CENTRE = u.CentreSetup(
    site_id=A,
    name="Centre A",
    chairs=2,
    patients_per_nurse=4,
    hours={0: u.OpeningHours(540, 720, 1), 1: u.OpeningHours(540, 660, 0)},  # Tuesday: no nurse
)


def test_the_weekday_is_right() -> None:
    assert MONDAY.weekday() == 0


def test_capacity_days_skip_days_without_a_nurse_and_closed_dates() -> None:
    days = u.centre_days([CENTRE], MONDAY, MONDAY + timedelta(days=7))
    # Mondays 2 and 9 November; Tuesday has no nurse; Wednesday to Sunday have no hours
    assert [d.day for d in days] == [MONDAY, MONDAY + timedelta(days=7)]
    # staffed chairs: min(2 chairs, 1 nurse x 4 patients) = 2
    assert {d.staffed_chairs for d in days} == {2}
    closed = u.CentreSetup(A, "Centre A", 2, 4, CENTRE.hours, frozenset({MONDAY}))
    assert [d.day for d in u.centre_days([closed], MONDAY, TUESDAY)] == []
    # nurses cap the chairs: 5 chairs, 1 nurse x 3 patients -> 3 staffed chairs
    capped = u.CentreSetup(A, "Centre A", 5, 3, {0: u.OpeningHours(540, 600, 1)})
    assert u.centre_days([capped], MONDAY, MONDAY)[0].staffed_chairs == 3


USES = [
    u.ChairUse(A, MONDAY, 540, 120),  # 09:00-11:00
    u.ChairUse(A, MONDAY, 570, 60),  # 09:30-10:30
    u.ChairUse(A, MONDAY, 600, 60),  # 10:00-11:00
    u.ChairUse(A, TUESDAY, 540, 30),  # Tuesday: the centre has no nurse (not open)
]


def test_utilisation_by_hand() -> None:
    days = u.centre_days([CENTRE], MONDAY, TUESDAY)
    report = u.utilisation(days, USES)
    centre = report.by_centre[A]
    # Monday open 09:00-12:00 = 180 min x 2 staffed chairs = 360 chair-minutes
    assert centre.capacity_min == 360
    # chairs in use per minute: 09:00-09:30 one, 09:30-10:00 two, 10:00-10:30 three (two within the two
    # staffed chairs, one beyond), 10:30-11:00 two, after 11:00 none:
    # within capacity 30x1 + 30x2 + 30x2 + 30x2 = 210
    assert centre.used_min == 210
    # beyond: 30 minutes x 1 chair on Monday + Tuesday's 30 minutes on a day not open = 60
    assert centre.outside_min == 60
    assert report.outside_days_min == 30
    assert round(centre.share, 4) == round(210 / 360, 4)  # 58.3 %
    assert centre.open_days == 1
    nine, ten, eleven = report.by_hour[(A, 9)], report.by_hour[(A, 10)], report.by_hour[(A, 11)]
    # 09:00: capacity 60 x 2 = 120; used 30x1 + 30x2 = 90; 1.5 chairs on average; two at once
    assert (nine.capacity_min, nine.used_min, nine.outside_min, nine.peak_chairs) == (120, 90, 0, 2)
    assert nine.mean_chairs == 1.5
    # 10:00: used 30x2 + 30x2 = 120 (the third chair's 30 minutes are beyond); three at once
    assert (ten.capacity_min, ten.used_min, ten.outside_min, ten.peak_chairs) == (120, 120, 30, 3)
    assert ten.mean_chairs == 2.0
    assert (eleven.used_min, eleven.share) == (0, 0.0)
    # the peak: 10:00-11:00, two chairs on average
    hour, cell = report.peak(A)
    assert hour == 10 and cell.mean_chairs == 2.0
    # by weekday: Monday holds all of it; Tuesday was not open
    assert report.by_weekday[(A, 0)].used_min == 210
    assert (A, 1) not in report.by_weekday


def test_centre_table_rows_by_hand() -> None:
    report = u.utilisation(u.centre_days([CENTRE], MONDAY, TUESDAY), USES)
    (row,) = u.centre_table(report).rows
    # 360 / 60 = 6 chair-hours; 210 / 60 = 3.5; 60 / 60 = 1; 210 / 360 = 58.3 %
    assert row == {
        "centre": "Centre A",
        "open_days": 1,
        "capacity_h": 6.0,
        "used_h": 3.5,
        "share_pct": 58.3,
        "outside_h": 1.0,
        "peak_hour": "10:00–11:00",
        "peak_mean": 2.0,
        "peak_chairs": 3,
    }


TIMES = [
    # Monday's first booked (09:00, 15 min set-up): checked in 08:55, started 09:20 -> delay 20 - 15 = 5,
    # wait 25
    u.InfusionTimes(A, MONDAY, 540, 15, 535, 560),
    # Monday's second: no check-in time -> no wait; not the first case
    u.InfusionTimes(A, MONDAY, 570, 10, None, 590),
    # Tuesday's only: booked 09:00, 15 min set-up, checked in 09:00, started 09:10 -> delay 10 - 15 = -5,
    # wait 10
    u.InfusionTimes(A, TUESDAY, 540, 15, 540, 550),
    # Monday at another centre, not started yet: its day has no first case
    u.InfusionTimes(2, MONDAY, 480, 15, 470, None),
]


def test_first_case_delay_and_wait_by_hand() -> None:
    cases = u.first_cases(TIMES)
    assert [(c.day, c.delay_min) for c in cases] == [(MONDAY, 5), (TUESDAY, -5)]
    waits = u.waits(TIMES)
    assert waits == {A: [25, 10]}
    (row,) = [r for r in u.start_table({A: "Centre A"}, cases, waits).rows]
    # delays -5 and 5: median (-5 + 5) / 2 = 0, p90 rank ceil(0.9 x 2) = 2 -> 5; none more than 15 late
    # waits 10 and 25: median 17.5, p90 25
    assert row == {
        "centre": "Centre A",
        "first_cases": 2,
        "delay_median": 0.0,
        "delay_p90": 5.0,
        "late_15": 0,
        "waits": 2,
        "wait_median": 17.5,
        "wait_p90": 25.0,
    }
    first = u.first_case_table({A: "Centre A"}, cases).rows[0]
    assert (first["booked"], first["started"], first["delay_min"]) == ("09:00", "09:20", 5)


def test_no_days_and_no_uses_give_no_cells() -> None:
    report = u.utilisation([], [])
    assert report.by_centre == {} and report.peak(A) is None
    assert u.centre_table(report).rows == ()


uses_strategy = st.lists(
    st.builds(
        u.ChairUse,
        site_id=st.just(A),
        day=st.sampled_from([MONDAY, TUESDAY, MONDAY + timedelta(days=2)]),
        start_min=st.integers(0, 1439),
        duration_min=st.integers(1, 600),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(
    uses=uses_strategy,
    chairs=st.integers(1, 6),
    nurses=st.integers(0, 3),
    per_nurse=st.integers(1, 4),
    open_min=st.integers(0, 700),
    span=st.integers(15, 700),
)
def test_shares_stay_within_0_and_1_and_minutes_add_up(
    uses: list[u.ChairUse], chairs: int, nurses: int, per_nurse: int, open_min: int, span: int
) -> None:
    hours = {d: u.OpeningHours(open_min, min(1440, open_min + span), nurses) for d in (0, 1)}
    centre = u.CentreSetup(A, "A", chairs, per_nurse, hours)
    days = u.centre_days([centre], MONDAY, MONDAY + timedelta(days=2))
    report = u.utilisation(days, uses)
    cells = [*report.by_centre.values(), *report.by_weekday.values(), *report.by_hour.values()]
    for cell in cells:
        assert 0 <= cell.used_min <= cell.capacity_min
        assert cell.share is None or 0.0 <= cell.share <= 1.0
        assert cell.outside_min >= 0
    booked = sum(min(1440, x.start_min + x.duration_min) - x.start_min for x in uses)
    if report.by_centre:
        total = report.by_centre[A]
        # every booked chair-minute is either within capacity or counted apart
        assert total.used_min + total.outside_min == booked
        assert total.used_min == sum(c.used_min for (s, _h), c in report.by_hour.items() if s == A)
        assert total.capacity_min == sum(c.capacity_min for (s, _w), c in report.by_weekday.items() if s == A)


def test_a_chart_gives_long_labels_more_room_when_asked() -> None:
    from igflow.reports.charts import Bar, bar_chart_svg

    bars = [Bar("Harbor View Infusion Centre", 12.0)]
    assert '<rect x="200"' in bar_chart_svg(bars, title="Delay", unit="min")  # the default stays
    wide = bar_chart_svg(bars, title="Delay", unit="min", label_width=240)
    assert '<rect x="240"' in wide and 'x="234"' in wide  # the label ends 6 before the bars
    assert 'font-size="12"' in wide and "min</text>" in wide  # the axis names its unit
