"""The site's shell: health, sign-in and out, the staff home, the patient portal's home, the API reference.

Everything here is crossed by every role on the way in; a capability's own pages live with it
(``igflow.<capability>.pages``). Thin: parse, call a service, render. Each route declares a permission.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.appointments import service as appointments_service
from igflow.catalog.preparation import preparation_catalog
from igflow.config import Settings
from igflow.db import Database
from igflow.errors import IgflowError, InvalidInput
from igflow.patients import service as patients_service
from igflow.referrals import service as referrals_service
from igflow.security import service as security_service
from igflow.security.deps import (
    PRELOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_address,
    get_session,
    new_prelogin_csrf,
    require,
    valid_prelogin_csrf,
)
from igflow.security.models import User, WebSession
from igflow.security.permissions import Perm, Role
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


# --- health, login, logout --------------------------------------------------------------------------


@router.get("/healthz")
def healthz(principal: Principal | None = require(Perm.PUBLIC)) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/favicon.ico")
def favicon(principal: Principal | None = require(Perm.PUBLIC)) -> Response:
    """Browsers ask for /favicon.ico on every page, signed in or not: the site's icon (an SVG)."""
    response = RedirectResponse("/static/favicon.svg", status_code=301)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    next: str | None = None,
    principal: Principal | None = require(Perm.PUBLIC),
    session: Session = Depends(get_session),
) -> Response:
    if principal is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    # Only a token this server issued is kept; anything else in the cookie is replaced.
    token = valid_prelogin_csrf(request, session) or new_prelogin_csrf(request, session)
    request.state.prelogin_csrf = token
    response = render(request, "login.html", {"next": _safe_next(next), "error": None})
    response.set_cookie(
        PRELOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.app.state.settings.https
    )
    return response


