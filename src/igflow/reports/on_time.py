"""On-time therapy: the share of maintenance courses given within their window, and the courses left
waiting and why (PURE: plain rows in, figures out; ``today`` is passed in).

A course (one cycle of a verified plan) carries its target date and its window, ``earliest`` to ``latest``,
as the scheduling capability set it from the regimen's interval (``course.window_reason`` says how; a
scheduler may change it within the regimen's bounds, with a reason). The report reads those dates; it
sets no window of its own.

Each maintenance course whose target date falls in the period is, as of ``today``:

- ``on_time``: its first infusion (the first day's infusion as charted) on a date from earliest to latest;
- ``early`` / ``late``: given before the earliest or after the latest date;
- ``missed``: not given and its window has passed (latest before today);
- ``pending``: not given and its window has not passed (not counted in the share);
- ``cancelled``: the course was cancelled (not counted in the share).

Share on time = on time / (on time + early + late + missed).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from igflow.reports.table import Column, Table

STATES = ("on_time", "early", "late", "missed", "pending", "cancelled")
STATE_WORDS = {
    "on_time": "given in its window",
    "early": "given before its window",
    "late": "given after its window",
    "missed": "not given, window passed",
    "pending": "not given yet, window open",
    "cancelled": "cancelled",
}
JUDGED = ("on_time", "early", "late", "missed")


@dataclass(frozen=True)
class CourseRow:
    course_id: int
    patient_id: int
    site_id: int | None  # where it was given (or booked, or the patient's first centre)
    indication_id: str
    product_id: str
    target: date
    earliest: date
    latest: date
    status: str  # waiting | booked | completed | cancelled
    given_on: date | None  # the date of the course's first infusion, if one was given


def state(row: CourseRow, today: date) -> str:
    if row.given_on is not None:
        if row.given_on < row.earliest:
            return "early"
        if row.given_on > row.latest:
            return "late"
        return "on_time"
    if row.status == "cancelled":
        return "cancelled"
    return "missed" if row.latest < today else "pending"


@dataclass(frozen=True)
class Group:
    key: str  # an indication id or a centre's name
    counts: dict[str, int]

    @property
    def judged(self) -> int:
        return sum(self.counts.get(s, 0) for s in JUDGED)

    @property
    def share(self) -> float | None:
        return self.counts.get("on_time", 0) / self.judged if self.judged else None


def by(rows: Iterable[CourseRow], today: date, key: Callable[[CourseRow], str]) -> list[Group]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        counts[key(row)][state(row, today)] += 1
    return [Group(k, dict(c)) for k, c in sorted(counts.items())]


def overall(rows: Iterable[CourseRow], today: date) -> Group:
    return Group("All", dict(Counter(state(r, today) for r in rows)))


# --- waiting courses ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingRow:
    course_id: int
    patient_id: int
    site_id: int | None
    indication_id: str
    cycle: int
    target: date
    earliest: date
    latest: date
    waiting_since: date
    reason: str  # the kind of reason: closure | cancelled | no_show | home | not_booked
    words: str  # the reason as recorded (a closure's or a cancellation's reason), or "" when none


REASON_WORDS = {
    "closure": "Centre closed",
    "cancelled": "A booked day was cancelled",
    "no_show": "The patient did not come",
    "moved": "Moved by a planning run or by hand, not yet booked again",
    "home": "Given at home: waits for a home visit",
    "not_booked": "Not booked yet",
}


def window_state(row: WaitingRow, today: date) -> str:
    if row.latest < today:
        return "window passed"
    if row.earliest > today:
        return "window not open yet"
    return "in its window"


def waiting_groups(rows: Sequence[WaitingRow], today: date) -> list[dict[str, object]]:
    """Waiting courses per reason: how many, how many with their window passed, the longest wait."""
    out = []
    for reason in REASON_WORDS:
        items = [r for r in rows if r.reason == reason]
        if not items:
            continue
        out.append(
            {
                "reason": REASON_WORDS[reason],
                "courses": len(items),
                "window_passed": sum(1 for r in items if window_state(r, today) == "window passed"),
                "longest_wait_days": max((today - r.waiting_since).days for r in items),
            }
        )
    return out


# --- tables -------------------------------------------------------------------------------------------------


def _pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def _group_row(label_key: str, label: str, g: Group) -> dict[str, object]:
    return {
        label_key: label,
        **{s: g.counts.get(s, 0) for s in STATES},
        "judged": g.judged,
        "share_pct": _pct(g.share),
    }


_STATE_COLUMNS = (
    Column("on_time", "Given in the window", "courses"),
    Column("early", "Given early", "courses"),
    Column("late", "Given late", "courses"),
    Column("missed", "Not given, window passed", "courses"),
    Column("pending", "Window still open", "courses"),
    Column("cancelled", "Cancelled", "courses"),
    Column("judged", "Counted", "courses"),
    Column("share_pct", "On time", "%"),
)


def group_table(title: str, label: str, groups: Sequence[Group], words: Callable[[str], str]) -> Table:
    return Table(
        title,
        (Column("group", label), *_STATE_COLUMNS),
        tuple(_group_row("group", words(g.key), g) for g in groups),
        (
            "Maintenance courses whose target date is in the period. On time: the first infusion on a date "
            "from the course's earliest to its latest date (its window, set when the course was made from "
            "the regimen's interval). On time % = in the window / counted (in the window, early, late, "
            "not given with the window passed).",
        ),
    )


def waiting_table(groups: Sequence[dict[str, object]]) -> Table:
    return Table(
        "Courses waiting, by reason",
        (
            Column("reason", "Why waiting"),
            Column("courses", "Courses", "courses"),
            Column("window_passed", "Of which the window has passed", "courses"),
            Column("longest_wait_days", "Longest wait", "days"),
        ),
        tuple(groups),
    )
