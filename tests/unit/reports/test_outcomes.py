"""Outcomes: responders and non-responders per indication counted from the outcomes capability's verdicts,
and orders past their review date (through the pure core's ``review_due``), against figures by hand."""

from __future__ import annotations

from datetime import date

from igflow.reports import outcomes as oc

TODAY = date(2026, 12, 1)


def row(oid: int, indication: str, outcome: str, cycles: int = 3, **kw: object) -> oc.OrderOutcome:
    return oc.OrderOutcome(
        order_id=oid,
        patient_id=100 + oid,
        site_id=1,
        indication_id=indication,
        product_id="privigen",
        cycles_completed=cycles,
        review_after_cycles=2,
        outcome=outcome,
        last_cycle_on=date(2026, 11, 20),
        **kw,  # type: ignore[arg-type]
    )


ROWS = [
    row(1, "cidp", "improved"),
    row(2, "cidp", "improved"),
    row(3, "cidp", "no_meaningful_improvement"),
    row(4, "cidp", "not_yet_due", cycles=1),
    row(5, "itp", "cannot_judge"),
    row(6, "itp", "no_reading"),
    row(7, "mmn", "no_meaningful_improvement"),
]


def test_responders_per_indication_by_hand() -> None:
    groups = {g.indication_id: g for g in oc.per_indication(ROWS)}
    # CIDP: 2 responders, 1 non-responder -> 2 / 3 = 66.7 %; the order with 1 cycle is not yet due
    cidp = groups["cidp"]
    assert (cidp.responders, cidp.non_responders, round(cidp.share, 3)) == (2, 1, 0.667)
    # ITP: none judged (no sourced threshold; no reading) -> no share
    assert groups["itp"].share is None
    # MMN: 0 of 1
    assert groups["mmn"].share == 0.0
    table = oc.indication_table(list(groups.values()), str.upper, 2)
    first = table.rows[0]
    assert first == {
        "indication": "CIDP",
        "responders": 2,
        "non_responders": 1,
        "share_pct": 66.7,
        "cannot_judge": 0,
        "no_reading": 0,
        "not_yet_due": 1,
    }
    assert table.columns[1].label == "Responders after 2 cycles"


def test_past_review_by_hand() -> None:
    rows = [
        # decided 1 Oct with a 28-day interval: due 29 Oct, 33 days overdue on 1 Dec
        row(1, "cidp", "improved", last_decision_on=date(2026, 10, 1), review_in_days=28),
        # decided 20 Nov with 28 days: due 18 Dec, not yet
        row(2, "cidp", "improved", last_decision_on=date(2026, 11, 20), review_in_days=28),
        # a review raised 25 Nov with no decision since: due then, 6 days overdue
        row(3, "cidp", "no_meaningful_improvement", review_raised_on=date(2026, 11, 25)),
        # nothing set: never due
        row(4, "mmn", "improved"),
    ]
    past = oc.past_review(rows, TODAY)
    assert [(p.row.order_id, p.due_on, p.days_overdue) for p in past] == [
        (1, date(2026, 10, 29), 33),
        (3, date(2026, 11, 25), 6),
    ]
    assert "28-day review interval" in past[0].why
    table = oc.past_review_table(past, str.upper, lambda s: "North")
    assert table.rows[0]["due_on"] == date(2026, 10, 29) and table.rows[1]["days_overdue"] == 6
