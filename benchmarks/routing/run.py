"""Home-visit routing benchmark: the OR-Tools optimiser against the nearest-neighbour dispatcher by hand
on synthetic instances (3 regions x 10 nurses x 2 weeks, about 600 visits), with a lower bound on driving.

    .venv/bin/python benchmarks/routing/run.py --seeds 1 2 3 --time-limit 60

Writes results.json beside this file and prints a markdown table. Everything is synthetic."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import time
from pathlib import Path

from igflow.routing import bounds, check, greedy, metrics, solver
from igflow.routing.models import DEFAULT_TRAVEL, Nurse, Point, RoutingInstance, Shift, Visit
from igflow.routing.travel import HaversineTravel

CENTRES = {
    "north": Point(lat=34.15, lon=-118.45),
    "central": Point(lat=34.05, lon=-118.25),
    "harbor": Point(lat=33.80, lon=-118.20),
}
START = dt.date(2027, 1, 4)  # a Monday


def _near(rng: random.Random, centre: Point, km: float) -> Point:
    return Point(lat=centre.lat + rng.uniform(-km, km) / 111, lon=centre.lon + rng.uniform(-km, km) / 92)


def generate(seed: int, visits_per_region: int = 200, nurses_per_region: int = 10) -> RoutingInstance:
    rng = random.Random(seed)
    weekdays = [
        START + dt.timedelta(days=d) for d in range(14) if (START + dt.timedelta(days=d)).weekday() < 5
    ]
    nurses, visits = [], []
    for region, centre in CENTRES.items():
        for k in range(nurses_per_region):
            skills = (
                {"ivig_home", "scig_training"}
                | ({"paediatric"} if k < 2 else set())
                | ({"first_dose"} if k < 3 else set())
            )
            nurses.append(
                Nurse(
                    id=f"{region}-N{k}",
                    home=_near(rng, centre, 15),
                    skills=frozenset(skills),
                    shifts=[Shift(day=d, start_min=480, end_min=1020, break_min=30) for d in weekdays],
                    max_visits_per_day=3,
                )
            )
        for i in range(visits_per_region):
            ivig = rng.random() < 0.45
            first = rng.randrange(len(weekdays))
            span = rng.randrange(0, 5)
            skills = {"ivig_home" if ivig else "scig_training"}
            if rng.random() < 0.08:
                skills.add("paediatric")
            visits.append(
                Visit(
                    id=f"{region}-V{i}",
                    patient_id=f"{region}-P{i}",
                    location=_near(rng, centre, 18),
                    earliest_day=weekdays[first],
                    latest_day=weekdays[min(len(weekdays) - 1, first + span)],
                    window_start_min=480,
                    window_end_min=720 if ivig else 900,
                    service_min=rng.randrange(240, 391, 15) if ivig else rng.randrange(60, 121, 15),
                    required_skills=frozenset(skills),
                    priority=rng.choice([1, 1, 2, 3]),
                )
            )
    return RoutingInstance(start_day=START, days=14, nurses=nurses, visits=visits, travel=DEFAULT_TRAVEL)


def run(seed: int, time_limit_s: float) -> dict[str, object]:
    instance = generate(seed)
    matrix = HaversineTravel(instance.travel)
    began = time.perf_counter()
    by_hand = greedy.greedy(instance, matrix)
    greedy_s = time.perf_counter() - began
    began = time.perf_counter()
    optimised = solver.solve(instance, time_limit_s=time_limit_s, matrix=matrix)
    solve_s = time.perf_counter() - began
    o, g = metrics.summarise(instance, optimised, matrix), metrics.summarise(instance, by_hand, matrix)
    served = {s.visit_id for r in optimised.routes for s in r.stops}
    bound = bounds.travel_lower_bound_min(instance, matrix, served)
    return {
        "seed": seed,
        "visits": len(instance.visits),
        "nurse_days": sum(len(n.shifts) for n in instance.nurses),
        "optimiser": o.model_dump(),
        "greedy": g.model_dump(),
        "violations": {
            "optimiser": len(check.check(instance, optimised, matrix)),
            "greedy": len(check.check(instance, by_hand, matrix)),
        },
        "travel_lower_bound_min": bound,
        "wall_s": {"optimiser": round(solve_s, 1), "greedy": round(greedy_s, 2)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=55)
    args = parser.parse_args()
    rows = [run(seed, args.time_limit) for seed in args.seeds]
    Path(__file__).with_name("results.json").write_text(json.dumps(rows, indent=2))
    print(
        "| seed | visits | served opt / greedy | travel min opt / greedy (ratio) | per visit opt / greedy | "
        "bound (gap) | overtime | windows missed | violations | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o, g = r["optimiser"], r["greedy"]  # type: ignore[index]
        ratio = o["travel_min"] / g["travel_min"] if g["travel_min"] else float("nan")
        gap = (o["travel_min"] - r["travel_lower_bound_min"]) / o["travel_min"] if o["travel_min"] else 0
        print(
            f"| {r['seed']} | {r['visits']} | {o['visits_served']} / {g['visits_served']} | "
            f"{o['travel_min']} / {g['travel_min']} ({ratio:.2f}) | {o['travel_min_per_visit']} / "
            f"{g['travel_min_per_visit']} | {r['travel_lower_bound_min']} ({gap:.0%}) | "
            f"{o['overtime_min']} / {g['overtime_min']} | {o['windows_missed']} / {g['windows_missed']} | "
            f"{r['violations']['optimiser']} / {r['violations']['greedy']} | "  # type: ignore[index]
            f"{r['wall_s']['optimiser']} / {r['wall_s']['greedy']} |"
        )  # type: ignore[index]


if __name__ == "__main__":
    main()
