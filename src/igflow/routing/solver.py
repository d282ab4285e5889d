"""Home-visit routing on OR-Tools' routing solver (vehicle routing with time windows).

The model, in words:
- one vehicle per nurse-day (a nurse on one shift), starting and ending at her home base;
- a visit may go only on a nurse-day whose day is in its date window, whose nurse has every skill it needs,
  and, when pinned, whose nurse it is pinned to (the index's vehicle variable);
- a time dimension in minutes of the day: the transit from a visit is its service time (the nurse stays for
  the whole infusion) plus the drive; each visit starts inside its start window; the nurse leaves home no
  earlier than her shift starts and is back by the shift's end (no overtime: a visit that does not fit is
  left out, never squeezed in); waiting is allowed;
- her break is a break interval of the vehicle, outside any visit;
- a count dimension caps her visits a day;
- a visit may be left out at a penalty that grows with its priority, far above any drive, so the solver
  serves all it can first and then drives least;
- repair: a visit that had a nurse and day before costs extra on any other nurse-day, so visits keep their
  nurse where the capacity allows.
Independent groups (no visit of one may go to a nurse-day of another, e.g. regions) are solved one by one,
each with its share of the time limit; the answer is the same model, solved faster.
"""

from __future__ import annotations

import time
from collections import defaultdict

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from igflow.routing.common import NurseDay, can_take, matrix_for, nurse_days, points_of, why_nobody
from igflow.routing.models import Route, RoutePlan, RoutingInstance, Stop, Unassigned, Visit
from igflow.routing.travel import TravelMatrix

DROP_PENALTY_PER_PRIORITY = 1_000_000  # a served visit is worth more than any day's driving
KEEP_PENALTY = 10_000  # repair: moving a booked visit to another nurse-day costs more than a long detour


