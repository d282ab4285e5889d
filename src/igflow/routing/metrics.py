"""The figures a routing run is judged by: visits served, driving in all and per visit, overtime, windows
missed, nurse-days used, and (for repair) how many visits kept their nurse and day."""

from __future__ import annotations

from igflow.routing.check import check
from igflow.routing.models import RoutePlan, RoutingInstance, Summary
from igflow.routing.travel import TravelMatrix


def summarise(instance: RoutingInstance, plan: RoutePlan, matrix: TravelMatrix | None = None) -> Summary:
    served = sum(len(r.stops) for r in plan.routes)
    travel = sum(r.travel_min for r in plan.routes)
    previous = {v.id: v.previous for v in instance.visits if v.previous is not None}
    kept = sum(
        1
        for r in plan.routes
        for s in r.stops
        if (p := previous.get(s.visit_id)) is not None and (p.nurse_id, p.day) == (r.nurse_id, r.day)
    )
    windows = sum(1 for v in check(instance, plan, matrix) if v.rule == "window")
    return Summary(
        visits_served=served,
        visits_unserved=len(instance.visits) - served,
        travel_min=travel,
        travel_min_per_visit=round(travel / served, 1) if served else None,
        overtime_min=sum(r.overtime_min for r in plan.routes),
        windows_missed=windows,
        routes=len(plan.routes),
        kept_previous=kept,
    )
