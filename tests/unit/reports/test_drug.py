"""The drug report's figures against a small data set worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from igflow.costs import core
from igflow.reports import drug

START, END = date(2026, 10, 1), date(2026, 10, 10)  # 10 days
PRICES = [core.Price("gg", 8000, date(2026, 1, 1))]  # $80.00 a gram


def day(
    on: int,
    product: str,
    patient: int,
    course: int,
    vials_g: list[tuple[float, int]],
    given_g: float,
    centre: str = "North",
    payer: str = "Acme",
    priced: bool = True,
) -> drug.DrugDay:
    vials = [core.Vials(core.to_mg(s), n) for s, n in vials_g]
    cost = core.drug_cost(PRICES if priced else [], "gg", date(2026, 10, on), vials, core.to_mg(given_g))
    return drug.DrugDay(date(2026, 10, on), product, "CIDP", payer, centre, patient, course, cost)


DAYS = [
    # patient 1, course 10: 2 x 10 g + 1 x 5 g = 25 g dispensed, 22.5 g given -> 2.5 g waste ($200.00)
    day(2, "Gammagard", 1, 10, [(10, 2), (5, 1)], 22.5),
    # patient 1, course 10, day 2: 25 g, all given
    day(3, "Gammagard", 1, 10, [(10, 2), (5, 1)], 25),
    # patient 2, course 20 at South: 1 x 20 g, 18 g given -> 2 g waste ($160.00)
    day(4, "Gammagard", 2, 20, [(20, 1)], 18, centre="South", payer="Bluebird"),
    # patient 3, course 30: no price in force -> grams count, money does not
    day(5, "Privigen", 3, 30, [(10, 1)], 10, priced=False),
]


def test_grams_and_waste_by_product_and_centre() -> None:
    # Gammagard: 25 + 25 + 20 = 70 g dispensed; waste 2.5 + 0 + 2 = 4.5 g (6.43 %)
    # money: 70 g x $80 = $5,600.00; waste 4.5 g x $80 = $360.00
    products = drug.by(DAYS, "product")
    assert list(products) == ["Gammagard", "Privigen"]
    gg = products["Gammagard"]
    assert (gg.dispensed_g, gg.waste_g, gg.dispensed_cents, gg.waste_cents) == (70, 4.5, 560_000, 36_000)
    assert gg.waste_percent == pytest.approx(6.4286, abs=1e-3)
    pv = products["Privigen"]
    assert (pv.dispensed_g, pv.dispensed_cents, pv.unpriced) == (10, 0, 1)
    centres = drug.by(DAYS, "centre")
    assert centres["North"].dispensed_g == 60 and centres["South"].dispensed_g == 20
    assert drug.by(DAYS, "payer")["Bluebird"].waste_cents == 16_000


def test_cost_per_cycle_and_per_patient_year() -> None:
    # priced days: courses 10 and 20 (2 cycles), patients 1 and 2; $5,600.00 in all
    # per cycle: 560000 / 2 = 280000 cents; per patient-year: 560000 / (2 x 10 / 365.25) = 10,227,000 cents
    r = drug.rates(DAYS, (END - START).days + 1)
    assert (r.cycles, r.patients, r.cost_per_cycle_cents) == (2, 2, 280_000)
    assert r.cost_per_patient_year_cents == 10_227_000


LOTS = [
    drug.Lot(1, "Gammagard", 10.0, 80_000, expiry=date(2027, 6, 30)),  # $800 a vial
    drug.Lot(2, "Gammagard", 5.0, 40_000, expiry=date(2026, 10, 6)),  # expires in the period
]
MOVES = [
    drug.Move(1, "North", "receipt", 10, date(2026, 9, 20)),
    drug.Move(2, "North", "receipt", 4, date(2026, 9, 20)),
    drug.Move(1, "North", "allocation", 2, date(2026, 10, 1)),  # changes nothing on hand
    drug.Move(1, "North", "dispense", 4, date(2026, 10, 3)),  # end of Oct 3: 6 vials
    drug.Move(1, "North", "return", 1, date(2026, 10, 4)),  # 7 vials
    drug.Move(2, "North", "dispense", 1, date(2026, 10, 3)),  # lot 2: 3 vials
    drug.Move(2, "North", "waste", 3, date(2026, 10, 8), waste_reason="broken"),  # after expiry: not again
    drug.Move(1, "North", "waste", 1, date(2026, 10, 9), waste_reason="temperature_excursion"),  # 6 vials
]


def test_stock_turns_and_expiry_losses() -> None:
    # lot 1 (80,000 a vial) held per day Oct 1..10: 10, 10, 6, 7, 7, 7, 7, 7, 6, 6 = 73 vial-days
    #   -> 5,840,000 cent-days
    # lot 2 (40,000 a vial), counted up to its expiry Oct 6: 4, 4, 3, 3, 3, 3 = 20 vial-days -> 800,000
    # average = 6,640,000 / 10 = 664,000 cents
    # dispensed at cost: lot 1 (4 - 1) x 80,000 + lot 2 1 x 40,000 = 280,000 cents
    # turns = 280,000 / 664,000 = 0.42; per year 0.4217 x 365.25 / 10 = 15.40
    s = drug.stock(MOVES, LOTS, START, END)
    assert s.average_cents == 664_000
    assert s.dispensed_cost_cents == 280_000
    assert s.turns == 0.42 and s.turns_per_year == 15.4
    # expiry loss: lot 2 had 3 vials on hand at the end of Oct 6 -> 15 g, 120,000 cents
    assert [(x.lot.id, x.site, x.vials, x.grams, x.cents) for x in s.losses] == [
        (2, "North", 3, 15.0, 120_000)
    ]
    # the write-off of those 3 vials on Oct 8 is not counted again; the excursion is
    assert s.other_write_offs == {"temperature_excursion": 1}


def test_no_stock_has_no_turns() -> None:
    s = drug.stock([], LOTS, START, END)
    assert s.average_cents == 0 and s.turns is None and s.losses == ()
