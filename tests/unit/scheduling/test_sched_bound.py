"""The configuration-LP upper bound: >= every schedule found, <= the evaluator's bound, exact when tiny."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igflow.scheduling.bound import (
    _certificate,
    build_model,
    maximal_patterns,
    minutes_upper_bound,
    weighted_upper_bound,
)
from igflow.scheduling.cpsat import SolveOptions, solve
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.generator import generate
from igflow.scheduling.greedy import greedy_placements, solve_greedy
from igflow.scheduling.lpstart import lp_placements
from igflow.scheduling.models import Instance, Schedule
from igflow.scheduling.problem import Problem, compile_instance
from igflow.scheduling.result import build_schedule


def _max_minutes(inst: Instance) -> int:
    """Brute force: the most minutes any valid schedule books (tiny instances only)."""
    p = compile_instance(inst)
    choices = []
    for s in p.sessions:
        opts: list[tuple[int, int, int] | None] = [None]
        for site, day in p.options(s):
            opts += [(site, day, t) for t in p.start_range(s, p.site_days[(site, day)])]
        choices.append(opts)
    best = 0
    for combo in itertools.product(*choices):
        if _valid(p, combo):
            best = max(best, sum(s.duration_min for s, c in zip(p.sessions, combo, strict=True) if c))
    return best


def _valid(p: Problem, combo: tuple[tuple[int, int, int] | None, ...]) -> bool:
    days: set[tuple[str, int]] = set()
    load: dict[tuple[int, int, int], int] = defaultdict(int)
    starts: dict[tuple[int, int, int], int] = defaultdict(int)
    for s, c in zip(p.sessions, combo, strict=True):
        if s.parent is not None:
            pc = combo[s.parent]
            if (pc is None) != (c is None):
                return False
            if (
                c is not None
                and pc is not None
                and (c[0] != pc[0] or not s.min_days <= c[1] - pc[1] <= s.max_days)
            ):
                return False
        if c is None:
            continue
        site, day, t = c
        if (s.patient, day) in days:
            return False
        days.add((s.patient, day))
        starts[(site, day, t)] += 1
        for k in range(t, t + s.dur_slots):
            load[(site, day, k)] += 1
    if any(n > p.site_days[(a, b)].capacity for (a, b, _k), n in load.items()):
        return False
    return all(n <= p.site_days[(a, b)].starts_cap for (a, b, _k), n in starts.items())


def _minutes(inst: Instance, schedule: Schedule) -> int:
    result = evaluate(inst, schedule)
    assert result.violations == []
    assert result.figures is not None
    return int(result.figures.minutes_scheduled)


def test_patterns_are_the_maximal_multisets() -> None:
    got = maximal_patterns([4, 3], 10)
    assert got is not None
    assert sorted(sorted(p.items()) for p in got) == [[(3, 2), (4, 1)], [(3, 3)], [(4, 2)]]
    assert maximal_patterns([11], 10) == []
    assert maximal_patterns([1], 100, limit=0) is None


def test_a_session_longer_than_the_day_and_two_that_cannot_share_a_chair(docs: Any) -> None:
    # one chair, 08:00-12:00: three hours fit once a day, five hours never
    sessions = [
        docs.session("S1", "P1", duration_min=180, latest="2027-01-04"),
        docs.session("S2", "P2", duration_min=180, latest="2027-01-04"),
        docs.session("S3", "P3", duration_min=300, latest="2027-01-04"),
    ]
    inst = Instance.model_validate(docs.instance(sessions, sites=[docs.site(chairs=1)], days=1))
    p = compile_instance(inst)
    assert p.minutes_bound() == 240  # min(660 demand, 1 chair x 240 min)
    bound = minutes_upper_bound(p)
    assert bound.value == 180 == _max_minutes(inst)
    assert bound.simple == 240


def test_only_one_full_day_session_can_start_at_opening_per_nurse(docs: Any) -> None:
    # two chairs, one nurse (2 patients, 1 start per slot): both 4-hour sessions would start at 08:00
    sessions = [
        docs.session("S1", "P1", duration_min=240, latest="2027-01-04"),
        docs.session("S2", "P2", duration_min=240, latest="2027-01-04"),
    ]
    inst = Instance.model_validate(docs.instance(sessions, days=1))
    p = compile_instance(inst)
    assert p.minutes_bound() == 480
    assert minutes_upper_bound(p).value == 240 == _max_minutes(inst)


def test_a_course_is_whole_or_absent_in_the_bound(docs: Any) -> None:
    # the second day of the course has no room (a fixed booking fills the only chair), so neither day counts
    fixed = {"site": "north", "date": "2027-01-05", "start": "08:00", "chair": 1}
    sessions = [
        docs.session("S0", "P0", duration_min=240, earliest="2027-01-05", target="2027-01-05", fixed=fixed),
        docs.session("S1", "P1", duration_min=120, latest="2027-01-04"),
        docs.session(
            "S2",
            "P1",
            duration_min=120,
            earliest="2027-01-05",
            target="2027-01-05",
            after={"session": "S1", "min_days": 1, "max_days": 1},
        ),
    ]
    site = docs.site(chairs=1, patients_per_nurse=1)
    inst = Instance.model_validate(docs.instance(sessions, sites=[site], days=2))
    p = compile_instance(inst)
    assert minutes_upper_bound(p).value == 240 == _max_minutes(inst)


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_exact_or_above_on_tiny_random_instances(seed: int, docs: Any) -> None:
    from tests.unit.scheduling.test_sched_solvers import _tiny

    inst = _tiny(seed, docs)
    p = compile_instance(inst)
    bound = minutes_upper_bound(p)
    assert _max_minutes(inst) <= bound.value <= p.minutes_bound()


def test_any_multipliers_prove_a_bound() -> None:
    inst = generate(3, 1.1, 1, 4)
    p = compile_instance(inst)
    lp = build_model(p, lambda s, _o: float(s.duration_min)).lp
    best = minutes_upper_bound(p).value
    rng = np.random.default_rng(0)
    for lam in (np.zeros(len(lp.row_lo)), rng.normal(size=len(lp.row_lo)) * 50):
        assert _certificate(lp, lam) >= best - 1e-6


def test_bound_holds_for_greedy_lp_start_and_cpsat() -> None:
    inst = generate(1, 1.2, 1, 5)
    p = compile_instance(inst)
    bound = minutes_upper_bound(p)
    assert bound.status == "OPTIMAL"
    assert bound.value < p.minutes_bound()  # over capacity: strictly tighter
    from_lp = lp_placements(p, 10.0)
    assert from_lp is not None
    found = [
        _minutes(inst, solve_greedy(inst)),
        _minutes(inst, build_schedule(p, greedy_placements(p, best_fit=True)[0], {}, "t", "t", 0.0)),
        _minutes(inst, build_schedule(p, from_lp, {}, "t", "t", 0.0)),
        _minutes(
            inst, solve(inst, SolveOptions(time_limit_s=10, work_limit=0.3, sub_work_limit=0.1, seed=1))
        ),
    ]
    assert max(found) <= bound.value
    weighted = weighted_upper_bound(p)
    figures = evaluate(inst, solve_greedy(inst)).figures
    assert figures is not None
    assert (
        figures.weighted_scheduled <= weighted.value <= weighted.simple == sum(s.weight for s in p.sessions)
    )


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    load=st.sampled_from([0.7, 1.0, 1.4]),
    sites=st.integers(1, 2),
    slot=st.sampled_from([15, 30]),
)
def test_bound_property_on_small_random_instances(seed: int, load: float, sites: int, slot: int) -> None:
    inst = generate(seed, load, sites, 4, slot_minutes=slot)
    p = compile_instance(inst)
    bound = minutes_upper_bound(p)
    assert bound.value <= p.minutes_bound()
    for placed in (
        greedy_placements(p)[0],
        greedy_placements(p, best_fit=True)[0],
        lp_placements(p, 5.0) or {},
    ):
        assert _minutes(inst, build_schedule(p, placed, {}, "t", "t", 0.0)) <= bound.value
    options = SolveOptions(time_limit_s=10, work_limit=0.1, sub_work_limit=0.05, seed=seed)
    assert _minutes(inst, solve(inst, options)) <= bound.value  # the optimiser, LP-guided start included
    figures = evaluate(inst, solve_greedy(inst)).figures
    assert figures is not None
    assert figures.weighted_scheduled <= weighted_upper_bound(p).value
