"""JSON API of the protocols capability."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.protocols import service
from igflow.protocols.schemas import ProtocolDecisionIn, ProtocolIn, ProtocolOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["protocols"])


@router.get("/protocols", response_model=list[ProtocolOut])
def list_protocols(
    principal: Principal = require(Perm.PROTOCOL_READ), session: Session = Depends(get_session)
) -> list[ProtocolOut]:
    return [ProtocolOut.model_validate(p) for p in service.list_protocols(session)]


@router.post("/protocols", response_model=ProtocolOut, status_code=201)
def propose(
    data: ProtocolIn,
    principal: Principal = require(Perm.PROTOCOL_WRITE),
    session: Session = Depends(get_session),
) -> ProtocolOut:
    return ProtocolOut.model_validate(service.create_draft(session, principal.actor, principal.user_id, data))


@router.get("/protocols/in-force", response_model=list[ProtocolOut])
def in_force(
    site_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
    on: date | None = None,
    principal: Principal = require(Perm.PROTOCOL_READ),
    session: Session = Depends(get_session),
) -> list[ProtocolOut]:
    """The versions in force for a site (organisation first, then the site's) on a date (default today)."""
    found = service.in_force(session, site_id, on or utcnow().date())
    return [ProtocolOut.model_validate(p) for p in found.protocols]


@router.get("/protocols/{protocol_id}", response_model=ProtocolOut)
def read(
    protocol_id: int,
    principal: Principal = require(Perm.PROTOCOL_READ),
    session: Session = Depends(get_session),
) -> ProtocolOut:
    return ProtocolOut.model_validate(service.get(session, protocol_id))


@router.get("/protocols/{protocol_id}/document")
def export_document(
    protocol_id: int,
    principal: Principal = require(Perm.PROTOCOL_READ),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """The version as a protocol file for ``igflow dose --protocol FILE`` (the same plan as in igflow)."""
    return service.document(service.get(session, protocol_id)).model_dump(mode="json", exclude_none=True)


@router.put("/protocols/{protocol_id}", response_model=ProtocolOut)
def edit(
    protocol_id: int,
    data: ProtocolIn,
    principal: Principal = require(Perm.PROTOCOL_WRITE),
    session: Session = Depends(get_session),
) -> ProtocolOut:
    return ProtocolOut.model_validate(service.update_draft(session, principal, protocol_id, data))


@router.post("/protocols/{protocol_id}/decision", response_model=ProtocolOut)
def decide(
    protocol_id: int,
    data: ProtocolDecisionIn,
    principal: Principal = require(Perm.PROTOCOL_APPROVE),
    session: Session = Depends(get_session),
) -> ProtocolOut:
    return ProtocolOut.model_validate(service.decide(session, principal, protocol_id, data))
