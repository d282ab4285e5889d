"""Drug cost, pure: the price in force on a date, what a dose and its vials cost, partial-vial waste, and
sums per cycle, per year and per month, site and payer. No database, no HTTP, no clock.

Arithmetic is integer throughout: mass in **milligrams** (``int``), money in **cents** (``int``), a price in
cents per gram. A cost is ``milligrams x cents per gram / 1000`` rounded half-up to the cent, computed as
``(mg * cents_per_gram + 500) // 1000`` (exact for non-negative integers; no float is ever multiplied by a
price). Grams from the plans and charts (floats such as 2.5 or 155.0) enter through :func:`to_mg`, which
reads the float's shortest decimal form with ``Decimal`` and rounds half-up to the milligram.

A date before a product's first price has no price. Nothing here invents one: a cost without a price is
:class:`Unknown` (``unknown, no price on <date>``), and sums count such items apart instead of as zero.

Partial-vial waste is the vial mass dispensed minus the mass given (never below zero). Its cost is the cost
of the wasted milligrams; the cost of what was given is the dispensed cost minus the waste cost, so the two
always add up to the dispensed cost to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

MG_PER_G = 1000
K = TypeVar("K", bound="SupportsRichComparison")


@dataclass(frozen=True)
class Price:
    """One gram of ``product_id`` costs ``cents_per_gram`` from ``effective_from`` (inclusive) until the
    next price of the same product."""

    product_id: str
    cents_per_gram: int
    effective_from: date
    source: str = ""


@dataclass(frozen=True)
class Unknown:
    """A cost that cannot be given: no price of the product was in force on the date."""

    product_id: str
    on: date

    @property
    def text(self) -> str:
        return f"unknown, no price on {self.on.isoformat()}"


# --- grams, milligrams, cents ---------------------------------------------------------------------------


def to_mg(grams: float | int | str | Decimal) -> int:
    """Grams as whole milligrams, rounded half-up (``2.5`` -> 2500, ``0.0005`` -> 1). Refuses negatives."""
    try:
        value = Decimal(str(grams)) if not isinstance(grams, Decimal) else grams
    except InvalidOperation:
        raise ValueError(f"{grams!r} is not a mass in grams") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{grams!r} is not a mass in grams (a finite number, zero or more)")
    return int((value * MG_PER_G).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_for_mg(mg: int, cents_per_gram: int) -> int:
    """The cost of ``mg`` milligrams at ``cents_per_gram``, rounded half-up to the cent (integers only)."""
    if mg < 0 or cents_per_gram < 0:
        raise ValueError("mass and price are never negative")
    return (mg * cents_per_gram + MG_PER_G // 2) // MG_PER_G


def format_cents(cents: int) -> str:
    """Integer cents as US dollars with cents: 541250 -> ``$5,412.50``; -150 -> ``-$1.50``."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def parse_dollars(text: str) -> int:
    """``"82.50"``, ``"$8,250"`` or ``"8250.5"`` as integer cents; refuses fractions of a cent and junk."""
    cleaned = text.strip().replace("$", "", 1).replace(",", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"'{text.strip()}' is not an amount in dollars") from None
    if not value.is_finite():
        raise ValueError(f"'{text.strip()}' is not an amount in dollars")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"'{text.strip()}' has a fraction of a cent")
    return int(cents)


# --- prices ---------------------------------------------------------------------------------------------


def price_on(prices: Iterable[Price], product_id: str, on: date) -> Price | None:
    """The price of ``product_id`` in force on ``on``: the one with the latest ``effective_from`` on or
    before ``on``. None before the product's first price (or when it has none)."""
    best: Price | None = None
    for p in prices:
        in_force = p.product_id == product_id and p.effective_from <= on
        if in_force and (best is None or p.effective_from > best.effective_from):
            best = p
    return best


def history(prices: Iterable[Price], product_id: str) -> list[tuple[Price, date | None]]:
    """The product's prices oldest first, each with the last day it was in force (None: still in force)."""
    mine = sorted((p for p in prices if p.product_id == product_id), key=lambda p: p.effective_from)
    out: list[tuple[Price, date | None]] = []
    for k, p in enumerate(mine):
        following = mine[k + 1].effective_from if k + 1 < len(mine) else None
        out.append((p, None if following is None else date.fromordinal(following.toordinal() - 1)))
    return out


# --- what a dose costs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vials:
    """``count`` vials of ``size_mg`` each (a return is a negative count when netting moves)."""

    size_mg: int
    count: int

    @property
    def mg(self) -> int:
        return self.size_mg * self.count


