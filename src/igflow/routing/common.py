"""What the solver, the dispatcher and the checker share: the nurse-days (one vehicle each), which visits a
nurse-day may take, and why a visit no nurse-day may take is left out, in words a scheduler reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from igflow.routing.models import Nurse, Point, RoutingInstance, Shift, Visit
from igflow.routing.travel import HaversineTravel, TravelMatrix


@dataclass(frozen=True)
class NurseDay:
    """One vehicle: a nurse on one shift."""

    index: int
    nurse: Nurse
    shift: Shift

    @property
    def day(self) -> dt.date:
        return self.shift.day


def nurse_days(instance: RoutingInstance) -> list[NurseDay]:
    last = instance.start_day + dt.timedelta(days=instance.days - 1)
    out: list[NurseDay] = []
    for nurse in instance.nurses:
        for shift in sorted(nurse.shifts, key=lambda s: s.day):
            if instance.start_day <= shift.day <= last:
                out.append(NurseDay(len(out), nurse, shift))
    return out


def can_take(nd: NurseDay, visit: Visit) -> bool:
    """The nurse-day's day is in the visit's window, she has every skill it needs, and it is not pinned
    to somebody else."""
    return (
        visit.earliest_day <= nd.day <= visit.latest_day
        and nd.day not in visit.unavailable_days
        and visit.required_skills <= nd.nurse.skills
        and (visit.pinned_nurse_id is None or visit.pinned_nurse_id == nd.nurse.id)
    )


def why_nobody(instance: RoutingInstance, visit: Visit, vehicles: list[NurseDay]) -> str:
    """Why no nurse-day may take the visit at all."""
    in_window = [
        nd
        for nd in vehicles
        if visit.earliest_day <= nd.day <= visit.latest_day and nd.day not in visit.unavailable_days
    ]
    days = (
        f"on {visit.earliest_day.isoformat()}"
        if visit.earliest_day == visit.latest_day
        else f"between {visit.earliest_day.isoformat()} and {visit.latest_day.isoformat()}"
    )
    if not in_window:
        if visit.unavailable_days:
            return f"no nurse works {days} on a day the patient is free"
        return f"no nurse works {days}"
    skilled = [nd for nd in in_window if visit.required_skills <= nd.nurse.skills]
    if not skilled:
        missing = sorted(visit.required_skills - set().union(*(nd.nurse.skills for nd in in_window)))
        if missing:
            return f"no nurse with the skill {', '.join(repr(s) for s in missing)} works {days}"
        return f"no single nurse working {days} has all of {', '.join(sorted(visit.required_skills))}"
    return f"its nurse ({visit.pinned_nurse_id}) does not work {days}"


def matrix_for(instance: RoutingInstance, matrix: TravelMatrix | None) -> TravelMatrix:
    return matrix if matrix is not None else HaversineTravel(instance.travel)


def points_of(instance: RoutingInstance) -> tuple[list[Point], dict[str, int], dict[str, int]]:
    """All points (visits first, then each nurse's home) and the index of each visit and nurse home."""
    points = [v.location for v in instance.visits]
    visit_index = {v.id: i for i, v in enumerate(instance.visits)}
    home_index: dict[str, int] = {}
    for nurse in instance.nurses:
        home_index[nurse.id] = len(points)
        points.append(nurse.home)
    return points, visit_index, home_index
