"""The LP bound on the benchmark instances of ``benchmarks/scheduling`` (3 centres x 4 weeks).

Every schedule the benchmark recorded (``results.json``: greedy, CP-SAT without and with the LP-guided
start) books at most the bound, and the bound recomputed here is the one the README reports. The
bound is recomputed for two instances by default (one where it is the total demand, one where it is
strictly tighter; about 20 s) and for all six with ``IGFLOW_ALL_BENCHMARK_BOUNDS=1`` (about a minute);
``benchmarks/scheduling/run.py`` checks every row of every run as well.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from igflow.scheduling.bound import minutes_upper_bound
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.generator import generate
from igflow.scheduling.greedy import greedy_placements, solve_greedy
from igflow.scheduling.problem import compile_instance
from igflow.scheduling.result import build_schedule

RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "scheduling" / "results.json"
ALL = os.environ.get("IGFLOW_ALL_BENCHMARK_BOUNDS") == "1"
DEFAULT = {(1, 0.8), (2, 1.1)}
SITES, DAYS = 3, 28


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(RESULTS.read_text())["cases"]
    return [r for r in rows if (r["sites"], r["days"]) == (SITES, DAYS)]


def test_every_recorded_benchmark_schedule_is_within_its_bound() -> None:
    rows = _rows()
    assert {r["solver"] for r in rows} >= {"greedy", "cp-sat"}
    for r in rows:
        f, b = r["figures"], r["bound"]
        assert r["violations"] == 0
        assert (
            f["minutes_scheduled"] <= b["minutes_bound_lp"] <= b["minutes_bound_simple"] == f["minutes_bound"]
        )
        assert f["weighted_scheduled"] <= b["weighted_bound_lp"] <= b["weighted_total"]


CASES = sorted({(r["seed"], r["load"]) for r in _rows()})


@pytest.mark.parametrize(
    ("seed", "load"),
    [
        pytest.param(
            seed, load, marks=pytest.mark.skipif(not ALL and (seed, load) not in DEFAULT, reason="slow")
        )
        for seed, load in CASES
    ],
)
def test_bound_on_a_benchmark_instance(seed: int, load: float) -> None:
    inst = generate(seed, load, SITES, DAYS)
    p = compile_instance(inst)
    bound = minutes_upper_bound(p, time_limit_s=300)
    assert bound.status == "OPTIMAL"
    recorded = [r for r in _rows() if (r["seed"], r["load"]) == (seed, load)]
    assert {r["bound"]["minutes_bound_lp"] for r in recorded} == {bound.value}  # the README's figure
    found = [r["figures"]["minutes_scheduled"] for r in recorded]
    for schedule in (
        solve_greedy(inst),
        build_schedule(p, greedy_placements(p, best_fit=True)[0], {}, "t", "t", 0.0),
    ):
        result = evaluate(inst, schedule, p)
        assert result.violations == [] and result.figures is not None
        found.append(result.figures.minutes_scheduled)
    assert max(found) <= bound.value <= p.minutes_bound()
