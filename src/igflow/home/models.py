"""Tables of the home-therapy capability: home nurses and their working pattern, home visits and the
routing runs that place them, deliveries to the patient's home with their cold chain, the vials kept at a
patient's home, and the patient's own log of self-infusions (SCIG).

A home visit is an ``appointment`` at the home-infusion site with no chair; ``home_visit`` adds the nurse
and the route. ``nurse_slot`` is to a nurse what ``chair_slot`` is to a chair: one row per slot a nurse is
busy at a patient's home, unique per nurse, date and slot, so two visits of one nurse cannot overlap even
when two requests race.

Stock at a patient's home is part of the ledger: a delivery moves vials from a pharmacy site to the
home-infusion site (``stock_move`` with the patient's id), and ``home_stock`` keeps, per patient and lot,
what is on hand at that home and how much of it is held after a temperature excursion; its CHECKs refuse
a negative balance like ``stock_balance`` does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

NURSE_SKILLS = ("ivig_home", "scig_training", "paediatric", "first_dose")
VISIT_KINDS = ("ivig", "scig_training", "scig_check")
DELIVERY_STATUSES = ("planned", "packed", "shipped", "delivered", "received", "excursion", "cancelled")
ROUTING_RUN_STATUSES = ("draft", "published", "discarded")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class HomeNurse(Base):
    """A nurse of the home-infusion service: home base (coordinates), skills, visits a day at most."""

    __tablename__ = "home_nurse"
    __table_args__ = (
        CheckConstraint("max_visits_per_day >= 1", name="max_visits"),
        CheckConstraint("home_lat between -90 and 90 and home_lon between -180 and 180", name="home_point"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), unique=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(64), default="")
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_visits_per_day: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    shifts: Mapped[list[HomeNurseShift]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="HomeNurseShift.weekday"
    )


class HomeNurseShift(Base):
    """A nurse's working hours on one weekday (0 = Monday), minutes after local midnight, and her break."""

    __tablename__ = "home_nurse_shift"
    __table_args__ = (
        UniqueConstraint("nurse_id", "weekday"),
        CheckConstraint("weekday between 0 and 6", name="weekday"),
        CheckConstraint("start_min >= 0 and end_min <= 1440 and start_min < end_min", name="hours"),
        CheckConstraint("break_min >= 0", name="break"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nurse_id: Mapped[int] = mapped_column(ForeignKey("home_nurse.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_min: Mapped[int] = mapped_column(Integer)
    end_min: Mapped[int] = mapped_column(Integer)
    break_min: Mapped[int] = mapped_column(Integer, default=0)


class HomeNurseAbsence(Base):
    """A day a nurse does not work (sick, leave): her visits that day must be re-routed."""

    __tablename__ = "home_nurse_absence"
    __table_args__ = (UniqueConstraint("nurse_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nurse_id: Mapped[int] = mapped_column(ForeignKey("home_nurse.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HomeVisit(Base):
    """The home side of an appointment at the home-infusion site: who goes, in which order, arriving when."""

    __tablename__ = "home_visit"
    __table_args__ = (CheckConstraint(f"kind in ({_in(VISIT_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="RESTRICT"), unique=True
    )
    nurse_id: Mapped[int | None] = mapped_column(ForeignKey("home_nurse.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int | None] = mapped_column(Integer)  # 1 for the nurse's first visit of the day
    travel_min: Mapped[int | None] = mapped_column(Integer)  # from the previous stop
    routing_run_id: Mapped[int | None] = mapped_column(ForeignKey("routing_run.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NurseSlot(Base):
    """One slot of one nurse held by one booked home visit: the unique key refuses overlapping visits."""

    __tablename__ = "nurse_slot"
    __table_args__ = (UniqueConstraint("nurse_id", "date", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nurse_id: Mapped[int] = mapped_column(ForeignKey("home_nurse.id", ondelete="RESTRICT"))
    date: Mapped[date] = mapped_column(Date)
    slot: Mapped[int] = mapped_column(Integer)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)


class RoutingRun(Base):
    """A proposal of home-visit routes for a horizon, solved by a background job; published or discarded."""

    __tablename__ = "routing_run"
    __table_args__ = (CheckConstraint(f"status in ({_in(ROUTING_RUN_STATUSES)})", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    start_date: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    instance: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)  # optimiser, greedy and bound, side by side
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class HomeDelivery(Base):
    """Vials and supplies shipped from a pharmacy site to a patient's home, with its cold chain."""

    __tablename__ = "home_delivery"
    __table_args__ = (CheckConstraint(f"status in ({_in(DELIVERY_STATUSES)})", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    from_site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"))
    needed_by: Mapped[date] = mapped_column(Date, index=True)  # the visit's or the self-infusion's date
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    carrier: Mapped[str] = mapped_column(String(100), default="")
    carrier_reference: Mapped[str] = mapped_column(String(100), default="")
    supplies: Mapped[str] = mapped_column(Text, default="")
    packed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    excursion: Mapped[bool] = mapped_column(Boolean, default=False)
    excursion_note: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once

    lines: Mapped[list[HomeDeliveryLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="HomeDeliveryLine.id"
    )


class HomeDeliveryLine(Base):
    __tablename__ = "home_delivery_line"
    __table_args__ = (CheckConstraint("vials > 0", name="vials"), UniqueConstraint("delivery_id", "lot_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("home_delivery.id", ondelete="CASCADE"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lot.id", ondelete="RESTRICT"))
    vials: Mapped[int] = mapped_column(Integer)


class DeliveryTemperature(Base):
    """One reading of the shipment's temperature logger (append-only)."""

    __tablename__ = "delivery_temperature"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("home_delivery.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    celsius: Mapped[float] = mapped_column(Float)


class HomeStock(Base):
    """Vials of a lot at one patient's home; ``held`` are quarantined after an excursion until a pharmacist
    releases or wastes them."""

    __tablename__ = "home_stock"
    __table_args__ = (
        UniqueConstraint("patient_id", "lot_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("held >= 0 and held <= on_hand", name="held_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lot.id", ondelete="RESTRICT"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)


class SelfInfusion(Base):
    """One infusion the patient gave themselves at home (SCIG), as they logged it. Append-only: a
    correction is a new row naming the row it amends. ``client_id`` makes a retried submission land once."""

    __tablename__ = "self_infusion"
    __table_args__ = (
        CheckConstraint("volume_ml > 0", name="volume"),
        CheckConstraint("sites >= 1", name="sites"),
        CheckConstraint("duration_min > 0", name="duration"),
        CheckConstraint("reaction_grade between 0 and 5", name="reaction_grade"),
        Index("ix_self_infusion_patient_at", "patient_id", "infused_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("dose_plan_version.id", ondelete="RESTRICT"))
    infused_at: Mapped[datetime] = mapped_column(UTCDateTime())
    product_id: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_lot.id", ondelete="RESTRICT"))
    lot_number: Mapped[str] = mapped_column(String(64), default="")
    vials: Mapped[int] = mapped_column(Integer, default=0)
    volume_ml: Mapped[float] = mapped_column(Float)
    sites: Mapped[int] = mapped_column(Integer)
    duration_min: Mapped[int] = mapped_column(Integer)
    reaction_grade: Mapped[int] = mapped_column(Integer, default=0)
    reactions: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("self_infusion.id", ondelete="RESTRICT"))
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
