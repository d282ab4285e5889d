"""API shapes of the patient's own log of self-infusions (SCIG at home)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from igflow.home.delivery_schemas import HomeStockOut


class SelfInfusionIn(BaseModel):
    """One self-infusion as the patient logs it. ``infused_at`` without a zone is the organisation's local
    time. ``lot`` is the vial's GS1 barcode text (scanned) or its lot number (typed). A retried submission
    with the same ``client_id`` lands once; a correction names the entry it corrects (``amends_id``)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    infused_at: dt.datetime
    lot: str = Field(default="", max_length=200)
    vials: int = Field(ge=1, le=50)
    volume_ml: float = Field(gt=0, le=1000)
    sites: int = Field(ge=1, le=12)
    duration_min: int = Field(ge=1, le=1440)
    reaction: str = Field(default="none", max_length=32)
    symptoms: list[str] = Field(default_factory=list, max_length=20)
    note: str = Field(default="", max_length=2000)
    amends_id: int | None = None
    reason: str = Field(default="", max_length=500)  # why a correction is made


class SelfInfusionOut(BaseModel):
    id: int
    client_id: str
    order_id: int
    plan_version_id: int
    infused_at: dt.datetime
    product_id: str
    product_name: str
    lot_id: int | None
    lot_number: str
    vials: int
    volume_ml: float
    sites: int
    duration_min: int
    reaction_grade: int
    reaction_words: str
    symptoms: list[str]  # in the patient's words
    note: str
    amends_id: int | None
    corrected_by_id: int | None  # a later entry that corrects this one
    created_at: dt.datetime
    stock_words: str = ""  # what happened to the stock at home
    follow_up: list[str] = Field(default_factory=list)  # why the nurse will call


class PlanWordsOut(BaseModel):
    order_id: int
    plan_version_id: int
    product_id: str
    product_name: str
    volume_ml: float | None
    sites: int | None
    ml_per_site: float | None
    rate_ml_per_h_per_site: float | None
    duration_min: int | None
    interval_days: int | None
    vials: list[tuple[float, int]]
    lines: list[str]  # the plan in plain words


class SelfLogOut(BaseModel):
    patient_id: int
    plan: PlanWordsOut | None
    no_plan_words: str = ""
    last_infused_at: dt.datetime | None
    due_on: dt.date | None
    due_words: str
    overdue: bool
    entries: list[SelfInfusionOut]
    home_stock: list[HomeStockOut]
