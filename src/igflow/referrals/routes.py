"""JSON API of the referrals capability."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.patients.routes import parse_if_match
from igflow.patients.schemas import Page
from igflow.referrals import service
from igflow.referrals.schemas import DocumentOut, ReferralDecision, ReferralIn, ReferralOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["referrals"])


@router.get("/referrals", response_model=Page[ReferralOut])
def search_referrals(
    status: str | None = None,
    patient_id: int | None = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=25, ge=1, le=200),
    principal: Principal = require(Perm.REFERRAL_READ),
    session: Session = Depends(get_session),
) -> Page[ReferralOut]:
    return service.search(
        session, principal, status=status, patient_id=patient_id, page=page, page_size=page_size
    )


@router.post("/referrals", response_model=ReferralOut, status_code=201)
def create_referral(
    data: ReferralIn,
    principal: Principal = require(Perm.REFERRAL_WRITE),
    session: Session = Depends(get_session),
) -> ReferralOut:
    return service.to_out(service.create(session, principal, data))


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
def read_referral(
    referral_id: int,
    principal: Principal = require(Perm.REFERRAL_READ),
    session: Session = Depends(get_session),
) -> ReferralOut:
    return service.to_out(service.read(session, principal, referral_id))


@router.put("/referrals/{referral_id}/decision", response_model=ReferralOut)
def decide_referral(
    referral_id: int,
    data: ReferralDecision,
    if_match: str | None = Header(default=None),
    principal: Principal = require(Perm.REFERRAL_DECIDE),
    session: Session = Depends(get_session),
) -> ReferralOut:
    return service.to_out(service.decide(session, principal, referral_id, data, parse_if_match(if_match)))


@router.post("/referrals/{referral_id}/documents", response_model=DocumentOut, status_code=201)
async def upload_document(
    referral_id: int,
    file: UploadFile,
    request: Request,
    principal: Principal = require(Perm.REFERRAL_WRITE),
    session: Session = Depends(get_session),
) -> DocumentOut:
    max_bytes = request.app.state.settings.max_upload_bytes
    content = await file.read(max_bytes + 1)
    document = await run_in_threadpool(
        service.attach,
        session,
        principal,
        referral_id,
        filename=file.filename or "document",
        content=content,
        max_bytes=max_bytes,
    )
    return DocumentOut.model_validate(document)


@router.get("/referrals/{referral_id}/documents/{document_id}")
def download_document(
    referral_id: int,
    document_id: int,
    principal: Principal = require(Perm.REFERRAL_READ),
    session: Session = Depends(get_session),
) -> Response:
    document = service.download(session, principal, referral_id, document_id)
    return Response(
        content=document.content,
        media_type=document.content_type,
        headers={"Content-Disposition": f'attachment; filename="document-{document.id}"'},
    )
