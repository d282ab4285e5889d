"""Pages of the referrals capability: the intake list, a new referral with its document, the decision."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.catalog_access import indication_names
from igflow.directory import service as directory_service
from igflow.errors import IgflowError
from igflow.patients import service as patients_service
from igflow.referrals import service as referrals_service
from igflow.referrals.schemas import ReferralDecision, ReferralIn
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import form_action, form_values
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


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


def _new_referral_page(
    request: Request,
    session: Session,
    patient_id: int | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "prescribers": directory_service.list_prescribers(session),
        "indications": sorted(indication_names().items(), key=lambda kv: kv[1]),
        "patient_id": patient_id,
        "values": values,
        "errors": errors,
    }
    return render(request, "referrals/new.html", context, status_code=status_code)


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
    return _new_referral_page(request, session, patient_id, values, {})


@router.post("/referrals/new", response_class=HTMLResponse)
async def referral_create(
    request: Request,
    principal: Principal = require(Perm.REFERRAL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    max_bytes = request.app.state.settings.max_upload_bytes
    upload = form.get("document")
    document = None
    if upload is not None and hasattr(upload, "read") and getattr(upload, "filename", ""):
        document = (upload.filename or "document", await upload.read(max_bytes + 1))

    def create() -> str:
        data = ReferralIn.model_validate({k: v for k, v in values.items() if k != "document"})
        referral = referrals_service.create(session, principal, data)
        if document is not None:
            filename, content = document
            try:
                referrals_service.attach(
                    session, principal, referral.id, filename=filename, content=content, max_bytes=max_bytes
                )
            except IgflowError as exc:
                # The referral is kept; say clearly that its document was refused.
                return f"/referrals/{referral.id}?" + urlencode({"document_error": exc.message})
        return f"/referrals/{referral.id}"

    patient_id = int(values["patient_id"]) if str(values.get("patient_id", "")).isdigit() else None
    return await form_action(
        session,
        create,
        lambda target: target,
        lambda failure: _new_referral_page(request, session, patient_id, values, failure.errors, 422),
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
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: referrals_service.decide(
            session, principal, referral_id, ReferralDecision.model_validate(values), None
        ),
        f"/referrals/{referral_id}",
        lambda failure: _referral_page(request, session, principal, referral_id, failure.message, "", 422),
    )


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
