"""The demo's synthetic prices: labelled as synthetic in their source, two per product (a history), one
product left without a price, loaded once."""

from __future__ import annotations

from sqlalchemy import select

from igflow.catalog import load_catalog
from igflow.costs.models import ProductPrice
from igflow.db import Database
from igflow.demo.prices import SOURCE, UNPRICED, load_demo_prices


def test_demo_prices_are_synthetic_labelled_and_loaded_once(db: Database) -> None:
    products = load_catalog().products
    with db.session() as session:
        added = load_demo_prices(session)
        assert added == 2 * (len(products) - len(UNPRICED))
        assert load_demo_prices(session) == 0
        rows = list(session.execute(select(ProductPrice)).scalars())
    assert {r.source for r in rows} == {SOURCE} and SOURCE == "synthetic demo price, not a market price"
    assert all(r.cents_per_gram > 0 for r in rows)
    assert not {r.product_id for r in rows} & set(UNPRICED)
