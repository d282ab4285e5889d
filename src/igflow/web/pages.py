"""Staff and patient pages. Thin: parse the form, call a service, render. Each route declares a permission."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.appointments import service as appointments_service
from igflow.catalog_access import indication_names
from igflow.directory import service as directory_service
from igflow.errors import IgflowError, InvalidInput
from igflow.orders import service as orders_service
from igflow.patients import service as patients_service
from igflow.patients.schemas import MeasurementIn, PatientIn
from igflow.referrals import service as referrals_service
from igflow.referrals.models import Referral
from igflow.referrals.schemas import ReferralDecision, ReferralIn
from igflow.security import audit, audit_verify
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
from igflow.security.models import AuditEvent, User
from igflow.security.permissions import Perm, Role
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.schemas import ChairIn
from igflow.web.charts import weight_trend_svg
from igflow.web.forms import errors_of, form_values
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
        user = await run_in_threadpool(
            security_service.authenticate, session, settings, username, password, address
        )
        raw, _web_session = await run_in_threadpool(
            security_service.start_session, session, settings, user, address
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
    context = {"counts": counts, "sites": sites, "failed_sign_ins": _failed_sign_ins(session, principal)}
    return render(request, "home.html", context)


def _failed_sign_ins(session: Session, principal: Principal) -> dict[str, Any] | None:
    user = session.get(User, principal.user_id)
    if user is None:
        return None
    count, latest = security_service.recent_failed_sign_ins(session, user, limit=5)
    return {"count": count, "latest": latest}


# --- patients --------------------------------------------------------------------------------------


@router.get("/patients", response_class=HTMLResponse)
def patient_list(
    request: Request,
    q: str = "",
    dob: str = "",
    page: int = 1,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
) -> Response:
    error = None
    dob_value: date | None = None
    if dob:
        try:
            dob_value = date.fromisoformat(dob)
        except ValueError:
            error = "Date of birth: use the form YYYY-MM-DD."
    try:
        results = patients_service.search(
            session, principal, q=q[:100] or None, date_of_birth=dob_value, page=max(page, 1), page_size=25
        )
    except InvalidInput as exc:
        error, results = exc.message, None
    pages = (results.total + 24) // 25 if results else 0
    context = {
        "q": q,
        "dob": dob,
        "results": results,
        "pages": pages,
        "error": error,
        "qs": urlencode({"q": q, "dob": dob}),
    }
    template = "patients/_results.html" if request.headers.get("hx-request") else "patients/list.html"
    return render(request, template, context)


@router.get("/patients/new", response_class=HTMLResponse)
def patient_new(
    request: Request,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    sites = sites_service.list_sites(session, only=principal.site_ids, active_only=True)
    return render(request, "patients/new.html", {"sites": sites, "values": {}, "errors": {}})


@router.post("/patients/new", response_class=HTMLResponse)
async def patient_create(
    request: Request,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    data = dict(values)
    data["site_ids"] = [int(v) for v in form.getlist("site_ids") if str(v).isdigit()]
    for flag in (
        "prior_severe_ig_reaction",
        "renal_impairment",
        "diabetes",
        "heart_failure",
        "thrombosis_history",
        "hyperviscosity",
        "hyperprolinaemia",
    ):
        data[flag] = flag in form
    errors: dict[str, str] = {}
    try:
        patient_in = PatientIn.model_validate(data)
        patient = await run_in_threadpool(patients_service.create, session, principal, patient_in)
        return RedirectResponse(f"/patients/{patient.id}", status_code=303)
    except ValidationError as exc:
        errors = errors_of(exc)
    except IgflowError as exc:
        errors = {exc.field or "form": exc.message}
    sites = sites_service.list_sites(session, only=principal.site_ids, active_only=True)
    return render(
        request, "patients/new.html", {"sites": sites, "values": values, "errors": errors}, status_code=422
    )


def _chart_context(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    shape = patients_service.read_shape(session, principal, patient_id)
    context: dict[str, Any] = {"patient": shape, "clinical": principal.can(Perm.PATIENT_CLINICAL_READ)}
    sites = {s.id: s for s in sites_service.list_sites(session)}
    context["patient_sites"] = [sites[i] for i in shape.site_ids if i in sites]
    if context["clinical"]:
        rows = patients_service.measurements(session, principal, patient_id)
        context["measurements"] = list(reversed(rows))
        context["weight_svg"] = weight_trend_svg(patients_service.weight_trend(rows))
        context["kinds"] = patients_service.measurement_kinds()
        context["referrals"] = referrals_service.search(
            session, principal, patient_id=patient_id, page_size=50
        ).items
        context["indications"] = indication_names()
    if principal.can(Perm.ORDER_READ):
        context["orders"] = orders_service.list_for_patient(session, principal, patient_id)
    return context


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_chart(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_READ),
    session: Session = Depends(get_session),
) -> Response:
    context = _chart_context(session, principal, patient_id)
    return render(request, "patients/chart.html", {**context, "errors": {}, "values": {}})


@router.post("/patients/{patient_id}/measurements", response_class=HTMLResponse)
async def patient_add_measurement(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.MEASUREMENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    errors: dict[str, str] = {}
    try:
        data = MeasurementIn.model_validate({k: v for k, v in values.items() if v != "" or k == "note"})
        await run_in_threadpool(patients_service.add_measurement, session, principal, patient_id, data)
        return RedirectResponse(f"/patients/{patient_id}#measurements", status_code=303)
    except ValidationError as exc:
        errors = errors_of(exc)
    except IgflowError as exc:
        errors = {exc.field or "form": exc.message}
    context = _chart_context(session, principal, patient_id)
    return render(
        request, "patients/chart.html", {**context, "errors": errors, "values": values}, status_code=422
    )


@router.get("/my", response_class=HTMLResponse)
def my_record(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    patient = patients_service.read(session, principal, principal.patient_id)
    shape = patients_service.clinical(session, patient)
    upcoming = appointments_service.upcoming_for_patient(session, principal.patient_id)
    context = {"patient": shape, "upcoming": upcoming}
    return render(request, "my.html", {**context, "failed_sign_ins": _failed_sign_ins(session, principal)})


# --- referrals -----------------------------------------------------------------------------------


@router.get("/referrals", response_class=HTMLResponse)
def referral_list(
    request: Request,
    status: str = "",
    page: int = 1,
    principal: Principal = require(Perm.REFERRAL_READ),
    session: Session = Depends(get_session),
) -> Response:
    results = referrals_service.search(
        session, principal, status=status or None, page=max(page, 1), page_size=25
    )
    patient_names = patients_service.display_names(session, [r.patient_id for r in results.items])
    return render(
        request,
        "referrals/list.html",
        {"results": results, "status": status, "names": patient_names, "indications": indication_names()},
    )


def _referral_form_context(session: Session, patient_id: int | None) -> dict[str, Any]:
    return {
        "prescribers": directory_service.list_prescribers(session),
        "indications": sorted(indication_names().items(), key=lambda kv: kv[1]),
        "patient_id": patient_id,
    }


@router.get("/referrals/new", response_class=HTMLResponse)
def referral_new(
    request: Request,
    patient_id: int | None = None,
    principal: Principal = require(Perm.REFERRAL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values: dict[str, Any] = {"received_on": date.today().isoformat()}
    if patient_id:
        values["patient_id"] = patient_id
    return render(
        request,
        "referrals/new.html",
        {**_referral_form_context(session, patient_id), "values": values, "errors": {}},
    )


@router.post("/referrals/new", response_class=HTMLResponse)
async def referral_create(
    request: Request,
    principal: Principal = require(Perm.REFERRAL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    errors: dict[str, str] = {}
    upload = form.get("document")
    try:
        data = ReferralIn.model_validate({k: v for k, v in values.items() if k != "document"})
        referral = await run_in_threadpool(referrals_service.create, session, principal, data)
        if upload is not None and hasattr(upload, "read") and getattr(upload, "filename", ""):
            max_bytes = request.app.state.settings.max_upload_bytes
            content = await upload.read(max_bytes + 1)
            try:
                await run_in_threadpool(
                    referrals_service.attach,
                    session,
                    principal,
                    referral.id,
                    filename=upload.filename or "document",
                    content=content,
                    max_bytes=max_bytes,
                )
            except IgflowError as exc:
                # The referral is kept; say clearly that its document was refused.
                return RedirectResponse(
                    f"/referrals/{referral.id}?" + urlencode({"document_error": exc.message}), status_code=303
                )
        return RedirectResponse(f"/referrals/{referral.id}", status_code=303)
    except ValidationError as exc:
        errors = errors_of(exc)
    except IgflowError as exc:
        errors = {exc.field or "form": exc.message}
    patient_id = int(values["patient_id"]) if str(values.get("patient_id", "")).isdigit() else None
    return render(
        request,
        "referrals/new.html",
        {**_referral_form_context(session, patient_id), "values": values, "errors": errors},
        status_code=422,
    )


def _referral_page(
    request: Request,
    session: Session,
    principal: Principal,
    referral_id: int,
    error: str | None,
    document_error: str,
    status_code: int = 200,
) -> Response:
    referral = referrals_service.read(session, principal, referral_id)
    return render(
        request,
        "referrals/detail.html",
        {
            "referral": referral,
            "patient_name": patients_service.display_name(session, referral.patient_id),
            "prescriber": directory_service.get_prescriber(session, referral.prescriber_id),
            "indications": indication_names(),
            "transitions": sorted(referrals_service.TRANSITIONS[referral.status]),
            "document_error": document_error,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_detail(
    request: Request,
    referral_id: int,
    document_error: str = "",
    principal: Principal = require(Perm.REFERRAL_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _referral_page(request, session, principal, referral_id, None, document_error[:300])


@router.post("/referrals/{referral_id}/decision", response_class=HTMLResponse)
async def referral_decide(
    request: Request,
    referral_id: int,
    principal: Principal = require(Perm.REFERRAL_DECIDE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        data = ReferralDecision.model_validate(form_values(form))
        await run_in_threadpool(referrals_service.decide, session, principal, referral_id, data, None)
        return RedirectResponse(f"/referrals/{referral_id}", status_code=303)
    except ValidationError as exc:
        message = "; ".join(f"{k}: {v}" for k, v in errors_of(exc).items())
    except IgflowError as exc:
        message = exc.message
    return _referral_page(request, session, principal, referral_id, message, "", 422)


@router.get("/referrals/{referral_id}/documents/{document_id}")
def referral_document(
    referral_id: int,
    document_id: int,
    principal: Principal = require(Perm.REFERRAL_READ),
    session: Session = Depends(get_session),
) -> Response:
    document = referrals_service.download(session, principal, referral_id, document_id)
    return Response(
        content=document.content,
        media_type=document.content_type,
        headers={"Content-Disposition": f'attachment; filename="document-{document.id}"'},
    )


# --- administration ------------------------------------------------------------------------------


@router.get("/admin/sites", response_class=HTMLResponse)
def sites_page(
    request: Request, principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> Response:
    sites = sites_service.list_sites(session)
    return render(request, "admin/sites.html", {"sites": sites, "error": None})


@router.post("/admin/sites/{site_id}/chairs", response_class=HTMLResponse)
async def sites_add_chair(
    request: Request,
    site_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        data = ChairIn.model_validate({"label": form.get("label", ""), "kind": form.get("kind", "recliner")})
        await run_in_threadpool(sites_service.add_chair, session, principal.actor, site_id, data)
        return RedirectResponse("/admin/sites", status_code=303)
    except ValidationError as exc:
        message = "; ".join(f"{k}: {v}" for k, v in errors_of(exc).items())
    except IgflowError as exc:
        message = exc.message
    return render(
        request, "admin/sites.html", {"sites": sites_service.list_sites(session), "error": message}, 422
    )


@router.post("/admin/sites/{site_id}/chairs/{chair_id}/active")
async def sites_toggle_chair(
    request: Request,
    site_id: int,
    chair_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    site = sites_service.get_site(session, site_id)
    chair = next((c for c in site.chairs if c.id == chair_id), None)
    if chair is None:
        raise InvalidInput(f"chair {chair_id} is not at this site", "chair_id")
    data = ChairIn(label=chair.label, kind=chair.kind, active=form.get("active") == "true")  # type: ignore[arg-type]
    await run_in_threadpool(sites_service.update_chair, session, principal.actor, site_id, chair_id, data)
    return RedirectResponse("/admin/sites", status_code=303)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "admin/users.html", _users_context(session, {}, {}))


def _users_context(session: Session, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "users": security_service.list_users(session),
        "sites": sites_service.list_sites(session),
        "roles": [r.value for r in Role if r is not Role.PATIENT],
        "values": values,
        "errors": errors,
    }


@router.post("/admin/users", response_class=HTMLResponse)
async def users_create(
    request: Request,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    try:
        site_ids = [int(v) for v in form.getlist("site_ids") if str(v).isdigit()]
        sites_service.site_ids_exist(session, site_ids, "site_ids")
        await run_in_threadpool(
            lambda: security_service.create_user(
                session,
                principal.actor,
                username=str(form.get("username", "")),
                display_name=str(form.get("display_name", "")),
                password=str(form.get("password", "")),
                roles=[str(r) for r in form.getlist("roles")],
                site_ids=site_ids,
            )
        )
        return RedirectResponse("/admin/users", status_code=303)
    except IgflowError as exc:
        values.pop("password", None)
        return render(
            request,
            "admin/users.html",
            _users_context(session, values, {exc.field or "form": exc.message}),
            422,
        )


@router.post("/admin/users/{user_id}/active")
async def users_set_active(
    request: Request,
    user_id: int,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        await run_in_threadpool(
            security_service.set_active, session, principal.actor, user_id, form.get("active") == "true"
        )
    except IgflowError as exc:
        return render(
            request, "admin/users.html", _users_context(session, {}, {"form": exc.message}), exc.status_code
        )
    return RedirectResponse("/admin/users", status_code=303)


# --- audit ----------------------------------------------------------------------------------------


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


__all__ = ["Referral", "router"]
