"""JSON API of the patient's own infusion log (thin: parse, authorise, call the service). The patient logs
and reads their own; staff with home-therapy access read a patient's."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.home.selflog_schemas import SelfInfusionIn, SelfInfusionOut, SelfLogOut
from igflow.home.service import selflog
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["self-infusion log"])


@router.get("/me/self-infusions", response_model=SelfLogOut)
def my_log(
    principal: Principal = require(Perm.PATIENT_SELF), session: Session = Depends(get_session)
) -> SelfLogOut:
    """My self-infusions, what is due next and my plan in plain words, and the vials at my home."""
    return selflog.my_log(session, principal)


@router.post("/me/self-infusions", response_model=SelfInfusionOut, status_code=201)
def log_self_infusion(
    data: SelfInfusionIn,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> SelfInfusionOut:
    """Log one self-infusion (a retry with the same client_id returns the entry stored the first time)."""
    return selflog.log(session, principal, data)


@router.get("/patients/{patient_id}/self-infusions", response_model=SelfLogOut)
def patient_log(
    patient_id: int, principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> SelfLogOut:
    return selflog.log_for_patient(session, principal, patient_id)
