"""API shapes of the protocols capability."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProtocolIn(BaseModel):
    """A draft: the values it decides (see ``igflow.catalog.protocol.ProtocolValues``) and when it applies."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=200)
    site_id: int | None = Field(default=None, ge=1, le=2**31 - 1)  # None: the whole organisation
    effective_from: date
    summary: str = Field(default="", max_length=4000)
    values: dict[str, Any]
    based_on_id: int | None = Field(default=None, ge=1, le=2**31 - 1)  # the version this one revises


class ProtocolDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approved", "rejected"]
    version: int = Field(ge=1, le=2**31 - 1)  # the version the approver read
    note: str = Field(default="", max_length=4000)


class ProtocolOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    scope: str
    site_id: int | None
    version: int
    title: str
    values: dict[str, Any]
    summary: str
    effective_from: date
    status: str
    proposed_by_user_id: int
    proposed_at: datetime
    approved_by_user_id: int | None
    approved_at: datetime | None
    decision_note: str
    based_on_id: int | None
