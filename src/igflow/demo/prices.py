"""Synthetic product prices for the demo: made-up figures per gram, labelled as such in their source.

igflow ships no real prices; a pharmacist or administrator enters the organisation's own on the Prices
page. These exist so the demo's plans, courses, infusions and cost report show figures. Each product gets
an older price and a later rise (so the Prices page shows a history); one product is left without a price
so that its cost reads "no price on record" as it would in a new installation.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.costs.models import ProductPrice
from igflow.security import audit
from igflow.security.audit import SYSTEM

SOURCE = "synthetic demo price, not a market price"
FIRST, RISE = date(2023, 1, 1), date(2026, 7, 1)
UNPRICED = ("asceniv",)  # shows the "no price on record" message


def _cents(product_index: int) -> int:
    """A made-up, deterministic price per gram between $60.00 and about $118 (not from any market)."""
    return 6000 + (product_index * 937) % 5800


def load_demo_prices(session: Session) -> int:
    """Two synthetic prices per catalog product (none for ``UNPRICED``); returns how many were added."""
    if session.execute(select(ProductPrice.id).limit(1)).first() is not None:
        return 0
    added = 0
    for k, product_id in enumerate(sorted(load_catalog().products)):
        if product_id in UNPRICED:
            continue
        base = _cents(k)
        for on, cents in ((FIRST, base), (RISE, base + base * 4 // 100)):  # a 4 % rise
            session.add(
                ProductPrice(product_id=product_id, cents_per_gram=cents, effective_from=on, source=SOURCE)
            )
            added += 1
    session.flush()
    audit.record(session, SYSTEM, "demo.prices", "product_price", detail={"added": added, "source": SOURCE})
    session.commit()
    return added
