"""The prior-authorisation report's figures against a small data set worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from igflow.reports import prior_auth as pa

START, END, TODAY = date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1)


def at(day: int, hour: int = 9, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


REQUESTS = [
    pa.Request(1, "approved", date(2026, 10, 1), "Acme Health", end_date=date(2026, 11, 20), lead_days=30),
    pa.Request(2, "denied", date(2026, 10, 2), "Acme Health"),
    pa.Request(
        3, "appeal_approved", date(2026, 10, 3), "Bluebird", end_date=date(2026, 12, 20), lead_days=45
    ),
    pa.Request(4, "submitted", date(2026, 10, 4), "Bluebird"),
    pa.Request(5, "draft", date(2026, 9, 30), "Bluebird"),  # opened before the period
    pa.Request(6, "denied", date(2026, 10, 5), "Bluebird"),
    pa.Request(7, "approved", date(2026, 8, 1), "Acme Health", end_date=date(2026, 11, 10), continued=True),
]
EVENTS = [
    pa.Event(1, "submitted", at(1)),
    pa.Event(1, "approved", at(3)),  # 2.0 days
    pa.Event(2, "submitted", at(2)),
    pa.Event(2, "pended", at(4)),
    pa.Event(2, "submitted", at(6)),  # a resubmission does not restart the clock
    pa.Event(2, "denied", at(9, 21), reason="Not medically necessary"),  # 7 days 12 h = 7.5 days
    pa.Event(3, "submitted", at(3)),
    pa.Event(3, "denied", at(4), reason="not  medically necessary"),  # 1.0 day; same reason in other case
    pa.Event(3, "appeal_submitted", at(5)),
    pa.Event(3, "appeal_approved", at(12)),
    pa.Event(4, "submitted", at(4)),  # not decided: no turnaround
    pa.Event(6, "submitted", at(25)),
    pa.Event(6, "denied", at(2, month=11), reason="Missing lab report"),  # decided after the period
    pa.Event(6, "appeal_submitted", at(3, month=11)),
]


def test_requests_by_state_count_those_opened_in_the_period() -> None:
    # requests 1, 2, 3, 4, 6 were opened in October; 5 (September) and 7 (August) were not
    assert pa.by_state(REQUESTS, START, END) == {
        "denied": 2,
        "appeal_approved": 1,
        "approved": 1,
        "submitted": 1,
    }


def test_days_from_first_submission_to_first_decision_per_payer() -> None:
    # Acme: request 1 = 2.0 days, request 2 = 7.5 days -> median (2.0 + 7.5) / 2 = 4.75,
    #   p90 at rank ceil(1.8) = 2 -> 7.5
    # Bluebird: request 3 = 1.0 day (request 6 decided in November, outside) -> median 1.0, p90 1.0
    # every payer: [1.0, 2.0, 7.5] -> median 2.0, p90 rank ceil(2.7) = 3 -> 7.5
    rows = pa.turnaround(REQUESTS, EVENTS, START, END)
    assert [(r.payer, r.decided, r.median_days, r.p90_days) for r in rows] == [
        ("Acme Health", 2, 4.75, 7.5),
        ("Bluebird", 1, 1.0, 1.0),
        ("", 3, 2.0, 7.5),
    ]


def test_denials_by_reason_group_the_same_words_in_any_case() -> None:
    # requests 2 and 3 denied in October for the same reason (spacing and case differ); 6 in November.
    # The words shown are the earliest denial's (request 3, Oct 4), spaces tidied
    assert pa.denials_by_reason(REQUESTS, EVENTS, START, END) == [("not medically necessary", 2)]


def test_appeals_overturned() -> None:
    # one appeal decided in October (request 3), approved: 1 of 1 overturned; request 6's is undecided
    a = pa.appeals(REQUESTS, EVENTS, START, END)
    assert (a.decided, a.overturned, a.rate) == (1, 1, 1.0)
    assert a.interval is not None and a.interval[1] == 1.0 and a.interval[0] < 0.5


def test_authorisations_expiring_with_the_reauthorisation_lead_time() -> None:
    # request 7 ends Nov 10 (9 days: the 30-day window), lead 30 -> re-authorise from Oct 11; continued
    # request 1 ends Nov 20 (19 days: 30-day window), lead 30 -> from Oct 21: due, not continued
    # request 3 ends Dec 20 (49 days: 60-day window), lead 45 -> from Nov 5: not due yet
    items = pa.expiring(REQUESTS, TODAY)
    assert [(x.request.id, x.days_left, x.window_days, x.reauth_from, x.reauth_due) for x in items] == [
        (7, 9, 30, date(2026, 10, 11), False),
        (1, 19, 30, date(2026, 10, 21), True),
        (3, 49, 60, date(2026, 11, 5), False),
    ]
    assert pa.expiring_counts(items) == {30: 2, 60: 3}
