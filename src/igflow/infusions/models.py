"""Tables of the infusions capability. Chart entries are append-only; a signed record is locked and
corrected only by new entries that name the entry they amend, with who, when and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

RECORD_STATUSES = ("checked_in", "infusing", "stopped", "observation", "signed")
ENTRY_KINDS = (
    "checklist",
    "weight",
    "pharmacist_release",
    "vitals",
    "premedication",
    "vial",
    "start",
    "rate_change",
    "reaction",
    "end",
    "sign",
    "correction",
    "note",
)


class InfusionRecord(Base):
    __tablename__ = "infusion_record"
    __table_args__ = (
        CheckConstraint(
            "status in ('checked_in', 'infusing', 'stopped', 'observation', 'signed')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="RESTRICT"), unique=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("dose_plan_version.id", ondelete="RESTRICT"))
    day_index: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="checked_in", index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    volume_infused_ml: Mapped[float | None] = mapped_column(Float)
    max_reaction_grade: Mapped[int] = mapped_column(Integer, default=0)
    next_plan_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_infusion: Mapped[bool] = mapped_column(default=False)
    signed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChartEntry(Base):
    """One thing charted at the chair. ``client_id`` (made by the tablet) makes a retried submission
    land once; entries are never updated or deleted."""

    __tablename__ = "chart_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("infusion_record.id", ondelete="RESTRICT"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # alerts and derived figures
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("chart_entry.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # when it happened, where the nurse charts it later than it happened (None: when it was recorded)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkTask(Base):
    """A task in a role's work queue: follow-up calls, reaction reviews, weight re-checks."""

    __tablename__ = "work_task"
    __table_args__ = (CheckConstraint("status in ('open', 'done')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # follow_up | reaction_review | weight_review
    queue: Mapped[str] = mapped_column(String(16), index=True)  # nurse | pharmacist | prescriber
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("infusion_record.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    completed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
