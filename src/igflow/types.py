"""Types shared across capabilities: database column types, and the API's bounded input types."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC instants; refuses naive datetimes so local times never sneak in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- API input types shared by the schemas ----------------------------------------------------------
#
# Bounds of what the domain allows, so that implausible input (a referral in year 1, a vial of 1e308 g,
# a boolean where an id belongs) is refused at the edge with the bound named in the message. These are
# data-entry limits, not clinical thresholds: the catalog and the clinical engine judge doses and rates.

MAX_ID = 2**63 - 1  # ids are 64-bit in the database
EARLIEST_DATE = date(2000, 1, 1)  # igflow's records (referrals, runs, lots) begin after this
LATEST_DATE = date(2099, 12, 31)
EARLIEST_BIRTH = date(1900, 1, 1)
MAX_VIAL_SIZE_G = 100.0  # no immunoglobulin vial holds more; the catalog lists the real sizes
MIN_DOSE_G_PER_KG = 0.01  # below this an entry is a unit slip (mg for g), not a dose
MAX_DOSE_G_PER_KG = 10.0  # above this likewise; the engine and the catalog judge real doses
MAX_COUNT = 100_000  # vials, items and similar counts in one request
MAX_CENTS = 10**10  # a hundred million in money, per item: far above any price


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


def _date_text(value: Any) -> Any:
    # Pydantic reads a bare number as seconds since 1970 (``0`` is 1970-01-01); a date must be written out.
    if isinstance(value, (bool, int, float)):
        raise ValueError("must be a date written YYYY-MM-DD, not a number")
    return value


def _date_between(earliest: date, latest: date | None) -> AfterValidator:
    """Dates from ``earliest`` to ``latest`` (None: today), the bounds written out in the message."""

    def check(value: date) -> date:
        last = latest or date.today()
        if not earliest <= value <= last:
            upper = last.isoformat() if latest else f"today ({last.isoformat()})"
            raise ValueError(f"must be from {earliest.isoformat()} to {upper}")
        return value

    return AfterValidator(check)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Id = Annotated[
    int,
    BeforeValidator(_no_bool),
    Field(ge=1, le=MAX_ID, description="An id: a whole number from 1"),
]
"""A database id in a request body: a whole number, never a boolean, within 64 bits."""

Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=MAX_COUNT)]
"""A count in a request (vials, items): 0 to MAX_COUNT; a schema may narrow it further."""

RecordDate = Annotated[
    date,
    BeforeValidator(_date_text),
    _date_between(EARLIEST_DATE, LATEST_DATE),
    Field(description="A date from 2000-01-01 to 2099-12-31"),
]
"""A date of igflow's records (received on, measured on, start of a run, label expiry, closed day)."""

DateOfBirth = Annotated[
    date,
    BeforeValidator(_date_text),
    _date_between(EARLIEST_BIRTH, None),
    Field(description="From 1900-01-01 to today"),
]

VialSizeG = Annotated[
    float,
    BeforeValidator(_no_bool),
    Field(gt=0, le=MAX_VIAL_SIZE_G, description="Grams of immunoglobulin in one vial"),
    AfterValidator(_finite),
]

DosePerKg = Annotated[
    float,
    BeforeValidator(_no_bool),
    Field(
        ge=MIN_DOSE_G_PER_KG,
        le=MAX_DOSE_G_PER_KG,
        description="Grams per kilogram of dosing weight (a data-entry bound; the engine judges the dose)",
    ),
    AfterValidator(_finite),
]
