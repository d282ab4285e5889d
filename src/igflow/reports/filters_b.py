"""The filters of the prior-authorisation, drug and safety reports, read from a query string. Pure.

A period is two dates (``start``, ``end``, both included); the default is the 90 days that end today. A
problem (a date that is not one, a start after the end, a period too long, an unknown centre, product,
indication or payer) is an :class:`InvalidInput` naming the field, so the page shows it beside that field.
Choices are checked against the lists the page offers (ids as strings), never taken on trust.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from igflow.errors import InvalidInput

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Choices:
    """What each filter may be: value -> words (centres and payers by id, products and indications by id)."""

    centres: Mapping[str, str] = field(default_factory=dict)
    products: Mapping[str, str] = field(default_factory=dict)
    indications: Mapping[str, str] = field(default_factory=dict)
    payers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    centre: int | None = None
    product: str | None = None
    indication: str | None = None
    payer: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_detail(self) -> dict[str, Any]:
        """The filters for an audit row (no patient data: dates and catalog or directory ids only)."""
        out: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for key in ("centre", "product", "indication", "payer"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for the download links)."""
        return {k: str(v) for k, v in self.as_detail().items()}


def default_period(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{name}: '{text.strip()}' is not a date such as 2026-03-01", name) from None


def _choice(params: Mapping[str, str], name: str, allowed: Mapping[str, str], words: str) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise InvalidInput(f"{name}: choose a {words} from the list", name)
    return value


def parse(params: Mapping[str, str], choices: Choices, today: date, used: tuple[str, ...]) -> Filters:
    """The filters in ``params``; ``used``: which of centre, product, indication, payer the report takes
    (others are ignored)."""
    default_start, default_end = default_period(today)
    start_text, end_text = (params.get("start") or "").strip(), (params.get("end") or "").strip()
    end = _date(end_text, "end") if end_text else default_end
    start = _date(start_text, "start") if start_text else (end - timedelta(days=DEFAULT_DAYS - 1))
    if not start_text and not end_text:
        start = default_start
    if start > end:
        raise InvalidInput(
            f"start: the first day ({start.isoformat()}) is after the last day ({end.isoformat()})", "start"
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"end: a report covers at most {MAX_DAYS} days", "end")
    centre = _choice(params, "centre", choices.centres, "centre") if "centre" in used else None
    product = _choice(params, "product", choices.products, "product") if "product" in used else None
    indication = (
        _choice(params, "indication", choices.indications, "indication") if "indication" in used else None
    )
    payer = _choice(params, "payer", choices.payers, "payer") if "payer" in used else None
    return Filters(
        start=start,
        end=end,
        centre=int(centre) if centre else None,
        product=product,
        indication=indication,
        payer=int(payer) if payer else None,
    )