def _sign_in(
    db: Database, session: Session, settings: Settings, username: str, password: str, address: str
) -> tuple[User, str, WebSession]:
    # One thread-pool call from the first read to the commit: the checks read a snapshot (no write
    # lock on SQLite), and the one write transaction never waits for a thread while it holds the lock.
    with db.read_session() as reads:
        return security_service.sign_in(session, settings, username, password, address, reads=reads)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    principal: Principal | None = require(Perm.PUBLIC),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    settings = request.app.state.settings
    address = client_address(request)
    try:
        user, raw, _web_session = await run_in_threadpool(
            _sign_in, request.app.state.db, session, settings, username, password, address
        )
    except IgflowError as exc:
        request.state.prelogin_csrf = valid_prelogin_csrf(request, session) or ""
        return render(
            request,
            "login.html",
            {"next": target, "error": exc.message, "username": username[:64]},
            status_code=exc.status_code if exc.status_code == 429 else 400,
        )
    if any(r.role == Role.PATIENT for r in user.roles):
        target = "/my"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        httponly=True,
        samesite="strict",
        secure=settings.https,
        max_age=settings.session_absolute_h * 3600,
    )
    response.delete_cookie(PRELOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        security_service.end_session(session, raw, principal.actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- home -----------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
) -> Response:
    if principal.can(Perm.PATIENT_SELF) and not principal.can(Perm.PATIENT_LIST):
        return RedirectResponse("/my", status_code=303)
    counts: dict[str, int] = {}
    if principal.can(Perm.REFERRAL_READ):
        referral_page = referrals_service.search(session, principal, page_size=1)
        counts["referrals"] = referral_page.total
        for status in ("new", "in_review"):
            counts[status] = referrals_service.search(session, principal, status=status, page_size=1).total
    sites = (
        sites_service.list_sites(session, only=principal.site_ids) if principal.can(Perm.SITE_READ) else []
    )
    work = _work_at_a_glance(session, principal)
    context = {
        "counts": counts,
        "work": work,
        "sites": sites,
        "failed_sign_ins": _failed_sign_ins(session, principal),
    }
    return render(request, "home.html", context)


def _work_at_a_glance(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The counts each role starts its day from, with where to go: plans to verify, open tasks, today's
    chairs, courses waiting, authorisations due. Only what the principal may open."""
    from sqlalchemy import func, select

    from igflow.appointments import service as appointments_service
    from igflow.appointments.models import Appointment
    from igflow.authorizations import service as authorizations_service
    from igflow.db import utcnow
    from igflow.infusions import service as infusions_service
    from igflow.orders import service as orders_service
    from igflow.security import scope

    out: list[dict[str, Any]] = []
    if principal.can(Perm.PLAN_VERIFY):
        waiting = orders_service.queue(session, principal)
        out.append({"label": "plans to verify", "count": len(waiting), "href": "/verification-queue"})
    if principal.can(Perm.INFUSION_READ) and infusions_service.my_queues(principal):
        open_tasks = infusions_service.tasks(session, principal)
        now = utcnow()
        overdue = sum(1 for t in open_tasks if t.due_by is not None and t.due_by < now)
        out.append(
            {
                "label": "open tasks" + (f", {overdue} overdue" if overdue else ""),
                "count": len(open_tasks),
                "href": "/tasks",
            }
        )
    if principal.can(Perm.INFUSION_CHART) or principal.can(Perm.SCHEDULE_READ):
        today = utcnow().date()
        query = (
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.date == today,
                Appointment.status.in_(("booked", "completed")),
                Appointment.chair_id.is_not(None),
            )
        )
        in_chairs = session.execute(scope.by_site(query, principal, Appointment.site_id)).scalar_one()
        href = "/chair" if principal.can(Perm.INFUSION_CHART) else "/board"
        out.append({"label": "in the chairs today", "count": int(in_chairs), "href": href})
    if principal.can(Perm.SCHEDULE_READ):
        courses = appointments_service.waiting_courses(session, principal)
        out.append({"label": "courses waiting to be booked", "count": len(courses), "href": "/schedule"})
    if principal.can(Perm.PRIOR_AUTH_READ):
        queue = authorizations_service.work_queue(session, principal)
        ending = authorizations_service.expiring(session, principal)
        out.append(
            {"label": "prior-authorisation requests to work", "count": len(queue), "href": "/prior-auth"}
        )
        out.append(
            {"label": "authorisations ending soon", "count": len(ending), "href": "/prior-auth#ending"}
        )
    return out


def _failed_sign_ins(session: Session, principal: Principal) -> dict[str, Any] | None:
    user = session.get(User, principal.user_id)
    if user is None:
        return None
    count, latest = security_service.recent_failed_sign_ins(session, user, limit=5)
    return {"count": count, "latest": latest}


# --- patient portal -------------------------------------------------------------------------------

NOT_LINKED = (
    "This account is not linked to a patient record. A caregiver reads a patient's pages once the patient "
    "gives consent on their My caregivers page, or the infusion team records it on the chart."
)


@router.get("/my", response_class=HTMLResponse)
def my_record(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    if principal.patient_id is None:
        raise InvalidInput(NOT_LINKED)
    patient = patients_service.read(session, principal, principal.patient_id)
    shape = patients_service.clinical(session, patient)
    upcoming = appointments_service.upcoming_for_patient(session, principal.patient_id)
    # the next appointment's preparation advice, in the page's language (catalog preparation.yaml)
    context = {"patient": shape, "upcoming": upcoming, "preparation": preparation_catalog()}
    return render(request, "my.html", {**context, "failed_sign_ins": _failed_sign_ins(session, principal)})


# --- API reference ----------------------------------------------------------------------------------


@router.get("/openapi.json")
def openapi_json(request: Request, principal: Principal = require(Perm.API_DOCS)) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, principal: Principal = require(Perm.API_DOCS)) -> Response:
    spec = request.app.openapi()
    operations = []
    for path, methods in sorted(spec.get("paths", {}).items()):
        for method, op in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "parameters": [p["name"] for p in op.get("parameters", [])],
                }
            )
    return render(request, "docs.html", {"operations": operations, "info": spec.get("info", {})})
