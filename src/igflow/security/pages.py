"""Administration pages of the security capability: user accounts (roles, sites, enabled, password reset),
the audit log.

Each account's page has one small form per change (roles, site limits, password, enabled); a refused one
is shown again with each problem once, beside what it is about, and the other forms show what is saved.
The service functions are the JSON API's (same permission, same checks, same audit rows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.security import audit, audit_verify
from igflow.security import service as security_service
from igflow.security.deps import get_session, require
from igflow.security.models import AuditEvent, User
from igflow.security.passwords import MIN_PASSWORD_LENGTH
from igflow.security.permissions import ROLE_LABELS, Perm, Role
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import FormFailure, form_action, form_values
from igflow.web.render import field_error, render

router = APIRouter(include_in_schema=False)


def _staff_roles() -> list[tuple[str, str]]:
    """(role, its words) for every role a staff account may hold, in the order they are listed."""
    return [(r.value, ROLE_LABELS[r]) for r in Role if r is not Role.PATIENT]


def _site_ids(form: Any) -> list[int]:
    """The ticked sites; a value that is not a site id is refused, never dropped (none ticked: every site)."""
    values = [str(v) for v in form.getlist("site_ids")]
    bad = [v for v in values if not v.isdigit()]
    if bad:
        raise InvalidInput(f"site_ids: not a site id: {', '.join(bad[:3])}", "site_ids")
    return [int(v) for v in values]


def _users_page(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    sites = sites_service.list_sites(session)
    context = {
        "users": security_service.list_users(session),
        "sites": sites,
        "site_names": {s.id: s.name for s in sites},
        "roles": _staff_roles(),
        "role_labels": ROLE_LABELS,
        "min_length": MIN_PASSWORD_LENGTH,
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
    form = await request.form()
    active = form.get("active") == "true"
    if form.get("from") == "account":  # the account's own page: go back there, refusals shown in place
        return await form_action(
            session,
            lambda: security_service.set_active(session, principal.actor, user_id, active),
            f"/admin/users/{user_id}?saved={'enabled' if active else 'disabled'}",
            _refused(request, session, principal, user_id, "active", {}),
        )
    return await form_action(
        session,
        lambda: security_service.set_active(session, principal.actor, user_id, active),
        "/admin/users",
        lambda failure: _users_page(request, session, {}, {"form": failure.message}, failure.status_code),
    )


# --- one account: roles, site limits, password --------------------------------------------------------

#: the inputs of each form of the account page whose problems are shown beside them
_FIELDS: dict[str, tuple[str, ...]] = {
    "roles": ("roles",),
    "sites": ("site_ids",),
    "password": ("password",),
    "active": (),
}
_SAVED = {
    "roles": "Roles saved. The person's open sessions were ended: they sign in again to use them.",
    "sites": "Site limits saved. The person's open sessions were ended: they sign in again.",
    "password": "Password reset. Tell the person in person or by phone; their open sessions were ended.",
    "enabled": "Account enabled.",
    "disabled": "Account disabled: its sessions were ended and its API tokens revoked.",
}


def _placed(failure: FormFailure, fields: tuple[str, ...]) -> dict[str, str]:
    """Each problem once, as a sentence without the field's code in front: a known field's beside it, any
    other on the form's line (``active: you cannot disable your own account`` -> "You cannot ...")."""
    out: dict[str, str] = {}
    rest: list[str] = []
    for name, message in failure.fields.items():
        said = field_error(name, message)
        said = said[:1].upper() + said[1:]
        if name in fields:
            out[name] = said
        else:
            rest.append(said)
    if rest or not failure.fields:
        out["form"] = "; ".join(rest) if rest else failure.message
    return out


def _account_page(
    request: Request,
    session: Session,
    principal: Principal,
    user_id: int,
    *,
    failed: str | None = None,
    submitted: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
    status_code: int = 200,
) -> Response:
    user = security_service.get_user(session, user_id)
    sites = sites_service.list_sites(session)
    held = {"roles": [r.role for r in user.roles], "site_ids": [str(s.site_id) for s in user.sites]}
    forms: dict[str, dict[str, Any]] = {"roles": held, "sites": held, "password": {}}
    if failed in ("roles", "sites") and submitted is not None:
        forms[failed] = submitted
    failures, latest = security_service.recent_failed_sign_ins(session, user, own_session=False)
    context = {
        "user": user,
        "is_self": user.id == principal.user_id,
        "roles": _staff_roles(),
        "role_labels": ROLE_LABELS,
        "sites": sites,
        "site_names": {s.id: s.name for s in sites},
        "forms": forms,
        "errors": {failed: errors or {}} if failed else {},
        "saved": _SAVED.get(saved or ""),
        "min_length": MIN_PASSWORD_LENGTH,
        "last_sign_in": security_service.last_sign_in(session, user),
        "failed_sign_ins": failures,
        "recent_failures": latest,
    }
    return render(request, "admin/user.html", context, status_code=status_code)


