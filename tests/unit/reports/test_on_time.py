"""On-time therapy against a small set of courses classified by hand, the waiting list by reason, and a
property: the groups add up to the whole and the share stays within [0, 1]."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.reports import on_time as ot

TODAY = date(2026, 12, 1)
N, S = 1, 2


def course(
    cid: int, site: int, indication: str, given_on: date | None, status: str = "completed"
) -> ot.CourseRow:
    # every course: target 10 November, window 7 to 14 November
    return ot.CourseRow(
        cid,
        100 + cid,
        site,
        indication,
        "privigen",
        date(2026, 11, 10),
        date(2026, 11, 7),
        date(2026, 11, 14),
        status,
        given_on,
    )


ROWS = [
    course(1, N, "cidp", date(2026, 11, 10)),  # on the target: on time
    course(2, N, "cidp", date(2026, 11, 14)),  # the latest date: on time
    course(3, N, "cidp", date(2026, 11, 16)),  # two days after the latest: late
    course(4, S, "cidp", date(2026, 11, 6)),  # a day before the earliest: early
    course(5, S, "mmn", None, "waiting"),  # not given, window passed (14 Nov < 1 Dec): missed
    course(6, S, "mmn", None, "cancelled"),  # cancelled: not counted
    ot.CourseRow(
        7, 107, S, "mmn", "privigen", date(2026, 12, 3), date(2026, 11, 30), date(2026, 12, 6), "booked", None
    ),  # window open on 1 Dec: pending, not counted
]


def test_states_by_hand() -> None:
    assert [ot.state(r, TODAY) for r in ROWS] == [
        "on_time",
        "on_time",
        "late",
        "early",
        "missed",
        "cancelled",
        "pending",
    ]


def test_share_by_indication_and_centre_by_hand() -> None:
    total = ot.overall(ROWS, TODAY)
    # counted: on time 2 + early 1 + late 1 + missed 1 = 5; on time 2 / 5 = 40 %
    assert (total.judged, total.share) == (5, 0.4)
    by_indication = {g.key: g for g in ot.by(ROWS, TODAY, lambda r: r.indication_id)}
    # CIDP: 2 on time, 1 late, 1 early -> 2 / 4 = 50 %
    assert (by_indication["cidp"].judged, by_indication["cidp"].share) == (4, 0.5)
    # MMN: 1 missed counted, 1 cancelled and 1 pending not -> 0 / 1 = 0 %
    assert (by_indication["mmn"].judged, by_indication["mmn"].share) == (1, 0.0)
    by_centre = {g.key: g for g in ot.by(ROWS, TODAY, lambda r: "North" if r.site_id == N else "South")}
    # North: courses 1, 2 on time, 3 late -> 2 / 3; South: 4 early, 5 missed -> 0 / 2
    assert round(by_centre["North"].share, 4) == round(2 / 3, 4)
    assert by_centre["South"].share == 0.0
    table = ot.group_table("t", "Centre", list(by_centre.values()), lambda k: k)
    north = table.rows[0]
    assert (north["group"], north["on_time"], north["late"], north["judged"], north["share_pct"]) == (
        "North",
        2,
        1,
        3,
        66.7,
    )


def waiting(cid: int, reason: str, latest: date, since: date) -> ot.WaitingRow:
    return ot.WaitingRow(
        cid,
        200 + cid,
        N,
        "cidp",
        2,
        latest - timedelta(days=3),
        latest - timedelta(days=6),
        latest,
        since,
        reason,
        "",
    )


def test_waiting_by_reason_by_hand() -> None:
    rows = [
        waiting(1, "closure", date(2026, 11, 28), date(2026, 11, 20)),  # window passed, 11 days waiting
        waiting(2, "closure", date(2026, 12, 5), date(2026, 11, 25)),  # in its window (29 Nov to 5 Dec)
        waiting(3, "cancelled", date(2026, 12, 20), date(2026, 11, 30)),  # window opens 14 Dec
        waiting(4, "not_booked", date(2026, 11, 30), date(2026, 11, 1)),  # passed, 30 days
    ]
    assert [ot.window_state(r, TODAY) for r in rows] == [
        "window passed",
        "in its window",
        "window not open yet",
        "window passed",
    ]
    assert ot.waiting_groups(rows, TODAY) == [
        {"reason": "Centre closed", "courses": 2, "window_passed": 1, "longest_wait_days": 11},
        {"reason": "A booked day was cancelled", "courses": 1, "window_passed": 0, "longest_wait_days": 1},
        {"reason": "Not booked yet", "courses": 1, "window_passed": 1, "longest_wait_days": 30},
    ]


day = st.dates(date(2026, 10, 1), date(2026, 12, 31))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            day,
            st.integers(0, 20),
            st.one_of(st.none(), day),
            st.sampled_from(["waiting", "booked", "completed", "cancelled"]),
            st.sampled_from(["cidp", "mmn", "itp"]),
        ),
        max_size=30,
    ),
    day,
)
def test_groups_add_up_and_the_share_stays_within_0_and_1(items: list, today: date) -> None:
    rows = [
        ot.CourseRow(
            i, i, 1, ind, "p", earliest, earliest, earliest + timedelta(days=width), status, given_on
        )
        for i, (earliest, width, given_on, status, ind) in enumerate(items)
    ]
    total = ot.overall(rows, today)
    groups = ot.by(rows, today, lambda r: r.indication_id)
    assert sum(sum(g.counts.values()) for g in groups) == len(rows) == sum(total.counts.values())
    assert sum(g.judged for g in groups) == total.judged
    for g in [*groups, total]:
        assert g.share is None or 0.0 <= g.share <= 1.0
