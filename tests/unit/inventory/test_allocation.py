"""FEFO allocation, shortage mode with proposals, and reorder suggestions (synthetic data)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.inventory.core import (
    PROPOSAL_KINDS,
    SHORTFALL_REASONS,
    VIAL_CHECK_CODES,
    AllocationResult,
    Constraints,
    Demand,
    LotRecord,
    LotSupply,
    ParLevel,
    ProductProfile,
    VialNeed,
    allocate_fefo,
    allocate_with_shortage,
    check_scanned_vial,
    is_eligible,
    meets_constraints,
    profile_from_catalog,
    reorder_suggestions,
)

D0 = date(2026, 4, 1)


def lot(
    lot_id: str,
    expiry_days: int,
    count: int,
    *,
    product: str = "p-a",
    size: float = 10,
    site: str = "north",
    status: str = "active",
) -> LotSupply:
    return LotSupply(lot_id, site, product, size, D0 + timedelta(days=expiry_days), count, status)  # type: ignore[arg-type]


def demand(
    demand_id: str,
    day: int,
    count: int,
    *,
    product: str = "p-a",
    size: float = 10,
    priority: int = 3,
    recommended: bool = True,
    site: str = "north",
    constraints: Constraints = Constraints(),
) -> Demand:
    return Demand(
        demand_id,
        f"appt-{demand_id}",
        D0 + timedelta(days=day),
        site,
        product,
        "iv",
        (VialNeed(size, count),),
        priority,
        recommended,
        constraints,
    )  # type: ignore[arg-type]


def test_fefo_takes_earliest_expiry_first_and_splits_lots() -> None:
    lots = [lot("late", 300, 5), lot("early", 100, 2), lot("mid", 200, 5)]
    result = allocate_fefo([demand("d1", 0, 4)], lots)
    assert [(p.lot_id, p.count) for p in result.picks] == [("early", 2), ("mid", 2)]
    assert result.shortfalls == ()
    assert result.remaining == {"late": 5, "early": 0, "mid": 3}


def test_never_uses_expired_quarantined_recalled_or_other_site_or_size() -> None:
    lots = [
        lot("expires-before", 4, 9),
        lot("quarantined", 100, 9, status="quarantined"),
        lot("recalled", 100, 9, status="recalled"),
        lot("south", 100, 9, site="south"),
        lot("small", 100, 9, size=5),
        lot("ok-on-the-day", 5, 1),
    ]
    result = allocate_fefo([demand("d1", 5, 3)], lots)
    assert [(p.lot_id, p.count) for p in result.picks] == [("ok-on-the-day", 1)]
    assert [(s.missing_count, s.reason) for s in result.shortfalls] == [(2, "insufficient_stock")]


def test_shortfall_without_any_eligible_lot() -> None:
    result = allocate_fefo([demand("d1", 0, 2, product="p-z")], [lot("a", 100, 5)])
    assert [(s.product, s.missing_count, s.reason) for s in result.shortfalls] == [
        ("p-z", 2, "no_eligible_stock")
    ]
    assert set(SHORTFALL_REASONS) == {"no_eligible_stock", "insufficient_stock"}


def test_earlier_appointments_served_first_and_pick_lists_grouped() -> None:
    lots = [lot("a", 100, 3)]
    result = allocate_fefo([demand("later", 2, 2), demand("sooner", 1, 2)], lots)
    assert [(p.demand_id, p.count) for p in result.picks] == [("sooner", 2), ("later", 1)]
    assert [s.demand_id for s in result.shortfalls] == ["later"]
    lists = result.pick_lists()
    assert list(lists) == [("north", D0 + timedelta(days=1)), ("north", D0 + timedelta(days=2))]


def test_invalid_inputs_rejected() -> None:
    with pytest.raises(ValueError, match="distinct lot_id"):
        allocate_fefo([], [lot("a", 1, 1), lot("a", 2, 1)])
    with pytest.raises(ValueError, match="negative"):
        allocate_fefo([], [lot("a", 1, -1)])
    with pytest.raises(ValueError, match="positive"):
        allocate_fefo([demand("d", 0, 0)], [])
    with pytest.raises(ValueError, match="distinct"):
        allocate_fefo([demand("d", 0, 1), demand("d", 1, 1)], [])


# --- properties -----------------------------------------------------------------------------------

_lots = st.lists(
    st.builds(
        lambda i, exp, count, product, size, site, status: lot(
            f"L{i}", exp, count, product=product, size=size, site=site, status=status
        ),
        st.integers(0, 10_000),
        st.integers(-5, 30),
        st.integers(0, 6),
        st.sampled_from(["p-a", "p-b"]),
        st.sampled_from([5.0, 10.0]),
        st.sampled_from(["north", "south"]),
        st.sampled_from(["active", "active", "active", "quarantined", "recalled"]),
    ),
    max_size=10,
    unique_by=lambda supply: supply.lot_id,
)
_demands = st.lists(
    st.builds(
        lambda i, day, count, product, size, site, priority, rec: demand(
            f"D{i}", day, count, product=product, size=size, site=site, priority=priority, recommended=rec
        ),
        st.integers(0, 10_000),
        st.integers(0, 20),
        st.integers(1, 6),
        st.sampled_from(["p-a", "p-b"]),
        st.sampled_from([5.0, 10.0]),
        st.sampled_from(["north", "south"]),
        st.sampled_from([1, 2, 3]),
        st.booleans(),
    ),
    max_size=8,
    unique_by=lambda d: d.demand_id,
)


def _check_allocation(demands: list[Demand], lots: list[LotSupply], result: AllocationResult) -> None:
    by_id = {supply.lot_id: supply for supply in lots}
    by_demand = {d.demand_id: d for d in demands}
    used: dict[str, int] = {}
    for pick in result.picks:
        supply, need = by_id[pick.lot_id], by_demand[pick.demand_id]
        assert pick.count > 0
        assert is_eligible(supply, need.on_date)  # never an ineligible lot
        assert (supply.site, supply.product, supply.vial_size_g) == (
            need.site,
            need.product,
            pick.vial_size_g,
        )
        used[pick.lot_id] = used.get(pick.lot_id, 0) + pick.count
    for lot_id, count in used.items():
        assert count <= by_id[lot_id].available_count  # never exceeds availability
    for supply in lots:  # totals conserved
        assert used.get(supply.lot_id, 0) + result.remaining[supply.lot_id] == supply.available_count
    for d in demands:  # every vial is picked or reported short
        for need in d.vials:
            picked = sum(
                p.count
                for p in result.picks
                if p.demand_id == d.demand_id and p.vial_size_g == need.vial_size_g
            )
            short = sum(
                s.missing_count
                for s in result.shortfalls
                if s.demand_id == d.demand_id and s.vial_size_g == need.vial_size_g
            )
            assert picked + short == need.count
    for pick in result.picks:  # FEFO: no earlier-expiring eligible lot was left with stock
        need, supply = by_demand[pick.demand_id], by_id[pick.lot_id]
        for other in lots:
            if (
                (other.site, other.product, other.vial_size_g)
                == (supply.site, supply.product, supply.vial_size_g)
                and is_eligible(other, need.on_date)
                and (other.effective_expiry, other.lot_id) < (supply.effective_expiry, supply.lot_id)
            ):
                assert result.remaining[other.lot_id] == 0


@settings(max_examples=150, deadline=None)
@given(_demands, _lots)
def test_fefo_properties(demands: list[Demand], lots: list[LotSupply]) -> None:
    _check_allocation(demands, lots, allocate_fefo(demands, lots))


PROFILES = {
    "p-a": ProductProfile("p-a", frozenset({"iv"}), True, False, 20.0),
    "p-b": ProductProfile("p-b", frozenset({"iv"}), True, True, 20.0),
}


@settings(max_examples=100, deadline=None)
@given(_demands, _lots)
def test_shortage_properties(demands: list[Demand], lots: list[LotSupply]) -> None:
    result = allocate_with_shortage(demands, lots, PROFILES)
    _check_allocation(demands, lots, result.allocation)
    short_ids = {s.demand_id for s in result.allocation.shortfalls}
    assert {p.demand_id for p in result.proposals} == short_ids  # never silent
    assert len(result.proposals) == len(short_ids)
    by_id = {supply.lot_id: supply for supply in lots}
    proposed: dict[str, int] = {}
    for proposal in result.proposals:
        for pick in proposal.picks:
            proposed[pick.lot_id] = proposed.get(pick.lot_id, 0) + pick.count
            assert pick.product != next(d.product for d in demands if d.demand_id == proposal.demand_id)
            assert is_eligible(by_id[pick.lot_id], pick.on_date)
    for lot_id, count in proposed.items():  # proposals only use what allocation left
        assert count <= result.allocation.remaining[lot_id]


# --- shortage mode --------------------------------------------------------------------------------


def test_shortage_serves_clinical_priority_first() -> None:
    lots = [lot("a", 100, 4)]
    demands = [
        demand("maint", 0, 2, priority=3),
        demand("cond-urgent", 5, 2, priority=1, recommended=False),
        demand("urgent", 6, 2, priority=1),
        demand("induction", 1, 2, priority=2),
    ]
    result = allocate_with_shortage(demands, lots, {"p-a": PROFILES["p-a"]})
    assert result.shortage_products == ("p-a",)
    assert [p.demand_id for p in result.allocation.picks] == ["urgent", "cond-urgent"]
    assert [(p.demand_id, p.kind) for p in result.proposals] == [
        ("induction", "interval_extension"),
        ("maint", "interval_extension"),
    ]
    # plain FEFO would have served by date instead
    assert [p.demand_id for p in allocate_fefo(demands, lots).picks] == ["maint", "induction"]


def test_switch_proposal_respects_constraints_and_unknowns() -> None:
    profiles = {
        "p-a": ProductProfile("p-a", frozenset({"iv"}), True, False, 20.0),
        "p-proline": ProductProfile("p-proline", frozenset({"iv"}), True, True, 20.0),
        "p-sc": ProductProfile("p-sc", frozenset({"sc"}), True, False, 20.0),
        "p-unknown-sucrose": ProductProfile("p-unknown-sucrose", frozenset({"iv"}), None, False, 20.0),
        "p-ok": ProductProfile("p-ok", frozenset({"iv"}), True, False, 20.0),
    }
    lots = [
        lot("a", 100, 1),
        lot("proline", 100, 9, product="p-proline"),
        lot("sc", 100, 9, product="p-sc"),
        lot("unk", 100, 9, product="p-unknown-sucrose"),
        lot("ok-5g", 100, 9, product="p-ok", size=5),
        lot("ok-20g", 100, 1, product="p-ok", size=20),
    ]
    strict = Constraints(sucrose_free_required=True, proline_excluded=True, max_iga_ug_per_ml=50)
    result = allocate_with_shortage([demand("d1", 0, 3, constraints=strict)], lots, profiles)
    (proposal,) = result.proposals
    assert proposal.kind == "switch_product" and proposal.product == "p-ok"
    assert sorted((p.lot_id, p.count) for p in proposal.picks) == [
        ("ok-20g", 1)
    ]  # 20 g covers the missing 20 g
    assert "pharmacist re-verifies" in proposal.message
    assert set(PROPOSAL_KINDS) == {"switch_product", "interval_extension"}


def test_iga_constraint_excludes_unknown_and_high_iga() -> None:
    c = Constraints(max_iga_ug_per_ml=30)
    assert meets_constraints(ProductProfile("x", frozenset({"iv"}), True, False, 25.0), "iv", c)
    assert not meets_constraints(ProductProfile("x", frozenset({"iv"}), True, False, 40.0), "iv", c)
    assert not meets_constraints(ProductProfile("x", frozenset({"iv"}), True, False, None), "iv", c)
    assert not meets_constraints(
        ProductProfile("x", frozenset({"sc"}), True, False, 1.0), "iv", Constraints()
    )


def test_catalog_profiles() -> None:
    products = load_catalog().products
    privigen = profile_from_catalog(products["privigen"])
    assert privigen.proline_stabilised is True and privigen.routes == frozenset({"iv"})
    assert not meets_constraints(privigen, "iv", Constraints(proline_excluded=True))
    gammagard = profile_from_catalog(products["gammagard-liquid"])
    assert meets_constraints(gammagard, "iv", Constraints(proline_excluded=True, sucrose_free_required=True))


def test_no_shortage_means_date_order_and_no_proposals() -> None:
    result = allocate_with_shortage([demand("d1", 0, 1), demand("d2", 1, 1)], [lot("a", 100, 5)], PROFILES)
    assert result.shortage_products == () and result.proposals == ()


# --- reorder --------------------------------------------------------------------------------------


def test_reorder_up_to_par_plus_forecast() -> None:
    lots = [
        lot("a", 100, 4),
        lot("expired", -1, 10),
        lot("q", 100, 10, status="quarantined"),
        lot("b", 100, 2, size=5),
    ]
    pars = [ParLevel("north", "p-a", 10, 6), ParLevel("north", "p-a", 5, 1), ParLevel("south", "p-a", 10, 0)]
    forecast = {("north", "p-a", 10.0): 5, ("north", "p-a", 5.0): 1}
    out = reorder_suggestions(pars, lots, forecast, as_of=D0)
    assert [(s.vial_size_g, s.usable_count, s.forecast_count, s.suggested_count) for s in out] == [
        (10, 4, 5, 7)
    ]


def test_reorder_rejects_negative_inputs() -> None:
    with pytest.raises(ValueError, match="par level"):
        reorder_suggestions([ParLevel("n", "p", 10, -1)], [], {}, as_of=D0)
    with pytest.raises(ValueError, match="forecast"):
        reorder_suggestions([ParLevel("n", "p", 10, 1)], [], {("n", "p", 10): -1}, as_of=D0)


# --- vial check at the chair ----------------------------------------------------------------------

GTIN_A, GTIN_B = "00000000123457", "00000000123464"


def _record(status: str = "active", effective_days: int = 100) -> LotRecord:
    return LotRecord("LOT1", GTIN_A, D0 + timedelta(days=100), D0 + timedelta(days=effective_days), status)  # type: ignore[arg-type]


def test_good_vial_passes() -> None:
    check = check_scanned_vial(GTIN_A, "LOT1", D0 + timedelta(days=100), [GTIN_A], _record(), D0)
    assert check.usable and check.problems == ()


def test_a_lot_number_in_another_case_is_the_same_lot() -> None:
    check = check_scanned_vial(GTIN_A, "lot1", D0 + timedelta(days=100), [GTIN_A], _record(), D0)
    assert check.usable and check.problems == ()


@pytest.mark.parametrize(
    ("gtin", "lot_number", "expiry_days", "record", "codes"),
    [
        (GTIN_B, "LOT1", 100, None, {"wrong_product", "lot_unknown"}),
        (GTIN_A, "LOT2", 100, "active", {"lot_unknown"}),
        (GTIN_A, "LOT1", 90, "active", {"expiry_mismatch"}),
        (GTIN_A, "LOT1", 100, "short-rt", {"lot_expired"}),
        (GTIN_A, "LOT1", 100, "quarantined", {"lot_quarantined"}),
        (GTIN_A, "LOT1", 100, "recalled", {"lot_recalled"}),
    ],
)
def test_vial_hard_stops(
    gtin: str, lot_number: str, expiry_days: int, record: str | None, codes: set[str]
) -> None:
    if record is None:
        lot_record = None
    elif record == "short-rt":
        lot_record = _record(effective_days=-1)  # room-temperature allowance ran out
    else:
        lot_record = _record(status=record)
    check = check_scanned_vial(gtin, lot_number, D0 + timedelta(days=expiry_days), [GTIN_A], lot_record, D0)
    assert not check.usable
    assert {code for code, _ in check.problems} == codes
    assert all(message for _, message in check.problems)


def test_every_vial_code_is_tested() -> None:
    assert set(VIAL_CHECK_CODES) == {
        "wrong_product",
        "lot_unknown",
        "expiry_mismatch",
        "lot_expired",
        "lot_quarantined",
        "lot_recalled",
    }
