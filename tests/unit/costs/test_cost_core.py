"""The pure cost core: the price in force on a date, integer-cent costs rounded half-up, partial-vial waste,
sums per year and per month, site and payer (hypothesis where it fits)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.costs.core import (
    Costed,
    CoveragePeriod,
    DrugCost,
    Price,
    Vials,
    cents_for_mg,
    drug_cost,
    format_cents,
    history,
    monthly_totals,
    parse_dollars,
    payer_on,
    per_year,
    price_on,
    to_mg,
    total,
)

DAY0 = date(2024, 1, 1)
days = st.integers(min_value=0, max_value=2000).map(lambda n: DAY0 + timedelta(days=n))
cents_per_gram = st.integers(min_value=1, max_value=1_000_000)
milligrams = st.integers(min_value=0, max_value=10_000_000)


@st.composite
def price_lists(draw: st.DrawFn) -> list[Price]:
    starts = draw(st.lists(days, min_size=1, max_size=6, unique=True))
    return [Price("privigen", draw(cents_per_gram), d, "test") for d in starts]


@given(price_lists(), days)
def test_the_price_in_force_is_the_latest_on_or_before_the_date(prices: list[Price], on: date) -> None:
    found = price_on(prices, "privigen", on)
    earlier = [p for p in prices if p.effective_from <= on]
    if not earlier:
        assert found is None  # before the first price there is none: never invented
    else:
        assert found is not None and found.effective_from == max(p.effective_from for p in earlier)
    assert price_on(prices, "gamunex-c", on) is None  # another product's price never applies


@given(price_lists())
def test_a_price_runs_until_the_day_before_the_next(prices: list[Price]) -> None:
    rows = history(prices, "privigen")
    assert [p.effective_from for p, _ in rows] == sorted(p.effective_from for p in prices)
    for (p, until), (following, _) in pairwise(rows):
        assert until == following.effective_from - timedelta(days=1)
        assert price_on(prices, "privigen", until) == p
        assert price_on(prices, "privigen", following.effective_from) == following
    assert rows[-1][1] is None


@given(milligrams, cents_per_gram)
def test_cents_are_rounded_half_up_exactly(mg: int, cpg: int) -> None:
    exact = Decimal(mg) * Decimal(cpg) / Decimal(1000)
    assert cents_for_mg(mg, cpg) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(milligrams, milligrams, cents_per_gram)
def test_cost_is_monotone_and_nearly_additive(a: int, b: int, cpg: int) -> None:
    assert cents_for_mg(min(a, b), cpg) <= cents_for_mg(max(a, b), cpg)
    assert abs(cents_for_mg(a + b, cpg) - cents_for_mg(a, cpg) - cents_for_mg(b, cpg)) <= 1


def test_examples_of_rounding_and_money() -> None:
    assert cents_for_mg(1, 500) == 1  # 0.5 cent rounds up
    assert cents_for_mg(1, 499) == 0
    assert cents_for_mg(to_mg(65.5), 8250) == 540_375  # 65.5 g at $82.50 a gram
    assert format_cents(541_250) == "$5,412.50"
    assert format_cents(5) == "$0.05" and format_cents(-150) == "-$1.50"
    assert parse_dollars("$8,250.00") == 825_000 and parse_dollars("82.5") == 8250
    with pytest.raises(ValueError, match="fraction of a cent"):
        parse_dollars("1.005")
    with pytest.raises(ValueError, match="not an amount"):
        parse_dollars("a lot")
    assert to_mg(2.5) == 2500 and to_mg(0.0005) == 1 and to_mg("155.0") == 155_000
    with pytest.raises(ValueError):
        to_mg(-1)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_money_reads_back(cents: int) -> None:
    assert parse_dollars(format_cents(cents).replace("-$", "-")) == cents


@given(
    st.lists(st.tuples(st.sampled_from([1000, 2500, 5000, 10000, 20000]), st.integers(0, 6)), max_size=4),
    milligrams,
    cents_per_gram,
)
def test_waste_and_given_add_up_to_the_vials_dispensed(
    vials: list[tuple[int, int]], given_mg: int, cpg: int
) -> None:
    prices = [Price("privigen", cpg, DAY0)]
    cost = drug_cost(prices, "privigen", DAY0, [Vials(s, c) for s, c in vials], given_mg)
    assert cost.dispensed_mg == sum(s * c for s, c in vials)
    assert cost.waste_mg == max(0, cost.dispensed_mg - given_mg)
    assert cost.waste_cents is not None and cost.given_cents is not None and cost.dispensed_cents is not None
    assert cost.given_cents + cost.waste_cents == cost.dispensed_cents
    assert cost.waste_cents >= 0 and cost.given_cents >= 0
    assert cost.waste_cents == cents_for_mg(cost.waste_mg, cpg)


def test_partial_vial_waste_is_costed() -> None:
    prices = [Price("privigen", 8000, DAY0)]  # $80.00 a gram
    # 2 x 20 g + 1 x 5 g dispensed, 42.3 g given: 2.7 g wasted
    cost = drug_cost(prices, "privigen", DAY0, [Vials(20_000, 2), Vials(5_000, 1)], to_mg(42.3))
    assert (cost.dispensed_cents, cost.waste_cents, cost.given_cents) == (360_000, 21_600, 338_400)
    unended = drug_cost(prices, "privigen", DAY0, [Vials(20_000, 1)], None)
    assert unended.waste_mg is None and unended.dispensed_cents == 160_000


def test_before_the_first_price_the_cost_is_unknown_with_the_date() -> None:
    prices = [Price("privigen", 8000, date(2025, 1, 1))]
    cost = drug_cost(prices, "privigen", date(2024, 12, 31), [Vials(10_000, 1)], 10_000)
    assert cost.price is None and cost.dispensed_cents is None
    assert cost.unknown is not None and cost.unknown.text == "unknown, no price on 2024-12-31"
    sums = total([cost, drug_cost(prices, "privigen", date(2025, 1, 1), [Vials(10_000, 1)], 10_000)])
    assert sums.cents == 80_000 and sums.counted == 1 and not sums.complete
    assert [u.on for u in sums.unknown] == [date(2024, 12, 31)]


def _cost(on: date, mg: int, cpg: int | None) -> DrugCost:
    price = None if cpg is None else Price("privigen", cpg, DAY0)
    return DrugCost("privigen", on, price, mg, mg)


doses = st.lists(
    st.tuples(
        days, milligrams, st.one_of(st.none(), cents_per_gram), st.sampled_from("NS"), st.sampled_from("AB")
    ),
    max_size=30,
)


@given(doses)
def test_monthly_and_yearly_totals_keep_every_cent_and_every_unknown(
    rows: list[tuple[date, int, int | None, str, str]],
) -> None:
    costs = [_cost(on, mg, cpg) for on, mg, cpg, _, _ in rows]
    known = sum(c.dispensed_cents or 0 for c in costs)
    unknown = sum(1 for c in costs if c.price is None)
    months = monthly_totals(
        Costed(c, site, payer) for c, (_, _, _, site, payer) in zip(costs, rows, strict=True)
    )
    assert sum(t.cents for t in months.values()) == known
    assert sum(len(t.unknown) for t in months.values()) == unknown
    assert list(months) == sorted(months)
    for (month, site, payer), t in months.items():
        mine = [
            c
            for c, (_, _, _, s, p) in zip(costs, rows, strict=True)
            if (c.on.strftime("%Y-%m"), s, p) == (month, site, payer)
        ]
        assert t.cents == sum(c.dispensed_cents or 0 for c in mine)
    years = per_year(costs)
    assert sum(t.cents for t in years.values()) == known
    assert all(all(u.on.year == y for u in t.unknown) for y, t in years.items())


def test_the_payer_is_the_primary_coverage_in_force_on_the_day() -> None:
    old = CoveragePeriod(1, 1, date(2024, 1, 1), date(2024, 12, 31), active=False)
    new = CoveragePeriod(2, 1, date(2025, 1, 1), None)
    secondary = CoveragePeriod(3, 2, None, None)
    coverages = [old, new, secondary]
    assert payer_on(coverages, date(2024, 6, 1)) == 1
    assert payer_on(coverages, date(2025, 6, 1)) == 2
    assert payer_on(coverages, date(2023, 6, 1)) == 3  # only the secondary was in force
    assert payer_on([CoveragePeriod(4, 1, None, None, active=False)], date(2025, 1, 1)) is None
    assert payer_on([], date(2025, 1, 1)) is None
