"""API shapes of the referrals capability."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from igflow.types import Id, RecordDate

Urgency = Literal["urgent", "soon", "routine"]
Status = Literal["new", "in_review", "accepted", "declined"]


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient_id: Id
    received_on: RecordDate
    prescriber_id: Id
    icd10_code: str = Field(
        pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$", description="ICD-10 code, e.g. G61.81"
    )
    diagnosis_text: str = Field(min_length=1, max_length=400)
    indication_id: str = Field(min_length=1, max_length=64)
    urgency: Urgency
    notes: str = Field(default="", max_length=4000)


class ReferralDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    status: Status
    reason: str = Field(default="", max_length=4000)
    version: int | None = None


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_id: Id
    received_on: RecordDate
    prescriber_id: Id
    icd10_code: str
    diagnosis_text: str
    indication_id: str
    urgency: str
    status: str
    decision_reason: str
    notes: str
    created_at: datetime
    decided_at: datetime | None
    version: int
    documents: list[DocumentOut]
