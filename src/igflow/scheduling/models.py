"""Pydantic models of the scheduling contract (``../shared/contracts/schedule.md``).

Two JSON documents: the *instance* (``igflow.schedule-instance/1``) the application builds from its
database, and the *schedule* (``igflow.schedule/1``) a solver returns. Every model forbids unknown
keys, so a typo in a clinic's configuration is an error that names the key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

INSTANCE_FORMAT = "igflow.schedule-instance/1"
SCHEDULE_FORMAT = "igflow.schedule/1"
ALLOWED_SLOT_MINUTES = (5, 10, 15, 20, 30, 60)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"time must be HH:MM (00:00-23:59), got {value!r}")
    return value


def _check_iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError(f"date must be ISO YYYY-MM-DD, got {value!r}")
    if not isinstance(value, str | dt.date):
        raise ValueError(f"date must be an ISO YYYY-MM-DD string, got {value!r}")
    return value


HHMM = Annotated[str, AfterValidator(_check_hhmm)]
IsoDate = Annotated[dt.date, BeforeValidator(_check_iso_date)]


def hhmm_to_min(value: str) -> int:
    """Minutes since local midnight of an ``HH:MM`` string."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def min_to_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_window(window: tuple[str, str] | None, what: str) -> None:
    if window is not None and hhmm_to_min(window[0]) > hhmm_to_min(window[1]):
        raise ValueError(f"{what}: {window[0]} is after {window[1]}")


class WeeklyHours(_Strict):
    """Opening hours per weekday: ``[open, close]`` or ``null`` when closed."""

    mon: tuple[HHMM, HHMM] | None
    tue: tuple[HHMM, HHMM] | None
    wed: tuple[HHMM, HHMM] | None
    thu: tuple[HHMM, HHMM] | None
    fri: tuple[HHMM, HHMM] | None
    sat: tuple[HHMM, HHMM] | None
    sun: tuple[HHMM, HHMM] | None

    @model_validator(mode="after")
    def _open_before_close(self) -> WeeklyHours:
        for day in WEEKDAYS:
            hours = getattr(self, day)
            if hours is not None and hhmm_to_min(hours[0]) >= hhmm_to_min(hours[1]):
                raise ValueError(f"{day}: open {hours[0]} must be before close {hours[1]}")
        return self

    def on(self, weekday: int) -> tuple[str, str] | None:
        """Hours on ``weekday`` (0 = Monday)."""
        hours: tuple[str, str] | None = getattr(self, WEEKDAYS[weekday])
        return hours


class WeeklyNurses(_Strict):
    """Nurses on duty for the whole open day, per weekday."""

    mon: int = Field(ge=0)
    tue: int = Field(ge=0)
    wed: int = Field(ge=0)
    thu: int = Field(ge=0)
    fri: int = Field(ge=0)
    sat: int = Field(ge=0)
    sun: int = Field(ge=0)

    def on(self, weekday: int) -> int:
        count: int = getattr(self, WEEKDAYS[weekday])
        return count


class Site(_Strict):
    id: str = Field(min_length=1)
    chairs: int = Field(ge=1)
    open: WeeklyHours
    nurses: WeeklyNurses
    patients_per_nurse: int = Field(ge=1)
    starts_per_nurse_per_slot: int = Field(ge=1)
    closed_dates: list[IsoDate] = Field(default_factory=list)


class After(_Strict):
    session: str = Field(min_length=1)
    min_days: int = Field(ge=0)
    max_days: int = Field(ge=0)

    @model_validator(mode="after")
    def _min_le_max(self) -> After:
        if self.min_days > self.max_days:
            raise ValueError(f"min_days {self.min_days} is greater than max_days {self.max_days}")
        return self


class Fixed(_Strict):
    site: str = Field(min_length=1)
    date: IsoDate
    start: HHMM
    chair: int = Field(ge=1)


class Session(_Strict):
    id: str = Field(min_length=1)
    patient: str = Field(min_length=1)
    duration_min: int = Field(ge=1)
    sites: list[str] = Field(min_length=1)
    earliest: IsoDate
    latest: IsoDate
    target: IsoDate
    priority: Literal[1, 2, 3]
    after: After | None = None
    preferred_start: tuple[HHMM, HHMM] | None = None
    fixed: Fixed | None = None

    @model_validator(mode="after")
    def _check(self) -> Session:
        if len(set(self.sites)) != len(self.sites):
            raise ValueError("sites: a site is listed twice")
        if not self.earliest <= self.target <= self.latest:
            raise ValueError(
                f"target {self.target} must lie within earliest {self.earliest} and latest {self.latest}"
            )
        _check_window(self.preferred_start, "preferred_start")
        if self.after is not None and self.after.session == self.id:
            raise ValueError("after.session: a session cannot follow itself")
        return self


