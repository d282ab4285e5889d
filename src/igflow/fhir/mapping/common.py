"""Small pieces every mapping uses: references, instants, codings, quantities, narrative."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from igflow.fhir.codes import UCUM, Code, Unit
from igflow.infusions.models import ChartEntry

JSON = dict[str, Any]


def ref(resource_type: str, ident: object, display: str | None = None) -> JSON:
    out: JSON = {"reference": f"{resource_type}/{ident}"}
    if display:
        out["display"] = display
    return out


def instant(value: dt.datetime) -> dt.datetime:
    """A FHIR instant: igflow keeps UTC, and a naive time read back from SQLite is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def local_instant(day: dt.date, minutes_after_midnight: int, timezone: str) -> dt.datetime:
    """A site-local date and minute of the day as an instant with the site's UTC offset."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone))
    return (midnight + dt.timedelta(minutes=minutes_after_midnight)).astimezone(ZoneInfo(timezone))


def entry_time(entry: ChartEntry) -> dt.datetime:
    """When a chart entry happened: a back-timed entry says so, any other happened when it was recorded."""
    return instant(entry.occurred_at or entry.created_at)


def correction_words(correction: ChartEntry) -> str:
    """A chart correction as a note: what the entry should have said, and why."""
    return f"Correction: {correction.payload.get('text', '')} (reason: {correction.reason})"


def coding(code: Code) -> JSON:
    out: JSON = {"system": code.system, "code": code.code}
    if code.display:
        out["display"] = code.display
    return out


def concept(codes: Iterable[Code], text: str | None = None) -> JSON:
    out: JSON = {"coding": [coding(c) for c in codes]}
    if text:
        out["text"] = text
    return out


def number(value: float) -> int | float:
    """A decimal for JSON: whole numbers without a trailing .0."""
    return int(value) if float(value).is_integer() else float(value)


def quantity(value: float, unit: Unit | None, text: str | None = None) -> JSON:
    out: JSON = {"value": number(value)}
    if unit is not None:
        out |= {"unit": unit.text, "system": UCUM, "code": unit.code}
    elif text:
        out["unit"] = text
    return out


GRAMS = Unit("g", "g")
MILLILITRES = Unit("mL", "mL")
ML_PER_HOUR = Unit("mL/h", "mL/h")
MINUTES = Unit("min", "min")
VIALS = Unit("{vial}", "vial")


def narrative(lines: Iterable[str]) -> JSON:
    """A generated narrative: each line as a paragraph, escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def pruned(node: Any) -> Any:
    """``node`` without empty strings, lists, objects and None: FHIR allows no empty elements."""
    if isinstance(node, dict):
        kept = {k: pruned(v) for k, v in node.items()}
        return {k: v for k, v in kept.items() if v not in ("", [], {}, None)}
    if isinstance(node, list):
        items = [pruned(v) for v in node]
        return [v for v in items if v not in ("", [], {}, None)]
    if isinstance(node, str):
        return node.strip()
    return node
