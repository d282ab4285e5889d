"""API shapes of the directory capability."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PrescriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)
    npi: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{4,20}$")
    specialty: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=200)


class PrescriberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    npi: str | None
    specialty: str
    phone: str
    email: str
    active: bool


class PayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    name: str = Field(min_length=1, max_length=200)
    dosing_policy_id: str | None = Field(default=None, max_length=64)
    auth_policy_id: str = Field(default="generic", max_length=64)  # catalog payers.yaml
    cms_0057f: bool = False  # Medicare Advantage, Medicaid/CHIP, federal-exchange QHP
    overrun_rule: Literal["warn", "hard_stop"] = "warn"
    reauth_lead_days: int | None = Field(default=None, ge=1, le=365)
    standard_days: int | None = Field(default=None, ge=1, le=90)


class PayerAuthSettingsIn(BaseModel):
    """How igflow treats a payer's prior authorisations."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    auth_policy_id: str = Field(min_length=1, max_length=64)
    cms_0057f: bool = False
    overrun_rule: Literal["warn", "hard_stop"] = "warn"
    reauth_lead_days: int | None = Field(default=None, ge=1, le=365)
    standard_days: int | None = Field(default=None, ge=1, le=90)


class PayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    dosing_policy_id: str | None
    auth_policy_id: str
    cms_0057f: bool
    overrun_rule: str
    reauth_lead_days: int | None
    standard_days: int | None
    active: bool
