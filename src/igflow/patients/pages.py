"""Pages of the patients capability: the patient list (searched as you type), a new patient, the chart."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.catalog_access import indication_names
from igflow.errors import InvalidInput
from igflow.orders import service as orders_service
from igflow.outcomes import panels as outcome_panels
from igflow.patients import service as patients_service
from igflow.patients.schemas import MeasurementIn, PatientIn, PatientPatch
from igflow.referrals import service as referrals_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.charts import weight_trend_svg
from igflow.web.forms import form_action, form_values, validate_form
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


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


_RISK_FLAGS = (
    "prior_severe_ig_reaction",
    "renal_impairment",
    "diabetes",
    "heart_failure",
    "thrombosis_history",
    "hyperviscosity",
    "hyperprolinaemia",
)


def _new_patient_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    sites = sites_service.list_sites(session, only=principal.site_ids, active_only=True)
    context = {"site_options": [(s.id, s.name) for s in sites], "values": values, "errors": errors}
    return render(request, "patients/new.html", context, status_code=status_code)


@router.get("/patients/new", response_class=HTMLResponse)
def patient_new(
    request: Request,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return _new_patient_page(request, session, principal, {}, {})


@router.post("/patients/new", response_class=HTMLResponse)
async def patient_create(
    request: Request,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form, lists=("site_ids",))
    data = {
        **values,
        "site_ids": [int(v) for v in values["site_ids"] if v.isdigit()],
        **{flag: flag in form for flag in _RISK_FLAGS},
    }
    return await form_action(
        session,
        lambda: patients_service.create(session, principal, validate_form(PatientIn, data)),
        lambda patient: f"/patients/{patient.id}",
        lambda failure: _new_patient_page(request, session, principal, values, failure.errors, 422),
    )


def _chart_page(
    request: Request,
    session: Session,
    principal: Principal,
    patient_id: int,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    outcome_form: dict[str, Any] | None = None,
    coverage_form: dict[str, Any] | None = None,
) -> Response:
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
        from igflow.clinical.triage import triage_catalog
        from igflow.portal import diary  # the patient's side reads patients, not the reverse

        context["symptoms"] = diary.reports_for(session, principal, patient_id)
        context["triage"] = triage_catalog()
    if principal.can(Perm.ORDER_READ):
        context["orders"] = orders_service.list_for_patient(session, principal, patient_id)
    if principal.can(Perm.OUTCOME_READ):
        context["outcomes"] = outcome_panels.patient_panel(session, principal, patient_id)
        context["outcome_form"] = outcome_form or {}
    if principal.can(Perm.COVERAGE_READ):
        from igflow.authorizations import panels as prior_auth_panels

        context["coverage"] = prior_auth_panels.patient_panel(session, principal, patient_id)
        context["coverage_form"] = coverage_form or {}
    if principal.can(Perm.HOME_READ) or principal.can(Perm.PATIENT_WRITE):
        from igflow.home import panels as home_panels  # home therapy reads patients, not the reverse

        context["home"] = home_panels.patient_panel(session, principal, patient_id)
    if principal.can(Perm.HOME_READ):
        from igflow.home import supply_panels  # deliveries, home stock and the patient's own log

        context["home_supply"] = supply_panels.patient_panel(session, principal, patient_id)
    context |= {"errors": errors, "values": values}
    return render(request, "patients/chart.html", context, status_code=status_code)


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_chart(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _chart_page(request, session, principal, patient_id, {}, {})


@router.post("/patients/{patient_id}/home-location", response_class=HTMLResponse)
async def patient_home_location(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    """The home's coordinates (entered from a map; igflow does not geocode), for home-visit routes."""
    values = form_values(await request.form())
    data = {k: values.get(k) or None for k in ("version", "home_lat", "home_lon")}
    return await form_action(
        session,
        lambda: patients_service.update(
            session, principal, patient_id, validate_form(PatientPatch, data), None
        ),
        f"/patients/{patient_id}#h-home",
        lambda failure: _chart_page(
            request, session, principal, patient_id, values, failure.errors, failure.status_code
        ),
    )


@router.post("/patients/{patient_id}/measurements", response_class=HTMLResponse)
async def patient_add_measurement(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.MEASUREMENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    data = {k: v for k, v in values.items() if v != "" or k == "note"}
    return await form_action(
        session,
        lambda: patients_service.add_measurement(
            session, principal, patient_id, validate_form(MeasurementIn, data)
        ),
        f"/patients/{patient_id}#measurements",
        lambda failure: _chart_page(request, session, principal, patient_id, values, failure.errors, 422),
    )
