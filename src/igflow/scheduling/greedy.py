"""Front-desk baseline: first come, first served.

Courses are taken in order of priority, then target date. A course is booked whole: the first
session on the fitting date nearest its target (ties: the earlier date), at the first site of the
patient's list that fits, at the earliest start, in the first free chair; each following session on
the fitting date nearest its own target inside its ``after`` gap, same site. If any session of the
course does not fit, the course is undone and the next date/site is tried.
"""

from __future__ import annotations

import time

from igflow.scheduling.models import Instance, Schedule
from igflow.scheduling.problem import Occupancy, Placement, Problem, SessionInfo, compile_instance
from igflow.scheduling.result import build_schedule

REASON_NO_CAPACITY = "no capacity at allowed sites in window"
REASON_NO_OPEN_DAY = "no open site-day at allowed sites in window"


def _days_by_target(s: SessionInfo, lo: int, hi: int) -> list[int]:
    return sorted(range(max(lo, s.earliest), min(hi, s.latest) + 1), key=lambda d: (abs(d - s.target), d))


def place_one(
    p: Problem, occ: Occupancy, s: SessionInfo, site: int, day: int, best_fit: bool = False
) -> tuple[int, int] | None:
    """Earliest start and first free chair for session ``s`` at (site, day), or None.

    With ``best_fit`` the tightest free stretch of a chair instead (used by the packing heuristic).
    """
    sd = p.site_days.get((site, day))
    if sd is None or not occ.patient_free(s.patient, day):
        return None
    if best_fit:
        return occ.state(site, day).best_fit(p.start_range(s, sd), s.dur_slots)
    starts, chairs = occ.state(site, day).feasible_starts(p.start_range(s, sd), s.dur_slots)
    if len(starts) == 0:
        return None
    return int(starts[0]), int(chairs[0])


def place_course(
    p: Problem, occ: Occupancy, course: list[int], placed: dict[int, Placement], best_fit: bool = False
) -> dict[int, Placement] | None:
    """Book one course whole (sessions not yet in ``placed``); returns its placements or None."""
    root = p.sessions[course[0]]
    if root.fixed is not None:
        root_options = [(root.fixed[1], root.fixed[0])]
    else:
        root_options = [(d, site) for d in _days_by_target(root, 0, p.days - 1) for site in root.sites]
    for day, site in root_options:
        new: dict[int, Placement] = {}
        ok = True
        for idx in course:
            s = p.sessions[idx]
            if idx in placed:  # fixed, already in the occupancy
                pl = placed[idx]
                if s.parent is not None:
                    parent_pl = new.get(s.parent) or placed.get(s.parent)
                    ok = (
                        parent_pl is not None
                        and pl[0] == parent_pl[0]
                        and s.min_days <= pl[1] - parent_pl[1] <= s.max_days
                    )
                else:
                    ok = pl[0] == site
                if not ok:
                    break
                continue
            if s.parent is None:
                candidates = [day]
            else:
                parent_pl = new.get(s.parent) or placed[s.parent]
                candidates = _days_by_target(s, parent_pl[1] + s.min_days, parent_pl[1] + s.max_days)
            found = None
            for d in candidates:
                got = place_one(p, occ, s, site, d, best_fit)
                if got is not None:
                    found = (site, d, got[0], got[1])
                    break
            if found is None:
                ok = False
                break
            new[idx] = found
            occ.add(s, *found)
        if ok:
            return new
        for idx, pl in new.items():
            occ.remove(p.sessions[idx], *pl)
    return None


def course_order_key(p: Problem, course: list[int]) -> tuple[int, int, int]:
    return (
        min(p.sessions[i].priority for i in course),
        min(p.sessions[i].target for i in course),
        course[0],
    )


def greedy_placements(p: Problem, best_fit: bool = False) -> tuple[dict[int, Placement], dict[int, str]]:
    """Front-desk greedy; ``best_fit=True`` is the packing variant the optimiser also starts from."""
    occ = Occupancy(p)
    placed: dict[int, Placement] = {}
    for s in p.sessions:
        if s.fixed is not None:
            placed[s.index] = s.fixed
            occ.add(s, *s.fixed)
    reasons: dict[int, str] = {}
    for course in sorted(p.courses, key=lambda c: course_order_key(p, c)):
        if all(i in placed for i in course):
            continue
        new = place_course(p, occ, course, placed, best_fit)
        if new is None:
            has_option = all(p.options(p.sessions[i]) for i in course)
            for i in course:
                if i not in placed:
                    reasons[i] = REASON_NO_CAPACITY if has_option else REASON_NO_OPEN_DAY
        else:
            placed.update(new)
    return placed, reasons


def solve_greedy(instance: Instance, problem: Problem | None = None) -> Schedule:
    t0 = time.perf_counter()
    p = problem or compile_instance(instance)
    placed, reasons = greedy_placements(p)
    return build_schedule(p, placed, reasons, "greedy", "FEASIBLE", time.perf_counter() - t0)
