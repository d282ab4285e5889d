"""API shapes of the inventory capability."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from igflow.types import MAX_CENTS, Count, Id, RecordDate, VialSizeG

WasteReason = Literal["partial_vial", "broken", "temperature_excursion"]
StatusAction = Literal["quarantine", "release", "recall"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# 60 characters at most: a transfer stores its second half under the same id + ":in".
ClientId = Field(default=None, min_length=8, max_length=60, pattern=r"^[A-Za-z0-9_.:-]+$")


class ReceiptIn(_In):
    product_id: str = Field(min_length=1, max_length=64)
    lot_number: str = Field(min_length=1, max_length=20, pattern=r"^[!-~]+$")
    gtin: str = Field(pattern=r"^[0-9]{14}$", description="14-digit GTIN with a valid check digit")
    label_expiry: RecordDate
    vial_size_g: VialSizeG
    site_id: Id
    count: int = Field(gt=0, le=100000, description="vials received")
    storage_place: str = Field(default="", max_length=120)
    room_temperature_since: RecordDate | None = None
    acquisition_cost_cents: int = Field(ge=0, le=MAX_CENTS, description="per vial, in cents")
    supplier: str = Field(min_length=1, max_length=200)
    client_id: str | None = ClientId


class TransferIn(_In):
    from_site_id: Id
    to_site_id: Id
    count: Count = Field(gt=0)
    reason: str = Field(default="", max_length=400)
    client_id: str | None = ClientId


class WasteIn(_In):
    site_id: Id
    count: Count = Field(gt=0)
    waste_reason: WasteReason
    reason: str = Field(default="", max_length=400)
    appointment_id: Id | None = None
    client_id: str | None = ClientId


class ReturnIn(_In):
    appointment_id: Id
    count: Count = Field(gt=0)
    reason: str = Field(default="", max_length=400)
    client_id: str | None = ClientId


class StatusIn(_In):
    action: StatusAction
    reason: str = Field(min_length=3, max_length=400)


class StorageIn(_In):
    storage_place: str = Field(default="", max_length=120)
    room_temperature_since: RecordDate | None = None


class ParLevelIn(_In):
    site_id: Id
    product_id: str = Field(min_length=1, max_length=64)
    vial_size_g: VialSizeG
    par_count: int = Field(ge=0, le=100000)


class AllocationRunIn(_In):
    start: RecordDate
    days: int = Field(default=7, ge=1, le=28)


class ScanCheckIn(_In):
    appointment_id: Id
    scan: str = Field(min_length=1, max_length=200)


class DispenseIn(_In):
    appointment_id: Id
    lot_id: Id
    count: int = Field(gt=0, le=100)
    client_id: str | None = ClientId


class SiteStockOut(BaseModel):
    site_id: int
    site_code: str
    on_hand: int
    allocated: int
    available: int


class LotOut(BaseModel):
    id: int
    product_id: str
    product_name: str
    lot_number: str
    gtin: str
    label_expiry: dt.date
    effective_expiry: dt.date
    vial_size_g: float
    site_id: int
    storage_place: str
    storage_state: str  # "refrigerated" | "room temperature since YYYY-MM-DD"
    room_temperature_since: dt.date | None
    status: str
    acquisition_cost_cents: int
    supplier: str
    stock: list[SiteStockOut]
    on_hand: int


class MoveOut(BaseModel):
    id: int
    lot_id: int
    site_id: int
    kind: str
    count: int
    appointment_id: int | None
    patient_id: int | None
    other_site_id: int | None
    waste_reason: str | None
    reason: str
    detail: dict[str, Any]
    client_id: str | None
    by_user_id: int | None
    at: dt.datetime


class LotDetailOut(LotOut):
    moves: list[MoveOut]


class ReleasedOut(BaseModel):
    appointment_id: int
    site_id: int
    count: int


class StatusChangeOut(BaseModel):
    lot: LotOut
    move: MoveOut
    released: list[ReleasedOut]


class ScanCheckOut(BaseModel):
    lot_id: int
    product_id: str
    product_name: str
    lot_number: str
    gtin: str
    vial_size_g: float
    label_expiry: dt.date
    effective_expiry: dt.date
    serial: str | None
    on_hand_at_site: int
    allocated_to_appointment: int
    in_plan: bool  # this vial size is one the day's plan uses
    message: str


class TraceRow(BaseModel):
    patient_id: int
    patient_name: str
    mrn: str
    date: dt.date
    site_code: str
    site_name: str
    appointment_id: int
    lot_id: int
    lot_number: str
    product_id: str
    vial_count: int


class PickOut(BaseModel):
    site_id: int
    site_code: str
    date: dt.date
    appointment_id: int
    start: str
    patient_id: int
    patient_name: str
    lot_id: int
    lot_number: str
    product_id: str
    vial_size_g: float
    count: int
    storage_place: str
    effective_expiry: dt.date


class ShortfallOut(BaseModel):
    site_id: int
    site_code: str
    date: dt.date
    appointment_id: int
    product_id: str
    vial_size_g: float
    needed: int
    held: int
    missing: int
    reason: str


class NeedPickOut(BaseModel):
    """One lot first-expiry-first-out would take for a need (a dry run: nothing is allocated)."""

    lot_id: int
    lot_number: str
    effective_expiry: dt.date
    storage_place: str
    count: int


class NeedOut(BaseModel):
    """What the booked appointments of one day at one site need of one product and vial size."""

    site_id: int
    site_code: str
    date: dt.date
    product_id: str
    vial_size_g: float
    appointments: int
    vials_needed: int
    grams_needed: float
    allocated: int  # vials these appointments already hold
    would_pick: list[NeedPickOut]  # what first-expiry-first-out would take for the rest
    short: int  # vials neither held nor found at the site
    on_hand: int  # usable vials on hand at the site (available lots not expired by the date)


class AllocationRunOut(BaseModel):
    start: dt.date
    days: int
    allocated_vials: int
    picks: list[PickOut]
    shortfalls: list[ShortfallOut]
    released: list[ReleasedOut]  # allocations dropped because the appointment is no longer booked
    shortage_products: list[str]  # allocated by clinical priority rather than date


class ProposalOut(BaseModel):
    appointment_id: int
    site_code: str
    date: dt.date
    product_id: str
    kind: str
    message: str
    switch_to: str | None
    switch_vials: list[dict[str, Any]]


class ShortageOut(BaseModel):
    start: dt.date
    days: int
    shortage_products: list[str]
    demand_g: dict[str, float]
    supply_g: dict[str, float]
    served_in_order: list[int]  # appointment ids of shortage products, by clinical priority
    proposals: list[ProposalOut]
    note: str


class ReorderOut(BaseModel):
    site_id: int
    site_code: str
    product_id: str
    vial_size_g: float
    usable: int
    forecast: int
    par: int
    suggested: int


class StockRowOut(BaseModel):
    site_id: int
    site_code: str
    product_id: str
    product_name: str
    vial_size_g: float
    on_hand: int
    allocated: int
    available: int
    grams_available: float
    value_cents: int


class ExpiringOut(BaseModel):
    lot: LotOut
    days_left: int
    band: int  # 30, 60 or 90
