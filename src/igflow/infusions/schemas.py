"""Payloads of chart entries (one shape per kind) and API shapes of the infusions capability."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Premedication(_In):
    drug: str = Field(min_length=1, max_length=100)
    dose: str = Field(min_length=1, max_length=50)
    time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class ChecklistIn(_In):
    identifiers: list[Literal["name", "date_of_birth", "mrn", "address"]] = Field(
        description="Two identifiers checked against the wristband or the patient's own words"
    )
    hydration: bool
    iv_access: str = Field(min_length=1, max_length=200)
    premedications: list[Premedication] = Field(default_factory=list)


class WeightIn(_In):
    weight_kg: float = Field(gt=0)


ReleaseDecision = Literal["proceed", "replan", "hold"]


class PharmacistReleaseIn(_In):
    # proceed: the plan stands for today's weight; replan: a new plan version for today's weight, verified
    # now by this pharmacist, which the chart then follows; hold: not today (the prescriber is asked)
    decision: ReleaseDecision
    note: str = Field(min_length=1, max_length=2000)


class ReleaseIn(_In):
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    decision: ReleaseDecision
    note: str = Field(min_length=1, max_length=2000)


class VitalsIn(_In):
    systolic_bp_mmhg: float | None = Field(default=None, gt=0)
    diastolic_bp_mmhg: float | None = Field(default=None, gt=0)
    heart_rate_bpm: float | None = Field(default=None, gt=0)
    resp_rate_per_min: float | None = Field(default=None, gt=0)
    spo2_percent: float | None = Field(default=None, gt=0, le=100)
    temperature_c: float | None = Field(default=None, gt=25, lt=45)


class VialIn(_In):
    scan_text: str = Field(min_length=1, max_length=500)


class StartIn(_In):
    pass


class RateChangeIn(_In):
    rate_ml_per_h: float = Field(ge=0)
    note: str = Field(default="", max_length=500)


class ReactionIn(_In):
    grade: int = Field(ge=1, le=5)
    symptoms: list[str] = Field(min_length=1)
    action_taken: Literal["continue", "slow_to_previous_step", "pause_then_resume_lower", "stop_and_escalate"]
    medications: list[str] = Field(default_factory=list)
    outcome: str = Field(default="", max_length=2000)


class EndIn(_In):
    volume_infused_ml: float = Field(ge=0, le=10000)
    vials_wasted: int = Field(default=0, ge=0)
    note: str = Field(default="", max_length=2000)
    # the nurse confirms a volume well above what the plan's rates deliver in the elapsed time
    confirm_volume: bool = False


class SignIn(_In):
    statement: Literal["I charted this infusion and the record is complete"]
    # signing before the plan's observation time has passed needs the nurse's reason
    early_reason: str = Field(default="", max_length=2000)


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=4000)


class CorrectionIn(_In):
    text: str = Field(min_length=1, max_length=4000, description="What the corrected entry should have said")


PAYLOADS: dict[str, type[_In]] = {
    "checklist": ChecklistIn,
    "weight": WeightIn,
    "pharmacist_release": PharmacistReleaseIn,
    "vitals": VitalsIn,
    "vial": VialIn,
    "start": StartIn,
    "rate_change": RateChangeIn,
    "reaction": ReactionIn,
    "end": EndIn,
    "sign": SignIn,
    "note": NoteIn,
    "correction": CorrectionIn,
}


class EntryIn(_In):
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Literal[
        "checklist",
        "weight",
        "pharmacist_release",
        "vitals",
        "vial",
        "start",
        "rate_change",
        "reaction",
        "end",
        "sign",
        "note",
        "correction",
    ]
    payload: dict[str, Any] = Field(default_factory=dict)
    amends_id: int | None = None
    reason: str = Field(default="", max_length=2000)
    # when it happened, if charted later (back-timed within the charting limits); default: now
    occurred_at: datetime | None = None


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    client_id: str
    kind: str
    payload: dict[str, Any]
    result: dict[str, Any]
    amends_id: int | None
    reason: str
    created_by_user_id: int
    created_at: datetime
    occurred_at: datetime | None = None


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    queue: str
    patient_id: int
    record_id: int | None
    title: str
    detail: dict[str, Any]
    due_from: datetime | None
    due_by: datetime | None
    status: str
    outcome: dict[str, Any] | None


class TaskDoneIn(_In):
    outcome: dict[str, Any] = Field(default_factory=dict)
    note: str = Field(default="", max_length=2000)
