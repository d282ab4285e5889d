"""Packing one site-day from track patterns: choose which sessions stay, then give them start times.

Used by the LP-guided start (:mod:`igflow.scheduling.lpstart`). The argument of
:mod:`igflow.scheduling.bound` runs backwards here: a site-day with ``k`` sessions in chairs at once
is ``k`` *tracks* of back-to-back sessions, so

1. a tiny integer model picks the most valuable subset of the candidates that integer track
   patterns can hold (fixed sessions are kept: each gets a track of its own, split into the part
   before and the part after it), with the start cut (at most ``starts_cap`` tracks begin in one
   slot), and
2. the tracks are laid out one by one, least slack first, each in the order of its sessions that
   ends earliest when every session takes the first slot with a start still free (at most
   ``starts_cap`` starts per slot, fixed starts counted); a track that fits in no order loses its
   least valuable session. If that drops anything, randomised restarts, then a short CP-SAT
   layout of the same tracks (no overlap inside a track, starts per slot) try to keep them all.

Every start it returns satisfies the contract's constraints 2, 4 and 5 for the site-day (chairs are
numbered afterwards by interval colouring: at most ``k <= chairs`` are in use at once).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from igflow.scheduling.bound import Pattern, level_patterns, maximal_patterns, stagger_levels, track_length
from igflow.scheduling.problem import Problem, SiteDay

MAX_PERMUTED = 6  # sessions per track up to which every order is tried
RESTARTS = 40  # randomised layouts tried when the first one drops a session
RESTART_NOISE = 3.0  # slots of random noise on the track order and on the order of a track
EXACT_TIME_S = 0.2  # CP-SAT layout after that


@dataclass(frozen=True)
class _Segment:
    """A kind of track: the whole day, or the part of a fixed session's track before / after it."""

    release: int
    deadline: int
    count: int  # how many tracks of this kind
    staggered: bool  # begins at opening (takes part in the start cut)


def _segments(p: Problem, sd: SiteDay, fixed: list[tuple[int, int]]) -> list[_Segment]:
    open_slot = sd.open_slot
    close = open_slot + track_length(p, sd)
    segs = [_Segment(open_slot, close, max(0, sd.capacity - len(fixed)), True)]
    for idx, start in fixed:
        segs.append(_Segment(open_slot, start, 1, True))
        segs.append(_Segment(start + p.sessions[idx].dur_slots, close, 1, False))
    return segs


