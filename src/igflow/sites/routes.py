"""JSON API of the sites capability."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service
from igflow.sites.schemas import ChairIn, ChairOut, SiteIn, SiteOut

router = APIRouter(tags=["sites"])


@router.get("/sites", response_model=list[SiteOut])
def list_sites(
    principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> list[SiteOut]:
    return [service.to_out(s) for s in service.list_sites(session)]


@router.post("/sites", response_model=SiteOut, status_code=201)
def create_site(
    data: SiteIn, principal: Principal = require(Perm.SITE_MANAGE), session: Session = Depends(get_session)
) -> SiteOut:
    return service.to_out(service.create_site(session, principal.actor, data))


@router.get("/sites/{site_id}", response_model=SiteOut)
def read_site(
    site_id: int, principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> SiteOut:
    return service.to_out(service.get_site(session, site_id))


@router.put("/sites/{site_id}", response_model=SiteOut)
def update_site(
    site_id: int,
    data: SiteIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> SiteOut:
    return service.to_out(service.update_site(session, principal.actor, site_id, data))


@router.post("/sites/{site_id}/chairs", response_model=ChairOut, status_code=201)
def add_chair(
    site_id: int,
    data: ChairIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> ChairOut:
    return ChairOut.model_validate(service.add_chair(session, principal.actor, site_id, data))


@router.put("/sites/{site_id}/chairs/{chair_id}", response_model=ChairOut)
def update_chair(
    site_id: int,
    chair_id: int,
    data: ChairIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> ChairOut:
    return ChairOut.model_validate(service.update_chair(session, principal.actor, site_id, chair_id, data))
