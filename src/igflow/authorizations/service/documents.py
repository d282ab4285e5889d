"""Chart items a packet draws on that had no home before: prior therapies, and what each referral
document is (its category)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from igflow.authorizations.models import PriorTherapy
from igflow.authorizations.schemas import PriorTherapyIn
from igflow.authorizations.service._common import catalog
from igflow.authorizations.service.packet import therapies_of
from igflow.errors import InvalidInput, NotFound
from igflow.patients import service as patients_service
from igflow.referrals.models import Referral, ReferralDocument
from igflow.security import audit
from igflow.security.principal import Principal


def list_therapies(session: Session, principal: Principal, patient_id: int) -> list[PriorTherapy]:
    patient = patients_service.check_access(session, principal, patient_id)
    rows = therapies_of(session, patient.id)
    audit.record(
        session,
        principal.actor,
        "prior_therapy.read",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"returned_ids": [r.id for r in rows]},
    )
    session.commit()
    return rows


def add_therapy(
    session: Session, principal: Principal, patient_id: int, data: PriorTherapyIn
) -> PriorTherapy:
    patient = patients_service.check_access(session, principal, patient_id)
    if data.started_on and data.started_on < patient.date_of_birth:
        raise InvalidInput("started_on: before the patient's date of birth", "started_on")
    row = PriorTherapy(patient_id=patient.id, recorded_by_user_id=principal.user_id, **data.model_dump())
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "prior_therapy.add",
        "prior_therapy",
        row.id,
        patient_id=patient.id,
    )
    session.commit()
    return row


def set_category(session: Session, principal: Principal, document_id: int, category: str) -> ReferralDocument:
    categories = {c.id for c in catalog().payers.document_categories}
    if category not in categories:
        labels = ", ".join(c.label for c in catalog().payers.document_categories)
        raise InvalidInput(f"category: choose one of {labels}", "category")
    document = session.get(ReferralDocument, document_id)
    referral = session.get(Referral, document.referral_id) if document else None
    if document is None or referral is None:
        raise NotFound(f"document {document_id} not found")
    try:
        patients_service.check_access(session, principal, referral.patient_id)
    except NotFound:
        raise NotFound(f"document {document_id} not found") from None
    before = document.category
    document.category = category
    audit.record(
        session,
        principal.actor,
        "referral_document.category",
        "referral_document",
        document.id,
        patient_id=referral.patient_id,
        detail={"from": before, "to": category},
    )
    session.commit()
    return document
