"""Caregivers' pages: the patient's My caregivers (/my/caregivers: consent, revoke, what each caregiver did)
and the chart's Caregivers (/patients/{id}/caregivers: staff record consent when the patient asks, or end it).
The rules are in ``igflow.portal.caregivers``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.i18n import N_
from igflow.patients import service as patients_service
from igflow.portal import caregivers
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import form_action, form_values
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

_LABELS = {
    "caregiver": N_("Your caregiver's sign-in name"),
    "relationship": N_("Who they are to you (for example: daughter)"),
}

#: what a caregiver's audited action was, in words (anything else: they opened the patient's pages)
ACTION_WORDS = {
    "symptom_report.save": N_("filled in the symptom diary"),
    "patient_request.create": N_("sent a request to the team"),
    "patient_request.list": N_("read My requests"),
    "coverage.read": N_("read Costs and help"),
    "outcome.self_report.list": N_("read My questionnaires"),
    "caregiver.list": N_("read My caregivers"),
}
OTHER_ACTION = N_("opened your pages")


def _my_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    views = caregivers.mine(session, principal)
    context = {
        "views": views,
        "is_patient": caregivers._is_patient(principal),
        "values": values,
        "errors": errors,
        "labels": _LABELS,
        "action_words": ACTION_WORDS,
        "other_action": OTHER_ACTION,
    }
    return render(request, "portal/caregivers.html", context, status_code=status_code)


@router.get("/my/caregivers", response_class=HTMLResponse)
def my_caregivers(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return _my_page(request, session, principal, {}, {})


@router.post("/my/caregivers", response_class=HTMLResponse)
async def my_caregivers_consent(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: caregivers.consent(
            session, principal, str(values.get("caregiver", "")), str(values.get("relationship", ""))
        ),
        "/my/caregivers?given=1",
        lambda failure: _my_page(request, session, principal, values, failure.errors, failure.status_code),
    )


@router.post("/my/caregivers/{link_id}/revoke", response_class=HTMLResponse)
async def my_caregivers_revoke(
    request: Request,
    link_id: int,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return await form_action(
        session,
        lambda: caregivers.revoke(session, principal, link_id),
        "/my/caregivers?ended=1",
        lambda failure: _my_page(request, session, principal, {}, failure.errors, failure.status_code),
    )


# --- staff: on the chart ---------------------------------------------------------------------------------


def _chart_page(
    request: Request,
    session: Session,
    principal: Principal,
    patient_id: int,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    views = caregivers.for_chart(session, principal, patient_id)
    context = {
        "views": views,
        "patient_id": patient_id,
        "patient_name": patients_service.display_name(session, patient_id),
        "values": values,
        "errors": errors,
        "can_write": principal.can(Perm.PATIENT_WRITE),
    }
    return render(request, "portal/chart_caregivers.html", context, status_code=status_code)


@router.get("/patients/{patient_id}/caregivers", response_class=HTMLResponse)
def chart_caregivers(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _chart_page(request, session, principal, patient_id, {}, {})


@router.post("/patients/{patient_id}/caregivers", response_class=HTMLResponse)
async def chart_caregivers_consent(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: caregivers.consent_by_staff(
            session,
            principal,
            patient_id,
            str(values.get("caregiver", "")),
            str(values.get("relationship", "")),
            str(values.get("note", "")),
        ),
        f"/patients/{patient_id}/caregivers?given=1",
        lambda failure: _chart_page(
            request, session, principal, patient_id, values, failure.errors, failure.status_code
        ),
    )


@router.post("/patients/{patient_id}/caregivers/{link_id}/revoke", response_class=HTMLResponse)
async def chart_caregivers_revoke(
    request: Request,
    patient_id: int,
    link_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())

    def act() -> Any:
        link = caregivers.revoke(session, principal, link_id, str(values.get("note", "")), patient_id)
        return link

    return await form_action(
        session,
        act,
        f"/patients/{patient_id}/caregivers?ended=1",
        lambda failure: _chart_page(
            request, session, principal, patient_id, {}, failure.errors, failure.status_code
        ),
    )
