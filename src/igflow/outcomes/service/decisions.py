"""Decisions: the prescriber's decision with its reason; it closes the order's open review tasks."""

from __future__ import annotations

from sqlalchemy.orm import Session

from igflow.catalog import Catalog
from igflow.clinical.response import (
    NEXT_STEPS,
    Decision,
    ResponseInputError,
)
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput
from igflow.infusions.models import WorkTask
from igflow.outcomes.models import ContinuationDecision
from igflow.outcomes.schemas import DecisionIn
from igflow.outcomes.service._common import current_catalog, load_order, today_utc
from igflow.outcomes.service.response import evaluate
from igflow.security import audit
from igflow.security.principal import Principal


def _decision_value(data: DecisionIn, catalog: Catalog) -> Decision:
    if data.new_product_id is not None and data.new_product_id not in catalog.products:
        raise InvalidInput("new_product_id: choose a product of the catalog", "new_product_id")
    try:
        return Decision(
            kind=data.kind,  # type: ignore[arg-type]  # the core checks the kind
            reason=data.reason,
            decided_on=today_utc(),
            new_dose_g_per_kg=data.new_dose_g_per_kg,
            new_interval_days=data.new_interval_days,
            new_product_id=data.new_product_id,
        )
    except ResponseInputError as exc:
        raise InvalidInput(_decision_words(exc), exc.field) from None


_NEEDS = {
    "new_dose_g_per_kg": "the new dose (g/kg)",
    "new_interval_days": "the new interval (days)",
    "new_product_id": "the new product",
}


def _decision_words(exc: ResponseInputError) -> str:
    """The core's refusal in words (it names fields by their codes)."""
    if exc.field in _NEEDS:
        what = _NEEDS[exc.field]
        if "needs" in exc.message:
            return f"{exc.field}: this decision needs {what}"
        if "takes no" in exc.message:
            return f"{exc.field}: this decision changes one thing only; leave {what} empty"
    return f"{exc.field}: {exc.message}"


def decide(session: Session, principal: Principal, order_id: int, data: DecisionIn) -> ContinuationDecision:
    """Record the prescriber's decision (reason required) and close the order's open review tasks."""
    from igflow.infusions import service as infusions_service

    order = load_order(session, principal, order_id)
    if order.status != "active":
        raise Conflict("status: the order is discontinued; decide on the patient's current order", "status")
    catalog = current_catalog()
    decision = _decision_value(data, catalog)
    view = evaluate(session, order, decision.decided_on)
    answers = view.unanswered
    step = NEXT_STEPS[decision.kind]
    row = ContinuationDecision(
        order_id=order.id,
        patient_id=order.patient_id,
        kind=decision.kind.value,
        reason=decision.reason.strip(),
        review_reason=answers[-1].reason if answers else None,
        decided_on=decision.decided_on,
        decided_by_user_id=principal.user_id,
        details={
            "new_dose_g_per_kg": decision.new_dose_g_per_kg,
            "new_interval_days": decision.new_interval_days,
            "new_product_id": decision.new_product_id,
            "review_in_days": data.review_in_days,
            "next_step": {
                "continues_therapy": step.continues_therapy,
                "next_order": step.next_order,
                "reauthorisation": step.reauthorisation,
                "text": step.text,
            },
            "response": {
                "outcome": view.summary.outcome.value,
                "cycles_completed": len(view.cycles),
                "primary_status": view.summary.primary.status.value if view.summary.primary else None,
            },
            "answers_review_ids": [r.id for r in answers],
        },
    )
    session.add(row)
    session.flush()
    closed: list[int] = []
    for task_id in sorted(view.open_task_ids):
        task = session.get(WorkTask, task_id)
        assert task is not None
        infusions_service.TASK.move(
            session,
            task,
            "done",
            expected="open",
            outcome={"decision": row.kind, "decision_id": row.id, "note": row.reason},
            completed_by_user_id=principal.user_id,
            completed_at=utcnow(),
        )
        closed.append(task_id)
    audit.record(
        session,
        principal.actor,
        "outcome.decision.create",
        "continuation_decision",
        row.id,
        patient_id=order.patient_id,
        detail={"order_id": order.id, "kind": row.kind, "closed_task_ids": closed},
    )
    session.commit()
    return row
