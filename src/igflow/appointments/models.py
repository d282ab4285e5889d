"""Tables of the appointments capability.

Bookings are guarded by the database itself: each booked appointment holds one ``chair_slot`` row per slot
it occupies (unique per chair, date and slot) and adds to ``site_slot_load`` rows whose CHECK constraints
cap patients in chairs and infusion starts per slot by the nurses on duty. Two concurrent bookings of the
same chair or the last nurse capacity cannot both commit, on SQLite or PostgreSQL.
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

COURSE_STATUSES = ("waiting", "booked", "completed", "cancelled")
APPOINTMENT_STATUSES = ("booked", "cancelled", "no_show", "completed")


class Course(Base):
    """One cycle of a verified plan: its sessions are scheduled together, whole or not at all."""

    __tablename__ = "course"
    __table_args__ = (
        CheckConstraint("status in ('waiting', 'booked', 'completed', 'cancelled')", name="status"),
        CheckConstraint("priority between 1 and 3", name="priority"),
        CheckConstraint("earliest <= latest", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ig_order.id", ondelete="RESTRICT"), index=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("dose_plan_version.id", ondelete="RESTRICT"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    target: Mapped[date] = mapped_column(Date)
    earliest: Mapped[date] = mapped_column(Date)
    latest: Mapped[date] = mapped_column(Date)
    window_reason: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CourseSession(Base):
    __tablename__ = "course_session"
    __table_args__ = (UniqueConstraint("course_id", "day_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="RESTRICT"), index=True)
    day_index: Mapped[int] = mapped_column(Integer)  # 1 for the first day of the course
    duration_min: Mapped[int] = mapped_column(
        Integer
    )  # chair time from the plan (set-up, infusion, observation)
    dose_g: Mapped[float] = mapped_column(Float)


class Appointment(Base):
    __tablename__ = "appointment"
    __table_args__ = (
        CheckConstraint("status in ('booked', 'cancelled', 'no_show', 'completed')", name="status"),
        CheckConstraint("start_min >= 0 and duration_min > 0", name="times"),
        # A patient has at most one booked session per date (contract constraint 6), in the database.
        Index(
            "uq_appointment_patient_day_booked",
            "patient_id",
            "date",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_appointment_site_date", "site_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_session_id: Mapped[int] = mapped_column(
        ForeignKey("course_session.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    # None for a visit at the patient's home (the home-infusion site has no chairs; see home_visit)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("chair.id", ondelete="RESTRICT"))
    date: Mapped[date] = mapped_column(Date)  # site-local date
    start_min: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    duration_min: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="booked", index=True)
    source: Mapped[str] = mapped_column(String(32))  # booking | planning-run N
    status_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChairSlot(Base):
    """One slot of one chair held by one booked appointment: the unique key refuses double-booking."""

    __tablename__ = "chair_slot"
    __table_args__ = (UniqueConstraint("chair_id", "date", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chair_id: Mapped[int] = mapped_column(ForeignKey("chair.id", ondelete="RESTRICT"))
    date: Mapped[date] = mapped_column(Date)
    slot: Mapped[int] = mapped_column(Integer)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)


class SiteSlotLoad(Base):
    """Patients in chairs and infusion starts at a site in one slot, capped by the nurses on duty."""

    __tablename__ = "site_slot_load"
    __table_args__ = (
        UniqueConstraint("site_id", "date", "slot"),
        CheckConstraint("in_chairs >= 0 and in_chairs <= max_in_chairs", name="nurse_load"),
        CheckConstraint("starts >= 0 and starts <= max_starts", name="nurse_starts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    date: Mapped[date] = mapped_column(Date)
    slot: Mapped[int] = mapped_column(Integer)
    in_chairs: Mapped[int] = mapped_column(Integer, default=0)
    starts: Mapped[int] = mapped_column(Integer, default=0)
    max_in_chairs: Mapped[int] = mapped_column(Integer)
    max_starts: Mapped[int] = mapped_column(Integer)


class PlanningRun(Base):
    __tablename__ = "planning_run"
    __table_args__ = (CheckConstraint("status in ('draft', 'published', 'discarded')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    start_date: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    instance: Mapped[dict[str, Any]] = mapped_column(JSON)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)  # optimiser, greedy and bound, side by side
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what publishing booked or could not book


class SchedulePreference(Base):
    """A patient's standing scheduling wishes, captured by a scheduler: the weekdays and the time of day
    they can come, and whether each cycle should keep the last cycle's start time. The centres they may
    be seen at, in order, are the patient's sites (``patient_site``). Soft wishes: suggestions and
    planning runs honour them when they can and count the misses when they cannot."""

    __tablename__ = "schedule_preference"
    __table_args__ = (
        CheckConstraint(
            "(preferred_from_min is null and preferred_to_min is null) or "
            "(preferred_from_min >= 0 and preferred_from_min < preferred_to_min "
            "and preferred_to_min <= 1440)",
            name="preferred_window",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), unique=True)
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)  # 0 = Monday; empty: any weekday
    preferred_from_min: Mapped[int | None] = mapped_column(Integer)  # minutes after local midnight
    preferred_to_min: Mapped[int | None] = mapped_column(Integer)
    same_time_every_cycle: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UnavailableDate(Base):
    """A date a patient cannot come (recorded when a session is cancelled for that reason, or ahead of
    time): never offered in suggestions, never booked by a planning run."""

    __tablename__ = "patient_unavailable_date"
    __table_args__ = (UniqueConstraint("patient_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SiteClosure(Base):
    """A centre closed for a date range (fire, flood, a broken water main): the dates become closed dates,
    the courses booked there are released, and a planning run proposes new places for them."""

    __tablename__ = "site_closure"
    __table_args__ = (CheckConstraint("start_date <= end_date", name="dates"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    # the booked appointments the closure cancelled, and the courses they belonged to
    released_appointment_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    released_course_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    job_id: Mapped[int | None] = mapped_column(Integer)  # the re-plan's background job
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
