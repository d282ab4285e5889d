"""LP-guided start for the optimiser: the configuration LP of :mod:`igflow.scheduling.bound`, rounded.

The local search moves a few dozen sessions at a time inside a week at one or two centres, so it
cannot see that the way to fit one more course mid-month is to shift a chain of others towards the
quiet first and last days. The LP sees the whole month at once. Here it is solved for the
contract's objective (priority weight first, then days from target, then the first site) and
turned into a schedule:

1. *Rounding.* Every course the LP books (``y >= 1/2``) goes, session by session, to the site-day
   the LP gives it most of, if that keeps the course at one site within its ``after`` gaps and the
   patient at one session per day; otherwise it waits for step 4.
2. *Packing.* Each site-day keeps the most valuable of its sessions that integer track patterns can
   hold and lays them out (:mod:`igflow.scheduling.packing`); value = course weight, then the
   share of the session the LP puts on that site-day, then minutes.
3. A course that lost a session anywhere is taken out whole (a course is whole or absent).
4. *Evicting repair.* A course the LP books but steps 1-3 lost (most valuable first) is put back
   on the LP's best days at its site, re-packing those site-days; less valuable sessions may be
   pushed out, if the courses they belong to weigh less in total than the course put back.
5. *Greedy repair.* Every course still waiting is booked by the best-fit greedy where it fits, in
   the front desk's order.

The result is a valid schedule by construction (the caller evaluates it and keeps the better start).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

from ortools.linear_solver import pywraplp

from igflow.scheduling.bound import AssignmentModel, build_model
from igflow.scheduling.greedy import course_order_key, place_course
from igflow.scheduling.packing import pack_site_day
from igflow.scheduling.problem import Occupancy, Placement, Problem
from igflow.scheduling.result import assign_chairs

WEIGHT_SCALE = 1000.0  # LP objective: priority weight x this, minus days from target, minus site misses
SITE_MISS = 0.01


def solve_lp(model: AssignmentModel, time_limit_s: float) -> list[float] | None:
    """Primal LP optimum (HiGHS, else GLOP) as one value per variable, or None."""
    lp = model.lp
    solver = pywraplp.Solver.CreateSolver("HIGHS") or pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return None
    inf = solver.infinity()
    xs = [solver.NumVar(lo, hi, "") for lo, hi in zip(lp.lo, lp.hi, strict=True)]
    rows = [
        solver.Constraint(-inf if math.isinf(lo) else lo, hi)
        for lo, hi in zip(lp.row_lo, lp.row_hi, strict=True)
    ]
    for r, c, v in zip(lp.r, lp.c, lp.v, strict=True):
        rows[r].SetCoefficient(xs[c], v)
    objective = solver.Objective()
    for x, c_j in zip(xs, lp.obj, strict=True):
        if c_j:
            objective.SetCoefficient(x, c_j)
    objective.SetMaximization()
    solver.SetTimeLimit(max(1, int(time_limit_s * 1000)))
    if solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    return [x.solution_value() for x in xs]


def _round(
    p: Problem, model: AssignmentModel, values: list[float]
) -> tuple[dict[int, tuple[int, int]], list[int]]:
    """Site-day per session of the courses the LP books (``y >= 1/2``); the rest wait.

    Per course: the site and days that keep it consistent (one site, ``after`` gaps, one session per
    patient and day) and carry the most LP weight, by dynamic programming over the course tree.
    """
    x_at: dict[int, dict[tuple[int, int], float]] = defaultdict(dict)
    for (i, o), j in model.x.items():
        x_at[i][o] = values[j]
    chosen: dict[int, tuple[int, int]] = {}
    waiting: list[int] = []
    patient_days: set[tuple[str, int]] = set()
    order = sorted(
        range(len(p.courses)), key=lambda c: (course_order_key(p, p.courses[c])[0], -values[model.y[c]], c)
    )
    for c in order:
        course = p.courses[c]
        if values[model.y[c]] < 0.5 or any(i not in x_at for i in course):
            waiting.append(c)
            continue
        sites = set.intersection(*({o[0] for o in x_at[i]} for i in course))
        best: tuple[float, int, dict[int, int]] | None = None
        for site in sorted(sites):
            got = _best_days(p, course, site, x_at, patient_days)
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], site, got[1])
        if best is None:
            waiting.append(c)
            continue
        for i, day in best[2].items():
            chosen[i] = (best[1], day)
            patient_days.add((p.sessions[i].patient, day))
    return chosen, waiting


def _best_days(
    p: Problem,
    course: list[int],
    site: int,
    x_at: dict[int, dict[tuple[int, int], float]],
    patient_days: set[tuple[str, int]],
) -> tuple[float, dict[int, int]] | None:
    """Days for ``course`` at ``site`` with the most LP weight, gaps kept; None if there are none.

    Dynamic programming from the leaves: ``score[i][d]`` is the best weight of ``i``'s subtree
    with ``i`` on day ``d``. Sessions of one course fall on distinct days (checked at the end).
    """
    score: dict[int, dict[int, float]] = {}
    pick: dict[tuple[int, int, int], int] = {}  # (child, parent day) -> child day
    for i in reversed(course):
        s = p.sessions[i]
        days: dict[int, float] = {}
        for (st, d), v in x_at[i].items():
            if st != site or (s.patient, d) in patient_days:
                continue
            total = v
            for child in p.children[i]:
                cs = p.sessions[child]
                options = [
                    (score[child][dc], -dc)
                    for dc in range(d + cs.min_days, d + cs.max_days + 1)
                    if dc in score[child]
                ]
                if not options:
                    total = -math.inf
                    break
                top = max(options)
                pick[(child, i, d)] = -top[1]
                total += top[0]
            if total > -math.inf:
                days[d] = total
        if not days:
            return None
        score[i] = days
    root = course[0]
    day0 = max(score[root], key=lambda d: (score[root][d], -d))
    out = {root: day0}
    for i in course:
        for child in p.children[i]:
            out[child] = pick[(child, i, out[i])]
    if len(set(out.values())) < len(out):
        return None
    return score[root][day0], out


class _Packer:
    """The site-day packings of a schedule under construction (non-fixed sessions only)."""

    def __init__(self, p: Problem, value: dict[int, int]) -> None:
        self.p = p
        self.value = value
        self.fixed_at: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for s in p.sessions:
            if s.fixed is not None:
                self.fixed_at[(s.fixed[0], s.fixed[1])].append((s.index, s.fixed[2]))
        self.at: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)  # site-day -> session -> start
        self.where: dict[int, tuple[int, int]] = {}

    def pack(self, key: tuple[int, int], candidates: list[int], exact: bool = True) -> dict[int, int]:
        if key not in self.p.site_days:
            return {}
        return pack_site_day(self.p, key, self.fixed_at.get(key, []), candidates, self.value, exact)

    def put(self, key: tuple[int, int], starts: dict[int, int]) -> list[int]:
        """Replace the sessions of ``key`` by ``starts``; returns the sessions that left."""
        left = [i for i in self.at[key] if i not in starts]
        for i in left:
            del self.where[i]
        self.at[key] = dict(starts)
        for i in starts:
            self.where[i] = key
        return left

    def remove(self, i: int) -> None:
        key = self.where.pop(i, None)
        if key is not None:
            del self.at[key][i]

    def timed(self) -> dict[int, tuple[int, int, int]]:
        out = {idx: (key[0], key[1], start) for key, fixed in self.fixed_at.items() for idx, start in fixed}
        for key, starts in self.at.items():
            for i, start in starts.items():
                out[i] = (key[0], key[1], start)
        return out

    def broken_courses(self) -> list[int]:
        """Courses with a session missing: their other (non-fixed) sessions are taken out."""
        out = []
        for c, course in enumerate(self.p.courses):
            if any(i not in self.where and self.p.sessions[i].fixed is None for i in course):
                for i in course:
                    self.remove(i)
                out.append(c)
        return out


LP_SHARE = 0.5  # of the time limit for the LP solve
PACK_SHARE = 0.85  # ... for the LP, the packing and the evicting repair together


def lp_placements(p: Problem, time_limit_s: float) -> dict[int, Placement] | None:
    """A valid schedule built from the LP (see the module docstring), or None.

    Within ``time_limit_s``: the LP gets half of it; if the LP or the packing is not done by 85 %
    the result is None; the repairs stop where they are at 85 % and 100 %.
    """
    t0 = time.perf_counter()
    model = build_model(
        p, lambda s, o: WEIGHT_SCALE * s.weight - abs(o[1] - s.target) - SITE_MISS * (o[0] != s.sites[0])
    )
    values = solve_lp(model, max(0.1, t0 + LP_SHARE * time_limit_s - time.perf_counter()))
    if values is None:
        return None
    chosen, waiting = _round(p, model, values)
    weight = [sum(p.sessions[i].weight for i in course) for course in p.courses]
    x_at: dict[int, dict[tuple[int, int], float]] = defaultdict(dict)
    for (i, o), j in model.x.items():
        x_at[i][o] = values[j]
    # packing value: course weight, then how much of the session the LP puts there, then minutes
    sure = {i: min(100, max(0, round(100 * x_at[i].get(o, 0.0)))) for i, o in chosen.items()}
    value = {
        s.index: (101 * weight[s.course] + sure.get(s.index, 0)) * 10_000 + s.duration_min for s in p.sessions
    }
    packer = _Packer(p, value)
    by_site_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, o in chosen.items():
        if p.sessions[i].fixed is None:
            by_site_day[o].append(i)
    pack_deadline = t0 + PACK_SHARE * time_limit_s
    for key, candidates in sorted(by_site_day.items()):
        if time.perf_counter() > pack_deadline:
            return None
        packer.put(key, packer.pack(key, candidates))
    # the courses the LP books but the rounding or the packing lost: worth evicting cheaper ones for
    booked = [c for c in waiting if values[model.y[c]] >= 0.5]
    for c in sorted(set(booked) | set(packer.broken_courses()), key=lambda c: (-weight[c], c)):
        if time.perf_counter() < pack_deadline and weight[c] > 1:
            _insert_evicting(p, packer, c, x_at, weight)
    packer.broken_courses()
    chaired = assign_chairs(p, packer.timed())
    if chaired is None:
        return None
    return _greedy_repair(p, dict(chaired), t0 + time_limit_s)


def _greedy_repair(p: Problem, placed: dict[int, Placement], deadline: float) -> dict[int, Placement]:
    """Book every course still out where the best-fit greedy finds room (front-desk order)."""
    occ = Occupancy(p)
    for i, pl in placed.items():
        occ.add(p.sessions[i], *pl)
    for c in sorted(range(len(p.courses)), key=lambda c: course_order_key(p, p.courses[c])):
        course = p.courses[c]
        if all(i in placed for i in course):
            continue
        if time.perf_counter() > deadline:
            break
        new = place_course(p, occ, course, placed, best_fit=True)
        if new is not None:
            placed.update(new)
    return placed


def _insert_evicting(
    p: Problem,
    packer: _Packer,
    c: int,
    x_at: dict[int, dict[tuple[int, int], float]],
    weight: list[int],
    attempts: int = 3,
) -> bool:
    """Book course ``c`` by re-packing its site-days, evicting less valuable courses if that gains.

    The days come from the LP (dynamic programming as in the rounding); site-days that could not
    take the course are banned for the next attempt.
    """
    course = p.courses[c]
    if any(p.sessions[i].fixed is not None for i in course) or any(i in packer.where for i in course):
        return False
    patient = p.sessions[course[0]].patient
    busy = {(patient, key[1]) for i, key in packer.where.items() if p.sessions[i].patient == patient}
    banned: set[tuple[int, int]] = set()
    for _ in range(attempts):
        allowed = {i: {o: v for o, v in x_at[i].items() if o not in banned} for i in course}
        best: tuple[float, int, dict[int, int]] | None = None
        sites = set.intersection(*({o[0] for o in allowed[i]} for i in course)) if course else set()
        for site in sorted(sites):
            got = _best_days(p, course, site, allowed, busy)
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], site, got[1])
        if best is None:
            return False
        site, days = best[1], best[2]
        trial: dict[tuple[int, int], dict[int, int]] = {}
        failed = False
        for i, day in days.items():
            key = (site, day)
            starts = packer.pack(key, [*packer.at[key], i], exact=False)
            trial[key] = starts
            if i not in starts:
                banned.add(key)
                failed = True
        if failed:
            continue
        evicted = {
            p.sessions[j].course for key, starts in trial.items() for j in packer.at[key] if j not in starts
        }
        if sum(weight[e] for e in evicted) >= weight[c]:
            banned.update(trial)
            continue
        for key, starts in trial.items():
            packer.put(key, starts)
        for e in evicted:
            for j in p.courses[e]:
                packer.remove(j)
        return True
    return False
