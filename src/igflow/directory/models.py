"""Tables of the directory capability."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base


class Prescriber(Base):
    __tablename__ = "prescriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    npi: Mapped[str | None] = mapped_column(String(20), unique=True)  # NPI or another national identifier
    specialty: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Payer(Base):
    """A payer and how igflow treats its prior authorisations: the catalog policy its packets are checked
    on, whether CMS-0057-F time frames bind it, whether booking beyond an authorisation is a warning to
    acknowledge or a hard stop, its re-authorisation lead time, and its own standard time frame."""

    __tablename__ = "payer"
    __table_args__ = (
        CheckConstraint("overrun_rule in ('warn', 'hard_stop')", name="overrun_rule"),
        CheckConstraint("reauth_lead_days IS NULL OR reauth_lead_days >= 1", name="reauth_lead_days"),
        CheckConstraint("standard_days IS NULL OR standard_days >= 1", name="standard_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The dosing-weight policy this payer requires; None means the organisation's default.
    dosing_policy_id: Mapped[str | None] = mapped_column(String(64))
    auth_policy_id: Mapped[str] = mapped_column(String(64), default="generic")  # catalog payers.yaml
    cms_0057f: Mapped[bool] = mapped_column(Boolean, default=False)  # MA, Medicaid/CHIP, federal QHP
    overrun_rule: Mapped[str] = mapped_column(String(16), default="warn")
    reauth_lead_days: Mapped[int | None] = mapped_column(Integer)  # None: the catalog's default
    standard_days: Mapped[int | None] = mapped_column(Integer)  # the payer's own time frame, if known
    active: Mapped[bool] = mapped_column(Boolean, default=True)