def _refused(
    request: Request,
    session: Session,
    principal: Principal,
    user_id: int,
    failed: str,
    submitted: dict[str, Any],
) -> Any:
    def show(failure: FormFailure) -> Response:
        errors = _placed(failure, _FIELDS[failed])
        return _account_page(
            request,
            session,
            principal,
            user_id,
            failed=failed,
            submitted=submitted,
            errors=errors,
            status_code=failure.status_code,
        )

    return show


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    user_id: int,
    saved: str | None = Query(default=None, max_length=20),
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """One account: its roles in words, the sites it is limited to, recent failed sign-ins, and the forms."""
    return _account_page(request, session, principal, user_id, saved=saved)


@router.post("/admin/users/{user_id}/roles", response_class=HTMLResponse)
async def user_set_roles(
    request: Request,
    user_id: int,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Replace the account's roles (audited; ends its sessions). Your own admin role cannot be removed."""
    form = await request.form()
    roles = [str(r) for r in form.getlist("roles")]
    return await form_action(
        session,
        lambda: security_service.set_roles(session, principal.actor, user_id, roles),
        f"/admin/users/{user_id}?saved=roles",
        _refused(request, session, principal, user_id, "roles", {"roles": roles}),
    )


@router.post("/admin/users/{user_id}/sites", response_class=HTMLResponse)
async def user_set_sites(
    request: Request,
    user_id: int,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Limit the account to the ticked sites (none ticked: every site); audited; ends its sessions."""
    form = await request.form()
    ticked = [str(v) for v in form.getlist("site_ids")]

    def save() -> User:
        security_service.get_user(session, user_id)
        site_ids = _site_ids(form)
        sites_service.site_ids_exist(session, site_ids, "site_ids")
        return security_service.set_sites(session, principal.actor, user_id, site_ids)

    return await form_action(
        session,
        save,
        f"/admin/users/{user_id}?saved=sites",
        _refused(request, session, principal, user_id, "sites", {"site_ids": ticked}),
    )


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
async def user_reset_password(
    request: Request,
    user_id: int,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Set a new password (the strength rules apply; audited; ends the account's sessions)."""
    password = str((await request.form()).get("password", ""))  # never shown again, never logged
    return await form_action(
        session,
        lambda: security_service.reset_password(session, principal.actor, user_id, password),
        f"/admin/users/{user_id}?saved=password",
        _refused(request, session, principal, user_id, "password", {}),
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    verify: bool = False,
    actor: str = "",
    patient: str = "",
    action: str = "",
    date_from: str = "",
    date_to: str = "",
    before: int | None = None,
    principal: Principal = require(Perm.AUDIT_READ),
    session: Session = Depends(get_session),
) -> Response:
    """The audit log, newest first, 100 rows a page (keyset: "older" continues below the last row),
    filtered by who (username or user number), patient number, action (or its start, "appointment.")
    and dates (UTC)."""
    filters = {
        "actor": actor,
        "patient": patient,
        "action": action,
        "date_from": date_from,
        "date_to": date_to,
    }
    query = select(AuditEvent)
    problems: list[str] = []
    if actor.strip():
        who = actor.strip()
        query = query.where(
            AuditEvent.actor_user_id == int(who) if who.isdigit() else AuditEvent.actor == who.lower()
        )
    if patient.strip():
        if patient.strip().isdigit():
            query = query.where(AuditEvent.patient_id == int(patient.strip()))
        else:
            problems.append("Patient: give the patient's number (as in the chart's address, /patients/12).")
    if action.strip():
        wanted = action.strip().lower()
        query = query.where(
            AuditEvent.action.like(f"{wanted}%") if wanted.endswith(".") else AuditEvent.action == wanted
        )
    for name, raw, op in (("From", date_from, "ge"), ("To", date_to, "le")):
        if raw.strip():
            try:
                day = dt.date.fromisoformat(raw.strip())
            except ValueError:
                problems.append(f"{name}: give a date like 2026-12-03.")
                continue
            edge = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            query = query.where(
                AuditEvent.at >= edge if op == "ge" else AuditEvent.at < edge + dt.timedelta(days=1)
            )
    if before is not None:
        query = query.where(AuditEvent.id < before)
    events = (
        [] if problems else list(session.execute(query.order_by(AuditEvent.id.desc()).limit(101)).scalars())
    )
    more = len(events) > 100
    events = events[:100]
    total = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    result = audit_verify.verify_with_settings(session, request.app.state.settings) if verify else None
    audit.record(
        session,
        principal.actor,
        "audit.read",
        "audit_event",
        detail={"count": len(events), "filters": sorted(k for k, v in filters.items() if v.strip())},
    )
    session.commit()
    return render(
        request,
        "audit.html",
        {
            "events": events,
            "total": total,
            "result": result,
            "filters": filters,
            "problems": problems,
            "older": events[-1].id if more and events else None,
            "query": urlencode({k: v for k, v in filters.items() if v.strip()}),
        },
    )
