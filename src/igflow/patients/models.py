"""Tables of the patients capability."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint("sex in ('female', 'male', 'other', 'unknown')", name="sex"),
        CheckConstraint("iga_deficiency_anti_iga in ('yes', 'no', 'unknown')", name="iga"),
        CheckConstraint(
            "pregnancy_status in ('not_pregnant', 'pregnant', 'unknown', 'not_applicable')", name="pregnancy"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    search_name: Mapped[str] = mapped_column(String(210), index=True)  # "family given", lower case
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    # The home's coordinates, entered or imported (igflow does not geocode), for home-visit routes.
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    # Clinical facts used by screening.
    allergies: Mapped[str] = mapped_column(Text, default="")
    prior_severe_ig_reaction: Mapped[bool] = mapped_column(Boolean, default=False)
    iga_deficiency_anti_iga: Mapped[str] = mapped_column(String(8), default="unknown")
    pregnancy_status: Mapped[str] = mapped_column(String(16), default="unknown")
    renal_impairment: Mapped[bool] = mapped_column(Boolean, default=False)
    diabetes: Mapped[bool] = mapped_column(Boolean, default=False)
    heart_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    thrombosis_history: Mapped[bool] = mapped_column(Boolean, default=False)
    hyperviscosity: Mapped[bool] = mapped_column(Boolean, default=False)
    hyperprolinaemia: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once

    sites: Mapped[list[PatientSite]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PatientSite.rank"
    )


class PatientSite(Base):
    """The sites where a patient may be seen, in order of preference (rank 1 first)."""

    __tablename__ = "patient_site"
    __table_args__ = (UniqueConstraint("patient_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"), index=True)
    rank: Mapped[int] = mapped_column(Integer)


class Measurement(Base):
    """A dated measurement. Append-only: a correction is a new row that names the row it amends."""

    __tablename__ = "measurement"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    measured_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("measurement.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(400), default="")


class Coverage(Base):
    """A patient's insurance: payer, plan, member and group, primary or secondary (``rank`` 1 or 2),
    effective dates, drug benefit (medical or pharmacy), the plan's site-of-care rule, cost sharing, and a
    manufacturer copay-assistance enrolment. Money in integer cents."""

    __tablename__ = "coverage"
    __table_args__ = (
        CheckConstraint("benefit in ('medical', 'pharmacy')", name="benefit"),
        CheckConstraint("site_of_care in ('facility', 'home', 'either')", name="site_of_care"),
        CheckConstraint("rank >= 1", name="rank"),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name="effective_dates",
        ),
        CheckConstraint(
            "coinsurance_percent IS NULL OR (coinsurance_percent >= 0 AND coinsurance_percent <= 100)",
            name="coinsurance",
        ),
        CheckConstraint("copay_cents IS NULL OR copay_cents >= 0", name="copay"),
        CheckConstraint("oop_max_cents IS NULL OR oop_max_cents >= 0", name="oop_max"),
        CheckConstraint(
            "assistance_limit_cents IS NULL OR assistance_limit_cents >= 0", name="assistance_limit"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payer.id", ondelete="RESTRICT"))
    plan_name: Mapped[str] = mapped_column(String(200), default="")
    member_id: Mapped[str] = mapped_column(String(64))
    group_number: Mapped[str] = mapped_column(String(64), default="")
    benefit: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    site_of_care: Mapped[str] = mapped_column(String(16), default="either")
    copay_cents: Mapped[int | None] = mapped_column(Integer)
    coinsurance_percent: Mapped[int | None] = mapped_column(Integer)
    oop_max_cents: Mapped[int | None] = mapped_column(Integer)
    assistance_program: Mapped[str] = mapped_column(String(200), default="")
    assistance_id: Mapped[str] = mapped_column(String(64), default="")
    assistance_limit_cents: Mapped[int | None] = mapped_column(Integer)
    assistance_expires_on: Mapped[date | None] = mapped_column(Date)


class PatientFactChange(Base):
    """One changed field of a patient's record: what it was, what it became, who changed it, when and why.
    Append-only (never updated or deleted): the history behind the facts screening and dosing read.
    Values are canonical JSON text (``true``, ``"yes"``, ``[3, 1]``) so every field reads the same way."""

    __tablename__ = "patient_fact_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"), index=True)
    patient_version: Mapped[int] = mapped_column(Integer)  # the record's version after the change
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(400), default="")
    changed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
