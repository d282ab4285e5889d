"""Pages of prior authorisation: the work queue (with authorisations expiring soon), a request's page
(packet, missing items with who supplies them, the payer's decision, appeal, PAS download and import, the
letter), and the forms of the patient page's Coverage and prior-authorisation section."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.authorizations import service
from igflow.authorizations.models import PriorAuthRequest
from igflow.authorizations.schemas import (
    AppealDecisionIn,
    AttestIn,
    DecisionIn,
    PriorTherapyIn,
    ReasonIn,
    RequestedIn,
    RequestIn,
)
from igflow.authorizations.service import documents, exchange
from igflow.authorizations.service._common import catalog
from igflow.authorizations.states import PRIOR_AUTH
from igflow.costs import panels as _cost_panels  # noqa: F401 - registers the ``money`` filter (cents as dollars)
from igflow.costs.core import format_cents, parse_dollars
from igflow.coverage import service as coverage_service
from igflow.coverage.schemas import CoverageIn
from igflow.errors import InvalidInput
from igflow.jobs import service as jobs_service
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import FormFailure, form_action, form_values
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

DECISION_LABELS = {
    "approved": "Approved",
    "partially_approved": "Partially approved",
    "denied": "Denied",
    "pended": "Pended for information",
}
SITE_LABELS = {"facility": "Infusion centre", "home": "Home", "either": "Centre or home"}


def _blank_none(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: (None if k in names and v in ("", None) else v) for k, v in values.items()}


@router.get("/prior-auth", response_class=HTMLResponse)
def queue_page(
    request: Request,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    items = service.work_queue(session, principal)
    expiring = service.expiring(session, principal)
    return render(request, "prior_auth/queue.html", {"items": items, "expiring": expiring})


def _request_page(
    request: Request,
    session: Session,
    principal: Principal,
    request_id: int,
    failure: FormFailure | None = None,
    form: str = "",
    values: dict[str, Any] | None = None,
) -> Response:
    from igflow.appointments.service import authorisation_uses
    from igflow.authorizations.service.views import read_with_packet
    from igflow.security import service as security_service

    out, packet = read_with_packet(session, principal, request_id)
    order = packet.order
    users = security_service.display_names(session, {e.by_user_id for e in out.events})
    context = {
        "cost": _cost_line(session, principal, out, order),
        "documents": packet.facts.documents,
        "plan": packet.facts.plan,
        "letters": exchange.letters_of(session, request_id),
        "uses": authorisation_uses(session, out.order_id) if out.grant else [],
        "categories": catalog().payers.document_categories,
        "users": users,
        "r": out,
        "order": order,
        "machine": PRIOR_AUTH,
        "decision_labels": DECISION_LABELS,
        "site_labels": SITE_LABELS,
        "products": catalog().products,
        "failure": failure,
        "form": form,
        "values": values or {},
    }
    return render(
        request, "prior_auth/request.html", context, status_code=failure.status_code if failure else 200
    )


@router.get("/prior-auth/payers", response_class=HTMLResponse)
def payers_page(
    request: Request,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _payers_page(request, session, None)


def _payers_page(request: Request, session: Session, failure: FormFailure | None) -> Response:
    from igflow.directory import service as directory_service

    payers_file = catalog().payers
    return render(
        request,
        "prior_auth/payers.html",
        {
            "payers": directory_service.list_payers(session),
            "policies": payers_file.policies,
            "frames": payers_file.time_frames,
            "default_lead": payers_file.reauthorisation.lead_days.value,
            "failure": failure,
        },
        status_code=failure.status_code if failure else 200,
    )


@router.post("/prior-auth/payers/{payer_id}", response_class=HTMLResponse)
async def payer_settings(
    request: Request,
    payer_id: int,
    principal: Principal = require(Perm.DIRECTORY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    from igflow.directory import service as directory_service
    from igflow.directory.schemas import PayerAuthSettingsIn

    values = form_values(await request.form())

    def act() -> Any:
        data = _blank_none(dict(values), "reauth_lead_days", "standard_days")
        data["cms_0057f"] = values.get("cms_0057f") == "yes"
        return directory_service.set_auth_settings(
            session, principal.actor, payer_id, PayerAuthSettingsIn.model_validate(data)
        )

    return await form_action(session, act, "/prior-auth/payers", lambda f: _payers_page(request, session, f))


def _cost_line(session: Session, principal: Principal, out: Any, order: Any) -> str | None:
    """The drug cost of the grams authorised (or asked for), at the price in force on the start date."""
    if not principal.can(Perm.COST_READ) or order is None:
        return None
    from igflow.costs.service.doses import authorisation_cost
    from igflow.db import utcnow

    grant = out.grant
    grams = grant.grams if grant and grant.grams is not None else out.requested_grams
    if not grams:
        return None
    products = (grant.product_ids if grant else []) or [order.product_id]
    day = grant.start_date if grant else (out.requested_start or utcnow().date())
    cost = authorisation_cost(session, products, grams, day)
    what = "authorised" if grant and grant.grams is not None else "asked for"
    if cost.least_cents is None:
        names = ", ".join(catalog().products[u.product_id].name for u in cost.unknown)
        return (
            f"Drug cost of the {grams:g} g {what}: unknown, no price on record for {names} on {day}; "
            "a pharmacist or administrator sets it on the Prices page."
        )
    spread = format_cents(cost.least_cents)
    if cost.most_cents != cost.least_cents and cost.most_cents is not None:
        spread += f" to {format_cents(cost.most_cents)}"
    return f"Drug cost of the {grams:g} g {what}: {spread} at the prices in force on {day}."


@router.get("/prior-auth/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _request_page(request, session, principal, request_id)


async def _act(
    request: Request, session: Session, principal: Principal, request_id: int, form: str, action: Any
) -> Response:
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: action(values),
        f"/prior-auth/{request_id}",
        lambda failure: _request_page(request, session, principal, request_id, failure, form, values),
    )


@router.post("/prior-auth/{request_id}/requested", response_class=HTMLResponse)
async def set_requested(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    def act(values: dict[str, Any]) -> Any:
        return service.set_requested(session, principal, request_id, RequestedIn.model_validate(values))

    return await _act(request, session, principal, request_id, "requested", act)


@router.post("/prior-auth/{request_id}/attest", response_class=HTMLResponse)
async def attest(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    def act(values: dict[str, Any]) -> Any:
        return service.attest(session, principal, request_id, AttestIn.model_validate(values))

    return await _act(request, session, principal, request_id, "attest", act)


@router.post("/prior-auth/{request_id}/move", response_class=HTMLResponse)
async def move(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    """The buttons without a form of their own: ready, back to draft, submit, appeal, withdraw."""

    def act(values: dict[str, Any]) -> Any:
        to = str(values.get("to", ""))
        if to == "ready":
            return service.mark_ready(session, principal, request_id)
        if to == "submitted":
            return service.submit(session, principal, request_id)
        reason = ReasonIn.model_validate({"reason": values.get("reason", "")})
        if to == "draft":
            return service.back_to_draft(session, principal, request_id, reason)
        if to == "appeal_submitted":
            return service.appeal(session, principal, request_id, reason)
        if to == "withdrawn":
            return service.withdraw(session, principal, request_id, reason)
        raise InvalidInput("to: choose one of the buttons on the page", "to")

    return await _act(request, session, principal, request_id, "move", act)


def _decision_values(values: dict[str, Any]) -> dict[str, Any]:
    data = _blank_none(dict(values), "grams", "infusions", "start_date", "end_date", "site_of_care")
    products = values.get("product_ids")
    data["product_ids"] = [products] if isinstance(products, str) and products else []
    return data


@router.post("/prior-auth/{request_id}/decision", response_class=HTMLResponse)
async def decide(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    def act(values: dict[str, Any]) -> Any:
        return service.decide(
            session, principal, request_id, DecisionIn.model_validate(_decision_values(values))
        )

    return await _act(request, session, principal, request_id, "decision", act)


@router.post("/prior-auth/{request_id}/appeal-decision", response_class=HTMLResponse)
async def decide_appeal(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    def act(values: dict[str, Any]) -> Any:
        data = AppealDecisionIn.model_validate(_decision_values(values))
        return service.decide_appeal(session, principal, request_id, data)

    return await _act(request, session, principal, request_id, "appeal", act)


@router.post("/prior-auth/{request_id}/pas-response", response_class=HTMLResponse)
async def pas_response(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    upload = form.get("file")
    text = ""
    if upload is not None and hasattr(upload, "read"):
        text = (await upload.read(2_000_001)).decode("utf-8", errors="replace")
    text = text or str(form.get("bundle") or "")

    def act(_values: dict[str, Any]) -> Any:
        if len(text) > 2_000_000:
            raise InvalidInput("bundle: the response is larger than 2 MB", "bundle")
        try:
            bundle = json.loads(text)
        except ValueError:
            raise InvalidInput("bundle: the payer's response is not JSON (a FHIR Bundle)", "bundle") from None
        if not isinstance(bundle, dict):
            raise InvalidInput("bundle: the payer's response is not a FHIR Bundle", "bundle")
        return exchange.import_response(session, principal, request_id, bundle)

    values = {"bundle": text[:5000]}
    return await form_action(
        session,
        lambda: act(values),
        f"/prior-auth/{request_id}",
        lambda failure: _request_page(request, session, principal, request_id, failure, "pas", values),
    )


@router.get("/prior-auth/{request_id}/pas-bundle.json")
def pas_download(
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    """The page's download link: the same file as the API's PAS Bundle."""
    from igflow.authorizations.routes import pas_bundle

    return pas_bundle(request_id, principal, session)


@router.post("/prior-auth/{request_id}/letter", response_class=HTMLResponse)
async def letter_job(
    request: Request,
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    """Make the letter of medical necessity in the background; the job page shows progress."""
    service.read_request(session, principal, request_id)  # scope and access first
    job = jobs_service.submit(session, queue, principal, "prior_auth_letter", {"request_id": request_id})
    from fastapi.responses import RedirectResponse

    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/prior-auth/letters/{letter_id}.pdf")
def letter_download(
    letter_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    letter, content = exchange.letter_content(session, principal, letter_id)
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="letter-of-medical-necessity-{letter.request_id}.pdf"'
        },
    )


# --- the patient page's section: coverage, requests, prior therapies --------------------------------


def _back_to_chart(request: Request, session: Session, principal: Principal, patient_id: int, form: str):  # type: ignore[no-untyped-def]
    from igflow.patients import pages as patient_pages

    def refused(failure: FormFailure, values: dict[str, Any]) -> Response:
        return patient_pages._chart_page(
            request,
            session,
            principal,
            patient_id,
            {},
            {},
            failure.status_code,
            coverage_form={"form": form, "values": values, "failure": failure},
        )

    return refused


@router.post("/patients/{patient_id}/coverages", response_class=HTMLResponse)
async def add_coverage(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.COVERAGE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    refused = _back_to_chart(request, session, principal, patient_id, "coverage")

    def act() -> Any:
        data = _blank_none(
            dict(values),
            "effective_from",
            "effective_to",
            "copay_cents",
            "coinsurance_percent",
            "oop_max_cents",
            "assistance_limit_cents",
            "assistance_expires_on",
        )
        for money in ("copay", "oop_max", "assistance_limit"):
            dollars = str(data.pop(f"{money}_dollars", "") or "").strip()
            if dollars:
                try:
                    data[f"{money}_cents"] = parse_dollars(dollars)
                except ValueError as exc:
                    raise InvalidInput(f"{money}_cents: {exc}", f"{money}_cents") from None
        return coverage_service.add_coverage(session, principal, patient_id, CoverageIn.model_validate(data))

    return await form_action(session, act, f"/patients/{patient_id}#coverage", lambda f: refused(f, values))


@router.post("/patients/{patient_id}/prior-auth", response_class=HTMLResponse)
async def open_request(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    refused = _back_to_chart(request, session, principal, patient_id, "prior_auth")

    def act() -> PriorAuthRequest:
        data = _blank_none(dict(values), "previous_id")
        return service.open_request(session, principal, RequestIn.model_validate(data))

    return await form_action(session, act, lambda r: f"/prior-auth/{r.id}", lambda f: refused(f, values))


@router.post("/patients/{patient_id}/prior-therapies", response_class=HTMLResponse)
async def add_therapy(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PRIOR_THERAPY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    refused = _back_to_chart(request, session, principal, patient_id, "therapy")

    def act() -> Any:
        data = PriorTherapyIn.model_validate(_blank_none(dict(values), "started_on", "stopped_on"))
        return documents.add_therapy(session, principal, patient_id, data)

    return await form_action(session, act, f"/patients/{patient_id}#coverage", lambda f: refused(f, values))


@router.post("/referral-documents/{document_id}/category", response_class=HTMLResponse)
async def set_category(
    request: Request,
    document_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    back = str(values.get("back") or "")
    target = back if back.startswith("/prior-auth/") and back[12:].isdigit() else "/prior-auth"

    def refused(failure: FormFailure) -> Response:
        if target != "/prior-auth":
            return _request_page(request, session, principal, int(target[12:]), failure, "category", values)
        return render(request, "error.html", {"message": failure.message}, status_code=failure.status_code)

    return await form_action(
        session,
        lambda: documents.set_category(session, principal, document_id, str(values.get("category", ""))),
        target,
        refused,
    )
