"""CP-SAT optimiser: large-neighbourhood search over (sites x days) windows, warm-started from greedy.

How it works
------------
1. The first incumbent is the best (lexicographically) of the greedy front-desk schedule (or a given
   warm start), the best-fit packing greedy and, when some bookable course is left out, the
   LP-guided start of :mod:`igflow.scheduling.lpstart` (the configuration LP of
   :mod:`igflow.scheduling.bound` rounded and packed site-day by site-day; at most
   ``lp_time_share`` of the time limit). The LP sees the whole horizon, which the neighbourhoods
   below cannot: it moves chains of courses towards the quiet days to make room.
2. Repeatedly a *neighbourhood* is chosen: a group of sites and a window of consecutive days. Every
   course that is wholly booked inside it (and has no fixed session), and every unscheduled course
   that could be booked inside it, is freed; everything else stays put and is background load.
3. A CP-SAT model re-optimises the neighbourhood exactly on the contract's lexicographic objective
   (weights computed from the neighbourhood's own ranges make the weighted sum lexicographic):
   optional intervals per (session, site, day) on a shared start variable, one cumulative per
   site-day for chairs/nurses whose capacity variable is that site-day's peak, one cumulative of
   one-slot intervals for starts, at most one session per patient and day, ``after`` gaps, same
   site per course, a course whole or absent. The incumbent is given as a hint.
4. Chairs are numbered afterwards per site-day (interval colouring; fixed sessions keep theirs).
5. The move is accepted only if the whole schedule is not worse lexicographically.

At the end the result and the warm start are both evaluated with the independent evaluator; the
better valid one is returned, so the solver never returns a schedule worse than its warm start.

Determinism: every sub-solve uses ``num_workers`` workers, ``random_seed = seed + iteration`` and a
deterministic-time limit, so with a ``work_limit`` that ends the run before the wall-clock
``time_limit_s`` does, the same seed gives the same schedule. (The LP-guided start is deterministic
too unless it reaches its wall-clock share, where its evicting repair stops early: on a busy
machine that can happen on the benchmark's over-full instances.)
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from igflow.scheduling.evaluate import Figures, evaluate
from igflow.scheduling.greedy import greedy_placements
from igflow.scheduling.lpstart import lp_placements
from igflow.scheduling.models import Instance, Schedule
from igflow.scheduling.problem import Placement, Problem, SessionInfo, compile_instance
from igflow.scheduling.result import assign_chairs, build_schedule


@dataclass(frozen=True)
class SolveOptions:
    time_limit_s: float = 60.0
    seed: int = 0
    num_workers: int = 1
    work_limit: float | None = None  # total CP-SAT deterministic time; None: wall-clock limit only
    sub_work_limit: float = 0.3  # deterministic time per neighbourhood
    window_days: int = 7
    max_window_days: int = 14
    max_free_sessions: int = 60
    lp_start: bool = True  # also start from the rounded configuration LP (igflow.scheduling.lpstart)
    lp_time_share: float = 0.4  # at most this share of time_limit_s for the LP solve


@dataclass(frozen=True)
class Progress:
    iteration: int
    elapsed_s: float
    time_limit_s: float
    key: tuple[int, int, int, int]  # (-weighted_scheduled, distance, misses, peak)
    unscheduled: int
    improved: bool


ProgressCallback = Callable[[Progress], None]
Key = tuple[int, int, int, int]


def objective_key(p: Problem, placed: dict[int, Placement]) -> Key:
    """Lexicographic key of placements (smaller is better); same figures as the evaluator."""
    weighted = distance = misses = 0
    per_sd: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for idx, (site, day, start, _chair) in placed.items():
        s = p.sessions[idx]
        weighted += s.weight
        distance += abs(day - s.target)
        misses += _miss(s, site, start)
        per_sd[(site, day)].append((start, s.dur_slots))
    return (-weighted, distance, misses, sum(_peak(p, items) for items in per_sd.values()))


def _miss(s: SessionInfo, site: int, start: int) -> int:
    miss = int(site != s.sites[0])
    if s.pref_lo is not None and s.pref_hi is not None and not s.pref_lo <= start <= s.pref_hi:
        miss += 1
    return miss


def _peak(p: Problem, items: list[tuple[int, int]]) -> int:
    load = np.zeros(p.n_slots + 1, dtype=np.int32)
    for start, dur in items:
        load[start : start + dur] += 1
    return int(load.max())


@dataclass
class _SubResult:
    placed: dict[int, Placement]
    feasible: bool
    optimal: bool
    work: float


class _Lns:
    def __init__(self, p: Problem, placed: dict[int, Placement], options: SolveOptions) -> None:
        self.p = p
        self.placed = dict(placed)
        self.o = options
        self.rng = random.Random(options.seed)
        self.options_of = [p.options(s) for s in p.sessions]
        self.has_fixed = [any(p.sessions[i].fixed is not None for i in c) for c in p.courses]
        # a course with both fixed and free sessions is never re-optimised (kept as background)
        self.mixed_fixed = any(
            has and any(p.sessions[i].fixed is None for i in c)
            for has, c in zip(self.has_fixed, p.courses, strict=True)
        )
        self.n_sites = len(p.site_ids)
        # site groups: each site, each pair of adjacent sites (generator neighbours), all sites
        groups: list[tuple[int, ...]] = [(i,) for i in range(self.n_sites)]
        if self.n_sites > 1:
            groups += [(i, (i + 1) % self.n_sites) for i in range(self.n_sites if self.n_sites > 2 else 1)]
        if 2 < self.n_sites <= 4:
            groups.append(tuple(range(self.n_sites)))
        self.groups = groups
        self.window = min(options.window_days, p.days)
        self.last_bound = 0.0

    # ---------------------------------------------------------------- neighbourhood choice
    def choose(self, iteration: int) -> tuple[tuple[int, ...], int, int]:
        p = self.p
        unscheduled = [c for c, course in enumerate(p.courses) if course[0] not in self.placed]
        if unscheduled and self.rng.random() < 0.6:
            # around an unscheduled course: its own (first two) sites, centred on its target
            c = self.rng.choice(unscheduled)
            s = p.sessions[p.courses[c][0]]
            group = tuple(sorted(set(s.sites[:2])))
            centre = s.target
        else:
            group = self.rng.choice(self.groups)
            centre = self.rng.randrange(p.days)
        lo = max(0, min(centre - self.window // 2, p.days - self.window))
        return group, lo, min(p.days - 1, lo + self.window - 1)

    def whole(self) -> tuple[tuple[int, ...], int, int]:
        return tuple(range(self.n_sites)), 0, self.p.days - 1

    # ---------------------------------------------------------------- sub-problem
    def freed(self, group: tuple[int, ...], lo: int, hi: int) -> list[int]:
        gs = set(group)

        def inside(site: int, day: int) -> bool:
            return site in gs and lo <= day <= hi

        out = []
        for c, course in enumerate(self.p.courses):
            if self.has_fixed[c]:
                continue
            if course[0] in self.placed:
                if all(inside(*self.placed[i][:2]) for i in course):
                    out.append(c)
            elif all(any(inside(*o) for o in self.options_of[i]) for i in course):
                out.append(c)
        return out

    def solve_sub(
        self,
        group: tuple[int, ...],
        lo: int,
        hi: int,
        courses: list[int],
        seed: int,
        wall_left: float,
        minutes_only: bool = False,
    ) -> _SubResult:
        p = self.p
        gs = set(group)
        m = cp_model.CpModel()
        free_set = {i for c in courses for i in p.courses[c]}
        nbhd = [(site, day) for (site, day) in p.site_days if site in gs and lo <= day <= hi]
        nbhd_set = set(nbhd)
        blocked: set[tuple[str, int]] = set()
        background: dict[tuple[int, int], list[int]] = defaultdict(list)
        for idx, (site, day, _start, _chair) in self.placed.items():
            if idx in free_set:
                continue
            blocked.add((p.sessions[idx].patient, day))
            if (site, day) in nbhd_set:
                background[(site, day)].append(idx)

        intervals: dict[tuple[int, int], list[cp_model.IntervalVar]] = defaultdict(list)
        start_ivs: dict[tuple[int, int], list[cp_model.IntervalVar]] = defaultdict(list)
        for key, idxs in background.items():
            for idx in idxs:
                s, pl = p.sessions[idx], self.placed[idx]
                intervals[key].append(m.new_fixed_size_interval_var(pl[2], s.dur_slots, f"bg{idx}"))
                start_ivs[key].append(m.new_fixed_size_interval_var(pl[2], 1, f"bgs{idx}"))

        x: dict[int, dict[tuple[int, int], cp_model.IntVar]] = {}
        start_var: dict[int, cp_model.IntVar] = {}
        pres: dict[int, cp_model.IntVar] = {}
        inpref: dict[int, cp_model.IntVar] = {}
        per_patient_day: dict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
        gain_terms: list[tuple[cp_model.IntVar, int]] = []  # weight per course presence
        dist_terms: list[tuple[cp_model.IntVar, int]] = []
        miss_terms: list[tuple[cp_model.IntVar, int]] = []
        r2 = r3 = 0
        hints: list[tuple[cp_model.IntVar, int]] = []
        for c in courses:
            course = p.courses[c]
            lit = m.new_bool_var(f"course{c}")
            current = course[0] in self.placed
            hints.append((lit, int(current)))
            opts_by_session = {}
            for idx in course:
                s = p.sessions[idx]
                opts = [o for o in self.options_of[idx] if o in nbhd_set and (s.patient, o[1]) not in blocked]
                opts_by_session[idx] = opts
            course_sites = set.intersection(*({o[0] for o in opts} for opts in opts_by_session.values()))
            if not course_sites:
                m.add(lit == 0)
                continue
            if minutes_only:
                gain_terms.append((lit, sum(p.sessions[i].duration_min for i in course)))
            else:
                gain_terms.append((lit, sum(p.sessions[i].weight for i in course)))
            site_lit: dict[int, cp_model.IntVar] = {}
            if len(course) > 1 and len(course_sites) > 1:
                for site in sorted(course_sites):
                    site_lit[site] = m.new_bool_var(f"c{c}site{site}")
                    if current:
                        hints.append((site_lit[site], int(self.placed[course[0]][0] == site)))
                m.add(sum(site_lit.values()) == lit)
            date_expr = {}
            for idx in course:
                s = p.sessions[idx]
                opts = [o for o in opts_by_session[idx] if o[0] in course_sites]
                pres[idx] = lit
                ranges = {o: p.start_range(s, p.site_days[o]) for o in opts}
                lo_start = min(r.start for r in ranges.values())
                hi_start = max(r.stop - 1 for r in ranges.values())
                st = m.new_int_var(lo_start, hi_start, f"st{idx}")
                start_var[idx] = st
                cur = self.placed.get(idx)
                if cur is not None:
                    hints.append((st, cur[2]))
                xs = {}
                for o in opts:
                    xo = m.new_bool_var(f"x{idx}_{o[0]}_{o[1]}")
                    xs[o] = xo
                    hints.append((xo, int(cur is not None and cur[:2] == o)))
                    r = ranges[o]
                    if r.start > lo_start:
                        m.add(st >= r.start).only_enforce_if(xo)
                    if r.stop - 1 < hi_start:
                        m.add(st <= r.stop - 1).only_enforce_if(xo)
                    intervals[o].append(m.new_optional_fixed_size_interval_var(st, s.dur_slots, xo, "iv"))
                    start_ivs[o].append(m.new_optional_fixed_size_interval_var(st, 1, xo, "sv"))
                    per_patient_day[(s.patient, o[1])].append(xo)
                    if site_lit:
                        m.add_implication(xo, site_lit[o[0]])
                    dist = abs(o[1] - s.target)
                    if dist:
                        dist_terms.append((xo, dist))
                    if o[0] != s.sites[0]:
                        miss_terms.append((xo, 1))
                x[idx] = xs
                m.add(sum(xs.values()) == lit)
                r2 += max((abs(o[1] - s.target) for o in opts), default=0)
                r3 += 2
                if s.pref_lo is not None and s.pref_hi is not None:
                    ip = m.new_bool_var(f"pref{idx}")
                    inpref[idx] = ip
                    m.add_implication(ip, lit)
                    m.add(st >= s.pref_lo).only_enforce_if(ip)
                    m.add(st <= s.pref_hi).only_enforce_if(ip)
                    miss_terms.append((lit, 1))
                    miss_terms.append((ip, -1))
                    if cur is not None:
                        hints.append((ip, int(s.pref_lo <= cur[2] <= s.pref_hi)))
                    else:
                        hints.append((ip, 0))
                if len(course) > 1:
                    date_expr[idx] = sum(o[1] * xo for o, xo in xs.items())
            for idx in course:
                s = p.sessions[idx]
                if s.parent is not None and s.parent in date_expr:
                    gap = date_expr[idx] - date_expr[s.parent]
                    m.add(gap >= s.min_days).only_enforce_if(lit)
                    m.add(gap <= s.max_days).only_enforce_if(lit)
        for lits in per_patient_day.values():
            if len(lits) > 1:
                m.add_at_most_one(lits)
        peaks = []
        r4 = 0
        for key in nbhd:
            sd = p.site_days[key]
            ivs = intervals.get(key)
            if not ivs:
                continue
            cap = sd.capacity
            r4 += cap
            peak = m.new_int_var(0, cap, f"peak{key[0]}_{key[1]}")
            peaks.append(peak)
            m.add_cumulative(ivs, [1] * len(ivs), peak)
            cur_items = [(self.placed[i][2], p.sessions[i].dur_slots) for i in background.get(key, [])]
            cur_items += [
                (self.placed[i][2], p.sessions[i].dur_slots)
                for i in free_set
                if i in self.placed and self.placed[i][:2] == key
            ]
            hints.append((peak, _peak(p, cur_items) if cur_items else 0))
            if len(start_ivs[key]) > sd.starts_cap:
                m.add_cumulative(start_ivs[key], [1] * len(start_ivs[key]), sd.starts_cap)
        w4 = 1
        w3 = r4 + 1
        w2 = w3 * (r3 + 1)
        w1 = w2 * (r2 + 1)
        if minutes_only:
            w1, w2, w3, w4 = 1, 0, 0, 0
        m.maximize(
            sum(w1 * g * v for v, g in gain_terms)
            - sum(w2 * d * v for v, d in dist_terms)
            - sum(w3 * k * v for v, k in miss_terms)
            - w4 * sum(peaks)
        )
        for var, value in hints:
            m.add_hint(var, value)
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = self.o.num_workers
        prm.random_seed = seed
        prm.max_deterministic_time = self.o.sub_work_limit
        prm.max_time_in_seconds = max(0.1, wall_left)
        status = solver.solve(m)
        work = solver.deterministic_time
        self.last_bound = solver.best_objective_bound
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return _SubResult({}, False, False, work)
        timed: dict[int, tuple[int, int, int]] = {}
        for idx, xs in x.items():
            for o, xo in xs.items():
                if solver.boolean_value(xo):
                    timed[idx] = (o[0], o[1], solver.value(start_var[idx]))
        return _SubResult({idx: (*t, 0) for idx, t in timed.items()}, True, status == cp_model.OPTIMAL, work)

    def apply(self, group: tuple[int, ...], lo: int, hi: int, courses: list[int], sub: _SubResult) -> bool:
        """Candidate = background + sub-solution, chairs renumbered in the neighbourhood."""
        p = self.p
        free_set = {i for c in courses for i in p.courses[c]}
        gs = set(group)
        cand = {i: pl for i, pl in self.placed.items() if i not in free_set}
        timed = {i: pl[:3] for i, pl in sub.placed.items()}
        for i, pl in cand.items():
            if pl[0] in gs and lo <= pl[1] <= hi:
                timed[i] = pl[:3]
        chaired = assign_chairs(p, timed)
        if chaired is None:
            return False
        cand.update(chaired)
        if objective_key(p, cand) <= objective_key(p, self.placed):
            self.placed = cand
            return True
        return False


def solve_placements(
    p: Problem,
    warm: dict[int, Placement],
    options: SolveOptions,
    progress: ProgressCallback | None = None,
) -> tuple[dict[int, Placement], bool]:
    """LNS from ``warm``; returns (placements, proved optimal)."""
    t0 = time.perf_counter()
    lns = _Lns(p, warm, options)
    key = objective_key(p, lns.placed)
    work_used = 0.0
    iteration = 0
    proved = False
    whole_first = len(p.sessions) <= options.max_free_sessions
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= options.time_limit_s or (
            options.work_limit is not None and work_used >= options.work_limit
        ):
            break
        if whole_first and iteration == 0:
            group, lo, hi = lns.whole()
        else:
            group, lo, hi = lns.choose(iteration)
        courses = lns.freed(group, lo, hi)
        n_free = sum(len(p.courses[c]) for c in courses)
        while n_free > options.max_free_sessions and hi > lo:
            hi -= 1
            courses = lns.freed(group, lo, hi)
            n_free = sum(len(p.courses[c]) for c in courses)
        iteration += 1
        if not courses:
            if iteration > 10_000:
                break
            continue
        sub = lns.solve_sub(group, lo, hi, courses, options.seed + iteration, options.time_limit_s - elapsed)
        work_used += sub.work
        improved = False
        if sub.feasible:
            before = key
            accepted = lns.apply(group, lo, hi, courses, sub)
            if accepted:
                key = objective_key(p, lns.placed)
                improved = key < before
            if sub.optimal and accepted and (group, lo, hi) == lns.whole() and not lns.mixed_fixed:
                proved = True  # the whole instance solved to optimality in one model
                _report(progress, iteration, t0, options, key, p, lns, improved)
                break
            if sub.optimal and lns.window < options.max_window_days:
                lns.window += 1
            elif not sub.optimal and lns.window > 3:
                lns.window -= 1
        elif lns.window > 3:
            lns.window -= 1
        _report(progress, iteration, t0, options, key, p, lns, improved)
    return lns.placed, proved


def _report(
    progress: ProgressCallback | None,
    iteration: int,
    t0: float,
    options: SolveOptions,
    key: Key,
    p: Problem,
    lns: _Lns,
    improved: bool,
) -> None:
    if progress is not None:
        progress(
            Progress(
                iteration=iteration,
                elapsed_s=time.perf_counter() - t0,
                time_limit_s=options.time_limit_s,
                key=key,
                unscheduled=len(p.sessions) - len(lns.placed),
                improved=improved,
            )
        )


def solve(
    instance: Instance,
    options: SolveOptions | None = None,
    progress: ProgressCallback | None = None,
    warm_start: Schedule | None = None,
) -> Schedule:
    """Optimise ``instance``; never returns a schedule worse than the warm start (default: greedy)."""
    t0 = time.perf_counter()
    opts = options or SolveOptions()
    p = compile_instance(instance)
    if warm_start is None:
        warm, reasons = greedy_placements(p)
        warm_schedule = build_schedule(p, warm, reasons, "greedy", "FEASIBLE", time.perf_counter() - t0)
    else:
        warm_schedule = warm_start
        warm = _placements_from(p, warm_start)
        reasons = {p.session_index[u.session]: u.reason for u in warm_start.unscheduled}
    start = warm
    packed, _ = greedy_placements(p, best_fit=True)
    if objective_key(p, packed) < objective_key(p, warm):
        start = packed
    if opts.lp_start and _may_gain(p, start):
        from_lp = lp_placements(p, opts.lp_time_share * opts.time_limit_s)
        if from_lp is not None and objective_key(p, from_lp) < objective_key(p, start):
            checked = evaluate(instance, build_schedule(p, from_lp, reasons, "lp", "FEASIBLE", 0.0), p)
            if checked.valid:
                start = from_lp
    # keep the whole call within the time limit: reserve time for the final evaluation
    reserve_s = 0.3 + 0.0002 * len(p.sessions)
    lns_limit = max(0.0, opts.time_limit_s - (time.perf_counter() - t0) - reserve_s)
    placed, proved = solve_placements(p, start, dataclasses.replace(opts, time_limit_s=lns_limit), progress)
    status = "OPTIMAL" if proved else "FEASIBLE"
    result = build_schedule(p, placed, reasons, "cp-sat", status, time.perf_counter() - t0)
    ev_new = evaluate(instance, result, p)
    ev_warm = evaluate(instance, warm_schedule, p)
    assert ev_new.figures is not None and ev_warm.figures is not None
    if not ev_new.valid or (ev_warm.valid and _worse(ev_new.figures, ev_warm.figures)):
        result = build_schedule(p, warm, reasons, "cp-sat", "WARM_START", time.perf_counter() - t0)
    return result


def _may_gain(p: Problem, placed: dict[int, Placement]) -> bool:
    """Whether some unscheduled course has a site-day for every session (so figure 1 could rise)."""
    return any(
        course[0] not in placed and all(p.options(p.sessions[i]) for i in course) for course in p.courses
    )


def _worse(a: Figures, b: Figures) -> bool:
    return a.key() > b.key()


def _placements_from(p: Problem, schedule: Schedule) -> dict[int, Placement]:
    out: dict[int, Placement] = {}
    for a in schedule.assignments:
        idx = p.session_index[a.session]
        start = (int(a.start[:2]) * 60 + int(a.start[3:])) // p.slot_minutes
        out[idx] = (p.site_index[a.site], p.day_of(a.date), start, a.chair)
    return out
