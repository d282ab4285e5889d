"""Tables of the orders capability. Plan versions and verifications are append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class Order(Base):
    __tablename__ = "ig_order"
    __table_args__ = (
        CheckConstraint("phase in ('acute', 'induction', 'maintenance')", name="phase"),
        CheckConstraint("status in ('active', 'discontinued')", name="status"),
        CheckConstraint("setting in ('centre', 'home')", name="setting"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id", ondelete="RESTRICT"))
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescriber.id", ondelete="RESTRICT"))
    indication_id: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[str] = mapped_column(String(64))
    dose_g_per_kg: Mapped[float | None] = mapped_column(Float)
    days: Mapped[int | None] = mapped_column(Integer)
    policy_id: Mapped[str | None] = mapped_column(String(64))  # None: the payer's or the organisation's
    first_infusion: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where it is given: in a centre's chair, or at home (a visiting nurse for IVIG; SCIG self-infused after
    # training visits). A move home is an order change, verified like any other.
    setting: Mapped[str] = mapped_column(String(8), default="centre", server_default="centre")
    # Subcutaneous products: switching from IVIG (the previous IV dose and its interval) and how often the
    # SC infusions are given (1 = daily ... 14 = every two weeks).
    previous_iv_dose_g: Mapped[float | None] = mapped_column(Float)
    iv_interval_weeks: Mapped[float | None] = mapped_column(Float)
    sc_interval_days: Mapped[int | None] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")
    # the product-choice assistant's reasons for the product the prescriber chose (rank among the options)
    product_choice: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    entered_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlanVersion(Base):
    """One computed dose plan for an order, from the patient facts of that moment."""

    __tablename__ = "dose_plan_version"
    __table_args__ = (UniqueConstraint("order_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(String(400))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)  # the dose contract's JSON
    hard_stopped: Mapped[bool] = mapped_column(Boolean)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list
    )  # what differs from the previous


class Verification(Base):
    """A pharmacist's check of one plan version. Never updated: a new decision is a new row."""

    __tablename__ = "dose_verification"
    __table_args__ = (
        CheckConstraint("decision in ('verified', 'rejected')", name="decision"),
        # One decision per plan version; a re-review is the next sequence number. Two concurrent
        # decisions on the same version collide here and the second gets a 409.
        UniqueConstraint("plan_version_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_version_id: Mapped[int] = mapped_column(
        ForeignKey("dose_plan_version.id", ondelete="RESTRICT"), index=True
    )
    decision: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str] = mapped_column(Text, default="")
    verified_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
