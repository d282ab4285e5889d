"""Inventory core (PURE: no I/O, no clock; dates are passed in).

- ``Ledger``: stock on hand per lot and site, derived from the ledger of moves; refuses any move that
  would take stock below zero or allocate more than is available (``LedgerError`` with a code).
- ``effective_expiry``: the label expiry, shortened by the product's room-temperature allowance.
- ``allocate_fefo``: whole-vial FEFO allocation of the coming days' demands against lots.
- ``allocate_with_shortage``: when demand exceeds supply, allocate by clinical priority and propose,
  for every unmet demand, a switch to an equivalent in-stock product or a documented interval
  extension (never silently).
- ``reorder_suggestions``: order-up-to suggestions from par levels and forecast use.

Quarantine and recall apply to a lot at every site; they release every allocation of the lot at once
(``Ledger.released`` lists them so the service can re-allocate and tell the pharmacy).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from igflow.catalog.models import Fact, Product, RoomTemperatureAllowance

MoveKind = Literal[
    "receipt",
    "transfer_out",
    "transfer_in",
    "allocation",
    "deallocation",
    "dispense",
    "return",
    "waste",
    "quarantine",
    "release",
    "recall",
]
MOVE_KINDS: tuple[MoveKind, ...] = (
    "receipt",
    "transfer_out",
    "transfer_in",
    "allocation",
    "deallocation",
    "dispense",
    "return",
    "waste",
    "quarantine",
    "release",
    "recall",
)
LotStatus = Literal["active", "quarantined", "recalled"]
Route = Literal["iv", "sc"]

#: Stable codes of ``LedgerError``.
LEDGER_ERROR_CODES: dict[str, str] = {
    "invalid_count": "a vial count must be a whole number above zero (zero for status moves)",
    "missing_appointment": "allocation and deallocation need the appointment; a dispense the appointment "
    "or, for a self-infusion at home, the patient",
    "insufficient_stock": "the move would take the lot below zero or below what others hold allocated",
    "over_allocation": "allocation exceeds the lot's available (unallocated, usable) vials",
    "deallocation_exceeds_allocation": "more vials released than this appointment holds",
    "lot_not_usable": "the lot is quarantined or recalled",
    "invalid_status_change": "status change not allowed from the lot's current status",
}

#: Stable codes of allocation shortfalls and shortage proposals.
SHORTFALL_REASONS: dict[str, str] = {
    "no_eligible_stock": "no usable lot of this product and vial size at the site for the date",
    "insufficient_stock": "usable lots exist but hold too few vials",
}
PROPOSAL_KINDS: dict[str, str] = {
    "switch_product": "switch to an equivalent in-stock product (pharmacist re-verifies the plan)",
    "interval_extension": "extend the dosing interval until supply returns (prescriber documents it)",
}


class LedgerError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        if code not in LEDGER_ERROR_CODES:
            raise KeyError(code)
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class InventoryDataError(ValueError):
    """A catalog value needed here is unknown (null): refuse rather than guess."""

    def __init__(self, field_name: str, note: str | None) -> None:
        self.field = field_name
        self.note = note
        super().__init__(f"{field_name} is unknown: {note or 'no note'}")


# --- ledger ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One ledger row. ``count`` is vials (0 for quarantine/release/recall, which act on the whole lot)."""

    lot_id: str
    kind: MoveKind
    count: int
    site: str
    appointment_id: str | None = None
    patient_id: str | None = None  # a dispense with no appointment: the patient's self-infusion at home


@dataclass
class LotStock:
    lot_id: str
    site: str
    on_hand_count: int = 0
    allocations: dict[str, int] = field(default_factory=dict)

    @property
    def allocated_count(self) -> int:
        return sum(self.allocations.values())


@dataclass(frozen=True)
class ReleasedAllocation:
    """An allocation dropped because its lot was quarantined or recalled."""

    lot_id: str
    site: str
    appointment_id: str
    count: int
    because: Literal["quarantine", "recall"]


_STATUS_MOVES = ("quarantine", "release", "recall")


