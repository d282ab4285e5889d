"""Tables of the cost capability: what a gram of each product costs, from when, and on whose word."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class ProductPrice(Base):
    """The price of one gram of a catalog product, in integer cents, from ``effective_from`` (inclusive)
    until the next price of the same product. ``source`` says where the figure comes from (a contract, a
    wholesaler invoice, a published average sales price); igflow ships no real prices."""

    __tablename__ = "product_price"
    __table_args__ = (
        CheckConstraint("cents_per_gram > 0", name="positive"),
        CheckConstraint("length(source) > 0", name="source"),
        UniqueConstraint("product_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    cents_per_gram: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(400))
    recorded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
