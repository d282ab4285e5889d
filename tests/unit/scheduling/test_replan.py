"""Re-planning part of a multi-day course: the window a cancelled day keeps between the days that stay,
and which days a cancellation forces to move."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.scheduling.replan import CourseWindow, day_windows, released_by_cancelling

D = dt.date(2027, 3, 1)  # a Monday
GAP = (1, 3)
HORIZON = (dt.date(2027, 2, 1), dt.date(2027, 6, 30))
COURSE = CourseWindow(D, D + dt.timedelta(days=7), D)


def _day(k: int) -> dt.date:
    return D + dt.timedelta(days=k)


def test_a_cancelled_middle_day_may_only_move_between_its_neighbours() -> None:
    windows = day_windows(3, {0: _day(0), 2: _day(4)}, COURSE, GAP, HORIZON)
    w = windows[1]
    assert w is not None
    assert (w.lo, w.hi) == (_day(1), _day(3))


def test_with_no_date_left_the_later_days_move_and_the_earlier_stay() -> None:
    # Mon, Tue, Wed booked; Tue cancelled and the patient cannot come on Tuesday: Wed must move too.
    booked = {0: _day(0), 1: _day(1), 2: _day(2)}
    assert released_by_cancelling(3, booked, 1, COURSE, GAP, HORIZON, {_day(1)}) == {2}
    # Without the unavailable date, Tuesday itself is still possible: nothing else moves.
    assert released_by_cancelling(3, booked, 1, COURSE, GAP, HORIZON) == set()


def test_when_even_the_earlier_days_leave_no_date_the_whole_course_moves() -> None:
    # Day 1 cancelled, the patient cannot come on days 1-3 after day 0: no date within the gap of day 0.
    booked = {0: _day(0), 1: _day(1)}
    away = {_day(1), _day(2), _day(3)}
    assert released_by_cancelling(2, booked, 1, COURSE, GAP, HORIZON, away) == {0}


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=5),
    gaps=st.lists(st.integers(min_value=1, max_value=3), min_size=4, max_size=4),
    cancelled=st.integers(min_value=0, max_value=4),
    away=st.sets(st.integers(min_value=0, max_value=20), max_size=4),
)
def test_every_date_left_keeps_the_gaps_to_the_days_that_stay(
    n: int, gaps: list[int], cancelled: int, away: set[int]
) -> None:
    cancelled %= n
    dates = [D]
    for g in gaps[: n - 1]:
        dates.append(dates[-1] + dt.timedelta(days=g))
    booked = dict(enumerate(dates))
    blocked = {D + dt.timedelta(days=a) for a in away}
    released = released_by_cancelling(n, booked, cancelled, COURSE, GAP, HORIZON, blocked)
    assert cancelled not in released
    stays = {k: d for k, d in booked.items() if k != cancelled and k not in released}
    windows = day_windows(n, stays, COURSE, GAP, HORIZON, blocked)
    for k, w in windows.items():
        if not stays or w is None:
            continue
        for day in (w.lo, w.hi):
            assert day not in blocked
            for j, booked_day in stays.items():
                apart = (day - booked_day).days if j < k else (booked_day - day).days
                steps = abs(k - j)
                assert GAP[0] * steps <= apart <= GAP[1] * steps
    if not released:
        assert all(w is not None for w in windows.values())
