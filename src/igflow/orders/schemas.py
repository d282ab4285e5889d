"""API shapes of the orders capability."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from igflow.types import DosePerKg

Phase = Literal["acute", "induction", "maintenance"]
Setting = Literal["centre", "home"]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient_id: int
    prescriber_id: int
    referral_id: int | None = None
    indication_id: str = Field(min_length=1, max_length=64)
    phase: Phase
    product_id: str = Field(min_length=1, max_length=64)
    dose_g_per_kg: DosePerKg | None = None
    days: int | None = Field(default=None, ge=1)
    policy_id: str | None = Field(default=None, max_length=64)
    first_infusion: bool = False
    override_reason: str | None = Field(default=None, max_length=2000)
    notes: str = Field(default="", max_length=4000)
    #: Where it is given: ``centre`` (a chair) or ``home`` (IVIG with a visiting nurse; SCIG self-infused
    #: after the nurse's training visits). Blank: the product's usual place (a centre for IV, home for SC).
    setting: Setting | None = None
    #: Subcutaneous products: the IV regimen being switched from, and how often the SC infusions are given.
    previous_iv_dose_g: float | None = Field(default=None, gt=0, description="grams per IV infusion")
    iv_interval_weeks: float | None = Field(default=None, gt=0, description="weeks between IV infusions")
    sc_interval_days: int | None = Field(
        default=None, ge=1, description="days between SC infusions (1 daily, 7 weekly, 14 every two weeks)"
    )


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    version: int = Field(ge=1, description="The plan version you checked")
    decision: Literal["verified", "rejected"]
    note: str = Field(default="", max_length=4000)
    #: Where the plan stops for a value only the pharmacist can decide (the at-risk maximum rate):
    #: the value for this patient and why. A new plan version is computed with it and verified.
    at_risk_max_rate_mg_per_kg_min: float | None = Field(default=None, gt=0, le=100)
    reason: str = Field(default="", max_length=2000)
    #: A later decision on a version already decided: an explicit re-review, with its reason in ``note``.
    re_review: bool = False


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    decision: str
    note: str
    verified_by_user_id: int
    verified_at: datetime
    sequence: int = 1


class PlanVersionOut(BaseModel):
    id: int
    version: int
    created_at: datetime
    reason: str
    inputs: dict[str, Any]
    changes: list[dict[str, Any]]
    hard_stopped: bool
    plan: dict[str, Any]
    verifications: list[VerificationOut]


class OrderOut(BaseModel):
    id: int
    patient_id: int
    prescriber_id: int
    referral_id: int | None
    indication_id: str
    phase: str
    product_id: str
    dose_g_per_kg: float | None
    days: int | None
    policy_id: str | None
    first_infusion: bool
    override_reason: str | None
    notes: str
    product_choice: dict[str, Any] | None = None
    setting: str = "centre"
    previous_iv_dose_g: float | None = None
    iv_interval_weeks: float | None = None
    sc_interval_days: int | None = None
    status: str
    entered_by_user_id: int
    created_at: datetime
    #: ``out_of_date``: the patient's facts changed since the current version (listed in
    #: ``out_of_date_changes``); whatever was decided on it no longer clears the order until the plan is
    #: recomputed (``POST /orders/{id}/plan-versions``, or a verification, which recomputes first).
    verification_status: Literal["verified", "pending", "rejected", "hard_stop", "out_of_date"]
    current_version: int
    out_of_date_changes: list[dict[str, Any]] = Field(default_factory=list)
    versions: list[PlanVersionOut]


class DosePreviewIn(BaseModel):
    """The contract's arguments of ``igflow dose``, as JSON."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    indication: str
    phase: str
    product: str
    weight_kg: float
    height_cm: float
    sex: str
    age_years: float
    policy: str | None = None
    dose_g_per_kg: DosePerKg | None = None
    days: int | None = None
    first_infusion: bool = False
    risk: list[str] = Field(default_factory=list)
    iga_deficient_with_antibodies: bool = False
    pregnant: bool = False
    override_reason: str | None = None
    #: Subcutaneous products (docs/dose-scig.md): the IV regimen being switched from and the SC interval.
    route: Literal["iv", "sc"] | None = None
    previous_iv_dose_g: float | None = None
    iv_interval_weeks: float | None = None
    interval_days: int | None = None
    infusion_number: int | None = None
