"""The outbox and the patients' contact preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

MESSAGE_STATUSES = ("queued", "sending", "sent", "failed", "unknown", "cancelled")
CHANNELS = ("email", "sms")


class OutboundMessage(Base):
    """One message to one person, written in the same transaction as what caused it and sent later.

    ``dedupe_key`` makes each reminder or notice exist once however often its producer runs. A message
    is claimed (``queued`` -> ``sending``) before the send and marked after it; one found still
    ``sending`` after a crash may or may not have gone out, so it becomes ``unknown`` for a person to
    check rather than being sent twice."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        CheckConstraint(
            "status in ('queued', 'sending', 'sent', 'failed', 'unknown', 'cancelled')", name="status"
        ),
        CheckConstraint("channel in ('email', 'sms')", name="channel"),
        Index("ix_outbound_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # reminder_3d | reminder_1d | closure | ...
    channel: Mapped[str] = mapped_column(String(8))
    to_address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    provider_reference: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactPreference(Base):
    """How a patient wants to hear from the service: channels and quiet hours (site-local minutes)."""

    __tablename__ = "contact_preference"
    __table_args__ = (
        CheckConstraint(
            "(quiet_from_min is null and quiet_to_min is null) or "
            "(quiet_from_min between 0 and 1439 and quiet_to_min between 0 and 1439)",
            name="quiet_hours",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), unique=True)
    email_ok: Mapped[bool] = mapped_column(default=True)
    sms_ok: Mapped[bool] = mapped_column(default=False)
    quiet_from_min: Mapped[int | None] = mapped_column(Integer)  # e.g. 21:00 -> 1260
    quiet_to_min: Mapped[int | None] = mapped_column(Integer)  # e.g. 08:00 -> 480 (wraps midnight)
    # the language of the patient's pages ("en", "es"); none: the browser's choice (igflow.web.i18n)
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
