"""Re-authorisation: an authorisation ending within its payer's lead time opens one task in the
prior-authorisation queue, with the response evidence attached; opening the continuation request closes
it. The sweep runs hourly in the worker (``igflow.jobs.queue``), after every decision, and from
``igflow priorauth sweep``; it is idempotent (one task per authorisation)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.models import GRANTED, PriorAuthRequest
from igflow.authorizations.service._common import catalog, lead_days, payer_of
from igflow.authorizations.service.packet import response_summary
from igflow.db import utcnow
from igflow.infusions.models import WorkTask
from igflow.orders.models import Order
from igflow.security import audit
from igflow.security.audit import SYSTEM

TASK_KIND = "reauthorisation"
QUEUE = "prior_auth"


def _task_of(session: Session, request: PriorAuthRequest) -> WorkTask | None:
    rows = session.execute(
        select(WorkTask).where(WorkTask.kind == TASK_KIND, WorkTask.patient_id == request.patient_id)
    ).scalars()
    return next((t for t in rows if (t.detail or {}).get("request_id") == request.id), None)


def continuation_of(session: Session, request_id: int) -> PriorAuthRequest | None:
    return session.execute(
        select(PriorAuthRequest)
        .where(PriorAuthRequest.previous_id == request_id, PriorAuthRequest.status != "withdrawn")
        .order_by(PriorAuthRequest.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def sweep_request(session: Session, request: PriorAuthRequest, today: dt.date) -> WorkTask | None:
    """Open the re-authorisation task of one authorisation if it is due and has none (no commit)."""
    if request.status not in GRANTED or request.end_date is None:
        return None
    lead = lead_days(payer_of(session, request))
    if not today <= request.end_date <= today + dt.timedelta(days=lead):
        return None
    if _task_of(session, request) is not None or continuation_of(session, request.id) is not None:
        return None
    order = session.get(Order, request.order_id)
    assert order is not None
    indication = catalog().indications.get(order.indication_id)
    evidence = response_summary(session, order, today)
    end = dt.datetime.combine(request.end_date, dt.time(), tzinfo=dt.UTC)
    task = WorkTask(
        kind=TASK_KIND,
        queue=QUEUE,
        patient_id=request.patient_id,
        title=(
            f"Re-authorise: authorisation {request.payer_reference or request.id} ends {request.end_date} "
            f"({indication.name if indication else order.indication_id}, order {order.id})"
        )[:200],
        detail={
            "request_id": request.id,
            "order_id": order.id,
            "end_date": request.end_date.isoformat(),
            "lead_days": lead,
            "response": evidence,
        },
        due_from=utcnow(),
        due_by=end,
        status="open",
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        SYSTEM,
        "prior_auth.reauth_task",
        "work_task",
        task.id,
        patient_id=request.patient_id,
        detail={"request_id": request.id},
    )
    return task


def sweep(session: Session, today: dt.date | None = None) -> int:
    """Open every due re-authorisation task; returns how many were opened (commits)."""
    today = today or utcnow().date()
    longest = max([lead_days(None), *[p.reauth_lead_days or 0 for p in _payers(session)]])
    candidates = session.execute(
        select(PriorAuthRequest).where(
            PriorAuthRequest.status.in_(GRANTED),
            PriorAuthRequest.end_date >= today,
            PriorAuthRequest.end_date <= today + dt.timedelta(days=longest),
        )
    ).scalars()
    opened = sum(1 for request in list(candidates) if sweep_request(session, request, today) is not None)
    session.commit()
    return opened


def _payers(session: Session) -> list:  # type: ignore[type-arg]
    from igflow.directory.models import Payer

    return list(session.execute(select(Payer)).scalars())


def close_task_for(session: Session, previous_id: int, by_user_id: int, continuation_id: int) -> None:
    """Opening the continuation closes the previous authorisation's re-authorisation task (no commit)."""
    from igflow.infusions.service import TASK

    previous = session.get(PriorAuthRequest, previous_id)
    if previous is None:
        return
    task = _task_of(session, previous)
    if task is None or task.status != "open":
        return
    TASK.move(
        session,
        task,
        "done",
        outcome={"continuation_request_id": continuation_id, "note": "re-authorisation opened"},
        completed_by_user_id=by_user_id,
        completed_at=utcnow(),
    )
