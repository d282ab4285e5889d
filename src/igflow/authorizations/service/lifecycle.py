"""The request's life: open (draft), say what is asked for, attest, ready, submit, pended and answered,
decided, appealed, withdrawn. Every move goes through the state machine (409 otherwise) with an event
row and an audit row; the service owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.core import due_at
from igflow.authorizations.models import GRANTED, PriorAuthEvent, PriorAuthRequest
from igflow.authorizations.schemas import (
    AppealDecisionIn,
    AttestIn,
    DecisionIn,
    ReasonIn,
    RequestedIn,
    RequestIn,
)
from igflow.authorizations.service._common import (
    catalog,
    load,
    move,
    now,
    payer_of,
    policy_of,
    time_frame,
)
from igflow.authorizations.service.packet import assemble
from igflow.authorizations.states import PRIOR_AUTH
from igflow.directory.models import Payer
from igflow.errors import Conflict, InvalidInput
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage
from igflow.security import audit, scope
from igflow.security.principal import Principal


def _missing_words(request: PriorAuthRequest, session: Session) -> str:
    missing = assemble(session, request).missing
    return "; ".join(item.label for item in missing)


def open_request(session: Session, principal: Principal, data: RequestIn) -> PriorAuthRequest:
    """A new draft for an order with one of the patient's coverages; the policy comes from the payer."""
    order = scope.get(session, principal, Order, data.order_id, "order")
    patients_service.check_access(session, principal, order.patient_id)
    coverage = session.get(Coverage, data.coverage_id)
    if coverage is None or coverage.patient_id != order.patient_id:
        raise InvalidInput("coverage_id: choose one of this patient's coverages", "coverage_id")
    if not coverage.active:
        raise InvalidInput("coverage_id: this coverage has ended; choose an active one", "coverage_id")
    payer = session.get(Payer, coverage.payer_id)
    policy = policy_of(payer)
    not_covered = policy.not_covered(order.indication_id)
    if not_covered is not None:
        indication = catalog().indications[order.indication_id].name
        raise Conflict(
            f"order_id: {policy.name} does not cover {indication} ({not_covered.source}). The prescriber "
            "can change the order, or the patient's other coverage may apply.",
            "order_id",
        )
    kind = "initial"
    if data.previous_id is not None:
        previous = session.get(PriorAuthRequest, data.previous_id)
        if previous is None or previous.patient_id != order.patient_id or previous.order_id != order.id:
            raise InvalidInput("previous_id: name an authorisation of this order", "previous_id")
        if previous.status not in GRANTED:
            raise Conflict(
                f"previous_id: request {previous.id} is {PRIOR_AUTH.label(previous.status)}, not an "
                "authorisation; a re-authorisation continues an approved one",
                "previous_id",
            )
        kind = "continuation"
    request = PriorAuthRequest(
        patient_id=order.patient_id,
        order_id=order.id,
        coverage_id=coverage.id,
        policy_id=policy.id,
        kind=kind,
        urgency=data.urgency,
        status="draft",
        previous_id=data.previous_id,
        requested_infusions=data.requested_infusions,
        requested_grams=data.requested_grams,
        requested_start=data.requested_start,
        requested_end=data.requested_end,
        attestations={},
        created_by_user_id=principal.user_id,
    )
    session.add(request)
    session.flush()
    session.add(
        PriorAuthEvent(
            request_id=request.id,
            from_status=None,
            to_status="draft",
            by_user_id=principal.user_id,
            reason="opened",
            detail={"kind": kind, "policy_id": policy.id},
        )
    )
    if request.previous_id is not None:
        from igflow.authorizations.service.reauth import close_task_for

        close_task_for(session, request.previous_id, principal.user_id, request.id)
    audit.record(
        session,
        principal.actor,
        "prior_auth.open",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
        detail={"order_id": order.id, "kind": kind, "policy_id": policy.id},
    )
    session.commit()
    return request


