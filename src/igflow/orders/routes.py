"""JSON API of the orders capability and the dose calculator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from igflow.orders import service
from igflow.orders.schemas import DosePreviewIn, OrderIn, OrderOut, VerificationIn
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["orders"])


@router.post("/dose-plans/preview")
def preview_dose(
    data: DosePreviewIn,
    site_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
    principal: Principal = require(Perm.DOSE_CALCULATE),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """The dose engine's plan for these facts: the JSON of ``igflow dose --json``, hard stops included.

    The site protocol in force today (the organisation's, overlaid by ``site_id``'s) applies, as it does to
    orders; ``igflow dose --protocol FILE`` with the version's document gives the same JSON.
    """
    return service.preview(data, service.protocol_catalog(session, site_id))


@router.post("/orders", response_model=OrderOut, status_code=201)
def create_order(
    data: OrderIn, principal: Principal = require(Perm.ORDER_WRITE), session: Session = Depends(get_session)
) -> OrderOut:
    order = service.create(session, principal, data)
    return service.to_out(session, order)


@router.get("/orders/{order_id}", response_model=OrderOut)
def read_order(
    order_id: int, principal: Principal = require(Perm.ORDER_READ), session: Session = Depends(get_session)
) -> OrderOut:
    return service.read(session, principal, order_id)


@router.post("/orders/{order_id}/plan-versions", response_model=OrderOut)
def recompute_plan(
    order_id: int, principal: Principal = require(Perm.ORDER_READ), session: Session = Depends(get_session)
) -> OrderOut:
    """Bring an out-of-date plan up to date: a new version from the patient's current facts (none when
    they have not changed). Reading an order never writes; this is how its plan follows the facts."""
    return service.recompute(session, principal, order_id)[0]


@router.get("/patients/{patient_id}/orders", response_model=list[OrderOut])
def patient_orders(
    patient_id: int, principal: Principal = require(Perm.ORDER_READ), session: Session = Depends(get_session)
) -> list[OrderOut]:
    return service.list_for_patient(session, principal, patient_id)


@router.post("/orders/{order_id}/verifications", response_model=OrderOut, status_code=201)
def verify_order(
    order_id: int,
    data: VerificationIn,
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> OrderOut:
    return service.verify(session, principal, order_id, data)


@router.get("/verification-queue", response_model=list[OrderOut])
def verification_queue(
    principal: Principal = require(Perm.PLAN_VERIFY), session: Session = Depends(get_session)
) -> list[OrderOut]:
    return service.queue(session, principal)
