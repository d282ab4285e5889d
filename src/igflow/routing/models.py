"""The routing instance and plan (Pydantic, frozen). Times are minutes after local midnight of the day.

``TravelParams`` are operational assumptions, not clinical facts: no authoritative figure for home-health
travel was found (``../shared/reference/clinical-2.md``, Not found 17). The application passes the values
of its catalog (``home.yaml``); ``DEFAULT_TRAVEL`` is only for tests and benchmarks.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Point(_Frozen):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class TravelParams(_Frozen):
    speed_km_per_h: float = Field(gt=0)
    detour_factor: float = Field(ge=1)
    fixed_min_per_leg: int = Field(ge=0)


# Urban and suburban driving at 40 km/h, roads 1.3 x the straight line, 5 min to park per visit: a rule of
# thumb for the Los Angeles-area demo and benchmark, to be replaced by a road-network matrix where one exists.
DEFAULT_TRAVEL = TravelParams(speed_km_per_h=40, detour_factor=1.3, fixed_min_per_leg=5)


class Shift(_Frozen):
    day: dt.date
    start_min: int = Field(ge=0, le=1440)
    end_min: int = Field(ge=0, le=1440)
    break_min: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if self.end_min <= self.start_min:
            raise ValueError("end_min: the shift must end after it starts")
        if self.break_min >= self.end_min - self.start_min:
            raise ValueError("break_min: the break is longer than the shift")
        return self


class Nurse(_Frozen):
    id: str
    home: Point
    skills: frozenset[str] = frozenset()
    shifts: list[Shift] = Field(default_factory=list)
    max_visits_per_day: int = Field(ge=1)


class Assignment(_Frozen):
    nurse_id: str
    day: dt.date


class Visit(_Frozen):
    """A visit must START inside [window_start_min, window_end_min] on a day in [earliest_day, latest_day];
    the nurse stays for ``service_min`` (set-up, infusion, observation)."""

    id: str
    patient_id: str
    location: Point
    earliest_day: dt.date
    latest_day: dt.date
    window_start_min: int = Field(ge=0, le=1440)
    window_end_min: int = Field(ge=0, le=1440)
    service_min: int = Field(gt=0)
    required_skills: frozenset[str] = frozenset()
    priority: int = Field(default=1, ge=1, le=10)  # higher is more urgent
    pinned_nurse_id: str | None = None
    previous: Assignment | None = None
    unavailable_days: frozenset[dt.date] = frozenset()  # e.g. the patient is booked elsewhere that day

    @model_validator(mode="after")
    def _windows(self) -> Visit:
        if self.latest_day < self.earliest_day:
            raise ValueError("latest_day: before earliest_day")
        if self.window_end_min < self.window_start_min:
            raise ValueError("window_end_min: before window_start_min")
        return self


class RoutingInstance(_Frozen):
    start_day: dt.date
    days: int = Field(ge=1)
    nurses: list[Nurse]
    visits: list[Visit]
    travel: TravelParams = DEFAULT_TRAVEL


class Stop(_Frozen):
    visit_id: str
    arrive_min: int
    start_min: int
    end_min: int
    travel_min_from_previous: int


class Route(_Frozen):
    nurse_id: str
    day: dt.date
    stops: list[Stop]
    travel_min: int  # including the drive back home
    end_min: int  # back home
    overtime_min: int = 0


class Unassigned(_Frozen):
    visit_id: str
    reason: str


class RoutePlan(_Frozen):
    routes: list[Route]
    unassigned: list[Unassigned]
    solver: str
    status: str = ""
    wall_s: float = 0.0
    objective: int | None = None


class Violation(_Frozen):
    visit_id: str | None
    nurse_id: str | None
    rule: str
    detail: str


class Summary(_Frozen):
    visits_served: int
    visits_unserved: int
    travel_min: int
    travel_min_per_visit: float | None
    overtime_min: int
    windows_missed: int
    routes: int
    kept_previous: int
