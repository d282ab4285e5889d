"""Tables of the protocols capability. An approved version is never changed: a change is a new version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

PROTOCOL_STATUSES = ("draft", "approved", "rejected")


class ClinicalProtocol(Base):
    """One version of a site's (or, with no site, the organisation's) clinical protocol."""

    __tablename__ = "clinical_protocol"
    __table_args__ = (
        UniqueConstraint("scope", "version"),
        CheckConstraint("status in ('draft', 'approved', 'rejected')", name="status"),
        CheckConstraint(
            "status != 'approved' OR (approved_by_user_id IS NOT NULL AND approved_at IS NOT NULL)",
            name="approved_has_approver",
        ),
        CheckConstraint(
            "approved_by_user_id IS NULL OR approved_by_user_id != proposed_by_user_id",
            name="approver_not_proposer",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "organisation" or "site:<id>": one version sequence per scope
    scope: Mapped[str] = mapped_column(String(32), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text, default="")  # what changed and why, from the proposer
    effective_from: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    proposed_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(Text, default="")
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_protocol.id", ondelete="RESTRICT"))
