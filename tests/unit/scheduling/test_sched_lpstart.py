"""LP-guided start and site-day packing: always valid, keeps fixed bookings, helps where search is local."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igflow.scheduling.bound import minutes_upper_bound
from igflow.scheduling.cpsat import SolveOptions, objective_key, solve
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.generator import generate
from igflow.scheduling.greedy import greedy_placements
from igflow.scheduling.lpstart import lp_placements
from igflow.scheduling.models import Instance
from igflow.scheduling.packing import pack_site_day
from igflow.scheduling.problem import compile_instance
from igflow.scheduling.result import assign_chairs, build_schedule


def _valid(inst: Instance, placed: dict[int, Any]) -> None:
    p = compile_instance(inst)
    result = evaluate(inst, build_schedule(p, placed, {}, "lp", "FEASIBLE", 0.0), p)
    assert result.violations == []


def test_packing_staggers_starts_and_keeps_the_most_valuable(docs: Any) -> None:
    # four chairs, one nurse for four patients who starts one infusion an hour, 08:00-12:00:
    # a 3-hour session must start at 08:00 or 09:00, so only two of the four fit
    site = docs.site(chairs=4, patients_per_nurse=4)
    sessions = [docs.session(f"S{k}", f"P{k}", duration_min=180, latest="2027-01-04") for k in range(4)]
    inst = Instance.model_validate(docs.instance(sessions, sites=[site], days=1))
    p = compile_instance(inst)
    value = {0: 1, 1: 5, 2: 3, 3: 4}
    starts = pack_site_day(p, (0, 0), [], [0, 1, 2, 3], value)
    assert set(starts) == {1, 3}
    assert sorted(starts.values()) == [8, 9]
    assert minutes_upper_bound(p).value == 360
    chaired = assign_chairs(p, {i: (0, 0, t) for i, t in starts.items()})
    assert chaired is not None
    _valid(inst, chaired)


def test_packing_fits_around_a_fixed_booking(docs: Any) -> None:
    # one chair: a fixed hour at 10:00 leaves 08:00-10:00 and 11:00-12:00
    fixed = {"site": "north", "date": "2027-01-04", "start": "10:00", "chair": 1}
    site = docs.site(chairs=1)
    sessions = [
        docs.session("F", "PF", duration_min=60, latest="2027-01-04", fixed=fixed),
        docs.session("A", "PA", duration_min=120, latest="2027-01-04"),
        docs.session("B", "PB", duration_min=60, latest="2027-01-04"),
        docs.session("C", "PC", duration_min=120, latest="2027-01-04"),
    ]
    inst = Instance.model_validate(docs.instance(sessions, sites=[site], days=1))
    p = compile_instance(inst)
    starts = pack_site_day(p, (0, 0), [(0, 10)], [1, 2, 3], {1: 3, 2: 2, 3: 1})
    assert starts == {1: 8, 2: 11}
    timed = {i: (0, 0, t) for i, t in starts.items()} | {0: (0, 0, 10)}
    chaired = assign_chairs(p, timed)
    assert chaired is not None
    _valid(inst, chaired)


@pytest.mark.parametrize(("seed", "load", "sites"), [(1, 1.2, 2), (2, 0.9, 1)])
def test_lp_start_is_valid_and_within_the_bound(seed: int, load: float, sites: int) -> None:
    inst = generate(seed, load, sites, 5)
    p = compile_instance(inst)
    placed = lp_placements(p, 10.0)
    assert placed is not None
    _valid(inst, placed)
    for s in p.sessions:  # fixed bookings are kept exactly
        if s.fixed is not None:
            assert placed[s.index] == s.fixed
    assert sum(p.sessions[i].duration_min for i in placed) <= minutes_upper_bound(p).value


@pytest.mark.parametrize(("seed", "load"), [(1, 0.9), (7, 0.9)])
def test_lp_start_beats_the_greedy_where_capacity_is_tight(seed: int, load: float) -> None:
    inst = generate(seed, load, 1, 5)
    p = compile_instance(inst)
    placed = lp_placements(p, 10.0)
    assert placed is not None
    greedy, _ = greedy_placements(p, best_fit=True)
    assert objective_key(p, placed) < objective_key(p, greedy)


def test_solver_never_worse_than_without_the_lp_start() -> None:
    inst = generate(7, 0.9, 1, 4)
    options = SolveOptions(time_limit_s=20, work_limit=0.05, sub_work_limit=0.05, seed=4)
    with_lp = evaluate(inst, solve(inst, options))
    without = evaluate(inst, solve(inst, dataclasses.replace(options, lp_start=False)))
    assert with_lp.violations == [] and without.violations == []
    assert with_lp.figures is not None and without.figures is not None
    assert with_lp.figures.key() <= without.figures.key()


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    load=st.sampled_from([0.8, 1.1, 1.5]),
    sites=st.integers(1, 2),
    slot=st.sampled_from([15, 30]),
)
def test_lp_start_always_valid(seed: int, load: float, sites: int, slot: int) -> None:
    inst = generate(seed, load, sites, 4, slot_minutes=slot)
    placed = lp_placements(compile_instance(inst), 5.0)
    assert placed is not None
    _valid(inst, placed)
