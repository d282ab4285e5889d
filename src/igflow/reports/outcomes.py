"""Outcomes: responders and non-responders per indication after the catalog's number of cycles, and
patients past their review date (PURE: plain rows in, figures out; ``today`` is passed in).

Each row is one active order's response as the outcomes capability judges it (its service's ``evaluate``,
the pure core's ``evaluate_course`` over the order's completed cycles and readings, thresholds from the
catalog with their sources); this module only counts those verdicts, it judges nothing again:

- responder: ``improved`` (the primary measure improved beyond its sourced threshold);
- non-responder: ``no_meaningful_improvement`` after N cycles (N: the catalog's
  ``course_rules.no_improvement_review_after_cycles``);
- cannot judge (no sourced threshold: the prescriber decides), no reading of the primary measure, and not
  yet due (fewer than N cycles) are counted beside them, never as either.

Response % = responders / (responders + non-responders).

Past the review date: the review interval set at the order's last decision (``review_in_days``) has passed
(the pure core's ``review_due``), or a review was raised and no decision has been recorded since.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from igflow.clinical.response import CourseOutcome, review_due
from igflow.reports.table import Column, Table

RESPONDER = CourseOutcome.IMPROVED.value
NON_RESPONDER = CourseOutcome.NO_MEANINGFUL_IMPROVEMENT.value
OUTCOME_ORDER = (
    RESPONDER,
    NON_RESPONDER,
    CourseOutcome.CANNOT_JUDGE.value,
    CourseOutcome.NO_READING.value,
    CourseOutcome.NOT_YET_DUE.value,
)


@dataclass(frozen=True)
class OrderOutcome:
    order_id: int
    patient_id: int
    site_id: int | None
    indication_id: str
    product_id: str
    cycles_completed: int
    review_after_cycles: int | None
    outcome: str  # a CourseOutcome value, from the outcomes capability
    last_cycle_on: date | None  # the date the last completed cycle ended
    last_decision_on: date | None = None
    review_in_days: int | None = None  # the interval set at the last decision
    review_raised_on: date | None = None  # the earliest review raised since the last decision


@dataclass(frozen=True)
class IndicationCounts:
    indication_id: str
    counts: dict[str, int]

    @property
    def responders(self) -> int:
        return self.counts.get(RESPONDER, 0)

    @property
    def non_responders(self) -> int:
        return self.counts.get(NON_RESPONDER, 0)

    @property
    def share(self) -> float | None:
        judged = self.responders + self.non_responders
        return self.responders / judged if judged else None


def per_indication(rows: Iterable[OrderOutcome]) -> list[IndicationCounts]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        counts[row.indication_id][row.outcome] += 1
    return [IndicationCounts(k, dict(v)) for k, v in sorted(counts.items())]


@dataclass(frozen=True)
class PastReview:
    row: OrderOutcome
    due_on: date
    days_overdue: int
    why: str


def past_review(rows: Iterable[OrderOutcome], today: date) -> list[PastReview]:
    """Orders past their review date, the longest overdue first."""
    out: list[PastReview] = []
    for row in rows:
        due: list[tuple[date, str]] = []
        if row.last_decision_on is not None and row.review_in_days:
            interval = review_due(row.last_decision_on, row.review_in_days, max(today, row.last_decision_on))
            if interval.passed:
                due.append(
                    (
                        interval.due_date,
                        f"the {row.review_in_days}-day review interval set at the last decision",
                    )
                )
        if row.review_raised_on is not None and row.review_raised_on <= today:
            due.append((row.review_raised_on, "a review was raised and no decision is recorded since"))
        if due:
            when, why = min(due)
            out.append(PastReview(row, when, (today - when).days, why))
    return sorted(out, key=lambda p: (-p.days_overdue, p.row.order_id))


# --- tables -------------------------------------------------------------------------------------------------


def indication_table(
    groups: Sequence[IndicationCounts], words: Callable[[str], str], cycles: int | None
) -> Table:
    after = f"after {cycles} cycles" if cycles else "after the catalog's number of cycles"
    return Table(
        "Response per indication",
        (
            Column("indication", "Indication"),
            Column("responders", f"Responders {after}", "orders"),
            Column("non_responders", f"Non-responders {after}", "orders"),
            Column("share_pct", "Responders of those judged", "%"),
            Column("cannot_judge", "Cannot judge (no sourced threshold)", "orders"),
            Column("no_reading", "No reading of the primary measure", "orders"),
            Column("not_yet_due", f"Fewer than {cycles or 'N'} cycles", "orders"),
        ),
        tuple(
            {
                "indication": words(g.indication_id),
                "responders": g.responders,
                "non_responders": g.non_responders,
                "share_pct": None if g.share is None else round(g.share * 100, 1),
                "cannot_judge": g.counts.get(CourseOutcome.CANNOT_JUDGE.value, 0),
                "no_reading": g.counts.get(CourseOutcome.NO_READING.value, 0),
                "not_yet_due": g.counts.get(CourseOutcome.NOT_YET_DUE.value, 0),
            }
            for g in groups
        ),
        (
            "Active orders whose last completed cycle ended in the period, judged by the outcomes "
            "capability (the primary measure against its sourced threshold, from baseline to the latest "
            "reading after a cycle).",
        ),
    )


def past_review_table(
    items: Sequence[PastReview], words: Callable[[str], str], sites: Callable[[int | None], str]
) -> Table:
    return Table(
        "Past their review date",
        (
            Column("indication", "Indication"),
            Column("centre", "Centre"),
            Column("cycles", "Cycles completed", "cycles"),
            Column("due_on", "Review due"),
            Column("days_overdue", "Overdue", "days"),
            Column("why", "Why due"),
        ),
        tuple(
            {
                "indication": words(p.row.indication_id),
                "centre": sites(p.row.site_id),
                "cycles": p.row.cycles_completed,
                "due_on": p.due_on,
                "days_overdue": p.days_overdue,
                "why": p.why,
            }
            for p in items
        ),
        ("Every active order as of today, whatever the period.",),
    )
