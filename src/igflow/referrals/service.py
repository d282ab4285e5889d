"""Use cases of the referrals capability."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.directory import service as directory_service
from igflow.errors import Conflict, InvalidInput, NotFound, PreconditionRequired
from igflow.patients import service as patients_service
from igflow.patients.schemas import Page
from igflow.referrals.models import Referral, ReferralDocument
from igflow.referrals.schemas import ReferralDecision, ReferralIn, ReferralOut
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.statemachine import StateMachine

# Allowed moves of a referral's status; accepted and declined may be reopened for review with a reason.
REFERRAL = StateMachine(
    "referral",
    Referral,
    {
        "new": frozenset({"in_review", "accepted", "declined"}),
        "in_review": frozenset({"accepted", "declined", "new"}),
        "accepted": frozenset({"in_review"}),
        "declined": frozenset({"in_review"}),
    },
    labels={"new": "new", "in_review": "in review", "accepted": "accepted", "declined": "declined"},
)
TRANSITIONS = REFERRAL.transitions

# File types accepted as referral documents, recognised by their first bytes (not by the name).
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
]

IndicationLookup = Callable[[], dict[str, str]]


def sniff_content_type(content: bytes) -> str | None:
    for signature, content_type in _SIGNATURES:
        if content.startswith(signature):
            return content_type
    return None


def _indications() -> dict[str, str]:
    from igflow.catalog_access import indication_names

    return indication_names()


def _check_indication(indication_id: str) -> None:
    known = _indications()
    if indication_id not in known:
        raise InvalidInput(
            f"indication_id: unknown indication '{indication_id}' (allowed: {', '.join(sorted(known))})",
            "indication_id",
        )


def to_out(referral: Referral) -> ReferralOut:
    return ReferralOut.model_validate(referral)


def create(session: Session, principal: Principal, data: ReferralIn) -> Referral:
    try:
        patients_service.check_access(session, principal, data.patient_id)
    except NotFound as exc:  # the same words, naming the field the form shows it beside
        raise NotFound(f"patient_id: {exc.message}", "patient_id") from None
    directory_service.get_prescriber(session, data.prescriber_id)
    _check_indication(data.indication_id)
    if data.received_on > utcnow().date():
        raise InvalidInput("received_on: cannot be in the future", "received_on")
    referral = Referral(**data.model_dump(), status="new", created_by_user_id=principal.user_id)
    session.add(referral)
    session.flush()
    audit.record(
        session, principal.actor, "referral.create", "referral", referral.id, patient_id=referral.patient_id
    )
    session.commit()
    return referral


def _load(session: Session, principal: Principal, referral_id: int) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(f"referral {referral_id} not found")
    try:
        patients_service.check_access(session, principal, referral.patient_id)
    except NotFound:
        raise NotFound(f"referral {referral_id} not found") from None
    return referral


def read(session: Session, principal: Principal, referral_id: int) -> Referral:
    referral = _load(session, principal, referral_id)
    audit.record(
        session, principal.actor, "referral.read", "referral", referral.id, patient_id=referral.patient_id
    )
    session.commit()
    return referral


def search(
    session: Session,
    principal: Principal,
    *,
    status: str | None = None,
    patient_id: int | None = None,
    page: int = 1,
    page_size: int = 25,
    max_page_size: int = 200,
) -> Page[ReferralOut]:
    if page < 1:
        raise InvalidInput("page: must be 1 or more", "page")
    if not 1 <= page_size <= max_page_size:
        raise InvalidInput(f"page_size: must be between 1 and {max_page_size}", "page_size")
    query = select(Referral)
    if status is not None:
        if status not in TRANSITIONS:
            raise InvalidInput(
                f"status: unknown status '{status}' (allowed: {', '.join(TRANSITIONS)})", "status"
            )
        query = query.where(Referral.status == status)
    if patient_id is not None:
        patients_service.check_access(session, principal, patient_id)
        query = query.where(Referral.patient_id == patient_id)
    query = scope.by_patient(query, principal, Referral.patient_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(
        session.execute(
            query.order_by(Referral.received_on.desc(), Referral.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).scalars()
    )
    audit.record(
        session,
        principal.actor,
        "referral.search",
        "referral",
        detail={"total": total, "returned_ids": [r.id for r in rows], "patient_id": patient_id},
    )
    session.commit()
    return Page[ReferralOut](items=[to_out(r) for r in rows], total=total, page=page, page_size=page_size)


def decide(
    session: Session, principal: Principal, referral_id: int, data: ReferralDecision, if_match: int | None
) -> Referral:
    referral = _load(session, principal, referral_id)
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired(
            "version: say which version of the referral you are deciding on", "version"
        )
    if expected != referral.version:
        raise Conflict(
            f"version: the referral was changed by someone else (you had version {expected}, it is now "
            f"{referral.version}). Reload and decide again.",
            "version",
        )
    REFERRAL.check(referral.status, data.status)
    if data.status == "declined" and not data.reason:
        raise InvalidInput("reason: say why the referral is declined", "reason")
    if referral.status in ("accepted", "declined") and not data.reason:
        raise InvalidInput("reason: say why a decided referral is reopened", "reason")
    before = REFERRAL.move(
        session,
        referral,
        data.status,
        guards=[Referral.version == referral.version],
        version=Referral.version + 1,
        decision_reason=data.reason,
        decided_by_user_id=principal.user_id,
        decided_at=utcnow(),
    )
    audit.record(
        session,
        principal.actor,
        "referral.decide",
        "referral",
        referral.id,
        patient_id=referral.patient_id,
        detail={"from": before, "to": data.status},
    )
    session.commit()
    return referral


def attach(
    session: Session,
    principal: Principal,
    referral_id: int,
    *,
    filename: str,
    content: bytes,
    max_bytes: int,
) -> ReferralDocument:
    referral = _load(session, principal, referral_id)
    if not content:
        raise InvalidInput("file: the file is empty", "file")
    if len(content) > max_bytes:
        raise InvalidInput(
            f"file: {len(content) / 1048576:.1f} MiB is over the limit of {max_bytes / 1048576:.1f} MiB",
            "file",
        )
    content_type = sniff_content_type(content)
    if content_type is None:
        raise InvalidInput("file: only PDF, PNG, JPEG or TIFF documents are accepted", "file")
    safe_name = "".join(ch for ch in filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] if ch.isprintable())[
        :200
    ]
    document = ReferralDocument(
        referral_id=referral.id,
        filename=safe_name or "document",
        content_type=content_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by_user_id=principal.user_id,
    )
    session.add(document)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "referral.document_upload",
        "referral_document",
        document.id,
        patient_id=referral.patient_id,
        detail={"referral_id": referral.id, "size_bytes": len(content), "content_type": content_type},
    )
    session.commit()
    return document


def download(session: Session, principal: Principal, referral_id: int, document_id: int) -> ReferralDocument:
    referral = _load(session, principal, referral_id)
    document = session.get(ReferralDocument, document_id)
    if document is None or document.referral_id != referral.id:
        raise NotFound(f"document {document_id} not found")
    audit.record(
        session,
        principal.actor,
        "referral.document_read",
        "referral_document",
        document.id,
        patient_id=referral.patient_id,
    )
    session.commit()
    return document
