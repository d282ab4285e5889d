"""JSON API of the directory capability."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.directory import service
from igflow.directory.schemas import PayerAuthSettingsIn, PayerIn, PayerOut, PrescriberIn, PrescriberOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["directory"])


@router.get("/prescribers", response_model=list[PrescriberOut])
def list_prescribers(
    principal: Principal = require(Perm.DIRECTORY_READ), session: Session = Depends(get_session)
) -> list[PrescriberOut]:
    return [PrescriberOut.model_validate(p) for p in service.list_prescribers(session)]


@router.post("/prescribers", response_model=PrescriberOut, status_code=201)
def create_prescriber(
    data: PrescriberIn,
    principal: Principal = require(Perm.DIRECTORY_WRITE),
    session: Session = Depends(get_session),
) -> PrescriberOut:
    return PrescriberOut.model_validate(service.create_prescriber(session, principal.actor, data))


@router.get("/payers", response_model=list[PayerOut])
def list_payers(
    principal: Principal = require(Perm.DIRECTORY_READ), session: Session = Depends(get_session)
) -> list[PayerOut]:
    return [PayerOut.model_validate(p) for p in service.list_payers(session)]


@router.post("/payers", response_model=PayerOut, status_code=201)
def create_payer(
    data: PayerIn,
    principal: Principal = require(Perm.DIRECTORY_WRITE),
    session: Session = Depends(get_session),
) -> PayerOut:
    return PayerOut.model_validate(service.create_payer(session, principal.actor, data))


@router.put("/payers/{payer_id}/prior-auth-settings", response_model=PayerOut)
def set_payer_auth_settings(
    payer_id: int,
    data: PayerAuthSettingsIn,
    principal: Principal = require(Perm.DIRECTORY_WRITE),
    session: Session = Depends(get_session),
) -> PayerOut:
    """Which catalog policy the payer's packets are checked on, whether CMS-0057-F time frames bind it,
    whether booking beyond an authorisation is a warning or a hard stop, and its lead time."""
    return PayerOut.model_validate(service.set_auth_settings(session, principal.actor, payer_id, data))
