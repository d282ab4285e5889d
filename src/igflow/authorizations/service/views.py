"""What the API and the pages show of a request, the work queue, and authorisations expiring soon."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.core import QueueEntry, days_waiting, queue_order
from igflow.authorizations.models import GRANTED, PriorAuthRequest
from igflow.authorizations.schemas import (
    EventOut,
    ExpiringOut,
    GrantOut,
    PacketItemOut,
    QueueItemOut,
    RequestOut,
)
from igflow.authorizations.service._common import (
    catalog,
    grant_of,
    lead_days,
    load,
    now,
    payer_of,
    time_frame,
)
from igflow.authorizations.service.lifecycle import events_of
from igflow.authorizations.service.packet import Packet, assemble
from igflow.authorizations.service.reauth import TASK_KIND, continuation_of
from igflow.authorizations.states import PRIOR_AUTH
from igflow.directory.models import Payer
from igflow.infusions.models import WorkTask
from igflow.orders.models import Order
from igflow.outcomes import service as outcomes_service
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage
from igflow.security import audit, scope
from igflow.security.principal import Principal

OPEN = ("draft", "ready", "submitted", "pended", "appeal_submitted")


def _uses(session: Session, order_id: int) -> list[tuple[dt.date, float]]:
    from igflow.appointments.service import authorisation_uses

    return [(u.date, u.grams) for u in authorisation_uses(session, order_id)]


def flags_of(session: Session, request: PriorAuthRequest) -> list[str]:
    """The response review's flag, shown on the authorisation as on the order."""
    order = session.get(Order, request.order_id)
    assert order is not None
    try:
        view = outcomes_service.evaluate(session, order, now().date())
    except LookupError:
        return []
    if view.flagged:
        return [f"Response review open: {view.summary.message}"]
    return []


def request_out(
    session: Session, request: PriorAuthRequest, with_events: bool = True, packet: Packet | None = None
) -> RequestOut:
    packet = packet or assemble(session, request)
    payer = payer_of(session, request)
    policy = catalog().payers.policy(request.policy_id)
    grant = grant_of(request)
    grant_out = None
    if grant is not None:
        uses = [
            (d, g) for d, g in _uses(session, request.order_id) if grant.start_date <= d <= grant.end_date
        ]
        grant_out = GrantOut(
            payer_reference=grant.payer_reference,
            product_ids=list(grant.product_ids),
            grams=grant.grams,
            infusions=grant.infusions,
            site_of_care=grant.site_of_care,
            start_date=grant.start_date,
            end_date=grant.end_date,
            expired=grant.end_date < now().date(),
            infusions_used=len(uses),
            grams_used=round(sum(g for _d, g in uses), 2),
        )
    frame = time_frame(payer)
    return RequestOut(
        id=request.id,
        patient_id=request.patient_id,
        order_id=request.order_id,
        coverage_id=request.coverage_id,
        payer_name=payer.name if payer else "",
        policy_id=request.policy_id,
        policy_name=policy.name,
        kind=request.kind,
        urgency=request.urgency,
        status=request.status,
        status_label=PRIOR_AUTH.label(request.status),
        previous_id=request.previous_id,
        requested_infusions=request.requested_infusions,
        requested_grams=request.requested_grams,
        requested_start=request.requested_start,
        requested_end=request.requested_end,
        created_at=request.created_at,
        submitted_at=request.submitted_at,
        due_at=request.due_at,
        due_basis=frame.basis if frame else "no regulatory time frame for this payer",
        decided_at=request.decided_at,
        days_waiting=days_waiting(request.created_at, request.decided_at or now()),
        payer_reference=request.payer_reference,
        decision_reason=request.decision_reason,
        grant=grant_out,
        complete=packet.complete,
        items=[PacketItemOut(**item.to_dict()) for item in packet.items],  # type: ignore[arg-type]
        next_statuses=sorted(PRIOR_AUTH.allowed(request.status)),
        flags=flags_of(session, request),
        events=[EventOut.model_validate(e) for e in events_of(session, request.id)] if with_events else [],
    )


def read_request(session: Session, principal: Principal, request_id: int) -> RequestOut:
    return read_with_packet(session, principal, request_id)[0]


def read_with_packet(session: Session, principal: Principal, request_id: int) -> tuple[RequestOut, Packet]:
    """The request as the API shows it and the packet it was built from (for the page), one assembly."""
    request = load(session, principal, request_id)
    packet = assemble(session, request)
    out = request_out(session, request, packet=packet)
    audit.record(
        session,
        principal.actor,
        "prior_auth.read",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
    )
    session.commit()
    return out, packet