def _editable(request: PriorAuthRequest) -> None:
    if request.status not in ("draft", "ready"):
        raise Conflict(
            f"status: {PRIOR_AUTH.noun} is {PRIOR_AUTH.label(request.status)}; only a draft or a request "
            "ready to submit can be changed",
            "status",
        )


def set_requested(
    session: Session, principal: Principal, request_id: int, data: RequestedIn
) -> PriorAuthRequest:
    request = load(session, principal, request_id)
    _editable(request)
    request.requested_infusions = data.requested_infusions
    request.requested_grams = data.requested_grams
    request.requested_start = data.requested_start
    request.requested_end = data.requested_end
    request.urgency = data.urgency
    request.version += 1
    audit.record(
        session,
        principal.actor,
        "prior_auth.requested",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
        detail=data.model_dump(mode="json"),
    )
    session.commit()
    return request


def attest(session: Session, principal: Principal, request_id: int, data: AttestIn) -> PriorAuthRequest:
    """Confirm an item the chart cannot show, with a note of what was checked (who and when recorded)."""
    request = load(session, principal, request_id)
    _editable(request)
    packet = assemble(session, request)
    item = next((i for i in packet.items if i.requirement_id == data.requirement_id), None)
    if item is None or item.kind != "attestation" or item.requirement_id == "requested":
        raise InvalidInput(
            "requirement_id: only items marked 'to confirm' can be confirmed; the rest come from the chart",
            "requirement_id",
        )
    attestations = dict(request.attestations or {})
    attestations[data.requirement_id] = {
        "note": data.note,
        "by_user_id": principal.user_id,
        "at": now().isoformat(),
    }
    request.attestations = attestations
    request.version += 1
    audit.record(
        session,
        principal.actor,
        "prior_auth.attest",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
        detail={"requirement_id": data.requirement_id},
    )
    session.commit()
    return request


def mark_ready(session: Session, principal: Principal, request_id: int) -> PriorAuthRequest:
    request = load(session, principal, request_id)
    PRIOR_AUTH.check(request.status, "ready", "status")
    missing = _missing_words(request, session)
    if missing:
        raise Conflict(f"status: the packet is not complete; missing: {missing}", "status")
    move(session, principal, request, "ready", reason="packet complete")
    session.commit()
    return request


def back_to_draft(
    session: Session, principal: Principal, request_id: int, data: ReasonIn
) -> PriorAuthRequest:
    request = load(session, principal, request_id)
    move(session, principal, request, "draft", reason=data.reason)
    session.commit()
    return request


def _snapshot(session: Session, request: PriorAuthRequest) -> dict[str, Any]:
    packet = assemble(session, request)
    return {
        "items": [item.to_dict() for item in packet.items],
        "requested": {
            "infusions": request.requested_infusions,
            "grams": request.requested_grams,
            "start": request.requested_start.isoformat() if request.requested_start else None,
            "end": request.requested_end.isoformat() if request.requested_end else None,
        },
        "policy_id": request.policy_id,
    }


def submit(session: Session, principal: Principal, request_id: int) -> PriorAuthRequest:
    """Submit a ready request: the packet is snapshotted as sent and the payer's clock starts."""
    request = load(session, principal, request_id)
    PRIOR_AUTH.check(request.status, "submitted", "status")
    if request.status == "ready":
        missing = _missing_words(request, session)
        if missing:
            raise Conflict(
                f"status: the packet is no longer complete (missing: {missing}); move it back to draft",
                "status",
            )
    when = now()
    frame = time_frame(payer_of(session, request))
    due = due_at(when, "expedited" if request.urgency == "expedited" else "standard", frame)
    values: dict[str, Any] = {"submitted_at": when, "due_at": due}
    detail: dict[str, Any] = {"due_basis": frame.basis if frame else "no time frame binds this payer"}
    if request.status == "ready":
        values["packet"] = _snapshot(session, request)
        reason = "submitted to the payer"
    else:
        reason = "information sent to the payer"
        detail["note"] = (
            "the time frame is counted again from when the information was sent (igflow's reading; the "
            "CMS-0057-F text was not retrieved)"
        )
    move(session, principal, request, "submitted", reason=reason, detail=detail, **values)
    session.commit()
    return request