def _components(visits: list[Visit], vehicles: list[NurseDay]) -> list[tuple[list[int], list[int]]]:
    """Groups of (visit indexes, vehicle indexes) with no allowed pairing across groups."""
    parent = list(range(len(visits) + len(vehicles)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, visit in enumerate(visits):
        for nd in vehicles:
            if can_take(nd, visit):
                parent[find(i)] = find(len(visits) + nd.index)
    groups: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for i in range(len(visits)):
        groups[find(i)][0].append(i)
    for nd in vehicles:
        groups[find(len(visits) + nd.index)][1].append(nd.index)
    return [g for g in groups.values() if g[0] and g[1]]


class _Group:
    """One independent group as an OR-Tools model."""

    def __init__(
        self,
        instance: RoutingInstance,
        full: list[list[int]],
        home_index: dict[str, int],
        visit_ids: list[int],
        vehicles: list[NurseDay],
    ) -> None:
        self.instance, self.visit_ids, self.vehicles = instance, visit_ids, vehicles
        nurses = sorted({nd.nurse.id for nd in vehicles})
        # nodes: the group's visits, then one home node per nurse
        self.points = visit_ids + [home_index[n] for n in nurses]
        self.home_node = {n: len(visit_ids) + k for k, n in enumerate(nurses)}
        n = len(self.points)
        self.travel = [[full[self.points[a]][self.points[b]] for b in range(n)] for a in range(n)]
        self.service = [instance.visits[v].service_min for v in visit_ids] + [0] * len(nurses)
        starts = [self.home_node[nd.nurse.id] for nd in vehicles]
        self.manager = pywrapcp.RoutingIndexManager(n, len(vehicles), starts, starts)
        self.routing = pywrapcp.RoutingModel(self.manager)

    def _matrix(self, extra: list[int] | None = None) -> int:
        n = len(self.points)
        rows = []
        for a in range(n):
            rows.append([self.travel[a][b] + (extra[b] if extra else 0) for b in range(n)])
        return int(self.routing.RegisterTransitMatrix(rows))

    def build(self) -> None:
        routing, manager, visits = self.routing, self.manager, self.instance.visits
        any_previous = any(visits[v].previous is not None for v in self.visit_ids)
        if any_previous:
            for k, nd in enumerate(self.vehicles):
                extra = [
                    KEEP_PENALTY
                    if (p := visits[v].previous) is not None and (p.nurse_id, p.day) != (nd.nurse.id, nd.day)
                    else 0
                    for v in self.visit_ids
                ] + [0] * len(self.home_node)
                routing.SetArcCostEvaluatorOfVehicle(self._matrix(extra), k)
        else:
            routing.SetArcCostEvaluatorOfAllVehicles(self._matrix())
        n = len(self.points)
        transit = [[self.service[a] + self.travel[a][b] for b in range(n)] for a in range(n)]
        time_cb = int(routing.RegisterTransitMatrix(transit))
        routing.AddDimension(time_cb, 1440, 1440, False, "time")
        self.time = routing.GetDimensionOrDie("time")
        count_cb = int(
            routing.RegisterUnaryTransitVector([1] * len(self.visit_ids) + [0] * len(self.home_node))
        )
        routing.AddDimensionWithVehicleCapacity(
            count_cb, 0, [nd.nurse.max_visits_per_day for nd in self.vehicles], True, "count"
        )
        solver = routing.solver()
        visit_transits = [self.service[manager.IndexToNode(i)] for i in range(routing.Size())]
        for k, nd in enumerate(self.vehicles):
            self.time.CumulVar(routing.Start(k)).SetRange(nd.shift.start_min, nd.shift.end_min)
            self.time.CumulVar(routing.End(k)).SetRange(nd.shift.start_min, nd.shift.end_min)
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.Start(k)))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.End(k)))
            if nd.shift.break_min:
                latest = nd.shift.end_min - nd.shift.break_min
                interval = solver.FixedDurationIntervalVar(
                    nd.shift.start_min, latest, nd.shift.break_min, False, f"break {nd.nurse.id} {nd.day}"
                )
                self.time.SetBreakIntervalsOfVehicle([interval], k, visit_transits)
        for node, v in enumerate(self.visit_ids):
            visit = visits[v]
            index = manager.NodeToIndex(node)
            self.time.CumulVar(index).SetRange(visit.window_start_min, visit.window_end_min)
            barred = [k for k, nd in enumerate(self.vehicles) if not can_take(nd, visit)]
            if barred:  # (SetAllowedVehiclesForIndex takes no Python list in this OR-Tools build)
                routing.VehicleVar(index).RemoveValues(barred)
            routing.AddDisjunction([index], DROP_PENALTY_PER_PRIORITY * visit.priority)

    def solve(self, time_limit_s: float) -> tuple[list[Route], set[int], int | None, str]:
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        params.time_limit.FromMilliseconds(max(100, int(time_limit_s * 1000)))
        solution = self.routing.SolveWithParameters(params)
        if solution is None:
            return [], set(), None, "no solution"
        return self._routes(solution), self._served, int(solution.ObjectiveValue()), "solved"

    def _routes(self, solution: pywrapcp.Assignment) -> list[Route]:
        routing, manager, visits = self.routing, self.manager, self.instance.visits
        self._served: set[int] = set()
        routes = []
        for k, nd in enumerate(self.vehicles):
            index = routing.Start(k)
            depart = solution.Value(self.time.CumulVar(index))
            prev_node, prev_end = manager.IndexToNode(index), depart
            stops: list[Stop] = []
            index = solution.Value(routing.NextVar(index))
            total = 0
            while not routing.IsEnd(index):
                node = manager.IndexToNode(index)
                drive = self.travel[prev_node][node]
                start = solution.Value(self.time.CumulVar(index))
                visit = visits[self.visit_ids[node]]
                stops.append(
                    Stop(
                        visit_id=visit.id,
                        arrive_min=prev_end + drive,
                        start_min=start,
                        end_min=start + visit.service_min,
                        travel_min_from_previous=drive,
                    )
                )
                self._served.add(self.visit_ids[node])
                total += drive
                prev_node, prev_end = node, start + visit.service_min
                index = solution.Value(routing.NextVar(index))
            if stops:
                back = self.travel[prev_node][self.home_node[nd.nurse.id]]
                routes.append(
                    Route(
                        nurse_id=nd.nurse.id,
                        day=nd.day,
                        stops=stops,
                        travel_min=total + back,
                        end_min=prev_end + back,
                        overtime_min=0,
                    )
                )
        return routes


def solve(
    instance: RoutingInstance, time_limit_s: float = 30, matrix: TravelMatrix | None = None
) -> RoutePlan:
    """Routes for the instance's visits; visits left out are listed with the reason."""
    began = time.perf_counter()
    vehicles = nurse_days(instance)
    points, _visit_index, home_index = points_of(instance)
    full = matrix_for(instance, matrix).minutes(points)
    groups = _components(instance.visits, vehicles)
    total_visits = sum(len(g[0]) for g in groups) or 1
    routes: list[Route] = []
    served: set[int] = set()
    objective = 0
    statuses = []
    for visit_ids, vehicle_ids in sorted(groups, key=lambda g: -len(g[0])):
        share = time_limit_s * len(visit_ids) / total_visits
        group = _Group(instance, full, home_index, visit_ids, [vehicles[i] for i in vehicle_ids])
        group.build()
        got, got_served, obj, status = group.solve(share)
        routes += got
        served |= got_served
        objective += obj or 0
        statuses.append(status)
    unassigned = []
    for i, visit in enumerate(instance.visits):
        if i in served:
            continue
        if any(can_take(nd, visit) for nd in vehicles):
            reason = "no nurse had time for it in its window (the nurses who could take it were fully booked)"
        else:
            reason = why_nobody(instance, visit, vehicles)
        unassigned.append(Unassigned(visit_id=visit.id, reason=reason))
    return RoutePlan(
        routes=sorted(routes, key=lambda r: (r.day, r.nurse_id)),
        unassigned=unassigned,
        solver="or-tools routing (guided local search)",
        status="no solution" if "no solution" in statuses else "solved",
        wall_s=round(time.perf_counter() - began, 3),
        objective=objective,
    )
