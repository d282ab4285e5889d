"""API shapes of coverage."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from igflow.types import MAX_CENTS, Id, RecordDate


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Cents = int


class CoverageIn(_In):
    """A coverage. ``rank`` 1 is primary, 2 secondary. Money in integer cents; coinsurance in percent."""

    payer_id: Id
    plan_name: str = Field(default="", max_length=200)
    member_id: str = Field(min_length=1, max_length=64)
    group_number: str = Field(default="", max_length=64)
    rank: int = Field(default=1, ge=1, le=3)
    benefit: Literal["medical", "pharmacy"] = "medical"
    effective_from: RecordDate | None = None
    effective_to: RecordDate | None = None
    site_of_care: Literal["facility", "home", "either"] = "either"
    copay_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    coinsurance_percent: int | None = Field(default=None, ge=0, le=100)
    oop_max_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    assistance_program: str = Field(default="", max_length=200)
    assistance_id: str = Field(default="", max_length=64)
    assistance_limit_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    assistance_expires_on: RecordDate | None = None

    @model_validator(mode="after")
    def _dates(self) -> CoverageIn:
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to: the coverage cannot end before it starts")
        if self.assistance_id and not self.assistance_program:
            raise ValueError("assistance_program: name the copay-assistance programme of this enrolment id")
        return self


class CoverageEndIn(_In):
    effective_to: RecordDate
    reason: str = Field(min_length=1, max_length=400)


class CoverageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    payer_id: int
    payer_name: str = ""
    plan_name: str
    member_id: str
    group_number: str
    rank: int
    benefit: str
    active: bool
    effective_from: date | None
    effective_to: date | None
    site_of_care: str
    copay_cents: int | None
    coinsurance_percent: int | None
    oop_max_cents: int | None
    assistance_program: str
    assistance_id: str
    assistance_limit_cents: int | None
    assistance_expires_on: date | None
