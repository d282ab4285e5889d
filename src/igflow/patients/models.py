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
    __tablename__ = "coverage"
    __table_args__ = (CheckConstraint("benefit in ('medical', 'pharmacy')", name="benefit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payer.id", ondelete="RESTRICT"))
    plan_name: Mapped[str] = mapped_column(String(200), default="")
    member_id: Mapped[str] = mapped_column(String(64))
    benefit: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
