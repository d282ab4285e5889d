"""What leaves igflow and what comes back: the Da Vinci PAS request Bundle (download), the payer's PAS
response (import, recorded as a decision), and the letter of medical necessity (a PDF made by a background
job, kept with the request). No payer endpoint is contacted."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.core import PacketView
from igflow.authorizations.models import PriorAuthLetter, PriorAuthRequest
from igflow.authorizations.schemas import AppealDecisionIn, DecisionIn
from igflow.authorizations.service._common import load
from igflow.authorizations.service.lifecycle import decide, decide_appeal
from igflow.authorizations.service.packet import assemble, response_summary, view_of
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput
from igflow.orders.models import Order
from igflow.security import audit
from igflow.security.principal import Principal


def packet_view(session: Session, request: PriorAuthRequest) -> PacketView:
    packet = assemble(session, request)
    summary = ""
    if request.kind == "continuation":
        order = session.get(Order, request.order_id)
        assert order is not None
        summary = response_summary(session, order, utcnow().date())
    return view_of(session, packet, summary)


def pas_bundle_json(session: Session, principal: Principal, request_id: int) -> str:
    from igflow.authorizations import pas

    request = load(session, principal, request_id)
    bundle = pas.request_bundle(packet_view(session, request))
    pas.validate_bundle(bundle)
    audit.record(
        session,
        principal.actor,
        "prior_auth.pas_export",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
    )
    session.commit()
    return json.dumps(bundle, indent=2)


def import_response(session: Session, principal: Principal, request_id: int, bundle: dict[str, Any]) -> None:
    """Read the payer's ClaimResponse and record it as the decision (or the appeal's decision)."""
    from igflow.authorizations import pas

    request = load(session, principal, request_id)
    try:
        decision = pas.read_response(bundle, request_id=request.id)
    except pas.PasError as exc:
        raise InvalidInput(f"bundle: {exc}", "bundle") from None
    audit.record(
        session,
        principal.actor,
        "prior_auth.pas_import",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
        detail={"outcome": decision.outcome},
    )
    fields: dict[str, Any] = {
        "payer_reference": decision.payer_reference,
        "reason": decision.reason
        or ("approved by the payer (PAS response)" if decision.outcome != "denied" else ""),
        "product_ids": list(decision.product_ids),
        "grams": decision.grams,
        "infusions": decision.infusions,
        "start_date": decision.start_date,
        "end_date": decision.end_date,
    }
    if request.status == "appeal_submitted":
        if decision.outcome not in ("approved", "denied"):
            raise Conflict(
                "bundle: an appeal is answered approved or denied; this response says otherwise", "bundle"
            )
        outcome = "appeal_approved" if decision.outcome == "approved" else "appeal_denied"
        decide_appeal(session, principal, request.id, AppealDecisionIn(outcome=outcome, **fields))
    else:
        decide(session, principal, request.id, DecisionIn(outcome=decision.outcome, **fields))


def letters_of(session: Session, request_id: int) -> list[PriorAuthLetter]:
    return list(
        session.execute(
            select(PriorAuthLetter)
            .where(PriorAuthLetter.request_id == request_id)
            .order_by(PriorAuthLetter.id)
        ).scalars()
    )


def letter_content(session: Session, principal: Principal, letter_id: int) -> tuple[PriorAuthLetter, bytes]:
    letter = session.get(PriorAuthLetter, letter_id)
    if letter is None:
        from igflow.errors import NotFound

        raise NotFound(f"letter {letter_id} not found")
    from igflow.errors import NotFound

    try:
        load(session, principal, letter.request_id)  # site scope and patient access
    except NotFound:
        raise NotFound(f"letter {letter_id} not found") from None
    content = letter.content
    audit.record(
        session,
        principal.actor,
        "prior_auth.letter_read",
        "prior_auth_letter",
        letter.id,
        patient_id=letter.patient_id,
    )
    session.commit()
    return letter, content


def render_letter(db: Any, principal: Principal, request_id: int, job_id: int | None, ctx: Any = None) -> int:
    """The letter job: read the packet, render the PDF with no transaction open, store it."""
    from igflow.authorizations.letter import letter_pdf

    with db.read_session() as session:
        request = load(session, principal, request_id)
        view = packet_view(session, request)
        patient_id = request.patient_id
        session.rollback()
    if ctx is not None:
        ctx.progress(0.4, "Rendering the letter")
        ctx.check_cancelled()
    pdf = letter_pdf(view)
    with db.session() as session:
        letter = PriorAuthLetter(
            request_id=request_id,
            patient_id=patient_id,
            job_id=job_id,
            size_bytes=len(pdf),
            sha256=hashlib.sha256(pdf).hexdigest(),
            content=pdf,
            created_by_user_id=principal.user_id,
        )
        session.add(letter)
        session.flush()
        audit.record(
            session,
            principal.actor,
            "prior_auth.letter",
            "prior_auth_letter",
            letter.id,
            patient_id=patient_id,
            detail={"request_id": request_id, "size_bytes": len(pdf)},
        )
        if ctx is not None:
            ctx.complete(
                session, "prior_auth_letter", letter.id, {"request_id": request_id, "size_bytes": len(pdf)}
            )
        session.commit()
        return letter.id