def select(
    p: Problem,
    sd: SiteDay,
    fixed: list[tuple[int, int]],
    candidates: list[int],
    value: dict[int, int],
    time_limit_s: float = 1.0,
) -> list[tuple[_Segment, Pattern, list[int]]] | None:
    """Most valuable subset of ``candidates`` integer patterns can hold, as (segment, pattern, sessions).

    ``fixed``: (session, start slot) already in place. ``None`` if the model found nothing.
    """
    if len(fixed) > sd.capacity:
        return None
    by_dur: dict[int, list[int]] = defaultdict(list)
    for i in candidates:
        by_dur[p.sessions[i].dur_slots].append(i)
    durs = tuple(sorted(by_dur))
    levels = stagger_levels(sd)
    m = cp_model.CpModel()
    for d in by_dur:
        by_dur[d].sort(key=lambda i: -value[i])
    use = {i: m.new_bool_var(f"u{i}") for i in candidates}
    for idxs in by_dur.values():  # of one duration, the more valuable sessions first
        for a, b in itertools.pairwise(idxs):
            m.add_implication(use[b], use[a])
    cover: dict[int, list[tuple[cp_model.IntVar, int]]] = defaultdict(list)
    choices: list[tuple[_Segment, int, Pattern, cp_model.IntVar]] = []
    early: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for seg in _segments(p, sd, fixed):
        length = seg.deadline - seg.release
        if seg.count == 0 or not durs or length < durs[0]:
            continue
        pats: list[tuple[int, Pattern]] | None
        if seg.staggered:
            pats = level_patterns(durs, length, min(levels, length))
        else:
            plain = maximal_patterns(list(durs), length)
            pats = None if plain is None else [(0, pat) for pat in plain]
        if pats is None:
            return None
        ws = []
        for level, pat in pats:
            w = m.new_int_var(0, seg.count, "w")
            ws.append(w)
            choices.append((seg, level, pat, w))
            for d, n in pat.items():
                cover[d].append((w, n))
            if seg.staggered:
                for j in range(level + 1, levels):
                    early[j].append(w)
        m.add(sum(ws) <= seg.count)
    fixed_starts = [start - sd.open_slot for _idx, start in fixed]
    for j, ws in early.items():
        m.add(sum(ws) <= max(0, sd.starts_cap * j - sum(1 for t in fixed_starts if t < j)))
    for d, idxs in by_dur.items():
        m.add(sum(use[i] for i in idxs) <= sum(n * w for w, n in cover[d]))
    m.maximize(sum(value[i] * u for i, u in use.items()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.cp_model_presolve = False  # a tiny model: presolve would cost 3x the search
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    chosen: dict[int, list[int]] = defaultdict(list)
    for d, idxs in by_dur.items():
        chosen[d] = [i for i in idxs if solver.boolean_value(use[i])]
    out = []
    for seg, _level, pat, w in choices:
        for _ in range(solver.value(w)):
            items: list[int] = []
            for d, n in pat.items():
                take, chosen[d] = chosen[d][:n], chosen[d][n:]
                items += take
            if items:
                out.append((seg, pat, items))
    return out


def _orders(durations: list[int]) -> list[tuple[int, ...]]:
    """Distinct orders of a track's durations (a few fixed ones when there are many)."""
    if len(durations) <= MAX_PERMUTED:
        return sorted(set(itertools.permutations(durations)))
    desc = sorted(durations, reverse=True)
    return [tuple(desc), tuple(reversed(desc))] + [tuple(desc[k:] + desc[:k]) for k in range(1, len(desc))]


def lay_out(
    p: Problem,
    sd: SiteDay,
    fixed: list[tuple[int, int]],
    tracks: list[tuple[_Segment, Pattern, list[int]]],
    value: dict[int, int],
    rng: random.Random | None = None,
) -> dict[int, int]:
    """Start slots for the sessions of ``tracks``.

    Tracks are laid out one at a time, least slack first. For each, every order of its sessions is
    tried, each session at the first slot after the previous one where a start is still free
    (``starts_cap`` per slot, fixed starts counted); the order that ends earliest wins. A track that
    cannot fit in any order loses its least valuable session and is tried again. With ``rng`` the
    track order and the choice among fitting orders are randomised (for restarts).
    """
    used: dict[int, int] = defaultdict(int)
    for _idx, start in fixed:
        used[start] += 1
    cap = sd.starts_cap
    dur = {i: p.sessions[i].dur_slots for _s, _p, items in tracks for i in items}
    out: dict[int, int] = {}

    def slack(seg: _Segment, items: list[int]) -> int:
        return seg.deadline - seg.release - sum(dur[i] for i in items)

    def rank(t: tuple[_Segment, Pattern, list[int]]) -> tuple[float, int]:
        noise = rng.random() * RESTART_NOISE if rng is not None else 0.0
        return (slack(t[0], t[2]) + noise, t[0].release)

    for seg, _pat, items in sorted(tracks, key=rank):
        left = sorted(items, key=lambda i: -value.get(i, 0))
        while left:
            best: tuple[float, tuple[int, ...], list[int]] | None = None
            for order in _orders([dur[i] for i in left]):
                t = seg.release
                starts = []
                for d in order:
                    while used[t] >= cap:
                        t += 1
                    if t + d > seg.deadline:
                        break
                    starts.append(t)
                    t += d
                else:
                    end = t + (rng.random() * RESTART_NOISE if rng is not None else 0.0)
                    if best is None or end < best[0]:
                        best = (end, order, starts)
            if best is None:
                left.pop()  # the least valuable session of the track goes
                continue
            pool = {d: [i for i in left if dur[i] == d] for d in set(best[1])}
            for d, t in zip(best[1], best[2], strict=True):
                out[pool[d].pop(0)] = t
                used[t] += 1
            break
    return out


def lay_out_exact(
    p: Problem,
    sd: SiteDay,
    fixed: list[tuple[int, int]],
    tracks: list[tuple[_Segment, Pattern, list[int]]],
    value: dict[int, int],
    hint: dict[int, int],
    time_limit_s: float = 1.0,
) -> dict[int, int]:
    """The same tracks laid out by CP-SAT: each session inside its track's window, no overlap in a
    track, at most ``starts_cap`` starts per slot; the most valuable sessions that fit (``hint``: a
    layout to start from).
    """
    m = cp_model.CpModel()
    start_ivs = [m.new_fixed_size_interval_var(start, 1, "fixed") for _idx, start in fixed]
    var: dict[int, tuple[cp_model.IntVar, cp_model.IntVar]] = {}
    for seg, _pat, items in tracks:
        ivs = []
        for i in items:
            d = p.sessions[i].dur_slots
            if seg.deadline - d < seg.release:
                continue
            st = m.new_int_var(seg.release, seg.deadline - d, f"s{i}")
            on = m.new_bool_var(f"on{i}")
            ivs.append(m.new_optional_fixed_size_interval_var(st, d, on, f"iv{i}"))
            start_ivs.append(m.new_optional_fixed_size_interval_var(st, 1, on, f"sv{i}"))
            var[i] = (st, on)
            if i in hint:
                m.add_hint(st, hint[i])
                m.add_hint(on, 1)
            else:
                m.add_hint(on, 0)
        if len(ivs) > 1:
            m.add_no_overlap(ivs)
    m.add_cumulative(start_ivs, [1] * len(start_ivs), sd.starts_cap)
    m.maximize(sum(value.get(i, 1) * on for i, (_st, on) in var.items()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit_s
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return hint
    return {i: solver.value(st) for i, (st, on) in var.items() if solver.boolean_value(on)}


def pack_site_day(
    p: Problem,
    key: tuple[int, int],
    fixed: list[tuple[int, int]],
    candidates: list[int],
    value: dict[int, int],
    exact: bool = True,
) -> dict[int, int]:
    """Start slots for a valuable subset of ``candidates`` at site-day ``key`` around ``fixed``.

    The list scheduler first, randomised restarts if it drops a session, then (with ``exact``) a
    short CP-SAT layout of the same tracks.
    """
    sd = p.site_days[key]
    tracks = select(p, sd, fixed, candidates, value)
    if tracks is None:
        return {}
    wanted = sum(len(items) for _s, _p, items in tracks)
    out = lay_out(p, sd, fixed, tracks, value)
    rng = random.Random(key[0] * 100_003 + key[1])
    for _ in range(RESTARTS):
        if len(out) == wanted:
            return out
        again = lay_out(p, sd, fixed, tracks, value, rng)
        if sum(value[i] for i in again) > sum(value[i] for i in out):
            out = again
    if exact and len(out) < wanted and EXACT_TIME_S > 0:
        out = lay_out_exact(p, sd, fixed, tracks, value, out, EXACT_TIME_S)
    return out
