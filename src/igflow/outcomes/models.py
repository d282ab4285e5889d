"""Tables of the outcomes capability. Readings and decisions are append-only: a correction is a new reading
that names the one it amends, with who, when and why; a decision is never changed, a new one follows it.

The enumerated columns are CHECK constraints; their values are the pure core's codes
(``igflow.clinical.response``: ``DecisionKind``, ``REVIEW_REASONS``) and the three ways a reading is taken.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from igflow.clinical.response import REVIEW_REASONS, DecisionKind
from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

#: How a reading was taken: by the nurse at the chair (before the infusion), by the prescriber at a review,
#: or reported by the patient (entered by staff; the patient's own entry is for later).
METHODS = ("chair", "review", "patient_reported")
DECISION_KINDS = tuple(kind.value for kind in DecisionKind)
REVIEW_REASON_CODES = tuple(REVIEW_REASONS)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class OutcomeReading(Base):
    """One dated reading of an outcome measure (catalog ``outcomes.yaml``), in the measure's unit.

    ``value`` is the total; a measure entered in parts (adjusted INCAT: arm and leg) keeps them in
    ``parts``. Never updated: a correction is a new row with ``amends_id`` and a note (one per row).
    """

    __tablename__ = "outcome_reading"
    __table_args__ = (
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint("amends_id IS NULL OR length(note) > 0", name="correction_has_note"),
        # one correction per reading: a later correction amends the correction (the chain stays a line)
        UniqueConstraint("amends_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    measure_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    parts: Mapped[dict[str, float] | None] = mapped_column(JSON)
    measured_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("outcome_reading.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(400), default="")


class ContinuationDecision(Base):
    """The prescriber's decision after a review (continue, change dose or interval, switch product, trial
    off, stop) with its reason; ``details`` holds the change's new value, what it means for the next order
    and re-authorisation, and the response it was made on."""

    __tablename__ = "continuation_decision"
    __table_args__ = (
        CheckConstraint(_in("kind", DECISION_KINDS), name="kind"),
        CheckConstraint("length(reason) > 0", name="reason"),
        CheckConstraint(
            f"review_reason IS NULL OR {_in('review_reason', REVIEW_REASON_CODES)}", name="review_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    review_reason: Mapped[str | None] = mapped_column(String(40))
    decided_on: Mapped[date] = mapped_column(Date)
    decided_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ResponseReview(Base):
    """A review raised for the prescriber on an order, with the work task that asks for it.

    One per order, reason and round (the unique key makes raising it idempotent, also between concurrent
    requests): the two-cycle reasons are round 0, raised once per order; a passed review interval is the
    round of the decision that set the interval. ``flags_order``: the finding flags the order (and, once
    authorisations exist, the authorisation) until a decision is recorded after it.
    """

    __tablename__ = "response_review"
    __table_args__ = (
        UniqueConstraint("order_id", "reason", "round"),
        CheckConstraint(_in("reason", REVIEW_REASON_CODES), name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("ig_order.id", ondelete="RESTRICT")
    )  # the unique key indexes it
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[int] = mapped_column(ForeignKey("work_task.id", ondelete="RESTRICT"))
    cycles_completed: Mapped[int] = mapped_column(Integer)
    flags_order: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
