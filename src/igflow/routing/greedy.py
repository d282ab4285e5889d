"""The nearest-neighbour dispatcher a coordinator would do by hand, as the baseline the optimiser is judged
against: day by day, each nurse in turn takes the nearest visit she may still fit (day window, skills, pin,
start window, visits a day, her shift and her break), until nothing fits."""

from __future__ import annotations

import time

from igflow.routing.common import NurseDay, can_take, matrix_for, nurse_days, points_of, why_nobody
from igflow.routing.models import Route, RoutePlan, RoutingInstance, Stop, Unassigned
from igflow.routing.travel import TravelMatrix


def _route_for(
    nd: NurseDay,
    instance: RoutingInstance,
    full: list[list[int]],
    vidx: dict[str, int],
    home: int,
    left: set[int],
) -> Route | None:
    here, t, total, waited_max = home, nd.shift.start_min, 0, 0
    stops: list[Stop] = []
    break_min = nd.shift.break_min
    while len(stops) < nd.nurse.max_visits_per_day:
        best: tuple[int, int, int] | None = None  # (drive, visit index, start)
        for i in left:
            visit = instance.visits[i]
            if not can_take(nd, visit):
                continue
            drive = full[here][vidx[visit.id]]
            start = max(t + drive, visit.window_start_min)
            if start > visit.window_end_min:
                continue
            end = start + visit.service_min
            back = full[vidx[visit.id]][home]
            wait = start - (t + drive)
            has_break = max(waited_max, wait) >= break_min
            if end + back + (0 if has_break else break_min) > nd.shift.end_min:
                continue
            if best is None or drive < best[0]:
                best = (drive, i, start)
        if best is None:
            break
        drive, i, start = best
        visit = instance.visits[i]
        waited_max = max(waited_max, start - (t + drive))
        stops.append(
            Stop(
                visit_id=visit.id,
                arrive_min=t + drive,
                start_min=start,
                end_min=start + visit.service_min,
                travel_min_from_previous=drive,
            )
        )
        total += drive
        t, here = start + visit.service_min, vidx[visit.id]
        left.discard(i)
    if not stops:
        return None
    back = full[here][home]
    return Route(nurse_id=nd.nurse.id, day=nd.day, stops=stops, travel_min=total + back, end_min=t + back)


def greedy(instance: RoutingInstance, matrix: TravelMatrix | None = None) -> RoutePlan:
    began = time.perf_counter()
    points, vidx, homes = points_of(instance)
    full = matrix_for(instance, matrix).minutes(points)
    vehicles = nurse_days(instance)
    left = set(range(len(instance.visits)))
    # urgent visits first when two are as near: visit order by priority, then window end
    routes = []
    for nd in sorted(vehicles, key=lambda v: (v.day, v.nurse.id)):
        route = _route_for(nd, instance, full, vidx, homes[nd.nurse.id], left)
        if route is not None:
            routes.append(route)
    unassigned = [
        Unassigned(
            visit_id=instance.visits[i].id,
            reason=(
                "no nurse had time for it in its window"
                if any(can_take(nd, instance.visits[i]) for nd in vehicles)
                else why_nobody(instance, instance.visits[i], vehicles)
            ),
        )
        for i in sorted(left)
    ]
    return RoutePlan(
        routes=routes,
        unassigned=unassigned,
        solver="nearest neighbour (by hand)",
        status="solved",
        wall_s=round(time.perf_counter() - began, 3),
    )
