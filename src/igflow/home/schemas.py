"""Pydantic shapes of the home-visit API (nurses, absences, routing runs, routes)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igflow.home.models import NURSE_SKILLS


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_min: int = Field(ge=0, le=1440, description="minutes after local midnight")
    end_min: int = Field(ge=0, le=1440)
    break_min: int = Field(default=0, ge=0, le=240)


class NurseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)
    user_id: int | None = None
    region: str = Field(default="", max_length=64)
    home_lat: float = Field(ge=-90, le=90)
    home_lon: float = Field(ge=-180, le=180)
    skills: list[str] = Field(default_factory=list)
    max_visits_per_day: int = Field(ge=1, le=12)
    shifts: list[ShiftIn] = Field(default_factory=list)
    active: bool = True

    @field_validator("skills")
    @classmethod
    def _known_skills(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(NURSE_SKILLS))
        if unknown:
            raise ValueError(f"unknown skill {', '.join(unknown)}; skills are {', '.join(NURSE_SKILLS)}")
        return sorted(set(value))


class ShiftOut(ShiftIn):
    model_config = ConfigDict(from_attributes=True)


class NurseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    user_id: int | None
    site_id: int
    region: str
    home_lat: float
    home_lon: float
    skills: list[str]
    max_visits_per_day: int
    active: bool
    shifts: list[ShiftOut]


class AbsenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    date: dt.date
    reason: str = Field(min_length=1, max_length=200)


class AbsenceOut(BaseModel):
    nurse_id: int
    date: dt.date
    reason: str
    affected_visits: int  # booked visits of this nurse that day, to be re-routed


class RoutingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_date: dt.date
    days: int = Field(default=14, ge=1, le=28)
    time_limit_s: float | None = Field(default=None, gt=0, le=600)


class StopOut(BaseModel):
    appointment_id: int | None
    course_id: int
    patient_id: int
    patient_name: str
    kind: str
    address: str
    lat: float
    lon: float
    start_min: int
    end_min: int
    travel_min: int


class RouteOut(BaseModel):
    nurse_id: int
    nurse_name: str
    date: dt.date
    stops: list[StopOut]
    travel_min: int
    end_min: int | None


class RoutingRunOut(BaseModel):
    id: int
    start_date: dt.date
    days: int
    status: str
    figures: dict[str, object]
    result: dict[str, object] | None
