"""The drug report, pure: grams dispensed by product, indication, payer and centre; partial-vial waste in
grams and money; expiry losses; cost per cycle and per patient-year; stock turns.

Two kinds of input, both plain rows:

* :class:`DrugDay`: one infusion day with vials dispensed at the chair, priced by the cost capability's pure
  core (``igflow.costs.core.DrugCost``: integer milligrams, integer cents, the price per gram in force on the
  day). Partial-vial waste is the cost core's: the vial mass dispensed minus the mass given (known once the
  infusion has ended); its money is the wasted milligrams at that day's price.
* :class:`Move` and :class:`Lot`: the stock ledger (``stock_move``) and what each lot cost per vial.

Definitions:

* **Cost per cycle** = dispensed cost of the days with a price / number of courses (cycles) with such days.
* **Cost per patient-year** = dispensed cost / (patients treated x days in the period / 365.25): what a
  patient treated in the period costs per year at this rate.
* **Stock value** on a day = vials on hand at the end of the day x the lot's cost per vial, counting a lot
  only up to its effective expiry (after that its vials are an expiry loss, not stock).
  **Average stock value** = the mean of the daily values over the period.
* **Stock turns** = value dispensed in the period at lot cost (dispensed minus returned vials) / average
  stock value; annualised = turns x 365.25 / days in the period.
* **Expiry loss**: the vials still on hand at the end of a lot's effective-expiry day, when that day is in
  the period (whether or not they were written off yet), at lot cost. A later write-off of those vials is
  not counted again. The ledger has no "expired" move kind; this is the loss as the ledger shows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from igflow.costs import core

DAYS_PER_YEAR = 365.25
_IN = ("receipt", "transfer_in", "return")
_OUT = ("transfer_out", "dispense", "waste")


@dataclass(frozen=True)
class DrugDay:
    on: date
    product: str  # words: the product's name
    indication: str
    payer: str
    centre: str
    patient_id: int
    course_id: int
    cost: core.DrugCost


@dataclass
class Sum:
    """Grams and money of a group of days. ``unpriced``: days with no price in force (not counted as 0)."""

    days: int = 0
    dispensed_mg: int = 0
    waste_mg: int = 0
    dispensed_cents: int = 0
    waste_cents: int = 0
    unpriced: int = 0
    patients: set[int] = field(default_factory=set)

    def add(self, d: DrugDay) -> None:
        self.days += 1
        self.dispensed_mg += d.cost.dispensed_mg
        self.waste_mg += d.cost.waste_mg or 0
        self.patients.add(d.patient_id)
        if d.cost.price is None:
            self.unpriced += 1
            return
        self.dispensed_cents += d.cost.dispensed_cents or 0
        self.waste_cents += d.cost.waste_cents or 0

    @property
    def dispensed_g(self) -> float:
        return self.dispensed_mg / core.MG_PER_G

    @property
    def waste_g(self) -> float:
        return self.waste_mg / core.MG_PER_G

    @property
    def waste_percent(self) -> float | None:
        return 100 * self.waste_mg / self.dispensed_mg if self.dispensed_mg else None


DIMENSIONS: dict[str, Callable[[DrugDay], str]] = {
    "product": lambda d: d.product,
    "indication": lambda d: d.indication,
    "payer": lambda d: d.payer,
    "centre": lambda d: d.centre,
}


def by(days: Iterable[DrugDay], dimension: str) -> dict[str, Sum]:
    """Sums per value of ``dimension`` (product, indication, payer, centre), most grams first."""
    key = DIMENSIONS[dimension]
    out: dict[str, Sum] = defaultdict(Sum)
    for d in days:
        out[key(d)].add(d)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1].dispensed_mg, kv[0])))


def total(days: Iterable[DrugDay]) -> Sum:
    out = Sum()
    for d in days:
        out.add(d)
    return out


@dataclass(frozen=True)
class Rates:
    cycles: int
    patients: int
    cost_per_cycle_cents: int | None
    cost_per_patient_year_cents: int | None


def _round_div(numerator: int, denominator: float) -> int:
    return int(numerator / denominator + 0.5)


def rates(days: Iterable[DrugDay], period_days: int) -> Rates:
    """Cost per cycle and per patient-year over the priced days (see the module's definitions)."""
    priced = [d for d in days if d.cost.price is not None]
    cents = sum(d.cost.dispensed_cents or 0 for d in priced)
    cycles = len({d.course_id for d in priced})
    patients = len({d.patient_id for d in priced})
    years = patients * period_days / DAYS_PER_YEAR
    return Rates(
        cycles=cycles,
        patients=patients,
        cost_per_cycle_cents=_round_div(cents, cycles) if cycles else None,
        cost_per_patient_year_cents=_round_div(cents, years) if years else None,
    )


# --- stock ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lot:
    id: int
    product: str  # words
    vial_size_g: float
    cents_per_vial: int
    expiry: date  # effective expiry: the last day a vial may be used


@dataclass(frozen=True)
class Move:
    lot_id: int
    site: str  # the centre's name
    kind: str
    count: int
    on: date
    waste_reason: str | None = None


def delta(move: Move) -> int:
    """What the move does to the vials on hand (allocations, quarantine and recall change none)."""
    if move.kind in _IN:
        return move.count
    if move.kind in _OUT:
        return -move.count
    return 0


@dataclass(frozen=True)
class ExpiryLoss:
    lot: Lot
    site: str
    vials: int

    @property
    def grams(self) -> float:
        return self.vials * self.lot.vial_size_g

    @property
    def cents(self) -> int:
        return self.vials * self.lot.cents_per_vial


@dataclass(frozen=True)
class Stock:
    average_cents: int
    dispensed_cost_cents: int  # dispensed minus returned vials in the period, at lot cost
    turns: float | None
    turns_per_year: float | None
    losses: tuple[ExpiryLoss, ...]
    other_write_offs: dict[str, int]  # waste reason -> vials written off in the period (not partial vials)


def _on_hand(moves: Iterable[Move], until: date) -> dict[tuple[int, str], int]:
    """Vials on hand per (lot, site) at the end of ``until``."""
    out: dict[tuple[int, str], int] = defaultdict(int)
    for m in moves:
        if m.on <= until:
            out[(m.lot_id, m.site)] += delta(m)
    return out


def stock(moves: Iterable[Move], lots: Iterable[Lot], start: date, end: date) -> Stock:
    """Average stock value, stock turns and expiry losses over ``[start, end]`` (see the definitions)."""
    moves = sorted(moves, key=lambda m: m.on)
    by_id = {lot.id: lot for lot in lots}
    moves = [m for m in moves if m.lot_id in by_id]
    held = _on_hand(moves, start - timedelta(days=1))
    daily: dict[date, list[Move]] = defaultdict(list)
    for m in moves:
        if start <= m.on <= end:
            daily[m.on].append(m)
    total_cents, day = 0, start
    while day <= end:
        for m in daily.get(day, []):
            held[(m.lot_id, m.site)] += delta(m)
        total_cents += sum(
            count * by_id[lot_id].cents_per_vial
            for (lot_id, _site), count in held.items()
            if count > 0 and by_id[lot_id].expiry >= day
        )
        day += timedelta(days=1)
    days = (end - start).days + 1
    average = _round_div(total_cents, days) if days > 0 else 0
    dispensed = sum(
        (m.count if m.kind == "dispense" else -m.count) * by_id[m.lot_id].cents_per_vial
        for m in moves
        if start <= m.on <= end and m.kind in ("dispense", "return")
    )
    losses = []
    for lot in sorted(by_id.values(), key=lambda lot: (lot.expiry, lot.id)):
        if start <= lot.expiry <= end:
            at_expiry = _on_hand((m for m in moves if m.lot_id == lot.id), lot.expiry)
            losses += [ExpiryLoss(lot, site, n) for (_lot, site), n in sorted(at_expiry.items()) if n > 0]
    other: dict[str, int] = defaultdict(int)
    for m in moves:
        if (
            m.kind == "waste"
            and start <= m.on <= end
            and m.waste_reason != "partial_vial"
            and m.on <= by_id[m.lot_id].expiry  # a write-off after expiry is the expiry loss above
        ):
            other[m.waste_reason or "not given"] += m.count
    turns = dispensed / average if average else None
    return Stock(
        average_cents=average,
        dispensed_cost_cents=dispensed,
        turns=round(turns, 2) if turns is not None else None,
        turns_per_year=round(turns * DAYS_PER_YEAR / days, 2) if turns is not None else None,
        losses=tuple(losses),
        other_write_offs=dict(sorted(other.items())),
    )
