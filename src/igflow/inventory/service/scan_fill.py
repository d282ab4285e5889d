"""Receiving from a scanned GS1 code: the carton's DataMatrix gives the GTIN, lot and expiry; the product and
vial size come from earlier receipts of the same GTIN (the catalog holds no GTINs). Nothing is saved here:
the receiving form is filled and the pharmacist checks it and receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.inventory import gs1
from igflow.inventory.models import InventoryLot

# What a keyboard-wedge scanner may type for the invisible FNC1/GS separator, besides the character itself.
TYPED_SEPARATORS = (gs1.GS, "<GS>", "^]", "\\x1d")


@dataclass(frozen=True)
class ScanFill:
    values: dict[str, Any]
    note: str  # what was filled in, in words
    product_known: bool = True  # False: the GTIN names no product known here; the pharmacist chooses it
    product_note: str = ""  # then: why the product is not filled in, shown beside the product


def from_scan(session: Session, text: str) -> ScanFill:
    """The receiving form's values from one scan; raises ``gs1.ScanError`` (in words) when unreadable."""
    scan = gs1.parse_scan(text, separators=TYPED_SEPARATORS)
    values: dict[str, Any] = {
        "gtin": scan.gtin,
        "lot_number": scan.lot,
        "label_expiry": scan.expiry.isoformat(),
        "scan": "",
    }
    known = session.execute(
        select(InventoryLot.product_id, InventoryLot.vial_size_g)
        .where(InventoryLot.gtin == scan.gtin)
        .order_by(InventoryLot.id.desc())
        .limit(1)
    ).first()
    if known is None:
        return ScanFill(
            values,
            f"Lot {scan.lot}, expiry {scan.expiry.isoformat()} and GTIN {scan.gtin} filled in from the scan.",
            product_known=False,
            product_note=(
                f"This code's product (GTIN {scan.gtin}) is not in the catalog, which lists no product "
                "codes, and has not been received here before: choose the product and the vial size, "
                "and check them against the carton."
            ),
        )
    product_id, vial_size_g = known
    values |= {"product_id": product_id, "vial_size_g": f"{vial_size_g:g}"}
    product = load_catalog().products.get(product_id)
    name = product.name if product is not None else "the product"
    return ScanFill(
        values,
        f"Filled in from the scan: {name} {vial_size_g:g} g (as received before under GTIN {scan.gtin}), "
        f"lot {scan.lot}, expiry {scan.expiry.isoformat()}. Check them against the carton, then add the "
        "count, cost and supplier.",
    )