def _grant_values(data: DecisionIn | AppealDecisionIn, request: PriorAuthRequest) -> dict[str, Any]:
    products = data.product_ids or []
    for product in products:
        if product not in catalog().products:
            raise InvalidInput(f"product_ids: {product!r} is not a product in the catalog", "product_ids")
    return {
        "payer_reference": data.payer_reference,
        "decision_reason": data.reason,
        "authorised_product_ids": products or None,
        "authorised_grams": data.grams,
        "authorised_infusions": data.infusions,
        "authorised_site_of_care": data.site_of_care,
        "start_date": data.start_date,
        "end_date": data.end_date,
        "decided_at": now(),
    }


def _grant(
    session: Session,
    principal: Principal,
    request: PriorAuthRequest,
    to: str,
    data: DecisionIn | AppealDecisionIn,
    default_reason: str,
) -> None:
    values = _grant_values(data, request)
    if not data.product_ids:
        values["authorised_product_ids"] = [request_product(session, request)]
    move(
        session,
        principal,
        request,
        to,
        reason=data.reason or default_reason,
        detail={"infusions": data.infusions, "grams": data.grams},
        **values,
    )


def decide(session: Session, principal: Principal, request_id: int, data: DecisionIn) -> PriorAuthRequest:
    """Record the payer's answer to a submitted (or pended) request."""
    request = load(session, principal, request_id)
    if data.outcome == "pended":
        move(session, principal, request, "pended", reason=data.reason, payer_reference=data.payer_reference)
    elif data.outcome == "denied":
        move(
            session,
            principal,
            request,
            "denied",
            reason=data.reason,
            decision_reason=data.reason,
            payer_reference=data.payer_reference,
            decided_at=now(),
        )
    else:
        _grant(session, principal, request, data.outcome, data, "approved by the payer")
    session.commit()
    _after_decision(session, principal, request)
    return request


def request_product(session: Session, request: PriorAuthRequest) -> str:
    order = session.get(Order, request.order_id)
    assert order is not None
    return order.product_id


def appeal(session: Session, principal: Principal, request_id: int, data: ReasonIn) -> PriorAuthRequest:
    request = load(session, principal, request_id)
    move(session, principal, request, "appeal_submitted", reason=data.reason, submitted_at=now())
    session.commit()
    return request


def decide_appeal(
    session: Session, principal: Principal, request_id: int, data: AppealDecisionIn
) -> PriorAuthRequest:
    request = load(session, principal, request_id)
    if data.outcome == "appeal_denied":
        move(session, principal, request, "appeal_denied", reason=data.reason, decided_at=now())
    else:
        _grant(session, principal, request, "appeal_approved", data, "approved on appeal")
    session.commit()
    _after_decision(session, principal, request)
    return request


def withdraw(session: Session, principal: Principal, request_id: int, data: ReasonIn) -> PriorAuthRequest:
    request = load(session, principal, request_id)
    move(session, principal, request, "withdrawn", reason=data.reason)
    session.commit()
    return request


def _after_decision(session: Session, principal: Principal, request: PriorAuthRequest) -> None:
    """An authorisation that already ends within the lead time opens its re-authorisation task now."""
    from igflow.authorizations.service.reauth import sweep_request

    if request.status in GRANTED and sweep_request(session, request, now().date()):
        session.commit()


def events_of(session: Session, request_id: int) -> list[PriorAuthEvent]:
    return list(
        session.execute(
            select(PriorAuthEvent).where(PriorAuthEvent.request_id == request_id).order_by(PriorAuthEvent.id)
        ).scalars()
    )
