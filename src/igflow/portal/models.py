"""Tables of the patient's side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class SymptomReport(Base):
    """A patient's symptom diary for one infusion, saved as they answer (``client_id`` names one sitting, so
    a save sent twice, or again after the phone was offline, updates the same report). ``level`` is the
    triage of the answers (catalog ``triage.yaml``); ``task_id`` is the nurse task it opened, if any."""

    __tablename__ = "symptom_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="RESTRICT"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    level: Mapped[str] = mapped_column(String(16))
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("work_task.id", ondelete="RESTRICT"))
    saves: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaregiverLink(Base):
    """A caregiver account's access to one patient's portal, given with the patient's consent.

    The patient consents on My caregivers (``consent_how`` "patient"), or staff record the consent on the
    chart when the patient asks (``"staff"``, with a note of how the patient asked). Revoking sets
    ``revoked_at`` (the row stays: who consented, when, and who ended it are the record). A caregiver
    account has at most one active link at a time (partial unique index), so it reads one patient only.
    """

    __tablename__ = "caregiver_link"
    __table_args__ = (
        CheckConstraint("consent_how in ('patient', 'staff')", name="consent_how"),
        Index(
            "uq_caregiver_link_active_caregiver",
            "caregiver_user_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    caregiver_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    relationship_words: Mapped[str] = mapped_column(String(80), default="")
    consent_how: Mapped[str] = mapped_column(String(8))
    consent_note: Mapped[str] = mapped_column(String(400), default="")
    consented_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    revoke_note: Mapped[str] = mapped_column(String(400), default="")
