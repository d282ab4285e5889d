"""Tables of the sites capability."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from igflow.db import Base


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    default_dosing_policy_id: Mapped[str] = mapped_column(String(64))
    demo_seed: Mapped[int | None] = mapped_column(Integer)  # set when the demo loader created this data


class Site(Base):
    __tablename__ = "site"
    __table_args__ = (CheckConstraint("kind in ('centre', 'home')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # centre | home
    address: Mapped[str] = mapped_column(String(400), default="")
    # The centre's phone number patients call (portal "Costs and help", migration 0022); "" when not entered
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # The centre's coordinates (entered; igflow does not geocode): travel time from patients' homes
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    patients_per_nurse: Mapped[int] = mapped_column(Integer, default=4)
    starts_per_nurse_per_slot: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    hours: Mapped[list[SiteHours]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SiteHours.weekday"
    )
    closed_dates: Mapped[list[ClosedDate]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ClosedDate.date"
    )
    chairs: Mapped[list[Chair]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="Chair.position"
    )


class SiteHours(Base):
    """Opening hours for one weekday (0 = Monday). A weekday with no row is closed."""

    __tablename__ = "site_hours"
    __table_args__ = (
        UniqueConstraint("site_id", "weekday"),
        CheckConstraint("weekday between 0 and 6", name="weekday"),
        CheckConstraint("close_time > open_time", name="open_before_close"),
        CheckConstraint("nurses >= 0", name="nurses"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    open_time: Mapped[time] = mapped_column(Time)
    close_time: Mapped[time] = mapped_column(Time)
    nurses: Mapped[int] = mapped_column(Integer, default=0)


class ClosedDate(Base):
    __tablename__ = "site_closed_date"
    __table_args__ = (UniqueConstraint("site_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Chair(Base):
    __tablename__ = "chair"
    __table_args__ = (
        UniqueConstraint("site_id", "label"),
        CheckConstraint("kind in ('recliner', 'bed')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="recliner")
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
