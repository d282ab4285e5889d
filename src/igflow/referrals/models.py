"""Tables of the referrals capability."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

STATUSES = ("new", "in_review", "accepted", "declined")
URGENCIES = ("urgent", "soon", "routine")


class Referral(Base):
    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint("status in ('new', 'in_review', 'accepted', 'declined')", name="status"),
        CheckConstraint("urgency in ('urgent', 'soon', 'routine')", name="urgency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescriber.id", ondelete="RESTRICT"))
    icd10_code: Mapped[str] = mapped_column(String(10))
    diagnosis_text: Mapped[str] = mapped_column(String(400))
    indication_id: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once

    documents: Mapped[list[ReferralDocument]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ReferralDocument.id"
    )


class ReferralDocument(Base):
    __tablename__ = "referral_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32), default="other")  # catalog payers document_categories
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
