"""Evaluator: every hard-constraint violation and the four lexicographic quality figures.

Violation codes (the number is the contract's hard constraint):

* ``S0-MISSING`` / ``S0-DUPLICATE`` / ``S0-UNKNOWN-SESSION``: every session exactly once.
* ``C1-SITE`` (not one of the session's sites, or unknown), ``C1-WINDOW`` (date outside
  ``[earliest, latest]``), ``C1-HORIZON``, ``C1-CLOSED`` (weekday closed or a closed date).
* ``C2-GRID``, ``C2-BEFORE-OPEN``, ``C2-AFTER-CLOSE`` (start + duration rounded up to slots > close).
* ``C3-CHAIR-RANGE`` (chair not in 1..chairs), ``C3-CHAIR-OVERLAP``.
* ``C4-NURSE-CAPACITY``: sessions in chairs at one slot > nurses x patients_per_nurse.
* ``C5-START-CAPACITY``: sessions starting in one slot > nurses x starts_per_nurse_per_slot.
* ``C6-PATIENT-DAY``: a patient has two sessions on one date.
* ``C7-AFTER-GAP``, ``C7-AFTER-SITE``, ``C7-COURSE-PARTIAL``.
* ``C8-FIXED``: a fixed session is not assigned exactly as given.

Quality figures (contract order): ``weighted_scheduled`` (100/10/1 per scheduled session of
priority 1/2/3, higher is better), ``target_distance_days``, ``preference_misses`` and ``peak_load``
(lower is better). A start counts as inside ``preferred_start`` when ``from <= start <= to``.
``minutes_scheduled`` sums ``duration_min`` of assigned sessions; ``minutes_bound`` is
``min(total demand duration_min, sum over open site-days of min(chairs, nurses x patients_per_nurse)
x open minutes)``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from igflow.scheduling.models import Instance, Schedule, hhmm_to_min
from igflow.scheduling.problem import PRIORITY_WEIGHT, Problem, compile_instance


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    session: str | None = None
    site: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Figures:
    weighted_scheduled: int
    target_distance_days: int
    preference_misses: int
    peak_load: int
    sessions_scheduled: int
    sessions_unscheduled: int
    minutes_scheduled: int
    minutes_bound: int
    ratio: float

    def key(self) -> tuple[int, int, int, int]:
        """Lexicographic key: smaller is better."""
        return (-self.weighted_scheduled, self.target_distance_days, self.preference_misses, self.peak_load)


@dataclass
class Evaluation:
    violations: list[Violation] = field(default_factory=list)
    figures: Figures | None = None

    @property
    def valid(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "violations": [asdict(v) for v in self.violations],
            "figures": asdict(self.figures) if self.figures else None,
        }


def compare(a: Figures, b: Figures) -> int:
    """-1 if ``a`` is lexicographically better than ``b``, 1 if worse, 0 if equal (figures 1-4)."""
    ka, kb = a.key(), b.key()
    return -1 if ka < kb else (1 if ka > kb else 0)


def evaluate(instance: Instance, schedule: Schedule, problem: Problem | None = None) -> Evaluation:
    p = problem or compile_instance(instance)
    slot = instance.slot_minutes
    out: list[Violation] = []

    def v(code: str, msg: str, session: str | None = None, site: str | None = None, date: Any = None) -> None:
        out.append(Violation(code, msg, session, site, None if date is None else str(date)))

    sessions = {s.id: s for s in instance.sessions}
    sites = {s.id: s for s in instance.sites}
    seen: dict[str, int] = defaultdict(int)
    for a in schedule.assignments:
        seen[a.session] += 1
    for u in schedule.unscheduled:
        seen[u.session] += 1
    for sid, count in seen.items():
        if sid not in sessions:
            v("S0-UNKNOWN-SESSION", f"session {sid} is not in the instance", sid)
        elif count > 1:
            v("S0-DUPLICATE", f"session {sid} appears {count} times in the schedule", sid)
    for sid in sessions:
        if sid not in seen:
            v("S0-MISSING", f"session {sid} appears neither in assignments nor in unscheduled", sid)

    assigned = {a.session: a for a in schedule.assignments if a.session in sessions}
    # Per site-date: intervals (start_slot, end_slot, chair, session id).
    by_site_day: dict[tuple[str, dt.date], list[tuple[int, int, int, str]]] = defaultdict(list)
    patient_days: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for a in schedule.assignments:
        s = sessions.get(a.session)
        if s is None:
            continue
        info = p.sessions[p.session_index[s.id]]
        site = sites.get(a.site)
        where = f"session {s.id} at {a.site} on {a.date} {a.start}"
        # 1. site, window, horizon, open
        if site is None or a.site not in s.sites:
            v("C1-SITE", f"{where}: site is not one of the session's sites {s.sites}", s.id, a.site, a.date)
        if not s.earliest <= a.date <= s.latest:
            v("C1-WINDOW", f"{where}: date outside window {s.earliest}..{s.latest}", s.id, a.site, a.date)
        if not instance.start_date <= a.date <= instance.end_date:
            v("C1-HORIZON", f"{where}: date outside the horizon", s.id, a.site, a.date)
        patient_days[(s.patient, a.date)].append(s.id)
        if s.fixed is not None:
            f = s.fixed
            if (f.site, f.date, f.start, f.chair) != (a.site, a.date, a.start, a.chair):
                v(
                    "C8-FIXED",
                    f"{where} chair {a.chair}: fixed at {f.site} on {f.date} {f.start} chair {f.chair}",
                    s.id,
                    a.site,
                    a.date,
                )
        if site is None:
            continue
        hours = site.open.on(a.date.weekday())
        if hours is None or a.date in site.closed_dates:
            v("C1-CLOSED", f"{where}: site is closed that day", s.id, a.site, a.date)
        start_min = hhmm_to_min(a.start)
        end_min = start_min + info.dur_slots * slot
        if start_min % slot:
            v("C2-GRID", f"{where}: start is not on the {slot}-minute grid", s.id, a.site, a.date)
        if hours is not None:
            if start_min < hhmm_to_min(hours[0]):
                v("C2-BEFORE-OPEN", f"{where}: starts before opening {hours[0]}", s.id, a.site, a.date)
            if end_min > hhmm_to_min(hours[1]):
                v(
                    "C2-AFTER-CLOSE",
                    f"{where}: ends after closing {hours[1]} ({info.dur_slots * slot} min in slots)",
                    s.id,
                    a.site,
                    a.date,
                )
        if not 1 <= a.chair <= site.chairs:
            v("C3-CHAIR-RANGE", f"{where}: chair {a.chair} not in 1..{site.chairs}", s.id, a.site, a.date)
        by_site_day[(a.site, a.date)].append((start_min // slot, -(-end_min // slot), a.chair, s.id))

    # 3, 4, 5 per site-day; peak load.
    peak_total = 0
    for (site_id, date), items in sorted(by_site_day.items()):
        site = sites[site_id]
        nurses = site.nurses.on(date.weekday())
        load = np.zeros(p.n_slots + 2, dtype=np.int32)
        starts: dict[int, int] = defaultdict(int)
        for start, end, _chair, _sid in items:
            load[max(0, start) : max(0, end)] += 1
            starts[start] += 1
        peak_total += int(load.max())
        cap = nurses * site.patients_per_nurse
        over = np.nonzero(load > cap)[0]
        if len(over):
            k = int(over[0])
            v(
                "C4-NURSE-CAPACITY",
                f"{site_id} on {date}: {int(load[k])} sessions in chairs at {p.hhmm(k)} "
                f"> {nurses} nurses x {site.patients_per_nurse}",
                None,
                site_id,
                date,
            )
        start_cap = nurses * site.starts_per_nurse_per_slot
        for k, n in sorted(starts.items()):
            if n > start_cap:
                v(
                    "C5-START-CAPACITY",
                    f"{site_id} on {date}: {n} sessions start at {p.hhmm(k)} > {nurses} nurses x "
                    f"{site.starts_per_nurse_per_slot}",
                    None,
                    site_id,
                    date,
                )
        per_chair: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        for start, end, chair, sid in items:
            per_chair[chair].append((start, end, sid))
        for chair, ivs in sorted(per_chair.items()):
            ivs.sort()
            for (s1, e1, a1), (s2, _e2, a2) in itertools.pairwise(ivs):
                if s2 < e1:
                    v(
                        "C3-CHAIR-OVERLAP",
                        f"{site_id} on {date} chair {chair}: session {a2} starts at {p.hhmm(s2)} "
                        f"before session {a1} (from {p.hhmm(s1)}) ends",
                        a2,
                        site_id,
                        date,
                    )
    # 6.
    for (patient, date), sids in sorted(patient_days.items()):
        if len(sids) > 1:
            v("C6-PATIENT-DAY", f"patient {patient} has sessions {sids} on {date}", sids[1], None, date)
    # 7.
    for s in instance.sessions:
        if s.after is None:
            continue
        pa, pb = assigned.get(s.after.session), assigned.get(s.id)
        if (pa is None) != (pb is None):
            v(
                "C7-COURSE-PARTIAL",
                f"session {s.id} and its predecessor {s.after.session} are not both scheduled "
                "(a course is whole or absent)",
                s.id,
            )
        elif pa is not None and pb is not None:
            a, b = pa, pb
            gap = (b.date - a.date).days
            if not s.after.min_days <= gap <= s.after.max_days:
                v(
                    "C7-AFTER-GAP",
                    f"session {s.id} on {b.date} is {gap} days after {s.after.session} on {a.date}, "
                    f"allowed {s.after.min_days}..{s.after.max_days}",
                    s.id,
                    b.site,
                    b.date,
                )
            if a.site != b.site:
                v(
                    "C7-AFTER-SITE",
                    f"session {s.id} at {b.site} but its predecessor {s.after.session} at {a.site}",
                    s.id,
                    b.site,
                    b.date,
                )
    # 8. fixed sessions left unscheduled
    for s in instance.sessions:
        if s.fixed is not None and s.id not in assigned:
            v("C8-FIXED", f"fixed session {s.id} is not assigned", s.id, s.fixed.site, s.fixed.date)

    weighted = distance = misses = minutes = 0
    for sid, a in assigned.items():
        s = sessions[sid]
        weighted += PRIORITY_WEIGHT[s.priority]
        distance += abs((a.date - s.target).days)
        minutes += s.duration_min
        if a.site != s.sites[0]:
            misses += 1
        if s.preferred_start is not None:
            start = hhmm_to_min(a.start)
            if not hhmm_to_min(s.preferred_start[0]) <= start <= hhmm_to_min(s.preferred_start[1]):
                misses += 1
    bound = p.minutes_bound()
    figures = Figures(
        weighted_scheduled=weighted,
        target_distance_days=distance,
        preference_misses=misses,
        peak_load=peak_total,
        sessions_scheduled=len(assigned),
        sessions_unscheduled=len(instance.sessions) - len(assigned),
        minutes_scheduled=minutes,
        minutes_bound=bound,
        ratio=round(minutes / bound, 6) if bound else 1.0,
    )
    return Evaluation(out, figures)
