"""The stock ledger: stock on hand is a sum of moves and never goes below zero."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.catalog import load_catalog
from igflow.catalog.models import Fact, RoomTemperatureAllowance
from igflow.inventory.core import (
    LEDGER_ERROR_CODES,
    MOVE_KINDS,
    InventoryDataError,
    Ledger,
    LedgerError,
    Move,
    effective_expiry,
)


def _ledger(*moves: Move) -> Ledger:
    return Ledger.replay(moves)


def test_receipt_allocate_dispense_return_waste() -> None:
    ledger = _ledger(
        Move("L1", "receipt", 10, "north"),
        Move("L1", "allocation", 4, "north", "A1"),
        Move("L1", "allocation", 2, "north", "A2"),
        Move("L1", "dispense", 4, "north", "A1"),
        Move("L1", "return", 1, "north", "A1"),
        Move("L1", "waste", 1, "north"),
    )
    stock = ledger.stock("L1", "north")
    assert stock.on_hand_count == 10 - 4 + 1 - 1
    assert stock.allocations == {"A2": 2}
    assert ledger.available_count("L1", "north") == 6 - 2


def test_transfer_moves_stock_between_sites() -> None:
    ledger = _ledger(
        Move("L1", "receipt", 5, "north"),
        Move("L1", "transfer_out", 3, "north"),
        Move("L1", "transfer_in", 3, "south"),
    )
    assert ledger.stock("L1", "north").on_hand_count == 2
    assert ledger.stock("L1", "south").on_hand_count == 3


def test_deallocation_returns_vials_to_available() -> None:
    ledger = _ledger(
        Move("L1", "receipt", 3, "north"),
        Move("L1", "allocation", 3, "north", "A1"),
        Move("L1", "deallocation", 2, "north", "A1"),
    )
    assert ledger.available_count("L1", "north") == 2
    assert ledger.stock("L1", "north").allocations == {"A1": 1}


def test_waste_of_own_allocated_vial_shrinks_that_allocation() -> None:
    ledger = _ledger(
        Move("L1", "receipt", 2, "north"),
        Move("L1", "allocation", 2, "north", "A1"),
        Move("L1", "waste", 1, "north", "A1"),
    )
    stock = ledger.stock("L1", "north")
    assert (stock.on_hand_count, stock.allocations) == (1, {"A1": 1})


def test_quarantine_releases_every_allocation_at_once_and_blocks_use() -> None:
    ledger = _ledger(
        Move("L1", "receipt", 4, "north"),
        Move("L1", "receipt", 2, "south"),
        Move("L1", "allocation", 2, "north", "A1"),
        Move("L1", "allocation", 1, "south", "A9"),
        Move("L1", "quarantine", 0, "north"),
    )
    assert [(r.site, r.appointment_id, r.count, r.because) for r in ledger.released] == [
        ("north", "A1", 2, "quarantine"),
        ("south", "A9", 1, "quarantine"),
    ]
    assert ledger.available_count("L1", "north") == 0 and ledger.available_count("L1", "south") == 0
    for kind in ("allocation", "dispense", "transfer_out"):
        with pytest.raises(LedgerError) as info:
            ledger.check(Move("L1", kind, 1, "north", "A1"))  # type: ignore[arg-type]
        assert info.value.code == "lot_not_usable"
    ledger.apply(Move("L1", "release", 0, "north"))
    assert ledger.available_count("L1", "north") == 4


def test_recall_is_final_and_recalled_vials_can_be_wasted() -> None:
    ledger = _ledger(Move("L1", "receipt", 3, "north"), Move("L1", "recall", 0, "north"))
    assert ledger.lot_status("L1") == "recalled"
    with pytest.raises(LedgerError, match="invalid_status_change"):
        ledger.check(Move("L1", "release", 0, "north"))
    with pytest.raises(LedgerError, match="invalid_status_change"):
        ledger.check(Move("L1", "quarantine", 0, "north"))
    ledger.apply(Move("L1", "waste", 3, "north"))
    assert ledger.stock("L1", "north").on_hand_count == 0


@pytest.mark.parametrize(
    ("moves", "bad", "code"),
    [
        ((), Move("L1", "receipt", 0, "n"), "invalid_count"),
        ((), Move("L1", "receipt", -2, "n"), "invalid_count"),
        ((), Move("L1", "quarantine", 1, "n"), "invalid_count"),
        ((Move("L1", "receipt", 2, "n"),), Move("L1", "allocation", 1, "n"), "missing_appointment"),
        ((Move("L1", "receipt", 2, "n"),), Move("L1", "dispense", 3, "n", "A"), "insufficient_stock"),
        ((Move("L1", "receipt", 2, "n"),), Move("L1", "waste", 3, "n"), "insufficient_stock"),
        ((Move("L1", "receipt", 2, "n"),), Move("L1", "transfer_out", 1, "s"), "insufficient_stock"),
        (
            (Move("L1", "receipt", 2, "n"), Move("L1", "allocation", 2, "n", "A")),
            Move("L1", "dispense", 1, "n", "B"),
            "insufficient_stock",
        ),
        ((Move("L1", "receipt", 2, "n"),), Move("L1", "allocation", 3, "n", "A"), "over_allocation"),
        (
            (Move("L1", "receipt", 2, "n"), Move("L1", "allocation", 1, "n", "A")),
            Move("L1", "deallocation", 2, "n", "A"),
            "deallocation_exceeds_allocation",
        ),
        (
            (Move("L1", "receipt", 2, "n"), Move("L1", "recall", 0, "n")),
            Move("L1", "allocation", 1, "n", "A"),
            "lot_not_usable",
        ),
        ((), Move("L1", "release", 0, "n"), "invalid_status_change"),
    ],
)
def test_ledger_errors(moves: tuple[Move, ...], bad: Move, code: str) -> None:
    ledger = Ledger.replay(moves)
    before = (dict(ledger.stocks), dict(ledger.status))
    with pytest.raises(LedgerError) as info:
        ledger.apply(bad)
    assert info.value.code == code and info.value.message
    assert (dict(ledger.stocks), dict(ledger.status)) == before


def test_unknown_move_kind_rejected() -> None:
    with pytest.raises(ValueError, match="unknown move kind"):
        Ledger().apply(Move("L1", "borrow", 1, "n"))  # type: ignore[arg-type]


def test_every_ledger_code_is_tested() -> None:
    # keep in step with test_ledger_errors' parameters
    assert set(LEDGER_ERROR_CODES) == {
        "invalid_count",
        "missing_appointment",
        "insufficient_stock",
        "over_allocation",
        "deallocation_exceeds_allocation",
        "lot_not_usable",
        "invalid_status_change",
    }
    with pytest.raises(KeyError):
        LedgerError("nope", "x")


_SIGN = {"receipt": 1, "transfer_in": 1, "return": 1, "transfer_out": -1, "dispense": -1, "waste": -1}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["L1", "L2"]),
            st.sampled_from(MOVE_KINDS),
            st.integers(0, 6),
            st.sampled_from(["north", "south"]),
            st.sampled_from([None, "A1", "A2"]),
        ),
        max_size=40,
    )
)
def test_ledger_never_negative_and_conserves_totals(
    rows: list[tuple[str, str, int, str, str | None]],
) -> None:
    ledger = Ledger()
    applied: list[Move] = []
    for lot, kind, count, site, appointment in rows:
        move = Move(lot, kind, count, site, appointment)  # type: ignore[arg-type]
        try:
            ledger.apply(move)
        except LedgerError:
            continue
        applied.append(move)
        for stock in ledger.stocks.values():
            assert stock.on_hand_count >= 0
            assert 0 <= stock.allocated_count <= stock.on_hand_count
            assert all(c > 0 for c in stock.allocations.values())
            if ledger.lot_status(stock.lot_id) != "active":
                assert stock.allocated_count == 0
    for (lot, site), stock in ledger.stocks.items():
        total = sum(_SIGN.get(m.kind, 0) * m.count for m in applied if (m.lot_id, m.site) == (lot, site))
        assert stock.on_hand_count == total
    assert Ledger.replay(applied).stocks == ledger.stocks  # replay gives the same state


# --- effective expiry -----------------------------------------------------------------------------


def test_effective_expiry_uses_the_catalog_allowance() -> None:
    products = load_catalog().products
    label = date(2027, 12, 31)
    panzyga = products["panzyga"].room_temperature  # 12 months at <= 25 C
    assert effective_expiry(label, None, panzyga) == label
    assert effective_expiry(label, date(2026, 3, 15), panzyga) == date(2027, 3, 14)
    assert effective_expiry(date(2026, 6, 1), date(2026, 3, 15), panzyga) == date(2026, 6, 1)
    hizentra = products["hizentra"].room_temperature  # room temperature is the label storage
    assert effective_expiry(label, date(2026, 3, 15), hizentra) == label


def test_effective_expiry_month_end() -> None:
    allowance = Fact[RoomTemperatureAllowance](
        value=RoomTemperatureAllowance(max_temp_c=25, months=1), source="t"
    )
    assert effective_expiry(date(2030, 1, 1), date(2027, 1, 31), allowance) == date(2027, 2, 27)


def test_unknown_allowance_refused_for_a_vial_out_of_the_fridge() -> None:
    privigen = load_catalog().products["privigen"].room_temperature
    assert effective_expiry(date(2027, 1, 1), None, privigen) == date(2027, 1, 1)
    with pytest.raises(InventoryDataError, match="room_temperature"):
        effective_expiry(date(2027, 1, 1), date(2026, 5, 1), privigen)


def test_a_self_infusion_at_home_is_a_dispense_for_the_patient_without_an_appointment() -> None:
    ledger = Ledger()
    ledger.apply(Move("L1", "transfer_in", 2, "home"))
    ledger.apply(Move("L1", "dispense", 1, "home", patient_id="P7"))
    assert ledger.stock("L1", "home").on_hand_count == 1
    with pytest.raises(LedgerError) as refused:
        ledger.apply(Move("L1", "dispense", 1, "home"))  # neither an appointment nor a patient
    assert refused.value.code == "missing_appointment"
