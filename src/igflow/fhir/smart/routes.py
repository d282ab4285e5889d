"""JSON API of the FHIR backend clients (``/api/v1/fhir-clients``): administrators register, list and
disable them. Thin: the service checks and audits."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.fhir.smart import service
from igflow.fhir.smart.schemas import BackendClientIn, BackendClientOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["fhir-clients"])


@router.get("/fhir-clients", response_model=list[BackendClientOut])
def list_clients(
    principal: Principal = require(Perm.TOKEN_MANAGE), session: Session = Depends(get_session)
) -> list[BackendClientOut]:
    return [BackendClientOut.model_validate(c) for c in service.list_clients(session)]


@router.post("/fhir-clients", response_model=BackendClientOut, status_code=201)
def register_client(
    data: BackendClientIn,
    principal: Principal = require(Perm.TOKEN_MANAGE),
    session: Session = Depends(get_session),
) -> BackendClientOut:
    """Register a backend client; its ``client_id`` is generated. The keys and scopes are checked."""
    jwks = data.jwks if isinstance(data.jwks, dict) else {}
    client = service.register_client(
        session, principal.actor, name=data.name, user_id=data.user_id, jwks=jwks, scopes=data.scopes
    )
    return BackendClientOut.model_validate(client)


@router.post("/fhir-clients/{client_pk}/disable", response_model=BackendClientOut)
def disable_client(
    client_pk: int, principal: Principal = require(Perm.TOKEN_MANAGE), session: Session = Depends(get_session)
) -> BackendClientOut:
    """Disable the client (audited): its token requests are refused and its live tokens revoked."""
    return BackendClientOut.model_validate(service.disable_client(session, principal.actor, client_pk))
