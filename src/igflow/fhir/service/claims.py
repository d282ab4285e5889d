"""Claim and ClaimResponse: prior-authorisation requests (the PAS export's Claim) and the payers' recorded
decisions, narrowed by the request's patient rule of ``scope`` (``prior_auth.read``, as the PAS export)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations import pas
from igflow.authorizations.models import PriorAuthRequest
from igflow.authorizations.service.exchange import packet_view
from igflow.fhir.mapping.claim import to_claim
from igflow.fhir.mapping.claim_response import ACTION_OF_STATUS, to_claim_response
from igflow.fhir.mapping.organization import organisation_id, payer_id
from igflow.fhir.search import Params
from igflow.fhir.service.engine import Item, Source, ids_filter, reference_filter
from igflow.orders.models import Order
from igflow.patients.models import Coverage
from igflow.security import scope
from igflow.security.principal import Principal
from igflow.sites.models import Organisation


def _payers(session: Session, requests: list[PriorAuthRequest]) -> dict[int, int]:
    """coverage id -> payer id"""
    ids = {r.coverage_id for r in requests}
    if not ids:
        return {}
    return dict(session.execute(select(Coverage.id, Coverage.payer_id).where(Coverage.id.in_(ids))).all())


def _claims(session: Session, rows: list[Any]) -> list[Item]:
    requests: list[PriorAuthRequest] = [r[0] for r in rows]
    payers = _payers(session, requests)
    prescribers = (
        dict(
            session.execute(
                select(Order.id, Order.prescriber_id).where(Order.id.in_({r.order_id for r in requests}))
            ).all()
        )
        if requests
        else {}
    )
    org = session.execute(select(Organisation.id).order_by(Organisation.id).limit(1)).scalar_one_or_none()
    out = []
    for request in requests:
        references = {
            "patient": f"Patient/{request.patient_id}",
            "coverage": f"Coverage/{request.coverage_id}",
            "insurer": f"Organization/{payer_id(payers[request.coverage_id])}",
            "practitioner": f"Practitioner/{prescribers[request.order_id]}",
            "medication-request": f"MedicationRequest/{request.order_id}",
        }
        if org is not None:
            references["requestor"] = f"Organization/{organisation_id(org)}"
        bundle = pas.request_bundle(packet_view(session, request))
        out.append(Item(to_claim(bundle, request.id, request.status, references), request.patient_id))
    return out


def _requests(principal: Principal, params: Params) -> Any:
    return scope.rows(select(PriorAuthRequest), principal, PriorAuthRequest).where(
        ids_filter(params, PriorAuthRequest.id),
        reference_filter(params, "patient", "Patient", PriorAuthRequest.patient_id),
    )


def claim_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    return [Source(_requests(principal, params).order_by(PriorAuthRequest.id), _claims)]


def _responses(session: Session, rows: list[Any]) -> list[Item]:
    requests: list[PriorAuthRequest] = [r[0] for r in rows]
    payers = _payers(session, requests)
    out = []
    for r in requests:
        decision = {
            "id": r.id,
            "patient_id": r.patient_id,
            "status": r.status,
            "payer_reference": r.payer_reference,
            "decision_reason": r.decision_reason,
            "authorised_grams": r.authorised_grams,
            "authorised_infusions": r.authorised_infusions,
            "start_date": r.start_date,
            "end_date": r.end_date,
        }
        insurer = {"reference": f"Organization/{payer_id(payers[r.coverage_id])}"}
        answered = r.decided_at or r.submitted_at or r.created_at
        out.append(Item(to_claim_response(decision, insurer=insurer, answered_at=answered), r.patient_id))
    return out


def claim_response_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = _requests(principal, params).where(PriorAuthRequest.status.in_(tuple(ACTION_OF_STATUS)))
    return [Source(query.order_by(PriorAuthRequest.id), _responses)]
