"""Cold chain of a delivery, pure: the temperature logger's readings against each product's storage range.

A reading above a product's ``max_c``, below its ``min_c``, or at or below the freezing limit (for every
product, whatever its label gives) is out of range, and the delivery is an excursion. A product whose
storage range the catalog does not hold cannot be judged here: :func:`judge` names it, and the pharmacist
decides (igflow never guesses a range). No database, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from igflow.catalog.models import StorageRange


@dataclass(frozen=True)
class Reading:
    at: dt.datetime
    celsius: float


@dataclass(frozen=True)
class OutOfRange:
    reading: Reading
    product_ids: tuple[str, ...]  # the products this reading is outside the range of
    why: str  # "above 8 °C", "at or below freezing (0 °C)"


@dataclass(frozen=True)
class Judgement:
    out_of_range: tuple[OutOfRange, ...]
    unknown_products: tuple[str, ...]  # products without a storage range in the catalog
    lowest_c: float | None
    highest_c: float | None

    @property
    def excursion(self) -> bool:
        return bool(self.out_of_range)


def _why(reading: Reading, bounds: StorageRange, freezing_c: float) -> str | None:
    if reading.celsius <= freezing_c:
        return f"at or below freezing ({freezing_c:g} °C)"
    if reading.celsius > bounds.max_c:
        return f"above {bounds.max_c:g} °C"
    if bounds.min_c is not None and reading.celsius < bounds.min_c:
        return f"below {bounds.min_c:g} °C"
    return None


def judge(
    readings: Iterable[Reading], ranges: Mapping[str, StorageRange | None], freezing_c: float
) -> Judgement:
    """Each reading against the range of every product in the delivery (``ranges``: product id -> range,
    None where the catalog has none). A product without a range is still judged against freezing."""
    readings = sorted(readings, key=lambda r: r.at)
    unknown = tuple(sorted(p for p, bounds in ranges.items() if bounds is None))
    outside: list[OutOfRange] = []
    for reading in readings:
        whys: dict[str, list[str]] = {}
        for product, bounds in sorted(ranges.items()):
            if bounds is None:
                why = f"at or below freezing ({freezing_c:g} °C)" if reading.celsius <= freezing_c else None
            else:
                why = _why(reading, bounds, freezing_c)
            if why is not None:
                whys.setdefault(why, []).append(product)
        for why, products in whys.items():
            outside.append(OutOfRange(reading, tuple(products), why))
    temps = [r.celsius for r in readings]
    return Judgement(
        out_of_range=tuple(outside),
        unknown_products=unknown,
        lowest_c=min(temps) if temps else None,
        highest_c=max(temps) if temps else None,
    )


def range_words(bounds: StorageRange | None) -> str:
    """'2–8 °C', 'up to 25 °C', or that the catalog has none."""
    if bounds is None:
        return "no storage range in the catalog: the pharmacist judges the readings"
    if bounds.min_c is None:
        return f"up to {bounds.max_c:g} °C"
    return f"{bounds.min_c:g}–{bounds.max_c:g} °C"


def parse_logger_text(text: str) -> list[tuple[dt.datetime, float]]:
    """Readings pasted from a logger's export, one per line: ``2026-11-03 14:00, 5.2`` (date and time, then
    °C; a comma, semicolon or tab between them; a header line and blank lines are skipped). The times are
    as the logger wrote them (no zone). ``ValueError`` names the first line that cannot be read."""
    out: list[tuple[dt.datetime, float]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        for separator in (";", "\t"):
            line = line.replace(separator, ",")
        parts = [p.strip() for p in line.rsplit(",", 1)]
        try:
            if len(parts) != 2:
                raise ValueError(line)
            at = dt.datetime.fromisoformat(parts[0].replace("T", " "))
            celsius = float(parts[1].replace("°C", "").replace("C", "").strip())
        except ValueError:
            if number == 1 and not any(ch.isdigit() for ch in line):
                continue  # a header line
            raise ValueError(
                f"line {number}: write the date and time, then the temperature in °C (2026-11-03 14:00, 5.2)"
            ) from None
        out.append((at, celsius))
    return out
