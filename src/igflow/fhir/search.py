"""Search parameters: the strict check, paging, and the value types (date, token, reference, string).

Strict handling: a parameter the resource type does not support, a modifier (``name:exact``), a
``_sort``/``_include``/``_summary``... is a 400 OperationOutcome naming it, whatever the ``Prefer`` header
says (``handling=lenient`` is not offered: a client should not get more than it asked for without noticing).
Parameters with an empty value are ignored, as the FHIR search rules say. A parameter repeated means AND; a
comma inside one value means OR (tokens, references, strings). Paging is by offset: ``_count`` (default 50,
at most 200; more is clamped to 200, 0 gives the total alone) and ``_offset``, carried by the ``next``
link.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from igflow.errors import IgflowError

DEFAULT_COUNT = 50
MAX_COUNT = 200
PAGING = ("_count", "_offset")
#: Accepted everywhere; only JSON is served.
FORMAT = "_format"
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
_DATE = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?$"
)
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class BadRequest(IgflowError):
    """A search the server cannot answer as asked: a 400 OperationOutcome naming the parameter."""

    status_code = 400


class NotSupported(IgflowError):
    """A request for something this server does not do (a write): 405, saying what it does instead."""

    status_code = 405


@dataclass(frozen=True)
class DateRange:
    """``start <= x < end`` (days), from a FHIR date of a year, a month or a day with a prefix."""

    start: dt.date | None
    end: dt.date | None


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": no system
    code: str


@dataclass
class Params:
    """A search's parameters, checked against the type's list; values split on commas (OR)."""

    resource_type: str
    values: dict[str, list[list[str]]] = field(default_factory=dict)  # name -> [AND] -> [OR]
    count: int = DEFAULT_COUNT
    offset: int = 0

    def has(self, name: str) -> bool:
        return name in self.values

    def all(self, name: str) -> list[list[str]]:
        return self.values.get(name, [])


def _next_day(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


def _add_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def parse_date(name: str, value: str) -> DateRange:
    match = _DATE.match(value.strip())
    if match is None:
        raise BadRequest(
            f"{name}: {value!r} is not a date this server searches by: give YYYY, YYYY-MM or YYYY-MM-DD, "
            "with an optional prefix eq, ge, gt, le or lt (times are not supported)",
            name,
        )
    prefix = match["prefix"] or "eq"
    if prefix not in ("eq", "ge", "gt", "le", "lt"):
        raise BadRequest(f"{name}: the prefix {prefix!r} is not supported (use eq, ge, gt, le or lt)", name)
    year, month, day = int(match["y"]), match["m"], match["d"]
    try:
        if day is not None:
            first = dt.date(year, int(month or 1), int(day))
            after = _next_day(first)
        elif month is not None:
            first = dt.date(year, int(month), 1)
            after = _add_month(first)
        else:
            first, after = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    except (ValueError, OverflowError):
        raise BadRequest(f"{name}: {value!r} is not a calendar date", name) from None
    return {
        "eq": DateRange(first, after),
        "ge": DateRange(first, None),
        "gt": DateRange(after, None),
        "le": DateRange(None, after),
        "lt": DateRange(None, first),
    }[prefix]


def parse_token(value: str) -> Token:
    if "|" in value:
        system, code = value.split("|", 1)
        return Token(system, code)
    return Token(None, value)


def parse_reference(name: str, value: str, resource_type: str) -> str:
    """The id a reference parameter names: ``123``, ``Patient/123`` or an absolute URL ending so."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2:
        kind, ident = parts[-2], parts[-1]
        if kind != resource_type:
            raise BadRequest(f"{name}: expected a reference to {resource_type}, got {value!r}", name)
    else:
        ident = parts[-1]
    return ident


def numeric_id(value: str) -> int | None:
    """igflow's integer ids; anything else names no row (so it matches nothing rather than failing)."""
    return int(value) if value.isdigit() and len(value) <= 18 else None


def prefixed_id(value: str, prefix: str) -> int | None:
    """The integer of ``prefix-123`` (``site-4``), or None."""
    return numeric_id(value[len(prefix) :]) if value.startswith(prefix) else None


def valid_id(value: str) -> bool:
    return bool(_ID.match(value))


def _int(name: str, value: str, low: int) -> int:
    if not re.fullmatch(r"\d{1,9}", value.strip()):
        raise BadRequest(f"{name}: {value!r} is not a whole number of {low} or more", name)
    return int(value)


def parse(resource_type: str, items: Iterable[tuple[str, str]], supported: Iterable[str]) -> Params:
    """Check every parameter against ``supported`` (strict) and parse paging; values stay text."""
    allowed = set(supported)
    params = Params(resource_type)
    for name, raw in items:
        base = name.split(":", 1)[0]
        if ":" in name and (base in allowed or base in PAGING):
            raise BadRequest(f"{name}: modifiers (':{name.split(':', 1)[1]}') are not supported", name)
        if base == FORMAT:
            if raw and raw.strip().lower() not in JSON_FORMATS:
                raise BadRequest(f"_format: only JSON is served (application/fhir+json), not {raw!r}", name)
            continue
        if base not in allowed and base not in PAGING:
            supported_list = ", ".join(sorted(allowed | set(PAGING)))
            raise BadRequest(
                f"{name}: not a search parameter this server supports for {resource_type} "
                f"(supported: {supported_list}); unknown parameters are refused, not ignored",
                name,
            )
        if not raw.strip():
            continue  # an empty value is ignored
        if base == "_count":
            params.count = min(_int(name, raw, 0), MAX_COUNT)
        elif base == "_offset":
            params.offset = _int(name, raw, 0)
        else:
            params.values.setdefault(base, []).append([v.strip() for v in raw.split(",") if v.strip()])
    return params


def page_links(base_url: str, params: Params, total: int) -> list[dict[str, str]]:
    """self, first, previous and next links: the parameters as understood, with the paging made explicit."""

    def url(offset: int) -> str:
        pairs = [(name, ",".join(group)) for name, groups in params.values.items() for group in groups]
        pairs += [("_count", str(params.count)), ("_offset", str(offset))]
        return f"{base_url}?{urlencode(pairs)}"

    links = [{"relation": "self", "url": url(params.offset)}, {"relation": "first", "url": url(0)}]
    if params.count and params.offset > 0:
        links.append({"relation": "previous", "url": url(max(0, params.offset - params.count))})
    if params.count and params.offset + params.count < total:
        links.append({"relation": "next", "url": url(params.offset + params.count)})
    return links