@dataclass(frozen=True)
class DrugCost:
    """The drug cost of one dose: the vials dispensed, the mass given, the partial-vial waste, at the
    price in force on ``on``. ``given_mg`` None: not known yet (the infusion has not ended)."""

    product_id: str
    on: date
    price: Price | None
    dispensed_mg: int
    given_mg: int | None

    @property
    def unknown(self) -> Unknown | None:
        return Unknown(self.product_id, self.on) if self.price is None else None

    @property
    def waste_mg(self) -> int | None:
        if self.given_mg is None:
            return None
        return max(0, self.dispensed_mg - self.given_mg)

    @property
    def dispensed_cents(self) -> int | None:
        if self.price is None:
            return None
        return cents_for_mg(self.dispensed_mg, self.price.cents_per_gram)

    @property
    def waste_cents(self) -> int | None:
        if self.price is None or self.waste_mg is None:
            return None
        return cents_for_mg(self.waste_mg, self.price.cents_per_gram)

    @property
    def given_cents(self) -> int | None:
        """Dispensed minus waste, so given + waste == dispensed to the cent."""
        dispensed, waste = self.dispensed_cents, self.waste_cents
        if dispensed is None or waste is None:
            return None
        return dispensed - waste


def dose_cents(grams_mg: int, price: Price | None) -> int | None:
    """The cost of a dose of ``grams_mg`` milligrams; None without a price."""
    return None if price is None else cents_for_mg(grams_mg, price.cents_per_gram)


def dispensed_mg(vials: Iterable[Vials]) -> int:
    """The vial mass dispensed (returns netted out; never below zero)."""
    return max(0, sum(v.mg for v in vials))


def drug_cost(
    prices: Iterable[Price],
    product_id: str,
    on: date,
    vials: Iterable[Vials],
    given_mg: int | None,
) -> DrugCost:
    """The cost of ``vials`` of ``product_id`` dispensed on ``on`` of which ``given_mg`` were given."""
    return DrugCost(
        product_id=product_id,
        on=on,
        price=price_on(prices, product_id, on),
        dispensed_mg=dispensed_mg(vials),
        given_mg=given_mg,
    )


# --- sums -----------------------------------------------------------------------------------------------


@dataclass
class Total:
    """A sum of costs: the cents of the items with a price, how many there were, and the items without a
    price (left out of ``cents``, never counted as zero)."""

    cents: int = 0
    waste_cents: int = 0
    mg: int = 0
    counted: int = 0
    unknown: list[Unknown] = field(default_factory=list)

    def add(self, cost: DrugCost) -> None:
        if cost.price is None:
            self.unknown.append(Unknown(cost.product_id, cost.on))
            return
        self.cents += cost.dispensed_cents or 0
        self.waste_cents += cost.waste_cents or 0
        self.mg += cost.dispensed_mg
        self.counted += 1

    @property
    def complete(self) -> bool:
        return not self.unknown


def total(costs: Iterable[DrugCost]) -> Total:
    out = Total()
    for c in costs:
        out.add(c)
    return out


def grouped(costs: Iterable[tuple[K, DrugCost]]) -> dict[K, Total]:
    """Totals per key (sorted), for sums per cycle, year or (month, site, payer)."""
    out: dict[K, Total] = {}
    for key, cost in costs:
        out.setdefault(key, Total()).add(cost)
    return {k: out[k] for k in sorted(out)}


def per_year(costs: Iterable[DrugCost]) -> dict[int, Total]:
    """Totals per calendar year of the cost's date."""
    return grouped((c.on.year, c) for c in costs)


def month_of(on: date) -> str:
    """``2026-03``: the month a cost falls in."""
    return f"{on.year:04d}-{on.month:02d}"


@dataclass(frozen=True)
class Costed:
    """One dose for the monthly report: its cost, the site it was (or is to be) given at and the payer."""

    cost: DrugCost
    site: str
    payer: str


def monthly_totals(items: Iterable[Costed]) -> dict[tuple[str, str, str], Total]:
    """Totals per (month, site, payer), sorted by month then site then payer."""
    return grouped(((month_of(i.cost.on), i.site, i.payer), i.cost) for i in items)


# --- who paid, on a date ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoveragePeriod:
    """A coverage of a patient as the report needs it: payer, rank (1 = primary) and dates (None: open)."""

    payer_id: int
    rank: int
    effective_from: date | None
    effective_to: date | None
    active: bool = True


def payer_on(coverages: Iterable[CoveragePeriod], on: date) -> int | None:
    """The payer of the primary coverage in force on ``on``: the lowest rank whose dates include the day.
    An ended coverage (not active) counts only within dates it records; an active one without dates always.
    None when no coverage was in force."""
    best: CoveragePeriod | None = None
    for c in coverages:
        if c.effective_from is not None and c.effective_from > on:
            continue
        if c.effective_to is not None and c.effective_to < on:
            continue
        if not c.active and c.effective_to is None:
            continue
        key = (c.rank, -(c.effective_from or date.min).toordinal())
        if best is None or key < (best.rank, -(best.effective_from or date.min).toordinal()):
            best = c
    return None if best is None else best.payer_id
