"""API shapes of prior authorisation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from igflow.types import MAX_COUNT, Id, RecordDate

Grams = float


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RequestIn(_In):
    """Open a request for an order with one of the patient's coverages. A re-authorisation names the
    authorisation it continues (``previous_id``); its kind is then ``continuation``."""

    order_id: Id
    coverage_id: Id
    urgency: Literal["standard", "expedited"] = "standard"
    previous_id: Id | None = None
    requested_infusions: int | None = Field(default=None, ge=1, le=366)
    requested_grams: float | None = Field(default=None, gt=0, le=100_000)
    requested_start: RecordDate | None = None
    requested_end: RecordDate | None = None

    @model_validator(mode="after")
    def _period(self) -> RequestIn:
        if self.requested_start and self.requested_end and self.requested_end < self.requested_start:
            raise ValueError("requested_end: the period cannot end before it starts")
        return self


class RequestedIn(_In):
    """What is asked for: infusions, grams and the period."""

    requested_infusions: int = Field(ge=1, le=366)
    requested_grams: float = Field(gt=0, le=100_000)
    requested_start: RecordDate
    requested_end: RecordDate
    urgency: Literal["standard", "expedited"] = "standard"

    @model_validator(mode="after")
    def _period(self) -> RequestedIn:
        if self.requested_end < self.requested_start:
            raise ValueError("requested_end: the period cannot end before it starts")
        return self


class AttestIn(_In):
    requirement_id: str = Field(min_length=1, max_length=64)
    note: str = Field(min_length=1, max_length=1000)


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=2000)


class _GrantIn(_In):
    """What a payer's answer carries: its reference and reason, and what it authorised."""

    payer_reference: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=2000)
    product_ids: list[str] = Field(default_factory=list, max_length=20)
    grams: float | None = Field(default=None, ge=0, le=100_000)
    infusions: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    site_of_care: Literal["facility", "home", "either"] | None = None
    start_date: RecordDate | None = None
    end_date: RecordDate | None = None

    def _check(self, grants: bool) -> None:
        if grants:
            if not self.payer_reference:
                raise ValueError("payer_reference: an approval needs the payer's reference number")
            if self.start_date is None or self.end_date is None:
                raise ValueError("start_date: an approval needs its start and end dates")
            if self.end_date < self.start_date:
                raise ValueError("end_date: the authorisation cannot end before it starts")
        elif not self.reason:
            raise ValueError("reason: give the payer's reason (what they need, or why they denied)")


class DecisionIn(_GrantIn):
    """The payer's answer. Approved and partially approved need the payer's reference and the dates;
    denied and pended need the payer's reason (CMS-0057-F: a denial gives a specific reason)."""

    outcome: Literal["approved", "partially_approved", "denied", "pended"]

    @model_validator(mode="after")
    def _complete(self) -> DecisionIn:
        self._check(self.outcome in ("approved", "partially_approved"))
        return self


class AppealDecisionIn(_GrantIn):
    outcome: Literal["appeal_approved", "appeal_denied"]

    @model_validator(mode="after")
    def _complete(self) -> AppealDecisionIn:
        self._check(self.outcome == "appeal_approved")
        return self


class PriorTherapyIn(_In):
    therapy: str = Field(min_length=1, max_length=200)
    started_on: RecordDate | None = None
    stopped_on: RecordDate | None = None
    outcome: str = Field(default="", max_length=400)

    @model_validator(mode="after")
    def _dates(self) -> PriorTherapyIn:
        if self.started_on and self.stopped_on and self.stopped_on < self.started_on:
            raise ValueError("stopped_on: a therapy cannot stop before it started")
        return self


class PriorTherapyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    therapy: str
    started_on: date | None
    stopped_on: date | None
    outcome: str
    recorded_by_user_id: int
    recorded_at: datetime


class DocumentCategoryIn(_In):
    category: str = Field(min_length=1, max_length=32)


class PacketItemOut(BaseModel):
    requirement_id: str
    kind: str
    label: str
    satisfied: bool
    evidence: str
    missing: str


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_status: str | None
    to_status: str
    by_user_id: int
    at: datetime
    reason: str
    detail: dict[str, Any]


class GrantOut(BaseModel):
    payer_reference: str
    product_ids: list[str]
    grams: float | None
    infusions: int | None
    site_of_care: str | None
    start_date: date
    end_date: date
    expired: bool
    infusions_used: int
    grams_used: float


class RequestOut(BaseModel):
    id: int
    patient_id: int
    order_id: int
    coverage_id: int
    payer_name: str
    policy_id: str
    policy_name: str
    kind: str
    urgency: str
    status: str
    status_label: str
    previous_id: int | None
    requested_infusions: int | None
    requested_grams: float | None
    requested_start: date | None
    requested_end: date | None
    created_at: datetime
    submitted_at: datetime | None
    due_at: datetime | None
    due_basis: str
    decided_at: datetime | None
    days_waiting: int
    payer_reference: str
    decision_reason: str
    grant: GrantOut | None
    complete: bool
    items: list[PacketItemOut]
    next_statuses: list[str]
    flags: list[str]
    events: list[EventOut]


class QueueItemOut(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    order_id: int
    payer_name: str
    kind: str
    urgency: str
    status: str
    status_label: str
    days_waiting: int
    due_at: datetime | None
    overdue: bool
    missing: int


class ExpiringOut(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    order_id: int
    payer_name: str
    end_date: date
    days_left: int
    task_id: int | None
    continuation_id: int | None


class BookingCheckOut(BaseModel):
    """What a booking would do to the authorisation covering it."""

    authorisation_id: int | None
    summary: str
    findings: list[str]
    hard_stop: bool
