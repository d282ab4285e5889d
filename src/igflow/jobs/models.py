"""The ``job`` table: one row per piece of background work, the source of truth for its state.

The queue library only carries the job's id to a worker; what the job is, who asked for it, where it
stands, how far it got and what it produced live here, in the application's own database, so a page
can show it and the audit log can follow it whatever queue storage is configured.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("state in ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="state"),
        CheckConstraint("progress >= 0 and progress <= 1", name="progress"),
        Index("ix_job_state_kind", "state", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    requested_by_user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), index=True
    )
    requested_roles: Mapped[list[str]] = mapped_column(JSON)  # the roles in force when asked (tokens narrow)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(String(200), default="")
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_type: Mapped[str | None] = mapped_column(String(64))  # e.g. "planning_run"
    result_id: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a small summary for the page
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))  # host:pid of the worker that ran it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
