"""JSON API of the outcomes capability."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from igflow.outcomes import service
from igflow.outcomes.schemas import (
    CycleOut,
    DecisionIn,
    DecisionOut,
    ReadingIn,
    ReadingOut,
    ResponseOut,
    ReviewOut,
)
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["outcomes"])


@router.get("/patients/{patient_id}/outcomes", response_model=list[ReadingOut])
def list_readings(
    patient_id: int,
    measure_id: str | None = Query(default=None, max_length=64),
    principal: Principal = require(Perm.OUTCOME_READ),
    session: Session = Depends(get_session),
) -> list[ReadingOut]:
    """Every reading of the patient, oldest first; a corrected reading names the correction replacing it."""
    return service.reading_outs(service.list_readings(session, principal, patient_id, measure_id))


@router.post("/patients/{patient_id}/outcomes", response_model=ReadingOut, status_code=201)
def add_reading(
    patient_id: int,
    data: ReadingIn,
    principal: Principal = require(Perm.OUTCOME_WRITE),
    session: Session = Depends(get_session),
) -> ReadingOut:
    return ReadingOut.model_validate(service.add_reading(session, principal, patient_id, data))


def response_out(view: service.OrderResponse) -> ResponseOut:
    summary = view.summary
    return ResponseOut(
        order_id=view.order.id,
        patient_id=view.order.patient_id,
        indication_id=view.order.indication_id,
        cycles_completed=summary.cycles_completed,
        cycles=[
            CycleOut(cycle=c.number, started_on=c.started_on, completed_on=c.completed_on)
            for c in view.cycles
        ],
        review_after_cycles=summary.review_after_cycles,
        primary_measure_id=summary.primary_measure_id,
        outcome=summary.outcome.value,
        raises_review=summary.raises_review,
        review_reason=summary.review_reason,
        flags_order_and_authorisation=summary.flags_order_and_authorisation,
        message=summary.message,
        measures=[m.to_dict() for m in summary.measures],
        flagged=view.flagged,
        reviews=[ReviewOut.model_validate(r) for r in view.reviews],
        decisions=[DecisionOut.model_validate(d) for d in view.decisions],
    )


@router.get("/orders/{order_id}/response", response_model=ResponseOut)
def order_response(
    order_id: int,
    principal: Principal = require(Perm.OUTCOME_READ),
    session: Session = Depends(get_session),
) -> ResponseOut:
    """The order's response: each measure against baseline and the two-cycle rule. Reading writes nothing
    but its audit row: a due review is raised when a reading is added or an infusion is signed."""
    return response_out(service.response(session, principal, order_id))


@router.post("/orders/{order_id}/continuation-decisions", response_model=DecisionOut, status_code=201)
def decide(
    order_id: int,
    data: DecisionIn,
    principal: Principal = require(Perm.CONTINUATION_DECIDE),
    session: Session = Depends(get_session),
) -> DecisionOut:
    return DecisionOut.model_validate(service.decide(session, principal, order_id, data))
