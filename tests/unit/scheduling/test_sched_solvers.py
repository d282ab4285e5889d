"""Greedy and CP-SAT: feasibility, never worse than greedy, brute-force optimum, determinism."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igflow.scheduling.cpsat import SolveOptions, solve
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.generator import generate
from igflow.scheduling.greedy import solve_greedy
from igflow.scheduling.models import Instance
from igflow.scheduling.problem import compile_instance

FAST = SolveOptions(time_limit_s=30, work_limit=2.0, sub_work_limit=1.0)


def _tiny(seed: int, docs: Any) -> Instance:
    rng = random.Random(seed)
    two_sites = seed % 2 == 1
    n = 3 if two_sites else 4
    sites = [docs.site()] + ([docs.site("south", chairs=1)] if two_sites else [])
    sessions = []
    for i in range(n):
        earliest = rng.choice(["2027-01-04", "2027-01-05"])
        sessions.append(
            docs.session(
                f"S{i}",
                f"P{rng.randrange(3)}",
                duration_min=rng.choice([60, 90, 120, 180]),
                sites=rng.sample(["north", "south"], 2) if two_sites else ["north"],
                earliest=earliest,
                latest="2027-01-05",
                target=rng.choice([earliest, "2027-01-05"]),
                priority=rng.choice([1, 2, 3, 3]),
                preferred_start=rng.choice([None, ["08:00", "09:00"], ["10:00", "11:00"]]),
            )
        )
    if rng.random() < 0.6:  # a two-day course
        sessions[1].update(
            patient=sessions[0]["patient"],
            earliest="2027-01-05",
            latest="2027-01-05",
            target="2027-01-05",
            after={"session": "S0", "min_days": 1, "max_days": 1},
        )
        sessions[0].update(earliest="2027-01-04", latest="2027-01-04", target="2027-01-04")
    return Instance.model_validate(docs.instance(sessions, sites=sites, days=2))


def _brute_force_key(inst: Instance) -> tuple[int, int, int, int]:
    """Enumerate every assignment of (site, day, start) or nothing; best lexicographic key."""
    p = compile_instance(inst)
    choices = []
    for s in p.sessions:
        opts: list[tuple[int, int, int] | None] = [None]
        for site, day in p.options(s):
            opts += [(site, day, t) for t in p.start_range(s, p.site_days[(site, day)])]
        choices.append(opts)
    best = None
    for combo in itertools.product(*choices):
        ok = True
        for s, c in zip(p.sessions, combo, strict=True):
            if s.parent is not None:
                pc = combo[s.parent]
                if (pc is None) != (c is None):
                    ok = False
                elif c is not None and pc is not None:
                    ok = c[0] == pc[0] and s.min_days <= c[1] - pc[1] <= s.max_days
            if not ok:
                break
        if not ok:
            continue
        days: set[tuple[str, int]] = set()
        load: dict[tuple[int, int, int], int] = defaultdict(int)
        starts: dict[tuple[int, int, int], int] = defaultdict(int)
        weighted = dist = miss = 0
        for s, c in zip(p.sessions, combo, strict=True):
            if c is None:
                continue
            site, day, t = c
            if (s.patient, day) in days:
                ok = False
                break
            days.add((s.patient, day))
            starts[(site, day, t)] += 1
            for k in range(t, t + s.dur_slots):
                load[(site, day, k)] += 1
            weighted += s.weight
            dist += abs(day - s.target)
            miss += int(site != s.sites[0])
            if s.pref_lo is not None and s.pref_hi is not None:
                miss += int(not s.pref_lo <= t <= s.pref_hi)
        if not ok:
            continue
        if any(n > p.site_days[(a, b)].capacity for (a, b, _k), n in load.items()):
            continue
        if any(n > p.site_days[(a, b)].starts_cap for (a, b, _k), n in starts.items()):
            continue
        peaks: dict[tuple[int, int], int] = defaultdict(int)
        for (a, b, _k), n in load.items():
            peaks[(a, b)] = max(peaks[(a, b)], n)
        key = (-weighted, dist, miss, sum(peaks.values()))
        if best is None or key < best:
            best = key
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(6))
def test_cpsat_matches_brute_force_optimum(seed: int, docs: Any) -> None:
    inst = _tiny(seed, docs)
    schedule = solve(inst, FAST)
    result = evaluate(inst, schedule)
    assert result.violations == []
    assert result.figures is not None
    assert result.figures.key() == _brute_force_key(inst)
    assert schedule.stats is not None and schedule.stats.status == "OPTIMAL"


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    load=st.sampled_from([0.6, 0.9, 1.2]),
    sites=st.integers(1, 2),
    slot=st.sampled_from([15, 30]),
)
def test_greedy_and_cpsat_always_valid_and_cpsat_never_worse(
    seed: int, load: float, sites: int, slot: int
) -> None:
    inst = generate(seed, load, sites, 5, slot_minutes=slot)
    greedy = evaluate(inst, solve_greedy(inst))
    assert greedy.violations == []
    optimised = evaluate(
        inst, solve(inst, SolveOptions(time_limit_s=30, work_limit=0.5, sub_work_limit=0.5, seed=seed))
    )
    assert optimised.violations == []
    assert greedy.figures is not None and optimised.figures is not None
    assert optimised.figures.key() <= greedy.figures.key()


def test_cpsat_strictly_better_than_greedy_when_greedy_leaves_sessions() -> None:
    inst = generate(11, 1.1, 2, 7)
    greedy = evaluate(inst, solve_greedy(inst)).figures
    assert greedy is not None and greedy.sessions_unscheduled > 0
    optimised = evaluate(inst, solve(inst, SolveOptions(time_limit_s=60, work_limit=2.0))).figures
    assert optimised is not None
    assert optimised.key() < greedy.key()


def test_cpsat_deterministic_with_seed() -> None:
    inst = generate(5, 1.0, 2, 7)
    options = SolveOptions(time_limit_s=120, work_limit=1.0, sub_work_limit=0.5, seed=3)
    a, b = solve(inst, options), solve(inst, options)
    assert a.assignments == b.assignments
    assert a.unscheduled == b.unscheduled


def test_fixed_sessions_kept_and_greedy_warm_start_honoured(docs: Any) -> None:
    fixed = {"site": "north", "date": "2027-01-05", "start": "10:00", "chair": 2}
    sessions = [docs.session("S0", "P0", fixed=fixed), docs.session("S1", "P1"), docs.session("S2", "P2")]
    inst = Instance.model_validate(docs.instance(sessions, days=2))
    for schedule in (solve_greedy(inst), solve(inst, FAST)):
        result = evaluate(inst, schedule)
        assert result.violations == []
        s0 = next(a for a in schedule.assignments if a.session == "S0")
        assert (s0.date.isoformat(), s0.start, s0.chair) == ("2027-01-05", "10:00", 2)


def test_greedy_is_a_front_desk(docs: Any) -> None:
    """Priority first, nearest date to target, first listed site, earliest start, first free chair."""
    sessions = [
        docs.session("S1", "P1", priority=3, target="2027-01-05", sites=["south", "north"]),
        docs.session("S2", "P2", priority=1, target="2027-01-05", duration_min=240),
    ]
    inst = Instance.model_validate(docs.instance(sessions, sites=[docs.site(), docs.site("south")]))
    got = {a.session: a for a in solve_greedy(inst).assignments}
    assert (got["S2"].site, got["S2"].date.isoformat(), got["S2"].start, got["S2"].chair) == (
        "north",
        "2027-01-05",
        "08:00",
        1,
    )
    assert (got["S1"].site, got["S1"].date.isoformat(), got["S1"].start) == ("south", "2027-01-05", "08:00")
