"""Product prices per gram: add one (audited), list them per product with their history."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.costs import core
from igflow.costs.models import ProductPrice
from igflow.costs.schemas import PriceIn, PriceOut, ProductPricesOut
from igflow.costs.service._common import product_name, today
from igflow.errors import Conflict, InvalidInput
from igflow.security import audit
from igflow.security.principal import Principal


def _check(data: PriceIn) -> str:
    """The refusals, each naming its field; returns the source as stored."""
    products = load_catalog().products
    if data.product_id not in products:
        raise InvalidInput(
            f"product_id: '{data.product_id}' is not a product in the catalog; "
            f"choose one of {', '.join(sorted(products))}",
            "product_id",
        )
    if data.cents_per_gram <= 0:
        raise InvalidInput(
            "cents_per_gram: the price of a gram must be more than zero cents "
            f"(it was {data.cents_per_gram}); for $82.50 a gram enter 8250",
            "cents_per_gram",
        )
    source = data.source.strip()
    if not source:
        raise InvalidInput(
            "source: say where the price comes from (a contract, a wholesaler invoice, a published "
            "average sales price)",
            "source",
        )
    return source


def add_price(session: Session, principal: Principal, data: PriceIn) -> ProductPrice:
    """A new price of a product from a date (PRICE_MANAGE). A second price on the same date is a 409: a
    price change is a new row from a new date, and the old one stays for the record."""
    source = _check(data)
    taken = session.execute(
        select(ProductPrice).where(
            ProductPrice.product_id == data.product_id, ProductPrice.effective_from == data.effective_from
        )
    ).scalar_one_or_none()
    if taken is not None:
        raise _duplicate(data, taken)
    row = ProductPrice(
        product_id=data.product_id,
        cents_per_gram=data.cents_per_gram,
        effective_from=data.effective_from,
        source=source,
        recorded_by_user_id=principal.user_id,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request recorded the same date first
        session.rollback()
        again = session.execute(
            select(ProductPrice).where(
                ProductPrice.product_id == data.product_id, ProductPrice.effective_from == data.effective_from
            )
        ).scalar_one()
        raise _duplicate(data, again) from None
    audit.record(
        session,
        principal.actor,
        "cost.price.create",
        "product_price",
        row.id,
        detail={
            "product_id": row.product_id,
            "cents_per_gram": row.cents_per_gram,
            "effective_from": row.effective_from.isoformat(),
            "source": row.source,
        },
    )
    session.commit()
    return row


def _duplicate(data: PriceIn, taken: ProductPrice) -> Conflict:
    return Conflict(
        f"effective_from: {product_name(data.product_id)} already has a price from "
        f"{data.effective_from.isoformat()} ({core.format_cents(taken.cents_per_gram)} a gram, "
        f"source: {taken.source}); a change of price is a new price from another date",
        "effective_from",
    )


def price_out(row: ProductPrice, effective_to: date | None) -> PriceOut:
    return PriceOut(
        id=row.id,
        product_id=row.product_id,
        product_name=product_name(row.product_id),
        cents_per_gram=row.cents_per_gram,
        effective_from=row.effective_from,
        effective_to=effective_to,
        source=row.source,
        recorded_by_user_id=row.recorded_by_user_id,
        recorded_at=row.recorded_at,
    )


def list_prices(
    session: Session, product_id: str | None = None, on: date | None = None
) -> list[ProductPricesOut]:
    """Every catalog product (or one) with its prices oldest first and the one in force on ``on`` (today).
    Prices are not patient data: listing them is not an audited read."""
    catalog = load_catalog()
    if product_id is not None and product_id not in catalog.products:
        raise InvalidInput(f"product_id: '{product_id}' is not a product in the catalog", "product_id")
    on = on or today()
    query = select(ProductPrice).order_by(ProductPrice.product_id, ProductPrice.effective_from)
    if product_id is not None:
        query = query.where(ProductPrice.product_id == product_id)
    rows = list(session.execute(query).scalars())
    by_key = {(r.product_id, r.effective_from): r for r in rows}
    prices = [core.Price(r.product_id, r.cents_per_gram, r.effective_from, r.source) for r in rows]
    out: list[ProductPricesOut] = []
    for pid in (
        [product_id] if product_id else sorted(catalog.products, key=lambda p: catalog.products[p].name)
    ):
        listed = [price_out(by_key[(pid, p.effective_from)], until) for p, until in core.history(prices, pid)]
        current = core.price_on(prices, pid, on)
        out.append(
            ProductPricesOut(
                product_id=pid,
                product_name=product_name(pid),
                on=on,
                in_force=next(
                    (p for p in listed if current and p.effective_from == current.effective_from), None
                ),
                prices=listed,
            )
        )
    return out
