"""JSON API of prior authorisation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from igflow.authorizations import service
from igflow.authorizations.schemas import (
    AppealDecisionIn,
    AttestIn,
    DecisionIn,
    DocumentCategoryIn,
    ExpiringOut,
    PriorTherapyIn,
    PriorTherapyOut,
    QueueItemOut,
    ReasonIn,
    RequestedIn,
    RequestIn,
    RequestOut,
)
from igflow.authorizations.service import documents, exchange
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["prior authorisation"])


def _out(session: Session, principal: Principal, request_id: int) -> RequestOut:
    return service.read_request(session, principal, request_id)


@router.get("/prior-auth/queue", response_model=list[QueueItemOut])
def queue(
    principal: Principal = require(Perm.PRIOR_AUTH_READ), session: Session = Depends(get_session)
) -> list[QueueItemOut]:
    """Open requests, most urgent first: expedited, then the earliest due date, then the longest waiting."""
    return service.work_queue(session, principal)


@router.get("/prior-auth/expiring", response_model=list[ExpiringOut])
def expiring(
    within_days: int | None = Query(default=None, ge=1, le=365),
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> list[ExpiringOut]:
    """Authorisations in force ending within their payer's lead time (or ``within_days``)."""
    return service.expiring(session, principal, within_days)


@router.get("/patients/{patient_id}/prior-auth", response_model=list[RequestOut])
def patient_requests(
    patient_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> list[RequestOut]:
    return service.requests_for_patient(session, principal, patient_id)


@router.post("/prior-auth", response_model=RequestOut, status_code=201)
def open_request(
    data: RequestIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    """Open a draft for an order and a coverage; the packet is assembled from the chart."""
    request = service.open_request(session, principal, data)
    return _out(session, principal, request.id)


@router.get("/prior-auth/{request_id}", response_model=RequestOut)
def read_request(
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> RequestOut:
    """The request, its packet items (what is missing and who supplies it), the grant and its history."""
    return _out(session, principal, request_id)


@router.put("/prior-auth/{request_id}/requested", response_model=RequestOut)
def set_requested(
    request_id: int,
    data: RequestedIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    service.set_requested(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/attestations", response_model=RequestOut)
def attest(
    request_id: int,
    data: AttestIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    service.attest(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/ready", response_model=RequestOut)
def mark_ready(
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    """Draft -> ready: refused (409) while an item is missing, naming it."""
    service.mark_ready(session, principal, request_id)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/draft", response_model=RequestOut)
def back_to_draft(
    request_id: int,
    data: ReasonIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    service.back_to_draft(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/submit", response_model=RequestOut)
def submit(
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    """Ready -> submitted (or pended -> submitted once the information is sent); starts the due date."""
    service.submit(session, principal, request_id)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/decision", response_model=RequestOut)
def decide(
    request_id: int,
    data: DecisionIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    """The payer's answer: approved, partially approved, denied, or pended for information."""
    service.decide(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/appeal", response_model=RequestOut)
def appeal(
    request_id: int,
    data: ReasonIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    service.appeal(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/appeal-decision", response_model=RequestOut)
def decide_appeal(
    request_id: int,
    data: AppealDecisionIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    service.decide_appeal(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.post("/prior-auth/{request_id}/withdraw", response_model=RequestOut)
def withdraw(
    request_id: int,
    data: ReasonIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    service.withdraw(session, principal, request_id, data)
    return _out(session, principal, request_id)


@router.get("/prior-auth/{request_id}/pas-bundle", response_model=dict[str, Any])
def pas_bundle(
    request_id: int,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    """The request as a Da Vinci PAS request Bundle (FHIR R4 JSON), to download; no payer is contacted."""
    body = exchange.pas_bundle_json(session, principal, request_id)
    return Response(
        body,
        media_type="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="prior-auth-{request_id}-pas.json"'},
    )


@router.post("/prior-auth/{request_id}/pas-response", response_model=RequestOut)
def pas_response(
    request_id: int,
    bundle: dict[str, Any],
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> RequestOut:
    """Import the payer's PAS response Bundle (a ClaimResponse) and record its decision."""
    exchange.import_response(session, principal, request_id, bundle)
    return _out(session, principal, request_id)


@router.get("/patients/{patient_id}/prior-therapies", response_model=list[PriorTherapyOut])
def prior_therapies(
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_CLINICAL_READ),
    session: Session = Depends(get_session),
) -> list[PriorTherapyOut]:
    return [
        PriorTherapyOut.model_validate(t) for t in documents.list_therapies(session, principal, patient_id)
    ]


@router.post("/patients/{patient_id}/prior-therapies", response_model=PriorTherapyOut, status_code=201)
def add_prior_therapy(
    patient_id: int,
    data: PriorTherapyIn,
    principal: Principal = require(Perm.PRIOR_THERAPY_WRITE),
    session: Session = Depends(get_session),
) -> PriorTherapyOut:
    return PriorTherapyOut.model_validate(documents.add_therapy(session, principal, patient_id, data))


@router.put("/referral-documents/{document_id}/category", status_code=204)
def set_document_category(
    document_id: int,
    data: DocumentCategoryIn,
    principal: Principal = require(Perm.PRIOR_AUTH_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    """Say what a document on a referral is (a nerve-conduction report, vaccine response results …)."""
    documents.set_category(session, principal, document_id, data.category)
    return Response(status_code=204)
