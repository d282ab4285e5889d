"""An independent check of a plan against its instance: what the solver and the dispatcher promise, checked
without either of them. Tests run it on every plan they make."""

from __future__ import annotations

from igflow.routing.common import can_take, matrix_for, nurse_days, points_of
from igflow.routing.models import RoutePlan, RoutingInstance, Violation
from igflow.routing.travel import TravelMatrix


def _gaps(start: int, end: int, busy: list[tuple[int, int]]) -> int:
    """The longest idle stretch within [start, end] outside the busy intervals."""
    t, longest = start, 0
    for a, b in sorted(busy):
        longest = max(longest, a - t)
        t = max(t, b)
    return max(longest, end - t)


def check(instance: RoutingInstance, plan: RoutePlan, matrix: TravelMatrix | None = None) -> list[Violation]:
    out: list[Violation] = []
    points, vidx, homes = points_of(instance)
    full = matrix_for(instance, matrix).minutes(points)
    visits = {v.id: v for v in instance.visits}
    shifts = {(nd.nurse.id, nd.day): nd for nd in nurse_days(instance)}
    seen: set[str] = set()

    def bad(visit_id: str | None, nurse_id: str | None, rule: str, detail: str) -> None:
        out.append(Violation(visit_id=visit_id, nurse_id=nurse_id, rule=rule, detail=detail))

    for route in plan.routes:
        nd = shifts.get((route.nurse_id, route.day))
        if nd is None:
            bad(None, route.nurse_id, "shift", f"no shift on {route.day}")
            continue
        if len(route.stops) > nd.nurse.max_visits_per_day:
            bad(None, route.nurse_id, "max_visits", f"{len(route.stops)} visits on {route.day}")
        here, t, busy, total = homes[route.nurse_id], nd.shift.start_min, [], 0
        for stop in route.stops:
            visit = visits.get(stop.visit_id)
            if visit is None:
                bad(stop.visit_id, route.nurse_id, "unknown", "not a visit of the instance")
                continue
            if stop.visit_id in seen:
                bad(stop.visit_id, route.nurse_id, "twice", "visited more than once")
            seen.add(stop.visit_id)
            if not can_take(nd, visit):
                bad(stop.visit_id, route.nurse_id, "allowed", "day window, skills or pin not met")
            drive = full[here][vidx[visit.id]]
            if stop.travel_min_from_previous != drive:
                bad(stop.visit_id, route.nurse_id, "travel", f"{stop.travel_min_from_previous} != {drive}")
            if stop.start_min < t + drive:
                bad(stop.visit_id, route.nurse_id, "overlap", "starts before the nurse can be there")
            if not visit.window_start_min <= stop.start_min <= visit.window_end_min:
                bad(stop.visit_id, route.nurse_id, "window", f"starts at {stop.start_min}")
            if stop.end_min != stop.start_min + visit.service_min:
                bad(stop.visit_id, route.nurse_id, "service", "shorter or longer than the visit")
            busy += [(stop.arrive_min - drive, stop.arrive_min), (stop.start_min, stop.end_min)]
            total += drive
            t, here = stop.end_min, vidx[visit.id]
        back = full[here][homes[route.nurse_id]]
        busy.append((t, t + back))
        if t + back > nd.shift.end_min:
            bad(None, route.nurse_id, "hours", f"back home at {t + back}, after the shift ends")
        if (
            route.stops
            and route.stops[0].arrive_min - route.stops[0].travel_min_from_previous < nd.shift.start_min
        ):
            bad(None, route.nurse_id, "hours", "leaves home before the shift starts")
        if total + back != route.travel_min:
            bad(None, route.nurse_id, "travel_total", f"{route.travel_min} != {total + back}")
        if nd.shift.break_min and _gaps(nd.shift.start_min, nd.shift.end_min, busy) < nd.shift.break_min:
            bad(None, route.nurse_id, "break", f"no {nd.shift.break_min}-minute break on {route.day}")
    listed = {u.visit_id for u in plan.unassigned}
    for visit in instance.visits:
        if visit.id not in seen and visit.id not in listed:
            bad(visit.id, None, "lost", "neither routed nor listed as unassigned")
    return out
