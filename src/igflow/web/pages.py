"""Staff and patient pages. Thin: parse the form, call a service, render. Each route declares a permission."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.appointments import service as appointments_service
from igflow.appointments.models import PlanningRun
from igflow.appointments.schemas import BookIn, PlanningIn, StatusIn
from igflow.catalog import load_catalog
from igflow.catalog_access import indication_names
from igflow.db import utcnow
from igflow.directory import service as directory_service
from igflow.errors import IgflowError, InvalidInput, field_errors
from igflow.infusions import service as infusions_service
from igflow.orders import service as orders_service
from igflow.orders.schemas import DosePreviewIn, OrderIn, VerificationIn
from igflow.patients import service as patients_service
from igflow.patients.schemas import MeasurementIn, PatientIn
from igflow.referrals import service as referrals_service
from igflow.referrals.models import Referral
from igflow.referrals.schemas import ReferralDecision, ReferralIn
from igflow.security import audit
from igflow.security import service as security_service
from igflow.security.deps import (
    PRELOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_address,
    get_session,
    new_prelogin_csrf,
    require,
)
from igflow.security.models import AuditEvent
from igflow.security.permissions import Perm, Role
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.schemas import ChairIn
from igflow.web.charts import chair_board_svg, indication_colour, load_svg, weight_trend_svg
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


def _errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, message in field_errors(exc.errors()):
        out.setdefault(name, message)
    return out


def _form_dict(form: Any, skip: tuple[str, ...] = ("csrf_token",)) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k not in skip and not hasattr(v, "read")}


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
    request: Request, next: str | None = None, principal: Principal | None = require(Perm.PUBLIC)
) -> Response:
    if principal is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = request.cookies.get(PRELOGIN_CSRF_COOKIE) or new_prelogin_csrf()
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
        request.state.prelogin_csrf = request.cookies.get(PRELOGIN_CSRF_COOKIE, "")
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
    return render(request, "home.html", {"counts": counts, "sites": sites})


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
    values = _form_dict(form)
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
        errors = _errors(exc)
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
    values = _form_dict(form)
    errors: dict[str, str] = {}
    try:
        data = MeasurementIn.model_validate({k: v for k, v in values.items() if v != "" or k == "note"})
        await run_in_threadpool(patients_service.add_measurement, session, principal, patient_id, data)
        return RedirectResponse(f"/patients/{patient_id}#measurements", status_code=303)
    except ValidationError as exc:
        errors = _errors(exc)
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
    return render(request, "my.html", {"patient": shape, "upcoming": upcoming})


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
    values = _form_dict(form)
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
        errors = _errors(exc)
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
            "patient_name": patients_service.display_names(session, [referral.patient_id]).get(
                referral.patient_id, ""
            ),
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
        data = ReferralDecision.model_validate(_form_dict(form))
        await run_in_threadpool(referrals_service.decide, session, principal, referral_id, data, None)
        return RedirectResponse(f"/referrals/{referral_id}", status_code=303)
    except ValidationError as exc:
        message = "; ".join(f"{k}: {v}" for k, v in _errors(exc).items())
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


# --- dose calculator, orders and verification --------------------------------------------------------


_CALC_FIELDS = ("indication", "phase", "product", "policy", "weight_kg", "height_cm", "sex", "age_years")


@router.get("/dose", response_class=HTMLResponse)
def dose_calculator(request: Request, principal: Principal = require(Perm.DOSE_CALCULATE)) -> Response:
    catalog = load_catalog()
    params = request.query_params
    values: dict[str, Any] = {k: params.get(k, "") for k in (*_CALC_FIELDS, "dose_g_per_kg", "days")}
    values["risk"] = params.getlist("risk")
    values["first_infusion"] = params.get("first_infusion") == "true"
    values["policy"] = values["policy"] or catalog.default_policy
    plan, error = None, None
    if all(values[k] for k in ("weight_kg", "height_cm", "age_years")):
        try:
            data = DosePreviewIn.model_validate(
                {
                    **{k: values[k] for k in _CALC_FIELDS},
                    "dose_g_per_kg": values["dose_g_per_kg"] or None,
                    "days": values["days"] or None,
                    "risk": values["risk"],
                    "first_infusion": values["first_infusion"],
                }
            )
            plan = orders_service.preview(data)
        except ValidationError as exc:
            error = "; ".join(f"{k}: {v}" for k, v in _errors(exc).items())
        except IgflowError as exc:
            error = exc.message
    return render(
        request,
        "orders/calculator.html",
        {"catalog": catalog, "values": values, "plan": plan, "error": error},
    )


def _order_form(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    patient = patients_service.check_access(session, principal, patient_id)
    referrals = [
        r
        for r in referrals_service.search(session, principal, patient_id=patient_id, page_size=50).items
        if r.status == "accepted"
    ]
    return {
        "patient": patient,
        "prescribers": directory_service.list_prescribers(session),
        "referrals": referrals,
        "catalog": load_catalog(),
    }


@router.get("/patients/{patient_id}/orders/new", response_class=HTMLResponse)
def order_new(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.ORDER_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return render(
        request,
        "orders/new.html",
        {**_order_form(session, principal, patient_id), "values": {}, "errors": {}},
    )


@router.post("/patients/{patient_id}/orders/new", response_class=HTMLResponse)
async def order_create(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.ORDER_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = _form_dict(form)
    data = {k: v for k, v in values.items() if v != ""}
    data["patient_id"] = patient_id
    data["first_infusion"] = form.get("first_infusion") == "true"
    try:
        order = await run_in_threadpool(
            orders_service.create, session, principal, OrderIn.model_validate(data)
        )
        return RedirectResponse(f"/orders/{order.id}", status_code=303)
    except ValidationError as exc:
        errors = _errors(exc)
    except IgflowError as exc:
        errors = {exc.field or "form": exc.message}
    context = _order_form(session, principal, patient_id)
    return render(
        request, "orders/new.html", {**context, "values": values, "errors": errors}, status_code=422
    )


def _order_page(
    request: Request,
    session: Session,
    principal: Principal,
    order_id: int,
    error: str | None,
    status_code: int = 200,
) -> Response:
    order = orders_service.read(session, principal, order_id)
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "patient_name": patients_service.display_names(session, [order.patient_id]).get(
                order.patient_id, ""
            ),
            "can_verify": principal.can(Perm.PLAN_VERIFY) and order.entered_by_user_id != principal.user_id,
            "reaction_flags": infusions_service.flags_for_order(session, order.id),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_detail(
    request: Request,
    order_id: int,
    principal: Principal = require(Perm.ORDER_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _order_page(request, session, principal, order_id, None)


@router.post("/orders/{order_id}/verify", response_class=HTMLResponse)
async def order_verify(
    request: Request,
    order_id: int,
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        data = VerificationIn.model_validate(_form_dict(form))
        await run_in_threadpool(orders_service.verify, session, principal, order_id, data)
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    except ValidationError as exc:
        message = "; ".join(f"{k}: {v}" for k, v in _errors(exc).items())
        code = 422
    except IgflowError as exc:
        message, code = exc.message, exc.status_code
    return _order_page(request, session, principal, order_id, message, code)


@router.get("/verification-queue", response_class=HTMLResponse)
def verification_queue(
    request: Request,
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> Response:
    orders = orders_service.queue(session, principal)
    names = patients_service.display_names(session, [o.patient_id for o in orders])
    return render(request, "orders/queue.html", {"orders": orders, "names": names})


# --- scheduling ---------------------------------------------------------------------------------------


def _centres(session: Session, principal: Principal) -> list[Any]:
    return [
        s
        for s in sites_service.list_sites(session, only=principal.site_ids, active_only=True)
        if s.kind == "centre"
    ]


@router.get("/schedule", response_class=HTMLResponse)
def schedule_home(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    ready = appointments_service.ready_to_schedule(session, principal)
    waiting = appointments_service.waiting_courses(session, principal)
    names = patients_service.display_names(
        session, [r["patient_id"] for r in ready] + [c.patient_id for c in waiting]
    )
    context = {
        "ready": ready,
        "waiting": waiting,
        "names": names,
        "sites": _centres(session, principal),
        "error": None,
    }
    return render(request, "schedule/index.html", context)


@router.post("/schedule/courses")
async def schedule_create_course(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    order_id = str(form.get("order_id", ""))
    if not order_id.isdigit():
        raise InvalidInput("order_id: choose an order", "order_id")
    course = await run_in_threadpool(appointments_service.create_course, session, principal, int(order_id))
    return RedirectResponse(f"/courses/{course.id}", status_code=303)


def _course_page(
    request: Request,
    session: Session,
    principal: Principal,
    course_id: int,
    error: str | None,
    status_code: int = 200,
) -> Response:
    course = appointments_service.read_course(session, principal, course_id)
    options = []
    if course.status == "waiting":
        try:
            options = appointments_service.suggest(session, principal, course_id)
        except InvalidInput as exc:
            error = error or exc.message
    return render(
        request,
        "schedule/course.html",
        {
            "course": course,
            "options": options,
            "patient_name": patients_service.display_names(session, [course.patient_id]).get(
                course.patient_id, ""
            ),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/courses/{course_id}", response_class=HTMLResponse)
def course_page(
    request: Request,
    course_id: int,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _course_page(request, session, principal, course_id, None)


@router.post("/courses/{course_id}/book", response_class=HTMLResponse)
async def course_book(
    request: Request,
    course_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        data = BookIn.model_validate(
            {
                "site": form.get("site", ""),
                "dates": form.getlist("dates"),
                "starts": form.getlist("starts"),
                "chairs": form.getlist("chairs"),
            }
        )
        await run_in_threadpool(appointments_service.book, session, principal, course_id, data)
        return RedirectResponse(f"/courses/{course_id}", status_code=303)
    except ValidationError as exc:
        message, code = "; ".join(f"{k}: {v}" for k, v in _errors(exc).items()), 422
    except IgflowError as exc:
        message, code = exc.message, exc.status_code
    session.rollback()
    return _course_page(request, session, principal, course_id, message, code)


@router.post("/appointments/{appointment_id}/status", response_class=HTMLResponse)
async def appointment_status(
    request: Request,
    appointment_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    data = StatusIn.model_validate({"status": form.get("status", ""), "reason": form.get("reason", "")})
    appointment, repair = await run_in_threadpool(
        appointments_service.change_status, session, principal, appointment_id, data.status, data.reason
    )
    return render(request, "schedule/repair.html", {"appointment": appointment, "repair": repair})


def _site_for(session: Session, principal: Principal, site_id: int | None) -> Any:
    centres = _centres(session, principal)
    if not centres:
        raise InvalidInput("no infusion centre is open to you")
    site = next((s for s in centres if s.id == site_id), centres[0])
    return site, centres


@router.get("/board", response_class=HTMLResponse)
def board_page(
    request: Request,
    site: int | None = None,
    date: str = "",
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    chosen, centres = _site_for(session, principal, site)
    today = appointments_service.site_today(chosen.timezone)
    try:
        day = dt.date.fromisoformat(date) if date else today
    except ValueError:
        raise InvalidInput("date: use the form YYYY-MM-DD", "date") from None
    board = appointments_service.chair_board(session, principal, chosen.id, day)
    states = infusions_service.states_for_appointments(session, [a["id"] for a in board["appointments"]])
    for item in board["appointments"]:
        item["live"] = states.get(item["id"], {}).get("state", "")
    now_min = None
    if day == today:
        local = utcnow().astimezone(ZoneInfo(chosen.timezone))
        now_min = local.hour * 60 + local.minute
    legend = sorted({(a["indication"], indication_colour(a["indication"])) for a in board["appointments"]})
    return render(
        request,
        "schedule/board.html",
        {
            "board": board,
            "svg": chair_board_svg(board, now_min),
            "sites": centres,
            "legend": legend,
            "chair_labels": {c.id: c.label for c in board["chairs"]},
            "prev_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
        },
    )


@router.get("/load", response_class=HTMLResponse)
def load_page(
    request: Request,
    site: int | None = None,
    week: str = "",
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    chosen, centres = _site_for(session, principal, site)
    try:
        day = dt.date.fromisoformat(week) if week else appointments_service.site_today(chosen.timezone)
    except ValueError:
        raise InvalidInput("week: use the form YYYY-MM-DD", "week") from None
    monday = day - dt.timedelta(days=day.weekday())
    days = appointments_service.week_load(session, chosen.id, monday)
    return render(
        request,
        "schedule/load.html",
        {
            "site": chosen,
            "sites": centres,
            "monday": monday,
            "week": days,
            "svgs": [load_svg(d) if d["open"] else "" for d in days],
            "slot_minutes": appointments_service.policy().slot_minutes,
        },
    )


@router.get("/planning", response_class=HTMLResponse)
def planning_page(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    runs = list(session.execute(select(PlanningRun).order_by(PlanningRun.id.desc()).limit(20)).scalars())
    return render(request, "schedule/planning.html", {"runs": runs, "today": utcnow().date(), "error": None})


@router.post("/planning", response_class=HTMLResponse)
async def planning_run(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        data = PlanningIn.model_validate(
            {
                "start_date": form.get("start_date", ""),
                "days": form.get("days", ""),
                "time_limit_s": form.get("time_limit_s") or None,
            }
        )
        run = await run_in_threadpool(
            lambda: appointments_service.run_planning(
                session, principal, data.start_date, data.days, time_limit_s=data.time_limit_s
            )
        )
        return RedirectResponse(f"/planning/{run.id}", status_code=303)
    except ValidationError as exc:
        message = "; ".join(f"{k}: {v}" for k, v in _errors(exc).items())
    except IgflowError as exc:
        message = exc.message
    runs = list(session.execute(select(PlanningRun).order_by(PlanningRun.id.desc()).limit(20)).scalars())
    return render(
        request, "schedule/planning.html", {"runs": runs, "today": utcnow().date(), "error": message}, 422
    )


@router.get("/planning/{run_id}", response_class=HTMLResponse)
def planning_run_page(
    request: Request,
    run_id: int,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    run = appointments_service.get_run(session, run_id)
    moves, unscheduled = appointments_service.run_moves(session, run)
    names = patients_service.display_names(session, [m["patient_id"] for m in moves + unscheduled])
    context = {"run": run, "moves": moves, "unscheduled": unscheduled, "names": names, "error": None}
    return render(request, "schedule/run.html", context)


@router.post("/planning/{run_id}/publish")
def planning_publish(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> Response:
    appointments_service.publish(session, principal, run_id)
    return RedirectResponse(f"/planning/{run_id}", status_code=303)


@router.post("/planning/{run_id}/discard")
def planning_discard(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> Response:
    appointments_service.discard(session, principal, run_id)
    return RedirectResponse("/planning", status_code=303)


@router.get("/my/appointments.ics")
def my_calendar(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    body = appointments_service.ics_for_patient(
        session, principal, principal.patient_id, request.url.hostname or "igflow"
    )
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="my-infusions.ics"'},
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
        message = "; ".join(f"{k}: {v}" for k, v in _errors(exc).items())
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
    values = _form_dict(form)
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
    events = list(session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(100)).scalars())
    total = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    result = audit.verify_chain(session) if verify else None
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
