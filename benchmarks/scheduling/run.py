"""Scheduling benchmarks: greedy vs CP-SAT on generated instances, and slot-suggestion latency.

Every case runs in its own child process (one at a time) so that wall time and peak memory
(``ru_maxrss``) belong to that case alone. Per instance, three solvers: the front-desk greedy,
``cp-sat-nolp`` (the optimiser without its LP-guided start, i.e. the solver as it was before it,
as a baseline measured in the same run) and ``cp-sat``; and, in a child of its own (not in any
wall time), the provable upper bounds of :mod:`igflow.scheduling.bound`.

    .venv/bin/python benchmarks/scheduling/run.py                 # 3 centres x 4 weeks, 2 loads, 3 seeds
    .venv/bin/python benchmarks/scheduling/run.py --scale         # + 10 centres x 12 weeks, 600 s
    .venv/bin/python benchmarks/scheduling/run.py --only-suggest  # slot-suggestion latency only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_case(seed: int, load: float, sites: int, days: int, time_limit: float, solver: str) -> dict[str, Any]:
    from igflow.scheduling.cpsat import SolveOptions, solve
    from igflow.scheduling.evaluate import evaluate
    from igflow.scheduling.generator import generate
    from igflow.scheduling.greedy import solve_greedy

    instance = generate(seed, load, sites, days)
    t0 = time.perf_counter()
    if solver == "greedy":
        schedule = solve_greedy(instance)
        iterations = 0
    else:
        seen: list[int] = []
        schedule = solve(
            instance,
            SolveOptions(time_limit_s=time_limit, seed=seed, lp_start=solver == "cp-sat"),
            progress=lambda p: seen.append(p.iteration),
        )
        iterations = seen[-1] if seen else 0
    wall = time.perf_counter() - t0
    result = evaluate(instance, schedule)
    assert result.figures is not None
    return {
        "seed": seed,
        "load": load,
        "sites": sites,
        "days": days,
        "sessions": len(instance.sessions),
        "solver": solver,
        "status": schedule.stats.status if schedule.stats else "",
        "iterations": iterations,
        "violations": len(result.violations),
        "figures": result.to_dict()["figures"],
        "wall_s": round(wall, 2),
        "peak_mib": round(_peak_mib(), 1),
    }


def bounds(seed: int, load: float, sites: int, days: int, time_limit: float) -> dict[str, Any]:
    """The configuration-LP upper bounds on minutes and on weighted scheduled (GLOP, dual-certified)."""
    from igflow.scheduling.bound import minutes_upper_bound, weighted_upper_bound
    from igflow.scheduling.generator import generate
    from igflow.scheduling.problem import compile_instance

    p = compile_instance(generate(seed, load, sites, days))
    minutes = minutes_upper_bound(p, time_limit)
    weighted = weighted_upper_bound(p, time_limit)
    return {
        "minutes_bound_simple": minutes.simple,
        "minutes_bound_lp": minutes.value,
        "minutes_bound_lp_status": minutes.status,
        "minutes_bound_lp_seconds": minutes.seconds,
        "weighted_total": weighted.simple,
        "weighted_bound_lp": weighted.value,
        "weighted_bound_lp_status": weighted.status,
        "weighted_bound_lp_seconds": weighted.seconds,
        "lp_variables": minutes.variables,
        "lp_rows": minutes.rows,
    }


def _check_bound(r: dict[str, Any], bound: dict[str, Any]) -> None:
    """A schedule above its proved upper bound means a bug in the bound (or the evaluator): stop."""
    f = r["figures"]
    if (
        f["minutes_scheduled"] > bound["minutes_bound_lp"]
        or f["weighted_scheduled"] > bound["weighted_bound_lp"]
    ):
        raise SystemExit(f"schedule above its upper bound: {r['solver']} {f} {bound}")


def _loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def suggest_latency(queries: int, seed: int = 1) -> dict[str, Any]:
    from igflow.scheduling.generator import generate
    from igflow.scheduling.greedy import solve_greedy
    from igflow.scheduling.models import After, Session
    from igflow.scheduling.suggest import SlotIndex

    instance = generate(seed, 0.8, 3, 28)
    schedule = solve_greedy(instance)
    t0 = time.perf_counter()
    index = SlotIndex(instance, schedule)
    build_ms = (time.perf_counter() - t0) * 1000
    rng = random.Random(seed)
    site_ids = [s.id for s in instance.sites]
    latencies = []
    with_options = []
    for q in range(queries):
        n = rng.choice([1, 1, 1, 2, 3, 5])
        start = rng.randrange(0, instance.days - 3 * n)
        day0 = instance.start_date + dt.timedelta(days=start)
        sites = rng.sample(site_ids, rng.choice([1, 2]))
        course: list[Session] = []
        for k in range(n):
            earliest = day0 + dt.timedelta(days=k)
            course.append(
                Session(
                    id=f"Q{q}-{k}",
                    patient=f"QP{q}",
                    duration_min=rng.choice([165, 195, 240, 270, 300, 360]),
                    sites=sites,
                    earliest=earliest,
                    latest=earliest + dt.timedelta(days=4 + 2 * k),
                    target=earliest + dt.timedelta(days=1),
                    priority=rng.choice([1, 2, 3]),
                    after=None if k == 0 else After(session=f"Q{q}-{k - 1}", min_days=1, max_days=3),
                    preferred_start=rng.choice([None, ("08:00", "09:30")]),
                )
            )
        t = time.perf_counter()
        options = index.suggest(course, top=5)
        latencies.append((time.perf_counter() - t) * 1000)
        if options:
            with_options.append(latencies[-1])
    latencies.sort()
    with_options.sort()
    return {
        "booked_sessions": len(schedule.assignments),
        "queries": queries,
        "with_options": len(with_options),
        "index_build_ms": round(build_ms, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "max_ms": round(latencies[-1], 2),
        "p95_ms_queries_with_options": round(with_options[int(0.95 * (len(with_options) - 1))], 2)
        if with_options
        else None,
    }


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    ).stdout
    data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return data


def _row(r: dict[str, Any]) -> str:
    f = r["figures"]
    b = r.get("bound") or {}
    lp = b.get("minutes_bound_lp")
    wlp = b.get("weighted_bound_lp")
    lp_cell = f"{lp} = {f['minutes_scheduled'] / lp:.3f}" if lp else "-"
    w_cell = f"{f['weighted_scheduled']} / {wlp}" if wlp else str(f["weighted_scheduled"])
    return (
        f"| {r['sites']}x{r['days']}d load {r['load']} seed {r['seed']} | {r['sessions']} | {r['solver']} | "
        f"{r['violations']} | {w_cell} | {f['target_distance_days']} | "
        f"{f['preference_misses']} | "
        f"{f['peak_load']} | {f['sessions_unscheduled']} | {f['minutes_scheduled']} / {f['minutes_bound']} = "
        f"{f['ratio']:.3f} | {lp_cell} | {r['wall_s']} | {r['peak_mib']} | {r.get('loadavg', '')} |"
    )


HEADER = (
    "| instance | sessions | solver | violations | weighted scheduled / LP bound (higher better) | "
    "target distance d | pref. misses | peak load | unscheduled | minutes scheduled / old bound = ratio | "
    "/ LP bound = ratio | wall s | peak MiB | load avg |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)
SOLVERS = ("greedy", "cp-sat-nolp", "cp-sat")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="*")
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--loads", type=float, nargs="*", default=[0.8, 1.1])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--scale", action="store_true", help="also 10 centres x 12 weeks with a 600 s limit")
    ap.add_argument("--only-suggest", action="store_true")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--out", type=Path, default=HERE / "results.json")
    ap.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=SOLVERS)
    ap.add_argument("--no-bound", action="store_true", help="skip the LP bounds")
    ap.add_argument("--bound-time-limit", type=float, default=600.0)
    a = ap.parse_args()
    if a.child is not None:
        kind, *rest = a.child
        if kind == "suggest":
            print(json.dumps(suggest_latency(int(rest[0]))))
        elif kind == "bound":
            print(
                json.dumps(bounds(int(rest[0]), float(rest[1]), int(rest[2]), int(rest[3]), float(rest[4])))
            )
        else:
            seed, load, sites, days, limit = (
                int(rest[0]),
                float(rest[1]),
                int(rest[2]),
                int(rest[3]),
                float(rest[4]),
            )
            print(json.dumps(one_case(seed, load, sites, days, limit, kind)))
        return
    rows: list[dict[str, Any]] = []
    cases: list[tuple[int, float, int, int, float]] = []
    if not a.only_suggest:
        cases = [(seed, load, 3, 28, a.time_limit) for load in a.loads for seed in a.seeds]
    if a.scale:
        cases.append((1, 0.6, 10, 84, 600.0))
    print(HEADER, flush=True)
    for seed, load, sites, days, limit in cases:
        args = [str(seed), str(load), str(sites), str(days)]
        bound = None if a.no_bound else _child(["bound", *args, str(a.bound_time_limit)])
        for solver in a.solvers:
            before = _loadavg()
            r = _child([solver, *args, str(limit)])
            r["bound"] = bound
            r["loadavg"] = round(max(before, _loadavg()), 2)
            rows.append(r)
            print(_row(r), flush=True)
            if bound is not None:
                _check_bound(r, bound)
    suggest = _child(["suggest", str(a.queries)])
    print(json.dumps(suggest), flush=True)
    a.out.write_text(json.dumps({"cases": rows, "suggest": suggest}, indent=1) + "\n")


if __name__ == "__main__":
    main()
