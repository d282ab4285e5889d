"""API shapes of the appointments capability."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from igflow.types import Id, RecordDate


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CourseIn(_In):
    order_id: Id
    not_before: RecordDate | None = Field(
        default=None, description="Earliest date to consider (default: today)"
    )


class CourseSessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    day_index: int
    duration_min: int
    dose_g: float


class AppointmentOut(BaseModel):
    id: int
    course_id: int
    course_session_id: int
    patient_id: int
    site_id: int
    site_code: str
    site_name: str
    day_index: int  # which day of its course (1 for the first)
    chair_id: int | None  # None for a visit at the patient's home
    chair_label: str
    date: dt.date
    start: str
    end: str
    duration_min: int
    status: str
    status_reason: str
    source: str


class CourseOut(BaseModel):
    id: int
    order_id: int
    plan_version_id: int
    patient_id: int
    cycle: int
    priority: int
    target: dt.date
    earliest: dt.date
    latest: dt.date
    window_reason: str
    status: str
    sessions: list[CourseSessionOut]
    appointments: list[AppointmentOut]
    # the days (day_index) still needing a place: every day of a waiting course, or the days of a
    # part-booked course whose other days stay booked
    to_book: list[int] = []


class SlotOptionOut(BaseModel):
    site: str
    site_name: str = ""
    days: list[int] = []  # the course days (day_index) these dates are for
    dates: list[dt.date]
    starts: list[str]
    chairs: list[int]
    target_distance_days: int
    preference_misses: int
    peak_increase: int


class BookIn(_In):
    site: str
    dates: list[RecordDate] = Field(min_length=1, max_length=100)
    starts: list[str] = Field(min_length=1, max_length=100)
    chairs: list[Id] = Field(min_length=1, max_length=100)
    # booking beyond the prior authorisation covering the dates is refused until the scheduler says so
    acknowledge_authorisation: bool = False


class StatusIn(_In):
    status: Literal["cancelled", "no_show"]
    reason: str = Field(min_length=1, max_length=2000)
    # False: only this day (the course's other days stay booked unless the cancelled day cannot move
    # without them); True: every booked day of the course, chosen explicitly
    whole_course: bool = False
    # a cancellation because the patient cannot come that day: the date is never offered again
    patient_unavailable: bool = False


class MoveIn(_In):
    site: str = Field(min_length=1, max_length=32)
    date: RecordDate
    start: str = Field(min_length=4, max_length=5)
    chair: Id
    reason: str = Field(min_length=1, max_length=400)


class WindowIn(_In):
    earliest: RecordDate
    latest: RecordDate
    reason: str = Field(min_length=1, max_length=400)


class UnavailableIn(_In):
    date: RecordDate
    reason: str = Field(default="", max_length=400)


class ClosureIn(_In):
    site_id: Id
    start_date: RecordDate
    end_date: RecordDate
    reason: str = Field(default="", max_length=400)


class CancelOut(BaseModel):
    appointment: AppointmentOut
    repair: list[dict[str, Any]]


class PlanningIn(_In):
    start_date: RecordDate
    days: int = Field(ge=1, le=84)
    time_limit_s: float | None = Field(default=None, gt=0, le=600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    free_appointment_ids: list[Id] = Field(default_factory=list, max_length=10_000)


class PlanningRunOut(BaseModel):
    id: int
    start_date: dt.date
    days: int
    status: str
    figures: dict[str, Any]
    result: dict[str, Any] | None
    moves: list[dict[str, Any]]
    unscheduled: list[dict[str, Any]]
