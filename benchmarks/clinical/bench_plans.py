"""Plans per second: the whole catalog x N synthetic patients.

Every (indication, phase, product, policy) combination in the catalog is planned for every
synthetic patient, hard stops included (they are part of the real workload). Patients are random
but seeded, drawn inside the catalog's plausibility bands; no real patient data.

Run:  .venv/bin/python benchmarks/clinical/bench_plans.py [--patients 1000] [--workers 1] [--seed 7]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from igflow.catalog import PHASES, load_catalog
from igflow.clinical import DoseRequest, plan_dose


def synthetic_patients(count: int, seed: int) -> list[dict[str, object]]:
    catalog = load_catalog()
    rng = random.Random(seed)
    risk_ids = catalog.risk_ids()
    patients: list[dict[str, object]] = []
    for _ in range(count):
        age = round(rng.uniform(0, 95), 1)
        band = catalog.administration.plausibility.band_for(age)
        sex = rng.choice(["female", "male"])
        patients.append(
            {
                "age_years": age,
                "sex": sex,
                "weight_kg": round(rng.uniform(*band.weight_kg), 1),
                "height_cm": round(rng.uniform(*band.height_cm), 1),
                "first_infusion": rng.random() < 0.2,
                "risks": tuple(rng.sample(risk_ids, k=rng.choice([0, 0, 0, 1, 2]))),
                "pregnant": sex == "female" and 16 <= age <= 45 and rng.random() < 0.05,
            }
        )
    return patients


def run_chunk(patients: list[dict[str, object]]) -> tuple[int, int, float]:
    catalog = load_catalog()
    combos = list(itertools.product(catalog.indications, PHASES, catalog.products, catalog.policies))
    plans = hard_stops = 0
    start = time.perf_counter()
    for patient in patients:
        for indication, phase, product, policy in combos:
            plan = plan_dose(
                DoseRequest(indication=indication, phase=phase, product=product, policy=policy, **patient),  # type: ignore[arg-type]
                catalog,
            )
            plan.to_contract_dict()
            plans += 1
            hard_stops += plan.hard_stopped
    return plans, hard_stops, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    catalog = load_catalog()
    combos = len(catalog.indications) * len(PHASES) * len(catalog.products) * len(catalog.policies)
    patients = synthetic_patients(args.patients, args.seed)
    chunks = [patients[i :: args.workers] for i in range(args.workers)]
    wall = time.perf_counter()
    if args.workers == 1:
        results = [run_chunk(patients)]
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(run_chunk, chunks))
    wall = time.perf_counter() - wall
    plans = sum(r[0] for r in results)
    hard_stops = sum(r[1] for r in results)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, {platform.system()} {platform.release()}"
    )
    print(f"catalog combinations: {combos} (indications x phases x products x policies)")
    print(f"patients: {args.patients}, workers: {args.workers}")
    print(f"plans: {plans} ({hard_stops} with a hard stop, {plans - hard_stops} complete plans)")
    print(f"wall time: {wall:.1f} s -> {plans / wall:,.0f} plans/s")


if __name__ == "__main__":
    main()
