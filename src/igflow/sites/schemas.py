"""API shapes of the sites capability."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from igflow.types import RecordDate


@lru_cache(maxsize=1)
def iana_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HoursIn(Strict):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    open: time
    close: time
    nurses: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _order(self) -> HoursIn:
        if self.close <= self.open:
            raise ValueError(
                f"close ({self.close:%H:%M}) must be after open ({self.open:%H:%M}) on {self.weekday}"
            )
        return self


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
        # Only names in the IANA list: ZoneInfo() alone also tries file paths (a long or odd name
        # raised OSError, a 500) and would accept names the database column cannot hold.
        if value not in iana_time_zones():
            shown = value if len(value) <= 64 else value[:64] + "…"
            raise ValueError(f"unknown time zone '{shown}' (use an IANA name such as America/Los_Angeles)")
        return value

    @field_validator("hours")
    @classmethod
    def _unique_days(cls, value: list[HoursIn]) -> list[HoursIn]:
        days = [h.weekday for h in value]
        if len(days) != len(set(days)):
            raise ValueError("each weekday may appear once")
        return value


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
    timezone: str
    patients_per_nurse: int
    starts_per_nurse_per_slot: int
    active: bool
    hours: list[HoursOut]
    closed_dates: list[ClosedDateIn]
    chairs: list[ChairOut]
