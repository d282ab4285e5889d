"""Home-visit routing: every plan of the optimiser and of the by-hand dispatcher passes the independent
checker (windows, skills, hours, breaks, visits a day); the optimiser drives less; the bound holds; a visit
nobody may take says why; pins hold; repair keeps everyone else's visits."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.routing import bounds, check, greedy, metrics, repair, solver
from igflow.routing.models import DEFAULT_TRAVEL, Nurse, Point, RoutingInstance, Shift, Visit
from igflow.routing.travel import HaversineTravel, haversine_km
from tests.unit.routing.conftest import MONDAY, make_instance


def served(plan) -> set[str]:  # type: ignore[no-untyped-def]
    return {s.visit_id for r in plan.routes for s in r.stops}


def test_haversine_matches_a_known_distance() -> None:
    # Los Angeles City Hall to Long Beach City Hall: about 32 km in a straight line
    km = haversine_km(Point(lat=34.0537, lon=-118.2428), Point(lat=33.7701, lon=-118.1937))
    assert 31 < km < 33.5
    minutes = HaversineTravel(DEFAULT_TRAVEL).leg(
        Point(lat=34.0537, lon=-118.2428), Point(lat=33.7701, lon=-118.1937)
    )
    # 32 km x 1.3 / 40 km/h = 62 min, plus 5 min to park
    assert 65 <= minutes <= 70


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), visits=st.integers(3, 14), breaks=st.booleans())
def test_every_plan_respects_windows_skills_hours_breaks_and_visits_a_day(
    seed: int, visits: int, breaks: bool
) -> None:
    instance = make_instance(seed, visits=visits, breaks=breaks)
    for plan in (solver.solve(instance, time_limit_s=1), greedy.greedy(instance)):
        assert check.check(instance, plan) == [], plan.solver
        assert served(plan) | {u.visit_id for u in plan.unassigned} == {v.id for v in instance.visits}


def test_the_optimiser_serves_as_many_and_drives_no_more_than_by_hand_and_above_the_bound() -> None:
    instance = make_instance(7, regions=2, visits=14)
    optimised, by_hand = solver.solve(instance, time_limit_s=3), greedy.greedy(instance)
    o, g = metrics.summarise(instance, optimised), metrics.summarise(instance, by_hand)
    assert o.visits_served >= g.visits_served
    if o.visits_served == g.visits_served:
        assert o.travel_min <= g.travel_min
    assert bounds.travel_lower_bound_min(instance, None, served(optimised)) <= o.travel_min


def test_a_visit_needing_a_skill_no_nurse_has_is_left_out_with_the_reason() -> None:
    instance = make_instance(3, visits=4)
    odd = instance.visits[0].model_copy(update={"required_skills": frozenset({"first_dose"})})
    instance = instance.model_copy(update={"visits": [odd, *instance.visits[1:]]})
    plan = solver.solve(instance, time_limit_s=1)
    reasons = {u.visit_id: u.reason for u in plan.unassigned}
    assert reasons[odd.id] == (
        f"no nurse with the skill 'first_dose' works between {odd.earliest_day} and {odd.latest_day}"
        if odd.earliest_day != odd.latest_day
        else f"no nurse with the skill 'first_dose' works on {odd.earliest_day}"
    )


def test_pinned_visits_go_to_their_nurse() -> None:
    instance = make_instance(5, visits=6)
    pinned = [v.model_copy(update={"pinned_nurse_id": "R0N2"}) for v in instance.visits[:2]]
    instance = instance.model_copy(update={"visits": pinned + instance.visits[2:]})
    plan = solver.solve(instance, time_limit_s=1)
    where = {s.visit_id: r.nurse_id for r in plan.routes for s in r.stops}
    assert all(where[v.id] == "R0N2" for v in pinned if v.id in where)
    assert check.check(instance, plan) == []


def _two_nurses_instance() -> RoutingInstance:
    days = [MONDAY, MONDAY + dt.timedelta(days=1)]
    nurses = [
        Nurse(
            id=f"N{k}",
            home=Point(lat=34.05 + k * 0.01, lon=-118.25),
            skills=frozenset({"ivig_home"}),
            shifts=[Shift(day=d, start_min=480, end_min=1080, break_min=30) for d in days],
            max_visits_per_day=2,
        )
        for k in range(3)
    ]
    visits = [
        Visit(
            id=f"V{i}",
            patient_id=f"P{i}",
            location=Point(lat=34.0 + i * 0.01, lon=-118.3 + i * 0.005),
            earliest_day=days[i % 2],
            latest_day=days[i % 2],
            window_start_min=480,
            window_end_min=720,
            service_min=120,
            required_skills=frozenset({"ivig_home"}),
        )
        for i in range(8)
    ]
    return RoutingInstance(start_day=MONDAY, days=2, nurses=nurses, visits=visits)


def test_a_nurse_off_sick_her_visits_move_and_everyone_else_keeps_theirs() -> None:
    instance = _two_nurses_instance()
    before = solver.solve(instance, time_limit_s=2)
    assert len(served(before)) == 8
    sick = before.routes[0]
    after = repair.repair(instance, before, [(sick.nurse_id, sick.day)], time_limit_s=2)
    where_before = {s.visit_id: (r.nurse_id, r.day) for r in before.routes for s in r.stops}
    where_after = {s.visit_id: (r.nurse_id, r.day) for r in after.routes for s in r.stops}
    assert all(nurse_day != (sick.nurse_id, sick.day) for nurse_day in where_after.values())
    for stop in sick.stops:  # her visits are served by someone else (there is room: 3 nurses x 2 a day)
        assert stop.visit_id in where_after
    others = [v for v, nd in where_before.items() if nd != (sick.nurse_id, sick.day)]
    assert all(where_after.get(v) == where_before[v] for v in others)
