"""Turning index placements into a contract schedule, and chair numbering (interval colouring)."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from igflow.scheduling.models import SCHEDULE_FORMAT, Assignment, Schedule, Stats, Unscheduled
from igflow.scheduling.problem import Placement, Problem

DEFAULT_REASON = "no capacity at allowed sites in window"


def build_schedule(
    p: Problem,
    placed: dict[int, Placement],
    reasons: dict[int, str],
    solver: str,
    status: str,
    seconds: float,
) -> Schedule:
    assignments = []
    unscheduled = []
    for s in p.sessions:
        pl = placed.get(s.index)
        if pl is None:
            unscheduled.append(Unscheduled(session=s.id, reason=reasons.get(s.index, DEFAULT_REASON)))
        else:
            site, day, start, chair = pl
            assignments.append(
                Assignment(
                    session=s.id, site=p.site_ids[site], chair=chair, date=p.date_of(day), start=p.hhmm(start)
                )
            )
    return Schedule(
        format=SCHEDULE_FORMAT,
        assignments=assignments,
        unscheduled=unscheduled,
        stats=Stats(solver=solver, status=status, solve_seconds=round(seconds, 3)),
    )


def _colour_exact(p: Problem, chairs: int, items: list[tuple[int, int, int, int]]) -> dict[int, int] | None:
    """Small CP-SAT chair assignment for one site-day when first-fit fails around fixed chairs.

    ``items``: (session index, start, end, fixed chair or 0).
    """
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    per_chair: dict[int, list[cp_model.IntervalVar]] = defaultdict(list)
    for idx, start, end, fixed in items:
        allowed = [fixed] if fixed else list(range(1, chairs + 1))
        lits = []
        for c in allowed:
            lit = model.new_bool_var(f"x_{idx}_{c}")
            x[(idx, c)] = lit
            lits.append(lit)
            per_chair[c].append(model.new_optional_fixed_size_interval_var(start, end - start, lit, "iv"))
        model.add_exactly_one(lits)
    for ivs in per_chair.values():
        model.add_no_overlap(ivs)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 5.0
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {idx: c for (idx, c), lit in x.items() if solver.boolean_value(lit)}


def assign_chairs(p: Problem, timed: dict[int, tuple[int, int, int]]) -> dict[int, Placement] | None:
    """Number chairs for (site, day, start) placements; fixed sessions keep their chair.

    First-fit in order of start time (optimal for interval graphs when the load never exceeds the
    chairs); when fixed chairs get in the way, an exact small CP-SAT model per site-day.
    Returns None if no numbering exists.
    """
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for idx, (site, day, _start) in timed.items():
        groups[(site, day)].append(idx)
    out: dict[int, Placement] = {}
    for (site, day), idxs in groups.items():
        chairs = p.instance.sites[site].chairs
        free_at: dict[int, list[tuple[int, int]]] = defaultdict(list)  # chair -> intervals
        fixed_items = []
        loose = []
        for idx in idxs:
            s = p.sessions[idx]
            start = timed[idx][2]
            if s.fixed is not None:
                fixed_items.append((idx, start, start + s.dur_slots, s.fixed[3]))
                free_at[s.fixed[3]].append((start, start + s.dur_slots))
            else:
                loose.append((start, start + s.dur_slots, idx))
        loose.sort()
        result: dict[int, int] = {idx: c for idx, _s, _e, c in fixed_items}
        failed = False
        for start, end, idx in loose:
            for c in range(1, chairs + 1):
                if all(e <= start or end <= s0 for s0, e in free_at[c]):
                    free_at[c].append((start, end))
                    result[idx] = c
                    break
            else:
                failed = True
                break
        if failed:
            items = fixed_items + [(idx, s0, e, 0) for s0, e, idx in loose]
            exact = _colour_exact(p, chairs, items)
            if exact is None:
                return None
            result = exact
        for idx, c in result.items():
            out[idx] = (site, day, timed[idx][2], c)
    return out
