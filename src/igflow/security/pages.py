"""Administration pages of the security capability: user accounts (roles, sites, enabled), the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.security import audit, audit_verify
from igflow.security import service as security_service
from igflow.security.deps import get_session, require
from igflow.security.models import AuditEvent
from igflow.security.permissions import Perm, Role
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import form_action, form_values
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


def _users_page(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "users": security_service.list_users(session),
        "sites": sites_service.list_sites(session),
        "roles": [r.value for r in Role if r is not Role.PATIENT],
        "values": values,
        "errors": errors,
    }
    return render(request, "admin/users.html", context, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    return _users_page(request, session, {}, {})


@router.post("/admin/users", response_class=HTMLResponse)
async def users_create(
    request: Request,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form, skip=("csrf_token", "password"))  # a refused password is not shown again

    def create() -> None:
        site_ids = [int(str(v)) for v in form.getlist("site_ids") if str(v).isdigit()]
        sites_service.site_ids_exist(session, site_ids, "site_ids")
        security_service.create_user(
            session,
            principal.actor,
            username=str(form.get("username", "")),
            display_name=str(form.get("display_name", "")),
            password=str(form.get("password", "")),
            roles=[str(r) for r in form.getlist("roles")],
            site_ids=site_ids,
        )

    return await form_action(
        session,
        create,
        "/admin/users",
        lambda failure: _users_page(request, session, values, failure.errors, 422),
    )


@router.post("/admin/users/{user_id}/active")
async def users_set_active(
    request: Request,
    user_id: int,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    active = (await request.form()).get("active") == "true"
    return await form_action(
        session,
        lambda: security_service.set_active(session, principal.actor, user_id, active),
        "/admin/users",
        lambda failure: _users_page(request, session, {}, {"form": failure.message}, failure.status_code),
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    verify: bool = False,
    principal: Principal = require(Perm.AUDIT_READ),
    session: Session = Depends(get_session),
) -> Response:
    events = list(session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(100)).scalars())
    total = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    result = audit_verify.verify_with_settings(session, request.app.state.settings) if verify else None
    audit.record(session, principal.actor, "audit.read", "audit_event", detail={"count": len(events)})
    session.commit()
    return render(request, "audit.html", {"events": events, "total": total, "result": result})