def requests_for_patient(session: Session, principal: Principal, patient_id: int) -> list[RequestOut]:
    from igflow.patients import service as patients_service

    patient = patients_service.check_access(session, principal, patient_id)
    rows = list(
        session.execute(
            select(PriorAuthRequest)
            .where(PriorAuthRequest.patient_id == patient.id)
            .order_by(PriorAuthRequest.id.desc())
        ).scalars()
    )
    outs = [request_out(session, r, with_events=False) for r in rows]
    audit.record(
        session,
        principal.actor,
        "prior_auth.list",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"returned_ids": [r.id for r in rows]},
    )
    session.commit()
    return outs


def _payer_names(session: Session, coverage_ids: set[int]) -> dict[int, str]:
    if not coverage_ids:
        return {}
    rows = session.execute(
        select(Coverage.id, Payer.name)
        .join(Payer, Payer.id == Coverage.payer_id)
        .where(Coverage.id.in_(coverage_ids))
    ).all()
    return dict(rows)


def work_queue(session: Session, principal: Principal) -> list[QueueItemOut]:
    """Open requests, most urgent first (expedited, then the earliest due date, then the longest waiting)."""
    query = select(PriorAuthRequest).where(PriorAuthRequest.status.in_(OPEN))
    rows = list(session.execute(scope.rows(query, principal, PriorAuthRequest)).scalars())
    by_id = {r.id: r for r in rows}
    ordered = queue_order(
        QueueEntry(r.id, "expedited" if r.urgency == "expedited" else "standard", r.due_at, r.created_at)
        for r in rows
    )
    names = patients_service.display_names(session, {r.patient_id for r in rows})
    payers = _payer_names(session, {r.coverage_id for r in rows})
    moment = now()
    items = []
    for entry in ordered:
        r = by_id[entry.request_id]
        missing = 0 if r.status not in ("draft", "ready") else len(assemble(session, r).missing)
        items.append(
            QueueItemOut(
                id=r.id,
                patient_id=r.patient_id,
                patient_name=names.get(r.patient_id, ""),
                order_id=r.order_id,
                payer_name=payers.get(r.coverage_id, ""),
                kind=r.kind,
                urgency=r.urgency,
                status=r.status,
                status_label=PRIOR_AUTH.label(r.status),
                days_waiting=days_waiting(r.created_at, moment),
                due_at=r.due_at,
                overdue=r.due_at is not None and r.due_at < moment,
                missing=missing,
            )
        )
    audit.record(
        session,
        principal.actor,
        "prior_auth.queue",
        "prior_auth_request",
        detail={"returned_ids": [i.id for i in items]},
    )
    session.commit()
    return items


def expiring(session: Session, principal: Principal, within_days: int | None = None) -> list[ExpiringOut]:
    """Authorisations in force that end within their payer's lead time (or ``within_days``)."""
    today = now().date()
    longest = within_days or max(lead_days(None), 365)
    query = select(PriorAuthRequest).where(
        PriorAuthRequest.status.in_(GRANTED),
        PriorAuthRequest.end_date >= today,
        PriorAuthRequest.end_date <= today + dt.timedelta(days=longest),
    )
    rows = list(
        session.execute(
            scope.rows(query, principal, PriorAuthRequest).order_by(PriorAuthRequest.end_date)
        ).scalars()
    )
    names = patients_service.display_names(session, {r.patient_id for r in rows})
    payers = _payer_names(session, {r.coverage_id for r in rows})
    tasks = {
        (t.detail or {}).get("request_id"): t.id
        for t in session.execute(
            select(WorkTask).where(
                WorkTask.kind == TASK_KIND, WorkTask.patient_id.in_({r.patient_id for r in rows})
            )
        ).scalars()
    }
    items = []
    for r in rows:
        assert r.end_date is not None
        lead = within_days or lead_days(payer_of(session, r))
        if (r.end_date - today).days > lead:
            continue
        continuation = continuation_of(session, r.id)
        items.append(
            ExpiringOut(
                id=r.id,
                patient_id=r.patient_id,
                patient_name=names.get(r.patient_id, ""),
                order_id=r.order_id,
                payer_name=payers.get(r.coverage_id, ""),
                end_date=r.end_date,
                days_left=(r.end_date - today).days,
                task_id=tasks.get(r.id),
                continuation_id=continuation.id if continuation else None,
            )
        )
    audit.record(
        session,
        principal.actor,
        "prior_auth.expiring",
        "prior_auth_request",
        detail={"returned_ids": [i.id for i in items]},
    )
    session.commit()
    return items
