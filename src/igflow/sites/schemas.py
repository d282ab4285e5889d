"""API shapes of the sites capability."""

from __future__ import annotations

import datetime as dt
from datetime import time
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from igflow.types import RecordDate


@lru_cache(maxsize=1)
def iana_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A closure entered at once spans at most this many days (a data-entry bound: longer ones go in parts).
MAX_CLOSED_DAYS = 366


def check_time_zone(value: str) -> str:
    """Only names in the IANA list: ZoneInfo() alone also tries file paths (a long or odd name raised
    OSError, a 500) and would accept names the database column cannot hold."""
    if value not in iana_time_zones():
        shown = value if len(value) <= 64 else value[:64] + "…"
        raise ValueError(f"unknown time zone '{shown}' (use an IANA name such as America/Los_Angeles)")
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Latitude = Annotated[float, BeforeValidator(_no_bool), Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, BeforeValidator(_no_bool), Field(ge=-180, le=180, allow_inf_nan=False)]
Nurses = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=100)]
PatientsPerNurse = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=20)]
StartsPerNurse = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=10)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HoursIn(Strict):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    open: time
    close: time
    nurses: Nurses

    @model_validator(mode="after")
    def _order(self) -> HoursIn:
        if self.close <= self.open:
            raise ValueError(
                f"Close time must be after the open time on {WEEKDAY_NAMES[WEEKDAYS.index(self.weekday)]}"
            )
        return self


def _unique_weekdays(value: list[HoursIn]) -> list[HoursIn]:
    days = [h.weekday for h in value]
    if len(days) != len(set(days)):
        raise ValueError("each weekday may appear once")
    return value


class ClosedDateIn(Strict):
    date: RecordDate
    reason: str = Field(default="", max_length=200)


class SiteIn(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["centre", "home"]
    address: str = Field(default="", max_length=400)
    timezone: str
    patients_per_nurse: int = Field(default=4, ge=1, le=20)
    starts_per_nurse_per_slot: int = Field(default=1, ge=1, le=10)
    hours: list[HoursIn] = Field(default_factory=list)
    closed_dates: list[ClosedDateIn] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("hours")
    @classmethod
    def _unique_days(cls, value: list[HoursIn]) -> list[HoursIn]:
        return _unique_weekdays(value)


class SiteDetailsIn(Strict):
    """A site's name, address, coordinates (both or neither; home routing measures travel from them) and
    time zone."""

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=400)
    lat: Latitude | None = None
    lon: Longitude | None = None
    timezone: str = Field(max_length=200)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)

    @model_validator(mode="after")
    def _both_or_neither(self) -> SiteDetailsIn:
        if self.lat is not None and self.lon is None:
            raise ValueError("lon: give the longitude too, or leave both coordinates empty")
        if self.lon is not None and self.lat is None:
            raise ValueError("lat: give the latitude too, or leave both coordinates empty")
        return self


class SiteHoursIn(Strict):
    """Opening hours and nurses on duty per weekday (a weekday not listed is closed), and what one nurse
    can take on: patients in chairs at once, infusion starts in one slot."""

    hours: list[HoursIn] = Field(default_factory=list, max_length=7)
    patients_per_nurse: PatientsPerNurse
    starts_per_nurse_per_slot: StartsPerNurse

    @field_validator("hours")
    @classmethod
    def _unique_days(cls, value: list[HoursIn]) -> list[HoursIn]:
        return _unique_weekdays(value)


class ClosedDatesIn(Strict):
    """A day the site is closed, or a range of days (``end_date`` inclusive), with the reason."""

    date: RecordDate
    end_date: RecordDate | None = None
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _range(self) -> ClosedDatesIn:
        if self.end_date is not None:
            if self.end_date < self.date:
                raise ValueError("end_date: the last day must be on or after the first day")
            if (self.end_date - self.date).days + 1 > MAX_CLOSED_DAYS:
                raise ValueError(
                    f"end_date: at most {MAX_CLOSED_DAYS} days at once; add a longer closure in parts"
                )
        return self

    def days(self) -> list[dt.date]:
        last = self.end_date or self.date
        return [self.date + dt.timedelta(days=i) for i in range((last - self.date).days + 1)]


class ChairIn(Strict):
    label: str = Field(min_length=1, max_length=32)
    kind: Literal["recliner", "bed"] = "recliner"
    active: bool = True


class ChairOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    label: str
    kind: str
    position: int
    active: bool


class ClosedDateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    date: dt.date
    reason: str


class HoursOut(BaseModel):
    weekday: str
    open: str
    close: str
    nurses: int


class SiteOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    address: str
    lat: float | None
    lon: float | None
    timezone: str
    patients_per_nurse: int
    starts_per_nurse_per_slot: int
    active: bool
    hours: list[HoursOut]
    closed_dates: list[ClosedDateOut]
    chairs: list[ChairOut]


class MisfitOut(BaseModel):
    """Booked appointments on one date that the site's settings no longer fit, and why."""

    date: dt.date
    appointments: int
    reasons: list[str]


class HoursSavedOut(BaseModel):
    site: SiteOut
    booked_not_fitting: int  # booked appointments from today that the new hours or nurses no longer fit
    misfits: list[MisfitOut]
