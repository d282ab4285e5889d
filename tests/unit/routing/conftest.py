"""Small synthetic routing instances (synthetic places around Los Angeles; no patients)."""

from __future__ import annotations

import datetime as dt
import random

from igflow.routing.models import Nurse, Point, RoutingInstance, Shift, Visit

MONDAY = dt.date(2026, 12, 7)
CENTRES = [Point(lat=34.05, lon=-118.25), Point(lat=33.77, lon=-118.19), Point(lat=34.15, lon=-118.45)]


def near(rng: random.Random, centre: Point, km: float = 12) -> Point:
    return Point(lat=centre.lat + rng.uniform(-km, km) / 111, lon=centre.lon + rng.uniform(-km, km) / 92)


def make_instance(
    seed: int,
    regions: int = 1,
    nurses_per_region: int = 3,
    days: int = 3,
    visits: int = 12,
    breaks: bool = True,
) -> RoutingInstance:
    rng = random.Random(seed)
    nurse_list, visit_list = [], []
    for r in range(regions):
        for k in range(nurses_per_region):
            skills = {"ivig_home", "scig_training"} | ({"paediatric"} if k == 0 else set())
            shifts = [
                Shift(
                    day=MONDAY + dt.timedelta(days=d),
                    start_min=480,
                    end_min=1020,
                    break_min=30 if breaks else 0,
                )
                for d in range(days)
            ]
            nurse_list.append(
                Nurse(
                    id=f"R{r}N{k}",
                    home=near(rng, CENTRES[r]),
                    skills=frozenset(skills),
                    shifts=shifts,
                    max_visits_per_day=3,
                )
            )
        for i in range(visits):
            ivig = rng.random() < 0.5
            first = rng.randrange(days)
            skills = {"ivig_home" if ivig else "scig_training"} | (
                {"paediatric"} if rng.random() < 0.1 else set()
            )
            visit_list.append(
                Visit(
                    id=f"R{r}V{i}",
                    patient_id=f"P{r}-{i}",
                    location=near(rng, CENTRES[r]),
                    earliest_day=MONDAY + dt.timedelta(days=first),
                    latest_day=MONDAY + dt.timedelta(days=min(days - 1, first + rng.randrange(3))),
                    window_start_min=480,
                    window_end_min=720 if ivig else 900,
                    service_min=rng.randrange(240, 330, 15) if ivig else rng.randrange(60, 120, 15),
                    required_skills=frozenset(skills),
                    priority=rng.choice([1, 2, 3]),
                )
            )
    return RoutingInstance(start_day=MONDAY, days=days, nurses=nurse_list, visits=visit_list)
