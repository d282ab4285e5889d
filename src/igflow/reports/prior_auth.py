"""The prior-authorisation report, pure: requests by state, days from submission to decision per payer
(median and p90), denials by reason, appeals overturned, and authorisations about to expire.

Input is plain rows (:class:`Request`, :class:`Event`); the service reads them through the site scope.
What counts where, for a period ``[start, end]`` (dates, both included):

* **Requests by state**: requests opened (created) in the period, by the state they are in now.
* **Days to decision**: for each request whose *first* payer decision (approved, partially approved,
  denied) falls in the period, the time from its *first* submission to that decision, in days (hours / 24,
  to one decimal). A pend and a resubmission do not restart the clock: the wait is what the patient waited.
  Median and p90 as :mod:`igflow.reports.stats` defines them.
* **Denials by reason**: denial decisions in the period by the payer's reason (the same words, any case,
  count together).
* **Appeals**: appeals decided in the period; *overturned* = approved on appeal.
* **Expiring**: granted authorisations whose end date is within the next 30 or 60 days of ``today``
  (not the period), each with the day its re-authorisation should start: the end date minus the payer's
  re-authorisation lead time (the payer's own in the directory, else the catalog's, ``payers.yaml``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from igflow.reports.stats import median, p90, wilson_interval

DECISIONS = ("approved", "partially_approved", "denied")
APPEAL_DECISIONS = ("appeal_approved", "appeal_denied")
GRANTED = ("approved", "partially_approved", "appeal_approved")
EXPIRY_WINDOWS_DAYS = (30, 60)


@dataclass(frozen=True)
class Request:
    id: int
    status: str
    created_on: date
    payer: str  # the payer's name ("" when the coverage names none)
    end_date: date | None = None  # of a granted authorisation
    lead_days: int = 30  # the payer's re-authorisation lead time
    continued: bool = False  # a re-authorisation request names this one
    patient_id: int = 0  # only to link the page to the request; never in a download's audit
    product: str = ""
    centre: str = ""


@dataclass(frozen=True)
class Event:
    request_id: int
    to_status: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class Turnaround:
    payer: str
    decided: int
    median_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class Appeals:
    decided: int
    overturned: int
    interval: tuple[float, float] | None

    @property
    def rate(self) -> float | None:
        return self.overturned / self.decided if self.decided else None


@dataclass(frozen=True)
class Expiring:
    request: Request
    days_left: int
    reauth_from: date  # end date minus the lead time
    window_days: int  # 30 or 60: the first window it falls in
    reauth_due: bool  # the re-authorisation should have started (lead time reached) and none continues it


def in_period(day: date, start: date, end: date) -> bool:
    return start <= day <= end


def by_state(requests: Iterable[Request], start: date, end: date) -> dict[str, int]:
    """Requests opened in the period, counted by their state now (most first, then by name)."""
    counts = Counter(r.status for r in requests if in_period(r.created_on, start, end))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _first(events: Iterable[Event], statuses: tuple[str, ...]) -> dict[int, Event]:
    out: dict[int, Event] = {}
    for e in sorted(events, key=lambda e: (e.at, e.to_status)):
        if e.to_status in statuses and e.request_id not in out:
            out[e.request_id] = e
    return out


def days_between(first: datetime, then: datetime) -> float:
    """Days from ``first`` to ``then`` (hours / 24), to one decimal, never below zero."""
    return round(max(0.0, (then - first).total_seconds()) / 86400, 1)


def decision_days(
    requests: Iterable[Request], events: Iterable[Event], start: date, end: date
) -> dict[int, float]:
    """Request id -> days from its first submission to its first decision (first decisions in the period)."""
    events = list(events)
    submitted, decided = _first(events, ("submitted",)), _first(events, DECISIONS)
    ids = {r.id for r in requests}
    return {
        rid: days_between(submitted[rid].at, d.at)
        for rid, d in decided.items()
        if rid in ids and rid in submitted and in_period(d.at.date(), start, end)
    }


def turnaround(
    requests: Iterable[Request], events: Iterable[Event], start: date, end: date
) -> list[Turnaround]:
    """Per payer (by name), then every payer together (payer ``""`` last): decisions, median and p90 days."""
    requests = list(requests)
    payer_of = {r.id: r.payer for r in requests}
    days = decision_days(requests, events, start, end)
    per: dict[str, list[float]] = defaultdict(list)
    for rid, d in days.items():
        per[payer_of[rid]].append(d)
    rows = [Turnaround(p, len(v), median(v), p90(v)) for p, v in sorted(per.items())]
    if days:
        every = list(days.values())
        rows.append(Turnaround("", len(every), median(every), p90(every)))
    return rows


def denials_by_reason(
    requests: Iterable[Request], events: Iterable[Event], start: date, end: date
) -> list[tuple[str, int]]:
    """(reason as first written, count) for denials in the period, most first."""
    ids = {r.id for r in requests}
    counts: Counter[str] = Counter()
    words: dict[str, str] = {}
    for e in sorted(events, key=lambda e: e.at):
        if e.to_status == "denied" and e.request_id in ids and in_period(e.at.date(), start, end):
            key = " ".join(e.reason.split()).casefold() or "(no reason given)"
            words.setdefault(key, " ".join(e.reason.split()) or "no reason given")
            counts[key] += 1
    return [(words[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def appeals(requests: Iterable[Request], events: Iterable[Event], start: date, end: date) -> Appeals:
    ids = {r.id for r in requests}
    outcomes = [
        e.to_status
        for e in events
        if e.to_status in APPEAL_DECISIONS and e.request_id in ids and in_period(e.at.date(), start, end)
    ]
    overturned = outcomes.count("appeal_approved")
    return Appeals(len(outcomes), overturned, wilson_interval(overturned, len(outcomes)))


def expiring(requests: Iterable[Request], today: date) -> list[Expiring]:
    """Granted authorisations ending today or within the longest window, soonest first."""
    horizon = today + timedelta(days=max(EXPIRY_WINDOWS_DAYS))
    out = []
    for r in requests:
        if r.status not in GRANTED or r.end_date is None or not today <= r.end_date <= horizon:
            continue
        left = (r.end_date - today).days
        window = next(w for w in EXPIRY_WINDOWS_DAYS if left <= w)
        reauth_from = r.end_date - timedelta(days=r.lead_days)
        out.append(Expiring(r, left, reauth_from, window, reauth_from <= today and not r.continued))
    return sorted(out, key=lambda x: (x.request.end_date, x.request.id))


def expiring_counts(items: Iterable[Expiring]) -> Mapping[int, int]:
    """How many end within each window (a 60-day count includes the 30-day ones)."""
    items = list(items)
    return {w: sum(1 for x in items if x.days_left <= w) for w in EXPIRY_WINDOWS_DAYS}