class Ledger:
    """Stock state replayed from moves; every move is checked before it changes anything."""

    def __init__(self) -> None:
        self.stocks: dict[tuple[str, str], LotStock] = {}
        self.status: dict[str, LotStatus] = {}
        self.released: list[ReleasedAllocation] = []

    @classmethod
    def replay(cls, moves: Iterable[Move]) -> Ledger:
        ledger = cls()
        for move in moves:
            ledger.apply(move)
        return ledger

    def lot_status(self, lot_id: str) -> LotStatus:
        return self.status.get(lot_id, "active")

    def stock(self, lot_id: str, site: str) -> LotStock:
        return self.stocks.get((lot_id, site)) or LotStock(lot_id, site)

    def available_count(self, lot_id: str, site: str) -> int:
        """Vials that can still be allocated (0 when the lot is quarantined or recalled)."""
        if self.lot_status(lot_id) != "active":
            return 0
        stock = self.stock(lot_id, site)
        return stock.on_hand_count - stock.allocated_count

    def check(self, move: Move) -> None:
        """Raise ``LedgerError`` if ``move`` is not allowed now; change nothing."""
        if move.kind not in MOVE_KINDS:
            raise ValueError(f"unknown move kind {move.kind!r}; allowed: {', '.join(MOVE_KINDS)}")
        if move.kind in _STATUS_MOVES:
            if move.count != 0:
                raise LedgerError("invalid_count", f"{move.kind} acts on the whole lot; count must be 0")
            current = self.lot_status(move.lot_id)
            if move.kind == "release" and current != "quarantined":
                raise LedgerError("invalid_status_change", f"lot {move.lot_id} is {current}, not quarantined")
            if move.kind == "quarantine" and current == "recalled":
                raise LedgerError("invalid_status_change", f"lot {move.lot_id} is already recalled")
            return
        if isinstance(move.count, bool) or not isinstance(move.count, int) or move.count <= 0:
            raise LedgerError("invalid_count", f"{move.kind} count must be a whole number above zero")
        needs_appointment = move.kind in ("allocation", "deallocation") or (
            move.kind == "dispense" and not move.patient_id
        )
        if needs_appointment and not move.appointment_id:
            raise LedgerError("missing_appointment", f"{move.kind} needs appointment_id")
        stock = self.stock(move.lot_id, move.site)
        usable = self.lot_status(move.lot_id) == "active"
        own = stock.allocations.get(move.appointment_id or "", 0)
        held_by_others = stock.allocated_count - own
        if move.kind in ("allocation", "dispense", "transfer_out") and not usable:
            raise LedgerError(
                "lot_not_usable", f"lot {move.lot_id} is {self.lot_status(move.lot_id)}: do not use it"
            )
        if move.kind == "allocation" and move.count > self.available_count(move.lot_id, move.site):
            raise LedgerError(
                "over_allocation",
                f"lot {move.lot_id} at {move.site}: {self.available_count(move.lot_id, move.site)} "
                f"available, {move.count} requested",
            )
        if move.kind == "deallocation" and move.count > own:
            raise LedgerError(
                "deallocation_exceeds_allocation",
                f"appointment {move.appointment_id} holds {own} of lot {move.lot_id}, not {move.count}",
            )
        if move.kind in ("dispense", "transfer_out", "waste"):
            # a quarantined or recalled lot holds no allocations, so all its vials may be wasted
            # only a dispense or waste for an appointment may use that appointment's own allocation
            held = held_by_others if move.kind in ("dispense", "waste") else stock.allocated_count
            free = stock.on_hand_count - held
            if move.count > free:
                raise LedgerError(
                    "insufficient_stock",
                    f"lot {move.lot_id} at {move.site}: {stock.on_hand_count} on hand, "
                    f"{held_by_others} held for other appointments, {move.count} requested",
                )

    def apply(self, move: Move) -> None:
        """Check then apply ``move``."""
        self.check(move)
        if move.kind in _STATUS_MOVES:
            self._apply_status(move)
            return
        key = (move.lot_id, move.site)
        stock = self.stocks.setdefault(key, LotStock(move.lot_id, move.site))
        appointment = move.appointment_id or ""
        if move.kind in ("receipt", "transfer_in", "return"):
            stock.on_hand_count += move.count
        elif move.kind == "transfer_out":
            stock.on_hand_count -= move.count
        elif move.kind == "waste":
            stock.on_hand_count -= move.count
            overshoot = stock.allocated_count - stock.on_hand_count
            if overshoot > 0:  # the wasted vials were this appointment's: it holds fewer now
                self._reduce(stock, appointment, overshoot)
        elif move.kind == "allocation":
            stock.allocations[appointment] = stock.allocations.get(appointment, 0) + move.count
        elif move.kind == "deallocation":
            self._reduce(stock, appointment, move.count)
        elif move.kind == "dispense":
            stock.on_hand_count -= move.count
            self._reduce(stock, appointment, min(move.count, stock.allocations.get(appointment, 0)))

    @staticmethod
    def _reduce(stock: LotStock, appointment: str, count: int) -> None:
        left = stock.allocations.get(appointment, 0) - count
        if left > 0:
            stock.allocations[appointment] = left
        else:
            stock.allocations.pop(appointment, None)

    def _apply_status(self, move: Move) -> None:
        if move.kind == "release":
            self.status[move.lot_id] = "active"
            return
        because: Literal["quarantine", "recall"] = "recall" if move.kind == "recall" else "quarantine"
        self.status[move.lot_id] = "recalled" if because == "recall" else "quarantined"
        for (lot_id, site), stock in sorted(self.stocks.items()):
            if lot_id != move.lot_id:
                continue
            for appointment, count in sorted(stock.allocations.items()):
                self.released.append(ReleasedAllocation(lot_id, site, appointment, count, because))
            stock.allocations.clear()


