"""The administrators' page of FHIR backend clients (``/admin/fhir-clients``): the registered clients, a
form to register one (each problem shown beside its field) and a button to disable one. Same permission,
checks and audit rows as the JSON API (:mod:`igflow.fhir.smart.routes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.fhir.smart import jwks as jwks_mod
from igflow.fhir.smart import service
from igflow.fhir.smart.models import BackendClient
from igflow.fhir.smart.schemas import BackendClientIn
from igflow.fhir.smart.token_routes import fhir_base, token_url
from igflow.security import service as security_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import FormFailure, form_action, form_values, validate_form
from igflow.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = "/admin/fhir-clients"
LABELS = {"name": "Name", "user_id": "Service account", "scopes": "Allowed scopes", "jwks": "Public keys"}


def _page(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    created: BackendClient | None = None,
    status_code: int = 200,
) -> Response:
    users = security_service.list_users(session)
    clients = service.list_clients(session)
    context = {
        "clients": clients,
        "keys": {c.id: jwks_mod.summary(c.jwks) for c in clients},
        "accounts": [(u.id, u.username) for u in users if u.is_service_account and u.active],
        "usernames": {u.id: u.username for u in users},
        "values": values,
        "errors": errors,
        "labels": LABELS,
        "created": created,
        "token_url": token_url(request),
        "discovery_url": fhir_base(request) + "/.well-known/smart-configuration",
        "scopes_supported": service.scopes_supported(),
    }
    return render(request, "admin/fhir_clients.html", context, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def clients_page(
    request: Request,
    created: str | None = Query(default=None, max_length=64),
    principal: Principal = require(Perm.TOKEN_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    made = (
        next((c for c in service.list_clients(session) if c.client_id == created), None) if created else None
    )
    return _page(request, session, {}, {}, created=made)


@router.post(PAGE, response_class=HTMLResponse)
async def clients_create(
    request: Request,
    principal: Principal = require(Perm.TOKEN_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)

    def create() -> BackendClient:
        data = validate_form(
            BackendClientIn,
            {
                "name": str(form.get("name", "")),
                "user_id": str(form.get("user_id", "")),
                "scopes": str(form.get("scopes", "")).split(),
                "jwks": str(form.get("jwks", "")),
            },
        )
        jwks = data.jwks if isinstance(data.jwks, dict) else {}
        return service.register_client(
            session, principal.actor, name=data.name, user_id=data.user_id, jwks=jwks, scopes=data.scopes
        )

    def refused(failure: FormFailure) -> Response:
        return _page(request, session, values, failure.errors, status_code=failure.status_code)

    return await form_action(session, create, lambda c: f"{PAGE}?created={c.client_id}", refused)


@router.post(PAGE + "/{client_pk}/disable", response_class=HTMLResponse)
async def clients_disable(
    request: Request,
    client_pk: int,
    principal: Principal = require(Perm.TOKEN_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    return await form_action(
        session,
        lambda: service.disable_client(session, principal.actor, client_pk),
        PAGE,
        lambda failure: _page(
            request, session, {}, {"form": failure.message}, status_code=failure.status_code
        ),
    )
