"""The pure prior-authorisation core: bookings against a grant, due dates, queue order, packet items."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from igflow.authorizations.core import (
    ChartFacts,
    Grant,
    PlanFacts,
    PrescriberFacts,
    QueueEntry,
    TimeFrame,
    Use,
    assess_packet,
    check_use,
    due_at,
    queue_order,
)
from igflow.catalog import load_catalog

START = dt.date(2026, 12, 1)


def _grant(infusions: int | None = 6, grams: float | None = None, days: int = 90) -> Grant:
    return Grant(
        1, "REF", ("privigen",), grams, infusions, "facility", START, START + dt.timedelta(days=days)
    )


def _use(day: int, grams: float = 30.0, product: str = "privigen") -> Use:
    return Use(START + dt.timedelta(days=day), grams, product, "facility")


@given(used=st.integers(0, 10), new=st.integers(1, 5), limit=st.integers(0, 12))
def test_infusions_beyond_the_grant_are_found_and_within_are_not(used: int, new: int, limit: int) -> None:
    findings = check_use(
        _grant(infusions=limit), [_use(k) for k in range(used)], [_use(20 + k) for k in range(new)]
    )
    over = used + new > limit
    assert any(f.code == "infusions" for f in findings) == over
    assert all(f.code == "infusions" for f in findings)


@given(grams=st.floats(1, 200), limit=st.floats(1, 400))
def test_grams_beyond_the_grant_are_found(grams: float, limit: float) -> None:
    findings = check_use(_grant(infusions=None, grams=limit), [], [_use(3, grams)])
    assert any(f.code == "grams" for f in findings) == (grams > limit + 1e-9)


def test_dates_product_and_no_grant() -> None:
    assert [f.code for f in check_use(None, [], [_use(1)])] == ["no_authorisation"]
    codes = {f.code for f in check_use(_grant(days=10), [], [_use(-1), _use(11)])}
    assert {"before_start", "after_end"} <= codes
    assert [f.code for f in check_use(_grant(), [], [_use(2, product="octagam-10")])] == ["product"]
    assert check_use(_grant(), [], []) == []


@given(hours=st.integers(1, 200), days=st.integers(1, 30))
def test_due_dates_follow_urgency(hours: int, days: int) -> None:
    sent = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    frame = TimeFrame(days, hours, "CMS-0057-F")
    assert due_at(sent, "expedited", frame) == sent + dt.timedelta(hours=hours)
    assert due_at(sent, "standard", frame) == sent + dt.timedelta(days=days)
    assert due_at(sent, "standard", None) is None


@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 100) | st.none(), st.integers(0, 100)),
        min_size=1,
        max_size=20,
    )
)
def test_the_queue_puts_expedited_first_then_the_earliest_due(
    rows: list[tuple[bool, int | None, int]],
) -> None:
    base = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    entries = [
        QueueEntry(
            k,
            "expedited" if exp else "standard",
            None if due is None else base + dt.timedelta(hours=due),
            base - dt.timedelta(hours=age),
        )
        for k, (exp, due, age) in enumerate(rows)
    ]
    ordered = queue_order(entries)
    kinds = [e.urgency for e in ordered]
    assert kinds == sorted(kinds, key=lambda u: u != "expedited")
    for a, b in itertools.pairwise(ordered):
        if a.urgency == b.urgency and a.due_at and b.due_at:
            assert a.due_at <= b.due_at
        if a.urgency == b.urgency and a.due_at is None:
            assert b.due_at is None


def test_the_aetna_pid_packet_needs_the_igg_level_and_a_reading_satisfies_it() -> None:
    policy = load_catalog().payers.policy("aetna-cpb-0206")
    facts = ChartFacts(
        icd10_code="D83.9",
        diagnosis_text="CVID",
        plan=PlanFacts("privigen", "Privigen", 28.0, 1, None, 4.0, "facility"),
        prescriber=PrescriberFacts("Dr Synthetic", "1234567890", "Immunology"),
    )
    items = {i.requirement_id: i for i in assess_packet(policy.requirements_for("pid"), facts, START)}
    assert not items["igg"].satisfied and "outcomes page" in items["igg"].missing
    assert items["diagnosis"].satisfied and items["npi"].satisfied
    from igflow.authorizations.core import ReadingFact

    with_lab = ChartFacts(
        **{**facts.__dict__, "readings": (ReadingFact("igg-trough", "IgG", 3.0, "g/L", START),)}
    )
    again = {i.requirement_id: i for i in assess_packet(policy.requirements_for("pid"), with_lab, START)}
    assert again["igg"].satisfied and "3 g/L" in again["igg"].evidence