class Instance(_Strict):
    format: Literal["igflow.schedule-instance/1"]
    slot_minutes: int
    start_date: IsoDate
    days: int = Field(ge=1, le=3660)
    sites: list[Site] = Field(min_length=1)
    sessions: list[Session]

    @model_validator(mode="after")
    def _integrity(self) -> Instance:
        if self.slot_minutes not in ALLOWED_SLOT_MINUTES:
            raise ValueError(f"slot_minutes must be one of {ALLOWED_SLOT_MINUTES}, got {self.slot_minutes}")
        site_by_id: dict[str, Site] = {}
        for i, site in enumerate(self.sites):
            if site.id in site_by_id:
                raise ValueError(f"sites[{i}].id: duplicate site id {site.id!r}")
            site_by_id[site.id] = site
        ids: set[str] = set()
        for i, session in enumerate(self.sessions):
            if session.id in ids:
                raise ValueError(f"sessions[{i}].id: duplicate session id {session.id!r}")
            ids.add(session.id)
        end = self.start_date + dt.timedelta(days=self.days - 1)
        for i, s in enumerate(self.sessions):
            where = f"sessions[{i}] ({s.id})"
            for j, site_id in enumerate(s.sites):
                if site_id not in site_by_id:
                    raise ValueError(f"{where}.sites[{j}]: unknown site {site_id!r}")
            if s.after is not None and s.after.session not in ids:
                raise ValueError(f"{where}.after.session: unknown session {s.after.session!r}")
            if s.fixed is not None:
                f = s.fixed
                if f.site not in site_by_id:
                    raise ValueError(f"{where}.fixed.site: unknown site {f.site!r}")
                if f.site not in s.sites:
                    raise ValueError(f"{where}.fixed.site: {f.site!r} is not one of the session's sites")
                if f.chair > site_by_id[f.site].chairs:
                    raise ValueError(
                        f"{where}.fixed.chair: {f.chair} exceeds the {site_by_id[f.site].chairs} chairs"
                    )
                if not (s.earliest <= f.date <= s.latest and self.start_date <= f.date <= end):
                    raise ValueError(f"{where}.fixed.date: {f.date} is outside the window or horizon")
                if hhmm_to_min(f.start) % self.slot_minutes:
                    raise ValueError(
                        f"{where}.fixed.start: {f.start} is not on the {self.slot_minutes}-min grid"
                    )
        # `after` links must not form a cycle.
        parent = {s.id: s.after.session for s in self.sessions if s.after is not None}
        for start in parent:
            seen = {start}
            node = start
            while node in parent:
                node = parent[node]
                if node in seen:
                    raise ValueError(f"sessions ({start}).after: the after-links form a cycle")
                seen.add(node)
        return self

    @property
    def end_date(self) -> dt.date:
        """Last date of the horizon (inclusive)."""
        return self.start_date + dt.timedelta(days=self.days - 1)


class Assignment(_Strict):
    session: str = Field(min_length=1)
    site: str = Field(min_length=1)
    chair: int
    date: IsoDate
    start: HHMM


class Unscheduled(_Strict):
    session: str = Field(min_length=1)
    reason: str


class Stats(_Strict):
    solver: str
    status: str
    solve_seconds: float = Field(ge=0)


class Schedule(_Strict):
    format: Literal["igflow.schedule/1"]
    assignments: list[Assignment]
    unscheduled: list[Unscheduled]
    stats: Stats | None = None


def format_validation_error(exc: Exception) -> str:
    """A one-line-per-error text naming the offending field (pydantic location joined by dots)."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(document)"
        lines.append(f"{loc}: {err['msg']}")
    return "\n".join(lines)


def load_instance(path: str | Path) -> Instance:
    return Instance.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def load_schedule(path: str | Path) -> Schedule:
    return Schedule.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def dump_document(model: Instance | Schedule) -> str:
    return model.model_dump_json(indent=1, exclude_none=False) + "\n"
