"""API shapes of the outcomes capability."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from igflow.types import DosePerKg, Id, RecordDate

Method = Literal["chair", "review", "patient_reported"]
DecisionKindIn = Literal["continue", "change_dose", "change_interval", "switch_product", "trial_off", "stop"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadingIn(_In):
    """A reading of one outcome measure. A measure entered in parts (adjusted INCAT) takes ``parts``
    (every part, by id); any other takes ``value``. The scale is checked against the catalog."""

    measure_id: str = Field(min_length=1, max_length=64)
    value: float | None = None
    parts: dict[str, float] | None = Field(default=None, max_length=8)
    measured_on: RecordDate
    method: Method
    order_id: Id | None = None
    amends_id: Id | None = None
    note: str = Field(default="", max_length=400)


class ReadingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    order_id: int | None
    measure_id: str
    value: float
    parts: dict[str, float] | None
    measured_on: date
    method: str
    recorded_by_user_id: int
    recorded_at: datetime
    amends_id: int | None
    note: str
    amended_by_id: int | None = None  # the correction that replaces this reading, if any


class DecisionIn(_In):
    """The prescriber's decision with its reason; a change carries exactly its new value. ``review_in_days``
    sets when the response is reviewed again (the interval is not in the catalog: the prescriber sets it)."""

    kind: DecisionKindIn
    reason: str = Field(min_length=1, max_length=4000)
    new_dose_g_per_kg: DosePerKg | None = None
    new_interval_days: int | None = Field(default=None, ge=1, le=3650)
    new_product_id: str | None = Field(default=None, min_length=1, max_length=64)
    review_in_days: int | None = Field(default=None, ge=1, le=3650)


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    patient_id: int
    kind: str
    reason: str
    review_reason: str | None
    decided_on: date
    decided_by_user_id: int
    decided_at: datetime
    details: dict[str, Any]


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    reason: str
    round: int
    task_id: int
    cycles_completed: int
    flags_order: bool
    message: str
    raised_at: datetime


class CycleOut(BaseModel):
    cycle: int
    started_on: date
    completed_on: date


class ResponseOut(BaseModel):
    """An order's response: every measure against baseline, the two-cycle rule, open reviews, decisions."""

    order_id: int
    patient_id: int
    indication_id: str
    cycles_completed: int
    cycles: list[CycleOut]
    review_after_cycles: int | None
    primary_measure_id: str | None
    outcome: str
    raises_review: bool
    review_reason: str | None
    flags_order_and_authorisation: bool
    message: str
    measures: list[dict[str, Any]]
    flagged: bool  # a finding flags the order until a decision is recorded after it
    reviews: list[ReviewOut]
    decisions: list[DecisionOut]