# --- expiry ---------------------------------------------------------------------------------------


def _add_months(start: date, months: int) -> date:
    """Calendar months later; a day that does not exist in the target month becomes its last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def effective_expiry(
    label_expiry: date, room_temperature_since: date | None, allowance: Fact[RoomTemperatureAllowance]
) -> date:
    """Last usable date: the label expiry, or earlier if the vial has been out of the fridge.

    With an allowance of N months from date S the vial is usable up to the day before S + N months
    (N full months). A product stored at room temperature by label (``months`` null) keeps its label
    expiry. A vial at room temperature whose product allowance is unknown raises
    ``InventoryDataError``: the pharmacist must set the expiry by hand.
    """
    if room_temperature_since is None:
        return label_expiry
    if allowance.value is None:
        raise InventoryDataError("room_temperature", allowance.note)
    if allowance.value.months is None:
        return label_expiry
    allowance_end = _add_months(room_temperature_since, allowance.value.months) - timedelta(days=1)
    return min(label_expiry, allowance_end)


# --- FEFO allocation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VialNeed:
    vial_size_g: float
    count: int


@dataclass(frozen=True)
class Constraints:
    """Screening constraints the product must meet (from the patient's screening)."""

    sucrose_free_required: bool = False
    proline_excluded: bool = False
    max_iga_ug_per_ml: float | None = None


@dataclass(frozen=True)
class Demand:
    """Whole vials one appointment day needs, from its verified plan."""

    demand_id: str
    appointment_id: str
    on_date: date
    site: str
    product: str
    route: Route
    vials: tuple[VialNeed, ...]
    priority: Literal[1, 2, 3] = 3  # 1 urgent, 2 induction, 3 maintenance
    recommended: bool = True  # recommended indication (before conditional)
    constraints: Constraints = Constraints()

    @property
    def grams(self) -> float:
        return sum(need.vial_size_g * need.count for need in self.vials)


@dataclass(frozen=True)
class LotSupply:
    lot_id: str
    site: str
    product: str
    vial_size_g: float
    effective_expiry: date
    available_count: int
    status: LotStatus = "active"


@dataclass(frozen=True)
class Pick:
    demand_id: str
    appointment_id: str
    on_date: date
    site: str
    lot_id: str
    product: str
    vial_size_g: float
    count: int


@dataclass(frozen=True)
class Shortfall:
    demand_id: str
    appointment_id: str
    on_date: date
    site: str
    product: str
    vial_size_g: float
    missing_count: int
    reason: str  # one of SHORTFALL_REASONS


@dataclass(frozen=True)
class AllocationResult:
    picks: tuple[Pick, ...]
    shortfalls: tuple[Shortfall, ...]
    remaining: Mapping[str, int]  # lot_id -> vials left after this allocation

    def pick_lists(self) -> dict[tuple[str, date], tuple[Pick, ...]]:
        """Picks grouped per (site, date), in FEFO order."""
        out: dict[tuple[str, date], list[Pick]] = {}
        for pick in self.picks:
            out.setdefault((pick.site, pick.on_date), []).append(pick)
        return {key: tuple(value) for key, value in sorted(out.items())}


def is_eligible(lot: LotSupply, on_date: date) -> bool:
    """Usable for an appointment on ``on_date``: active and not expiring before that date."""
    return lot.status == "active" and lot.effective_expiry >= on_date


def _validate(demands: Sequence[Demand], lots: Sequence[LotSupply]) -> None:
    ids = [lot.lot_id for lot in lots]
    if len(set(ids)) != len(ids):
        raise ValueError("each LotSupply must have a distinct lot_id (one row per lot and site)")
    for lot in lots:
        if lot.available_count < 0:
            raise ValueError(f"lot {lot.lot_id}: available_count is negative")
    demand_ids = [d.demand_id for d in demands]
    if len(set(demand_ids)) != len(demand_ids):
        raise ValueError("demand ids must be distinct")
    for demand in demands:
        if not demand.vials or any(need.count <= 0 or need.vial_size_g <= 0 for need in demand.vials):
            raise ValueError(f"demand {demand.demand_id}: vial needs must be positive")


def _fefo_key(lot: LotSupply) -> tuple[date, str]:
    return (lot.effective_expiry, lot.lot_id)


def _allocate(
    demands: Sequence[Demand], lots: Sequence[LotSupply], order: Sequence[Demand]
) -> AllocationResult:
    _validate(demands, lots)
    remaining = {lot.lot_id: lot.available_count for lot in lots}
    by_key: dict[tuple[str, str, float], list[LotSupply]] = {}
    for lot in sorted(lots, key=_fefo_key):
        by_key.setdefault((lot.site, lot.product, lot.vial_size_g), []).append(lot)
    picks: list[Pick] = []
    shortfalls: list[Shortfall] = []
    for demand in order:
        for need in demand.vials:
            candidates = [
                lot
                for lot in by_key.get((demand.site, demand.product, need.vial_size_g), [])
                if is_eligible(lot, demand.on_date)
            ]
            missing = need.count
            for lot in candidates:
                if missing == 0:
                    break
                take = min(missing, remaining[lot.lot_id])
                if take <= 0:
                    continue
                remaining[lot.lot_id] -= take
                missing -= take
                picks.append(
                    Pick(
                        demand.demand_id,
                        demand.appointment_id,
                        demand.on_date,
                        demand.site,
                        lot.lot_id,
                        demand.product,
                        need.vial_size_g,
                        take,
                    )
                )
            if missing:
                reason = "no_eligible_stock" if not candidates else "insufficient_stock"
                shortfalls.append(
                    Shortfall(
                        demand.demand_id,
                        demand.appointment_id,
                        demand.on_date,
                        demand.site,
                        demand.product,
                        need.vial_size_g,
                        missing,
                        reason,
                    )
                )
    return AllocationResult(tuple(picks), tuple(shortfalls), remaining)


def allocate_fefo(demands: Sequence[Demand], lots: Sequence[LotSupply]) -> AllocationResult:
    """Whole vials, first-expiry-first-out, demands in date order (then priority).

    Never uses a quarantined or recalled lot or one expiring before the appointment date, never
    takes a lot below zero, and reports every vial it could not find as a ``Shortfall``.
    """
    order = sorted(demands, key=lambda d: (d.on_date, d.priority, not d.recommended, d.demand_id))
    return _allocate(demands, lots, order)


# --- shortage mode --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductProfile:
    """What an equivalence check needs to know about a product; ``None`` = unknown in the catalog."""

    product: str
    routes: frozenset[str]
    sucrose_free: bool | None
    proline_stabilised: bool | None
    iga_ug_per_ml: float | None


def profile_from_catalog(product: Product) -> ProductProfile:
    return ProductProfile(
        product=product.id,
        routes=frozenset(product.routes),
        sucrose_free=product.sucrose_free.value,
        proline_stabilised=product.proline_stabilised.value,
        iga_ug_per_ml=product.iga_ug_per_ml.value,
    )


def meets_constraints(profile: ProductProfile, route: Route, constraints: Constraints) -> bool:
    """True only if every constraint is known to hold (an unknown fact never counts as a pass)."""
    if route not in profile.routes:
        return False
    if constraints.sucrose_free_required and profile.sucrose_free is not True:
        return False
    if constraints.proline_excluded and profile.proline_stabilised is not False:
        return False
    limit = constraints.max_iga_ug_per_ml
    return limit is None or (profile.iga_ug_per_ml is not None and profile.iga_ug_per_ml <= limit)


@dataclass(frozen=True)
class Proposal:
    """What to do about one demand that supply cannot meet. Never applied automatically."""

    demand_id: str
    appointment_id: str
    kind: str  # one of PROPOSAL_KINDS
    message: str
    product: str | None = None  # the switch target
    picks: tuple[Pick, ...] = ()  # vials proposed for the switch (FEFO), not allocated


@dataclass(frozen=True)
class ShortageResult:
    shortage_products: tuple[str, ...]
    allocation: AllocationResult
    proposals: tuple[Proposal, ...]


def _priority_key(demand: Demand) -> tuple[int, bool, date, str]:
    return (demand.priority, not demand.recommended, demand.on_date, demand.demand_id)


def _propose_switch(
    demand: Demand,
    missing_g: float,
    lots: Sequence[LotSupply],
    remaining: dict[str, int],
    profiles: Mapping[str, ProductProfile],
) -> Proposal | None:
    for product in sorted(profiles):
        profile = profiles[product]
        if product == demand.product or not meets_constraints(profile, demand.route, demand.constraints):
            continue
        candidates = sorted(
            (
                lot
                for lot in lots
                if lot.product == product
                and lot.site == demand.site
                and is_eligible(lot, demand.on_date)
                and remaining[lot.lot_id] > 0
            ),
            key=lambda lot: (-lot.vial_size_g, lot.effective_expiry, lot.lot_id),
        )
        picks: list[Pick] = []
        covered_g = 0.0
        taken: dict[str, int] = {}
        for lot in candidates:
            while covered_g < missing_g and taken.get(lot.lot_id, 0) < remaining[lot.lot_id]:
                taken[lot.lot_id] = taken.get(lot.lot_id, 0) + 1
                covered_g += lot.vial_size_g
        if covered_g < missing_g:
            continue
        for lot in candidates:
            if taken.get(lot.lot_id):
                remaining[lot.lot_id] -= taken[lot.lot_id]
                picks.append(
                    Pick(
                        demand.demand_id,
                        demand.appointment_id,
                        demand.on_date,
                        demand.site,
                        lot.lot_id,
                        product,
                        lot.vial_size_g,
                        taken[lot.lot_id],
                    )
                )
        return Proposal(
            demand.demand_id,
            demand.appointment_id,
            "switch_product",
            f"{missing_g:g} g of {demand.product} not available: switch to {product} "
            f"({covered_g:g} g in whole vials); pharmacist re-verifies the plan and rates",
            product=product,
            picks=tuple(picks),
        )
    return None


def allocate_with_shortage(
    demands: Sequence[Demand],
    lots: Sequence[LotSupply],
    profiles: Mapping[str, ProductProfile],
) -> ShortageResult:
    """Allocate over the horizon; where a product's demand exceeds its supply, by clinical priority.

    Demands for products in shortage are served in order urgent (1) < induction (2) < maintenance (3),
    recommended before conditional, then date. Every demand left short gets exactly one proposal:
    a switch to an in-stock product that meets its route and screening constraints (unknown product
    facts never qualify), or a documented interval extension.
    """
    _validate(demands, lots)
    demand_g: dict[str, float] = {}
    for demand in demands:
        demand_g[demand.product] = demand_g.get(demand.product, 0.0) + demand.grams
    supply_g: dict[str, float] = {}
    for lot in lots:
        if lot.status == "active":
            supply_g[lot.product] = supply_g.get(lot.product, 0.0) + lot.vial_size_g * lot.available_count
    shortage = tuple(sorted(p for p, grams in demand_g.items() if grams > supply_g.get(p, 0.0)))
    order = sorted(
        demands,
        key=lambda d: (
            (0, *_priority_key(d)) if d.product in shortage else (1, 0, False, d.on_date, d.demand_id)
        ),
    )
    allocation = _allocate(demands, lots, order)
    remaining = dict(allocation.remaining)
    missing_by_demand: dict[str, float] = {}
    for shortfall in allocation.shortfalls:
        missing_by_demand[shortfall.demand_id] = (
            missing_by_demand.get(shortfall.demand_id, 0.0) + shortfall.vial_size_g * shortfall.missing_count
        )
    proposals: list[Proposal] = []
    for demand in sorted(demands, key=_priority_key):
        missing_g = missing_by_demand.get(demand.demand_id)
        if missing_g is None:
            continue
        proposal = _propose_switch(demand, missing_g, lots, remaining, profiles)
        if proposal is None:
            proposal = Proposal(
                demand.demand_id,
                demand.appointment_id,
                "interval_extension",
                f"{missing_g:g} g of {demand.product} not available on {demand.on_date.isoformat()} and no "
                f"equivalent product in stock at {demand.site}: propose extending the interval; the "
                "prescriber documents the decision",
            )
        proposals.append(proposal)
    return ShortageResult(shortage, allocation, tuple(proposals))


# --- reorder --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParLevel:
    site: str
    product: str
    vial_size_g: float
    par_count: int  # vials to hold after covering forecast use


@dataclass(frozen=True)
class ReorderSuggestion:
    site: str
    product: str
    vial_size_g: float
    usable_count: int
    forecast_count: int
    par_count: int
    suggested_count: int


def reorder_suggestions(
    par_levels: Sequence[ParLevel],
    lots: Sequence[LotSupply],
    forecast_use: Mapping[tuple[str, str, float], int],
    as_of: date,
) -> tuple[ReorderSuggestion, ...]:
    """Order up to par: suggested = par + forecast use - usable stock, when above zero.

    Usable stock counts active lots not expired on ``as_of`` (effective expiry). Keys of
    ``forecast_use`` are (site, product, vial_size_g).
    """
    out: list[ReorderSuggestion] = []
    for par in par_levels:
        if par.par_count < 0:
            raise ValueError(f"par level for {par.product} at {par.site} is negative")
        key = (par.site, par.product, par.vial_size_g)
        usable = sum(
            lot.available_count
            for lot in lots
            if (lot.site, lot.product, lot.vial_size_g) == key and is_eligible(lot, as_of)
        )
        forecast = forecast_use.get(key, 0)
        if forecast < 0:
            raise ValueError(f"forecast use for {key} is negative")
        suggested = par.par_count + forecast - usable
        if suggested > 0:
            out.append(
                ReorderSuggestion(
                    par.site, par.product, par.vial_size_g, usable, forecast, par.par_count, suggested
                )
            )
    return tuple(out)


# --- vial check at the chair ----------------------------------------------------------------------

#: Stable codes of a scanned vial that must not be used (each is a hard stop at the chair).
VIAL_CHECK_CODES: dict[str, str] = {
    "wrong_product": "the vial's product code (GTIN) is not the product on the verified plan",
    "lot_unknown": "this lot is not in the site's stock records",
    "expiry_mismatch": "the expiry in the barcode differs from the lot record",
    "lot_expired": "the vial is past its effective expiry",
    "lot_quarantined": "the lot is quarantined",
    "lot_recalled": "the lot is recalled",
}


@dataclass(frozen=True)
class LotRecord:
    """The stock record of a scanned lot at the chair's site."""

    lot_number: str
    gtin: str
    label_expiry: date
    effective_expiry: date
    status: LotStatus


@dataclass(frozen=True)
class VialCheck:
    usable: bool
    problems: tuple[tuple[str, str], ...]  # (code, plain message)


def check_scanned_vial(
    scanned_gtin: str,
    scanned_lot: str,
    scanned_expiry: date,
    plan_gtins: Iterable[str],
    lot: LotRecord | None,
    on_date: date,
) -> VialCheck:
    """Hard-stop checks for one scanned vial (``igflow.inventory.gs1.parse_scan`` gives the scan)."""
    problems: list[tuple[str, str]] = []
    allowed = set(plan_gtins)
    if scanned_gtin not in allowed:
        problems.append(("wrong_product", f"vial {scanned_gtin} is not the planned product: do not use it"))
    # lot numbers match in any case: a carton may print "ab12" for the lot received as "AB12"
    if lot is None or lot.lot_number.lower() != scanned_lot.lower() or lot.gtin != scanned_gtin:
        problems.append(("lot_unknown", f"lot {scanned_lot} is not in stock here: set the vial aside"))
        return VialCheck(False, tuple(problems))
    if scanned_expiry != lot.label_expiry:
        problems.append(
            (
                "expiry_mismatch",
                f"barcode expiry {scanned_expiry.isoformat()} differs from the record "
                f"{lot.label_expiry.isoformat()}: check the vial",
            )
        )
    if min(scanned_expiry, lot.effective_expiry) < on_date:
        problems.append(("lot_expired", f"lot {scanned_lot} expired: do not use it"))
    if lot.status == "quarantined":
        problems.append(("lot_quarantined", f"lot {scanned_lot} is quarantined: do not use it"))
    if lot.status == "recalled":
        problems.append(("lot_recalled", f"lot {scanned_lot} is recalled: do not use it; tell the pharmacy"))
    return VialCheck(not problems, tuple(problems))
