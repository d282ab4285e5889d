"""A provable upper bound on the chair-minutes any valid schedule of an instance can book.

The evaluator's ``minutes_bound`` is ``min(total demand, staffed chair-minutes)``: it ignores that a
session must fit *whole* into one open day, inside its window, at one of its sites. This module
computes a much tighter bound from a linear relaxation (a *configuration LP*) and proves it with
weak LP duality, so the number does not depend on the LP solver being exact.

The relaxation
--------------
Take any valid schedule (contract hard constraints 1-8) and write it as a 0/1 point:

* ``y[c]`` = 1 if course ``c`` is booked (constraint 7: a course is whole or absent), and
  ``x[i, o]`` = 1 if session ``i`` is at site-day ``o``. ``o`` ranges over the site-days where
  ``i`` can go at all: one of its sites, inside its window and the horizon, open, staffed, and
  with opening hours long enough for its duration rounded up to slots (constraints 1, 2; a fixed
  session only at its fixed site-day, constraint 8). Then ``sum_o x[i, o] = y[c]`` for every
  session ``i`` of ``c``, and ``y[c] = 1`` for a course with a fixed session.
* Same site per course (7): ``sum_{day} x[i, (site, day)] = z[c, site]`` for every session of a
  multi-session course, with ``sum_site z[c, site] = y[c]``.
* ``after`` gaps (7): if child ``i`` of ``j`` is at ``(site, d)`` then ``j`` is at ``site`` on a
  day in ``[d - max_days, d - min_days]``, so ``x[i, (site, d)] <= sum of those x[j, .]``; and the
  same the other way round (a booked parent has its child in the gap).
* One session per patient and date (6): ``sum x[i, (site, d)] <= 1`` over the patient's sessions.
* Capacity of a site-day ``o`` with ``k = min(chairs, nurses x patients_per_nurse)`` (3, 4):
  at every slot at most ``k`` sessions are in chairs, so the sessions of ``o`` form an interval
  graph with clique number ``<= k``; interval graphs are perfect, so the sessions split into
  ``k`` *tracks* of pairwise non-overlapping sessions. Every session lies in ``[open, close]``,
  so the durations (in slots) of one track form a multiset that sums to at most ``L`` = the
  number of whole slots between the first start slot and closing. A *pattern* is such a
  multiset; only maximal ones are needed (any track is covered by a maximal pattern that
  contains it). With ``w[o, p]`` = the number of tracks of ``o`` covered by pattern ``p``:
  ``sum_p w[o, p] <= k`` and, for every duration ``d``,
  ``sum_{i of duration d} x[i, o] <= sum_p count_p(d) w[o, p]``. This is what makes two
  165-minute sessions and a 6-hour one compete for a chair-day: it is the "sessions must fit
  whole" argument, solved exactly over all site-days at once.
* Staggered first starts (5): a track whose first session starts ``j`` slots after the first start
  slot holds at most ``L - j`` slots, and the first sessions of different tracks are different
  sessions, at most ``starts_cap`` of which start in any one slot; so at most ``starts_cap * j``
  tracks begin in the first ``j`` slots. Patterns therefore carry a *level* ``l`` in
  ``0..J-1`` (``J = ceil(k / starts_cap)``): a level-``l`` pattern is a maximal multiset summing to
  at most ``L - l`` (level ``J-1`` also stands for every later first start, which leaves even
  less room), and ``sum_{level < j} w[o, p] <= starts_cap * j`` for ``j = 1..J-1``. This is what
  stops sixteen chairs with four nurses from all starting a full-day session at opening.
  (When a site-day has too many patterns to list, the implied aggregate rows are used instead:
  ``sum dur x <= k * R`` with ``R`` the largest sum of durations ``<= L``, and
  ``sum_{dur >= d} x <= k * floor(L / d)`` for every duration ``d``.)
* Starts (5): at most ``starts_cap`` sessions start in a slot, and a session of the site-day
  starts in one of the ``L - d_min + 1`` slots where the shortest one fits, so
  ``sum_i x[i, o] <= starts_cap * (L - d_min + 1)``.

Every valid schedule is a feasible point of this LP (with its tracks as ``w``), and its booked
minutes equal the LP objective ``sum duration_min * x``; hence LP optimum >= minutes of any
valid schedule. The LP optimum is also <= the evaluator's ``minutes_bound`` (``sum x`` is at most
every session once, and a site-day holds at most ``k * L`` slots, each worth at most a slot of
opening time), and the reported bound is ``min`` of the two anyway.

Proof that does not trust floating point
-----------------------------------------
For ``max c.x`` s.t. ``A x <= b`` (some rows ``=``), ``l <= x <= u``, *any* multipliers ``lam``
(``>= 0`` on ``<=`` rows, free on ``=`` rows) give, for every feasible ``x``,
``c.x = lam.A x + (c - A'lam).x <= lam.b + sum_j max((c - A'lam)_j u_j, (c - A'lam)_j l_j)``.
The duals GLOP returns are used as ``lam`` (clipped to the right sign), that expression is
evaluated, a relative margin of 1e-9 added for rounding, and the result floored (minutes are
integers). So the bound is valid even if GLOP stops early or is slightly off; it is only less
tight then. If GLOP fails altogether the evaluator's bound is returned.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.linear_solver import pywraplp

from igflow.scheduling.problem import Problem, SessionInfo, SiteDay

MAX_PATTERNS = 20_000  # per (track length, durations) group; above it the aggregate rows are used
_MARGIN = 1e-9


@dataclass(frozen=True)
class UpperBound:
    """The bound and how it was obtained."""

    value: int  # provable upper bound (minutes_scheduled, or weighted_scheduled) of any valid schedule
    simple: int  # the trivial bound: evaluator's minutes_bound (or the total weight)
    lp_value: float  # GLOP's primal optimum (for information; ``value`` is the proved figure)
    status: str  # "OPTIMAL", "FEASIBLE" (GLOP stopped early), or "SIMPLE" (LP failed: simple bound)
    variables: int
    rows: int
    seconds: float


@dataclass
class _Lp:
    """A sparse LP ``max c.x`` s.t. rows; kept as arrays so the dual certificate is cheap."""

    obj: list[float]
    lo: list[float]
    hi: list[float]
    row_lo: list[float]  # -inf for <= rows
    row_hi: list[float]
    r: list[int]
    c: list[int]
    v: list[float]

    def var(self, obj: float, lo: float, hi: float) -> int:
        self.obj.append(obj)
        self.lo.append(lo)
        self.hi.append(hi)
        return len(self.obj) - 1

    def row(self, terms: list[tuple[int, float]], lo: float, hi: float) -> None:
        k = len(self.row_lo)
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        for j, a in terms:
            self.r.append(k)
            self.c.append(j)
            self.v.append(a)


def track_length(p: Problem, sd: SiteDay) -> int:
    """Whole slots between the first start slot and closing (a track's total duration at most)."""
    return max(0, sd.close_min // p.slot_minutes - sd.open_slot)


Pattern = dict[int, int]  # duration in slots -> sessions of that duration in one track


def maximal_patterns(durations: list[int], length: int, limit: int = MAX_PATTERNS) -> list[Pattern] | None:
    """Maximal multisets of ``durations`` (slots) summing to at most ``length``.

    ``None`` if there are more than ``limit``. A multiset is maximal when no duration fits in the
    remaining length.
    """
    ds = sorted({d for d in durations if 0 < d <= length}, reverse=True)
    if not ds:
        return []
    shortest = ds[-1]
    out: list[Pattern] = []
    counts = [0] * len(ds)

    def rec(k: int, left: int) -> Iterator[None]:
        if k == len(ds):
            if left < shortest:
                out.append({d: n for d, n in zip(ds, counts, strict=True) if n})
            yield None
            return
        for n in range(left // ds[k], -1, -1):
            counts[k] = n
            yield from rec(k + 1, left - n * ds[k])
        counts[k] = 0

    for _ in rec(0, length):
        if len(out) > limit:
            return None
    return out


def _reach(durations: list[int], length: int) -> int:
    """Largest sum <= length of durations (each usable any number of times)."""
    ok = np.zeros(length + 1, dtype=np.bool_)
    ok[0] = True
    for t in range(1, length + 1):
        ok[t] = any(d <= t and ok[t - d] for d in durations)
    return int(np.nonzero(ok)[0].max())


@dataclass
class AssignmentModel:
    """The relaxation above as a sparse LP, with the index of every ``x``, ``y`` and pattern variable."""

    lp: _Lp
    x: dict[tuple[int, tuple[int, int]], int]  # (session, (site, day)) -> variable
    y: dict[int, int]  # course -> variable
    integer: list[bool]  # which variables are integral in a valid schedule (all but none)


def build_model(p: Problem, value: Callable[[SessionInfo, tuple[int, int]], float]) -> AssignmentModel:
    """The configuration model of ``p``; ``value(session, (site, day))`` is the objective of ``x``."""
    lp = _Lp([], [], [], [], [], [], [], [])
    x_of = session_options(p)
    xvar: dict[tuple[int, tuple[int, int]], int] = {}
    yvar: dict[int, int] = {}
    for c, course in enumerate(p.courses):
        fixed = any(p.sessions[i].fixed is not None for i in course)
        ok = all(x_of[i] for i in course)
        y = lp.var(0.0, 1.0 if (fixed and ok) else 0.0, 1.0 if ok else 0.0)
        yvar[c] = y
        if not ok:
            continue
        sites = set.intersection(*({o[0] for o in x_of[i]} for i in course))
        z = {site: lp.var(0.0, 0.0, 1.0) for site in sorted(sites)} if len(course) > 1 else {}
        if z:
            lp.row([(y, -1.0)] + [(j, 1.0) for j in z.values()], 0.0, 0.0)
        for i in course:
            s = p.sessions[i]
            for o in x_of[i]:
                xvar[(i, o)] = lp.var(value(s, o), 0.0, 1.0)
            lp.row([(y, -1.0)] + [(xvar[(i, o)], 1.0) for o in x_of[i]], 0.0, 0.0)
            for site, zj in z.items():
                lp.row([(zj, -1.0)] + [(xvar[(i, o)], 1.0) for o in x_of[i] if o[0] == site], 0.0, 0.0)
    _after_rows(p, lp, x_of, xvar)
    per_patient_day: dict[tuple[str, int], list[int]] = defaultdict(list)
    per_site_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (i, o), j in xvar.items():
        per_patient_day[(p.sessions[i].patient, o[1])].append(j)
        per_site_day[o].append(i)
    for js in per_patient_day.values():
        if len(js) > 1:
            lp.row([(j, 1.0) for j in js], -math.inf, 1.0)
    _capacity_rows(p, lp, xvar, per_site_day)
    return AssignmentModel(lp, xvar, yvar, [True] * len(lp.obj))


def minutes_upper_bound(p: Problem, time_limit_s: float = 120.0) -> UpperBound:
    """Provable upper bound on ``minutes_scheduled`` of every valid schedule (see module docstring)."""
    return _upper_bound(p, lambda s, _o: float(s.duration_min), p.minutes_bound(), time_limit_s)


def weighted_upper_bound(p: Problem, time_limit_s: float = 120.0) -> UpperBound:
    """The same relaxation for the contract's figure 1 (priority-weighted sessions scheduled).

    ``simple`` is then the total weight of all sessions.
    """
    return _upper_bound(p, lambda s, _o: float(s.weight), sum(s.weight for s in p.sessions), time_limit_s)


def _upper_bound(
    p: Problem, value: Callable[[SessionInfo, tuple[int, int]], float], simple: int, time_limit_s: float
) -> UpperBound:
    t0 = time.perf_counter()
    lp = build_model(p, value).lp
    lp_value, status, lam = _solve(lp, time_limit_s)
    if lam is None:
        return UpperBound(simple, simple, float(simple), "SIMPLE", len(lp.obj), len(lp.row_lo), _since(t0))
    proved = _certificate(lp, lam)
    bound = min(simple, math.floor(proved + _MARGIN * max(1.0, abs(proved))))
    return UpperBound(bound, simple, lp_value, status, len(lp.obj), len(lp.row_lo), _since(t0))


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def session_options(p: Problem) -> list[list[tuple[int, int]]]:
    """Site-days each session can use; options no ``after`` partner can match are pruned (fixpoint)."""
    x_of = [[o for o in p.options(s) if o in p.site_days] for s in p.sessions]
    for s in p.sessions:
        if s.fixed is not None:
            x_of[s.index] = [o for o in x_of[s.index] if o == (s.fixed[0], s.fixed[1])]
    changed = True
    while changed:
        changed = False
        for s in p.sessions:
            if s.parent is None:
                continue
            i, j = s.index, s.parent
            pj = set(x_of[j])
            keep_i = [
                (site, d)
                for site, d in x_of[i]
                if any((site, d - g) in pj for g in range(s.min_days, s.max_days + 1))
            ]
            pi = set(keep_i)
            keep_j = [
                (site, d)
                for site, d in x_of[j]
                if any((site, d + g) in pi for g in range(s.min_days, s.max_days + 1))
            ]
            if len(keep_i) != len(x_of[i]) or len(keep_j) != len(x_of[j]):
                x_of[i], x_of[j] = keep_i, keep_j
                changed = True
    return x_of


def _after_rows(
    p: Problem, lp: _Lp, x_of: list[list[tuple[int, int]]], xvar: dict[tuple[int, tuple[int, int]], int]
) -> None:
    for s in p.sessions:
        if s.parent is None or not x_of[s.index]:
            continue
        i, j = s.index, s.parent
        gaps = range(s.min_days, s.max_days + 1)
        for site, d in x_of[i]:
            partners = [xvar[(j, (site, d - g))] for g in gaps if (j, (site, d - g)) in xvar]
            lp.row([(xvar[(i, (site, d))], 1.0)] + [(k, -1.0) for k in partners], -math.inf, 0.0)
        for site, d in x_of[j]:
            partners = [xvar[(i, (site, d + g))] for g in gaps if (i, (site, d + g)) in xvar]
            lp.row([(xvar[(j, (site, d))], 1.0)] + [(k, -1.0) for k in partners], -math.inf, 0.0)


def stagger_levels(sd: SiteDay) -> int:
    """Track levels needed for the start cut: ``ceil(k / starts_cap)``."""
    return max(1, -(-sd.capacity // max(1, sd.starts_cap)))


def level_patterns(
    durations: tuple[int, ...], length: int, levels: int, limit: int = MAX_PATTERNS
) -> list[tuple[int, Pattern]] | None:
    """(level, pattern) pairs: the maximal patterns of a track whose first session starts ``level``
    slots after opening (``length - level`` slots left), for ``level`` in ``0..levels-1``; the last
    level stands for every later first start. ``None`` if there are too many.
    """
    out: list[tuple[int, Pattern]] = []
    for level in range(levels):
        pats = maximal_patterns(list(durations), length - level, limit)
        if pats is None or len(out) + len(pats) > limit:
            return None
        out += [(level, pat) for pat in pats]
    return out


def _capacity_rows(
    p: Problem,
    lp: _Lp,
    xvar: dict[tuple[int, tuple[int, int]], int],
    per_site_day: dict[tuple[int, int], list[int]],
) -> None:
    cache: dict[tuple[int, int, tuple[int, ...]], list[tuple[int, Pattern]] | None] = {}
    for key, idxs in sorted(per_site_day.items()):
        sd = p.site_days[key]
        length = track_length(p, sd)
        tracks = sd.capacity
        levels = stagger_levels(sd)
        by_dur: dict[int, list[int]] = defaultdict(list)
        for i in idxs:
            by_dur[p.sessions[i].dur_slots].append(xvar[(i, key)])
        durs = tuple(sorted(by_dur))
        starts = sd.starts_cap * max(0, length - durs[0] + 1)
        lp.row([(xvar[(i, key)], 1.0) for i in idxs], -math.inf, float(starts))
        group = (length, levels, durs)
        if group not in cache:
            cache[group] = level_patterns(durs, length, levels)
        patterns = cache[group]
        if patterns is None:
            reach = _reach(list(durs), length)
            lp.row(
                [(xvar[(i, key)], float(p.sessions[i].dur_slots)) for i in idxs],
                -math.inf,
                float(tracks * reach),
            )
            for d in durs:
                longer = [j for dd, js in by_dur.items() if dd >= d for j in js]
                lp.row([(j, 1.0) for j in longer], -math.inf, float(tracks * (length // d)))
            continue
        w = [lp.var(0.0, 0.0, float(tracks)) for _ in patterns]
        lp.row([(j, 1.0) for j in w], -math.inf, float(tracks))
        # tracks whose first session starts before slot ``j`` of the day: at most starts_cap * j
        for j in range(1, levels):
            early = [wj for wj, (level, _pat) in zip(w, patterns, strict=True) if level < j]
            if early:
                lp.row([(wj, 1.0) for wj in early], -math.inf, float(sd.starts_cap * j))
        for d, js in by_dur.items():
            cover = [(wj, -float(pat[d])) for wj, (_lv, pat) in zip(w, patterns, strict=True) if d in pat]
            lp.row([(j, 1.0) for j in js] + cover, -math.inf, 0.0)


FloatArray = npt.NDArray[np.float64]


def _solve(lp: _Lp, time_limit_s: float, backend: str = "GLOP") -> tuple[float, str, FloatArray | None]:
    solver = pywraplp.Solver.CreateSolver(backend) or pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return 0.0, "SIMPLE", None
    inf = solver.infinity()
    xs = [solver.NumVar(lo, hi, "") for lo, hi in zip(lp.lo, lp.hi, strict=True)]
    rows = [
        solver.Constraint(-inf if math.isinf(lo) else lo, inf if math.isinf(hi) else hi)
        for lo, hi in zip(lp.row_lo, lp.row_hi, strict=True)
    ]
    for r, c, v in zip(lp.r, lp.c, lp.v, strict=True):
        rows[r].SetCoefficient(xs[c], v)
    objective = solver.Objective()
    for x, c_j in zip(xs, lp.obj, strict=True):
        if c_j:
            objective.SetCoefficient(x, c_j)
    objective.SetMaximization()
    solver.SetTimeLimit(int(time_limit_s * 1000))
    code = solver.Solve()
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return 0.0, "SIMPLE", None
    lam = np.array([row.dual_value() for row in rows], dtype=np.float64)
    status = "OPTIMAL" if code == pywraplp.Solver.OPTIMAL else "FEASIBLE"
    return float(objective.Value()), status, lam


def _certificate(lp: _Lp, lam_raw: FloatArray) -> float:
    """Weak-duality bound ``lam.b + sum max(rc_j u_j, rc_j l_j)``, the better of both dual signs."""
    row_lo = np.array(lp.row_lo, dtype=np.float64)
    row_hi = np.array(lp.row_hi, dtype=np.float64)
    obj = np.array(lp.obj, dtype=np.float64)
    lo = np.array(lp.lo, dtype=np.float64)
    hi = np.array(lp.hi, dtype=np.float64)
    r = np.array(lp.r, dtype=np.int64)
    c = np.array(lp.c, dtype=np.int64)
    v = np.array(lp.v, dtype=np.float64)
    equality = row_lo == row_hi
    best = math.inf
    for sign in (1.0, -1.0):
        lam = sign * lam_raw
        # rows are either ``<= hi`` (lo = -inf) or ``= hi``; a ``<=`` row needs lam >= 0
        lam = np.where(equality, lam, np.maximum(lam, 0.0))
        reduced = obj - np.bincount(c, weights=v * lam[r], minlength=len(obj))
        value = float(lam @ row_hi) + float(np.maximum(reduced * hi, reduced * lo).sum())
        best = min(best, value)
    return best
