"""JSON API of the cost capability. Money in integer cents (``*_cents``), mass in milligrams (``*_mg``)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from igflow.costs import service
from igflow.costs.schemas import (
    CourseCostOut,
    InfusionCostOut,
    OrderCostOut,
    PatientCostOut,
    PriceIn,
    PriceOut,
    ProductPricesOut,
    ReportOut,
)
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["costs"])


@router.get("/prices", response_model=list[ProductPricesOut])
def list_prices(
    product_id: str | None = Query(default=None, max_length=64),
    on: date | None = Query(default=None),
    principal: Principal = require(Perm.PRICE_MANAGE),
    session: Session = Depends(get_session),
) -> list[ProductPricesOut]:
    """Every catalog product with its prices per gram oldest first (each with its source and the last day it
    was in force) and the one in force on ``on`` (today). igflow ships no real prices."""
    return service.list_prices(session, product_id, on)


@router.post("/prices", response_model=PriceOut, status_code=201)
def add_price(
    data: PriceIn,
    principal: Principal = require(Perm.PRICE_MANAGE),
    session: Session = Depends(get_session),
) -> PriceOut:
    """A price per gram from a date, with its source. A second price of a product on the same date is 409."""
    row = service.add_price(session, principal, data)
    return service.price_out(row, None)


@router.get("/orders/{order_id}/cost", response_model=OrderCostOut)
def order_cost(
    order_id: int,
    on: date | None = Query(default=None),
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> OrderCostOut:
    """The drug cost of the order's verified plan per day and per cycle, at the prices in force on ``on``."""
    return service.order_cost(session, principal, order_id, on)


@router.get("/courses/{course_id}/cost", response_model=CourseCostOut)
def course_cost(
    course_id: int,
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> CourseCostOut:
    """Each day of the course as dispensed at the chair (with its partial-vial waste) or as planned."""
    return service.course_cost(session, principal, course_id)


@router.get("/infusions/{record_id}/cost", response_model=InfusionCostOut)
def infusion_cost(
    record_id: int,
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> InfusionCostOut:
    """The vials dispensed for the infusion, the dose given and the partial-vial waste, priced."""
    return service.infusion_cost(session, principal, record_id)


@router.get("/patients/{patient_id}/cost", response_model=PatientCostOut)
def patient_cost(
    patient_id: int,
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> PatientCostOut:
    """The patient's drug cost per cycle (course) and per calendar year."""
    return service.patient_cost(session, principal, patient_id)


@router.get("/reports/cost", response_model=ReportOut)
def cost_report(
    start: str | None = Query(default=None, max_length=7, description="first month, e.g. 2026-01"),
    end: str | None = Query(default=None, max_length=7, description="last month, e.g. 2026-12"),
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> ReportOut:
    """Monthly drug cost per site and payer, and per patient, over the sites and patients you may see."""
    return service.report(session, principal, start, end)
