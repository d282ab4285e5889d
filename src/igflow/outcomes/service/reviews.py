"""Review tasks: one prescriber task per order, reason and round, raised by an explicit step (never a GET)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.catalog import Catalog
from igflow.catalog.models import IndicationOutcomes
from igflow.clinical.response import (
    REVIEW_REASONS,
    ResponseInputError,
    review_due,
)
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.orders.models import Order
from igflow.outcomes.models import ResponseReview
from igflow.outcomes.service._common import current_catalog, today_utc
from igflow.outcomes.service.response import OrderResponse, evaluate
from igflow.security import audit
from igflow.security.principal import Principal

TASK_KIND = "response_review"
_TWO_CYCLE_ROUND = 0  # the two-cycle reasons are raised once per order


def _primary_name(entry: IndicationOutcomes, catalog: Catalog) -> str:
    return catalog.outcomes.measure(entry.primary).name if entry.primary else "the primary measure"


def _task_title(reason: str, view: OrderResponse, catalog: Catalog) -> str:
    summary, primary = view.summary, _primary_name(view.entry, catalog)
    indication = catalog.indications[view.order.indication_id].name
    titles = {
        "no_meaningful_improvement": (
            f"Response review: no meaningful improvement of {primary} after {summary.cycles_completed} cycles"
        ),
        "cannot_judge_prescriber_decides": (
            f"Response review after {summary.cycles_completed} cycles: no sourced threshold to judge "
            f"{indication}; the prescriber decides"
        ),
        "no_primary_reading_after_cycle": (
            f"Response review: no reading of {primary} after cycle {summary.review_after_cycles}"
        ),
        "review_interval_passed": (
            "Response review due: the review interval set at the last decision has passed"
        ),
    }
    return f"{titles[reason]} ({indication}, order {view.order.id})"[:200]


def _reading_may_still_come(view: OrderResponse) -> bool:
    """A missing reading after cycle N is not raised when cycle N is signed: the nurse takes it at the chair
    before the next infusion, so it cannot exist yet. It is raised once a later cycle is signed without
    it."""
    summary = view.summary
    return (
        summary.review_reason == "no_primary_reading_after_cycle"
        and summary.review_after_cycles is not None
        and summary.cycles_completed <= summary.review_after_cycles
    )


def _due_reviews(view: OrderResponse, today: date) -> list[tuple[str, int, bool, str]]:
    """(reason, round, flags the order, message) of each review the order is due."""
    due: list[tuple[str, int, bool, str]] = []
    summary = view.summary
    if summary.raises_review and summary.review_reason and not _reading_may_still_come(view):
        due.append(
            (
                summary.review_reason,
                _TWO_CYCLE_ROUND,
                summary.flags_order_and_authorisation,
                REVIEW_REASONS[summary.review_reason],
            )
        )
    last = view.decisions[-1] if view.decisions else None
    days = (last.details or {}).get("review_in_days") if last is not None else None
    if last is not None and isinstance(days, int):
        interval = review_due(last.decided_on, days, max(today, last.decided_on))
        if interval.passed and interval.review_reason:
            due.append((interval.review_reason, len(view.decisions), True, interval.message))
    return due


def raise_reviews(
    session: Session, principal: Principal, order_id: int, *, signing: int | None = None
) -> list[ResponseReview]:
    """Open the prescriber's response-review task for each review the order is due and has not had yet
    (one per order, reason and round). Runs in the caller's transaction; the caller commits. Never on a GET.
    ``signing``: the infusion record being signed in this transaction counts as signed; the task names it.
    """
    order = session.get(Order, order_id)
    if order is None or order.status != "active":
        return []
    today = today_utc()
    view = evaluate(session, order, today, signing)
    raised: list[ResponseReview] = []
    catalog = current_catalog()
    had = {(r.reason, r.round) for r in view.reviews}
    for reason, round_, flags, message in _due_reviews(view, today):
        if (reason, round_) in had:
            continue
        try:
            with session.begin_nested():
                task = WorkTask(
                    kind=TASK_KIND,
                    queue="prescriber",
                    patient_id=order.patient_id,
                    record_id=signing,
                    title=_task_title(reason, view, catalog),
                    detail={"order_id": order.id, "reason": reason, "cycles_completed": len(view.cycles)},
                    status="open",
                )
                session.add(task)
                session.flush()
                review = ResponseReview(
                    order_id=order.id,
                    patient_id=order.patient_id,
                    reason=reason,
                    round=round_,
                    task_id=task.id,
                    cycles_completed=len(view.cycles),
                    flags_order=flags,
                    message=message,
                )
                session.add(review)
                session.flush()
        except IntegrityError:
            continue  # raised a moment ago by a concurrent request: one task per order and reason
        audit.record(
            session,
            principal.actor,
            "outcome.review.raise",
            "response_review",
            review.id,
            patient_id=order.patient_id,
            detail={"order_id": order.id, "reason": reason, "round": round_, "task_id": task.id},
        )
        raised.append(review)
    return raised


def review_after_signing(session: Session, principal: Principal, record: InfusionRecord) -> None:
    """The signing hook (``infusions.service``, as the record is signed): raise the reviews now due. A
    response that cannot be evaluated (an indication the catalog lacks) never stops the signing."""
    try:
        raise_reviews(session, principal, record.order_id, signing=record.id)
    except (ResponseInputError, LookupError):
        return
