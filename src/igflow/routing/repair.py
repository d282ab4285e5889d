"""Repair after a nurse calls in sick: her shifts on those days go, every visit of the previous plan
remembers its nurse and day, and the solver re-routes: her visits move to other nurses, and everyone else's
visits stay where they were unless moving them is the only way to serve more."""

from __future__ import annotations

import datetime as dt

from igflow.routing.models import Assignment, RoutePlan, RoutingInstance
from igflow.routing.solver import solve
from igflow.routing.travel import TravelMatrix


def repair(
    instance: RoutingInstance,
    previous_plan: RoutePlan,
    unavailable: list[tuple[str, dt.date]],
    time_limit_s: float = 10,
    matrix: TravelMatrix | None = None,
) -> RoutePlan:
    off = set(unavailable)
    nurses = [
        n.model_copy(update={"shifts": [s for s in n.shifts if (n.id, s.day) not in off]})
        for n in instance.nurses
    ]
    where = {
        s.visit_id: Assignment(nurse_id=r.nurse_id, day=r.day) for r in previous_plan.routes for s in r.stops
    }
    visits = [v.model_copy(update={"previous": where.get(v.id, v.previous)}) for v in instance.visits]
    return solve(instance.model_copy(update={"nurses": nurses, "visits": visits}), time_limit_s, matrix)
