"""API shapes of the cost capability. Money is integer cents (``*_cents``), mass integer milligrams
(``*_mg``); a cost without a price in force is ``null`` with ``unknown`` saying why."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PriceIn(_In):
    """A price of one gram of a catalog product from ``effective_from`` until the next price, with where the
    figure comes from (a contract, an invoice, a published average sales price). The service refuses a
    non-positive price, a product not in the catalog, an empty source and a second price on the same date."""

    product_id: str = Field(max_length=64)
    cents_per_gram: int = Field(le=100_000_000)
    effective_from: date
    source: str = Field(max_length=400)


class PriceOut(BaseModel):
    id: int
    product_id: str
    product_name: str
    cents_per_gram: int
    effective_from: date
    effective_to: date | None  # the last day it was in force; None: still in force (or not yet)
    source: str
    recorded_by_user_id: int | None
    recorded_at: datetime


class ProductPricesOut(BaseModel):
    """One product's prices, oldest first, and the one in force on ``on``."""

    product_id: str
    product_name: str
    on: date
    in_force: PriceOut | None
    prices: list[PriceOut]


class CostOut(BaseModel):
    """The drug cost of one dose: the vials dispensed, the mass given, the partial-vial waste."""

    label: str
    on: date
    product_id: str
    product_name: str
    dispensed: bool  # True: what the chair dispensed; False: what the plan dispenses
    cents_per_gram: int | None
    price_effective_from: date | None
    price_source: str | None
    dispensed_mg: int
    given_mg: int | None
    waste_mg: int | None
    dispensed_cents: int | None
    given_cents: int | None
    waste_cents: int | None
    unknown: str | None  # "unknown, no price on 2025-01-01"


class TotalOut(BaseModel):
    """A sum of costs. Doses without a price are left out of ``total_cents`` and listed in ``unknown``."""

    total_cents: int
    waste_cents: int
    doses_priced: int
    unknown: list[str]
    complete: bool


class OrderCostOut(BaseModel):
    order_id: int
    patient_id: int
    product_id: str
    verified: bool
    plan_version: int | None
    priced_on: date
    days: list[CostOut]
    cycle: TotalOut
    note: str


class CourseCostOut(BaseModel):
    course_id: int
    order_id: int
    patient_id: int
    cycle: int
    days: list[CostOut]
    total: TotalOut


class InfusionCostOut(BaseModel):
    record_id: int
    appointment_id: int
    patient_id: int
    cost: CostOut
    note: str


class CycleCostOut(BaseModel):
    course_id: int
    order_id: int
    cycle: int
    first_day: date
    status: str
    total: TotalOut


class YearCostOut(BaseModel):
    year: int
    total: TotalOut


class PatientCostOut(BaseModel):
    patient_id: int
    cycles: list[CycleCostOut]
    years: list[YearCostOut]


class ReportRowOut(BaseModel):
    """Drug cost of one month at one site for one payer: dispensed at the chair, and still to come."""

    month: str  # 2026-03
    site_id: int
    site_name: str
    payer_id: int | None
    payer_name: str
    doses: int
    dispensed_cents: int
    waste_cents: int
    planned_cents: int  # booked days nothing was dispensed for yet, priced from their plans
    unknown: int  # doses without a price in force (left out of the sums)


class ReportPatientOut(BaseModel):
    patient_id: int
    cycles: int
    total_cents: int
    per_cycle_cents: int | None
    years: dict[int, int]  # calendar year -> cents
    unknown: int


class ReportOut(BaseModel):
    start: str
    end: str
    rows: list[ReportRowOut]
    patients: list[ReportPatientOut]
    elapsed_ms: float
