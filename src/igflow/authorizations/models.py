"""Tables of the prior-authorisation capability.

A request is one ask of one payer for one order: it is assembled as a draft, becomes ready when its
packet is complete, is submitted, may be pended for information, and is decided (approved, partially
approved, denied); a denial or partial approval may be appealed. Every move is a row of
``prior_auth_event`` (who, when, why). An approved request *is* the authorisation: it records what the
payer authorised (products, grams, infusions, site of care, dates, the payer's reference). A
re-authorisation is a new request that names the one it continues (``previous_id``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

STATUSES = (
    "draft",
    "ready",
    "submitted",
    "pended",
    "approved",
    "partially_approved",
    "denied",
    "appeal_submitted",
    "appeal_approved",
    "appeal_denied",
    "withdrawn",
)
#: Statuses in which a request is an authorisation the payer granted.
GRANTED = ("approved", "partially_approved", "appeal_approved")
KINDS = ("initial", "continuation")
URGENCIES = ("standard", "expedited")
SITES_OF_CARE = ("facility", "home", "either")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class PriorAuthRequest(Base):
    __tablename__ = "prior_auth_request"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        CheckConstraint(
            "authorised_site_of_care IS NULL OR " + _in("authorised_site_of_care", SITES_OF_CARE),
            name="authorised_site_of_care",
        ),
        CheckConstraint("authorised_infusions IS NULL OR authorised_infusions >= 0", name="infusions"),
        CheckConstraint("authorised_grams IS NULL OR authorised_grams >= 0", name="grams"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverage.id", ondelete="RESTRICT"))
    policy_id: Mapped[str] = mapped_column(String(64))  # the catalog payer policy the packet is checked on
    kind: Mapped[str] = mapped_column(String(16), default="initial")
    urgency: Mapped[str] = mapped_column(String(16), default="standard")
    status: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("prior_auth_request.id", ondelete="RESTRICT"))
    requested_grams: Mapped[float | None] = mapped_column(Float)
    requested_infusions: Mapped[int | None] = mapped_column(Integer)
    requested_start: Mapped[date | None] = mapped_column(Date)
    requested_end: Mapped[date | None] = mapped_column(Date)
    # what the prior-authorisation specialist confirmed that the chart cannot show: {item id: {note, by, at}}
    attestations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    packet: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the packet as submitted (a snapshot)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the payer's decision is due
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payer_reference: Mapped[str] = mapped_column(String(64), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    authorised_product_ids: Mapped[list[str] | None] = mapped_column(JSON)
    authorised_grams: Mapped[float | None] = mapped_column(Float)
    authorised_infusions: Mapped[int | None] = mapped_column(Integer)
    authorised_site_of_care: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)


class PriorAuthEvent(Base):
    """One move of a request: from, to, who, when, why (append-only)."""

    __tablename__ = "prior_auth_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("prior_auth_request.id", ondelete="RESTRICT"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PriorTherapy(Base):
    """A therapy the patient had before immunoglobulin (payers ask which were tried and why they stopped)."""

    __tablename__ = "prior_therapy"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    therapy: Mapped[str] = mapped_column(String(200))
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(400), default="")  # why it stopped: failed, side effects, ...
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PriorAuthLetter(Base):
    """A rendered letter of medical necessity (PDF), made by a background job from the packet as it stood."""

    __tablename__ = "prior_auth_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("prior_auth_request.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
