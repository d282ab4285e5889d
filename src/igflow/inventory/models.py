"""Tables of the inventory capability.

Stock is a ledger: ``stock_move`` rows are only ever appended. ``stock_balance`` holds, per lot and site, the
running sum of the ledger (vials on hand and vials held for appointments), updated in the same transaction
as each move with relative ``UPDATE ... SET on_hand = on_hand - n``; its CHECK constraints make the database
refuse any move that would take a lot below zero or leave more vials allocated than are on hand, on SQLite
and on PostgreSQL, also when two requests race for the last vials (the row lock serialises them and the
second one fails the CHECK). ``stock_allocation`` holds what each appointment has been allocated.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

LOT_STATUSES = ("available", "quarantined", "recalled")
DB_MOVE_KINDS = (
    "receipt",
    "transfer_out",
    "transfer_in",
    "allocation",
    "deallocation",
    "dispense",
    "return",
    "waste",
    "quarantine",
    "release",
    "recall",
)
WASTE_REASONS = ("partial_vial", "broken", "temperature_excursion")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class InventoryLot(Base):
    """One manufacturer lot of one product and vial size (GTIN), as received by the pharmacy."""

    __tablename__ = "inventory_lot"
    __table_args__ = (
        UniqueConstraint("gtin", "lot_number"),
        CheckConstraint(f"status in ({_in(LOT_STATUSES)})", name="status"),
        CheckConstraint("vial_size_g > 0", name="vial_size"),
        CheckConstraint("acquisition_cost_cents >= 0", name="cost"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    lot_number: Mapped[str] = mapped_column(String(64), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    label_expiry: Mapped[date] = mapped_column(Date)
    vial_size_g: Mapped[float] = mapped_column(Float)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))  # receiving site
    storage_place: Mapped[str] = mapped_column(String(120), default="")
    room_temperature_since: Mapped[date | None] = mapped_column(Date)  # None: refrigerated
    status: Mapped[str] = mapped_column(String(16), default="available")
    acquisition_cost_cents: Mapped[int] = mapped_column(Integer)  # per vial
    supplier: Mapped[str] = mapped_column(String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockMove(Base):
    """One ledger row (append-only). ``count`` is vials; 0 for quarantine, release and recall."""

    __tablename__ = "stock_move"
    __table_args__ = (
        CheckConstraint(f"kind in ({_in(DB_MOVE_KINDS)})", name="kind"),
        CheckConstraint("count >= 0", name="count"),
        CheckConstraint(
            f"waste_reason is null or waste_reason in ({_in(WASTE_REASONS)})", name="waste_reason"
        ),
        Index("ix_stock_move_lot_site", "lot_id", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lot.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    other_site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    waste_reason: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockBalance(Base):
    """The ledger's running sum per lot and site; the CHECKs are the database's refusal to go below zero."""

    __tablename__ = "stock_balance"
    __table_args__ = (
        UniqueConstraint("lot_id", "site_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("allocated >= 0 and allocated <= on_hand", name="allocated_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lot.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    allocated: Mapped[int] = mapped_column(Integer, default=0)


class StockAllocation(Base):
    """Vials of a lot at a site held for one appointment (their sum is ``stock_balance.allocated``)."""

    __tablename__ = "stock_allocation"
    __table_args__ = (
        UniqueConstraint("lot_id", "site_id", "appointment_id"),
        CheckConstraint("count >= 0", name="count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lot.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="RESTRICT"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ParLevel(Base):
    """Vials of a product and vial size a site holds beyond forecast use (order-up-to level)."""

    __tablename__ = "inventory_par_level"
    __table_args__ = (
        UniqueConstraint("site_id", "product_id", "vial_size_g"),
        CheckConstraint("par_count >= 0", name="par_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    product_id: Mapped[str] = mapped_column(String(64))
    vial_size_g: Mapped[float] = mapped_column(Float)
    par_count: Mapped[int] = mapped_column(Integer)
