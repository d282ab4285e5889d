"""A lower bound on the driving needed to serve a set of visits, for the report of how far a plan is from
the best possible.

Every served visit is entered exactly once, from another served visit or from the home of a nurse who may
take it; so the sum over served visits of the cheapest such incoming leg cannot exceed any plan's driving.
The same holds for leaving each visit (to another served visit or a compatible nurse's home). The larger
of the two sums is the bound. It ignores that legs must form routes, so it is weak but always valid."""

from __future__ import annotations

from igflow.routing.common import can_take, matrix_for, nurse_days, points_of
from igflow.routing.models import RoutingInstance
from igflow.routing.travel import TravelMatrix


def travel_lower_bound_min(
    instance: RoutingInstance, matrix: TravelMatrix | None, served_ids: set[str]
) -> int:
    points, vidx, homes = points_of(instance)
    full = matrix_for(instance, matrix).minutes(points)
    vehicles = nurse_days(instance)
    served = [v for v in instance.visits if v.id in served_ids]
    into = out = 0
    for visit in served:
        me = vidx[visit.id]
        nurse_homes = {homes[nd.nurse.id] for nd in vehicles if can_take(nd, visit)}
        others = [vidx[o.id] for o in served if o.id != visit.id]
        sources = list(nurse_homes) + others
        if not sources:
            continue
        into += min(full[s][me] for s in sources)
        out += min(full[me][s] for s in sources)
    return max(into, out)
