"""Synthetic pharmacy stock for the demo network (deterministic for a seed).

Per centre, lots of the products the demo orders use, sized from the booked appointments' verified plans
(so pick lists, some shortfalls and a shortage proposal show), with expiries 3-18 months out and a few
within 30/60/90 days, acquisition cost in cents, supplier and synthetic GTINs with valid check digits; par
levels; a FEFO allocation of the coming week; and ONE recalled lot that was already dispensed to patients
(so the recall look-back has something to find). Everything goes through the inventory service (ledger,
balances and audit), as the pharmacy would do it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import select

from igflow.catalog import load_catalog
from igflow.db import Database
from igflow.errors import IgflowError
from igflow.inventory import service
from igflow.inventory.models import InventoryLot
from igflow.inventory.schemas import ParLevelIn, ReceiptIn, StatusIn
from igflow.sites.models import Site

DEMO_INVENTORY_PRODUCTS = ("gammagard-liquid", "privigen", "gamunex-c", "panzyga", "octagam-10", "bivigam")
_SUPPLIERS = ("Cascade Specialty Distribution (synthetic)", "Pacific Plasma Wholesale (synthetic)")
# Synthetic list prices per gram in cents (not real prices).
_CENTS_PER_G = {
    "gammagard-liquid": 9800,
    "privigen": 9500,
    "gamunex-c": 9700,
    "panzyga": 9200,
    "octagam-10": 9000,
    "bivigam": 8800,
}


def demo_gtin(product_index: int, vial_size_g: float) -> str:
    """A synthetic GTIN-14 (indicator 0, company prefix 0999) with a valid check digit.

    ``product_index`` is the product's index in ``DEMO_INVENTORY_PRODUCTS``: one GTIN per product and size.
    """
    first13 = f"00999{product_index:02d}{round(vial_size_g * 100):06d}"[:13]
    return first13 + str(service.gtin_check_digit(first13))


def load_inventory_demo(db: Database, *, seed: int, console: Console) -> dict[str, int]:
    """Lots, par levels, a week's FEFO allocation and one recalled, already-dispensed lot.

    Returns counts; changes nothing (and returns zeros) if any lot exists already.
    """
    from igflow.security.service import get_user_by_username, principal_for_user

    counts = {"lots": 0, "vials": 0, "par_levels": 0, "allocated_vials": 0, "recalled_lot_patients": 0}
    rng = random.Random(seed + 5)
    today = datetime.now(UTC).date()
    catalog = load_catalog()
    with db.session() as session:
        if session.execute(select(InventoryLot.id).limit(1)).first() is not None:
            console.print("Inventory: lots exist already; nothing loaded.")
            return counts
        users: dict[str, Any] = {}
        for name in ("pharmacist", "nurse"):
            user = get_user_by_username(session, name)
            if user is None:
                raise RuntimeError(f"demo user {name!r} is missing: load the demo network first")
            users[name] = principal_for_user(user, client_address="demo-loader")
        pharmacist, nurse = users["pharmacist"], users["nurse"]
        centres = list(
            session.execute(
                select(Site).where(Site.kind == "centre", Site.active.is_(True)).order_by(Site.id)
            )
            .scalars()
            .all()
        )
        # Forecast: whole vials per (site, product, size) over the next three weeks, from verified plans.
        demand: dict[tuple[int, str, float], int] = {}
        for row in service._demand_rows(session, today, 21):
            for size, count in row.plan.vials:
                key = (row.appointment.site_id, row.plan.product, size)
                demand[key] = demand.get(key, 0) + count
        lot_counter = 0

        def receive(site: Site, product: str, size: float, count: int, expiry_days: int) -> Any:
            nonlocal lot_counter
            lot_counter += 1
            pidx = DEMO_INVENTORY_PRODUCTS.index(product)  # as demo.history does: one GTIN per product+size
            data = ReceiptIn(
                product_id=product,
                lot_number=f"{product[:2].upper()}{seed % 100:02d}{lot_counter:04d}",
                gtin=demo_gtin(pidx, size),
                label_expiry=today + timedelta(days=expiry_days),
                vial_size_g=size,
                site_id=site.id,
                count=count,
                storage_place=f"Fridge {1 + lot_counter % 2}",
                acquisition_cost_cents=round(_CENTS_PER_G[product] * size),
                supplier=_SUPPLIERS[lot_counter % len(_SUPPLIERS)],
            )
            counts["lots"] += 1
            counts["vials"] += count
            return service.receive(session, pharmacist, data)

        for site in centres:
            for product in DEMO_INVENTORY_PRODUCTS:
                sizes = catalog.products[product].vial_sizes_g.value or []
                used = sorted({size for (sid, prod, size) in demand if sid == site.id and prod == product})
                stocked = used or [s for s in sizes if s in (5.0, 10.0, 20.0)][:2]
                for size in stocked:
                    need = demand.get((site.id, product, size), 0)
                    # Mostly enough, sometimes short (shortfalls and a shortage proposal to look at).
                    total = max(2, round(need * rng.uniform(0.6, 1.5)) + rng.randint(0, 4))
                    first = max(1, total // 3)
                    near = rng.choice((rng.randint(12, 30), rng.randint(31, 60), rng.randint(61, 90)))
                    receive(site, product, size, first, near if rng.random() < 0.4 else rng.randint(90, 200))
                    receive(site, product, size, total - first if total > first else 1, rng.randint(200, 540))
                    service.set_par_level(
                        session,
                        pharmacist,
                        ParLevelIn(
                            site_id=site.id,
                            product_id=product,
                            vial_size_g=size,
                            par_count=max(2, need // 3),
                        ),
                    )
                    counts["par_levels"] += 1

        # One recalled lot, already given: the earliest booked/completed appointments of one product.
        candidates = [
            row
            for row in service._demand_rows(
                session, today - timedelta(days=60), 81, statuses=("completed", "booked")
            )
            if row.plan.vials and row.plan.product in DEMO_INVENTORY_PRODUCTS
        ]
        if candidates:
            pioneer = candidates[0]
            product, size = pioneer.plan.product, pioneer.plan.vials[0][0]
            same = [
                r
                for r in candidates
                if r.plan.product == product
                and r.appointment.site_id == pioneer.appointment.site_id
                and any(s == size for s, _ in r.plan.vials)
            ][:3]
            site = next(s for s in centres if s.id == pioneer.appointment.site_id)
            vials = sum(next(c for s, c in r.plan.vials if s == size) for r in same)
            lot = receive(site, product, size, vials + 2, rng.randint(150, 300))
            patients: set[int] = set()
            for r in same:
                count = next(c for s, c in r.plan.vials if s == size)
                try:
                    service.dispense(
                        session,
                        nurse,
                        r.appointment.id,
                        lot.id,
                        count,
                        client_id=f"demo-{seed}-recall-{r.appointment.id}",
                    )
                    patients.add(r.appointment.patient_id)
                except IgflowError:
                    session.rollback()
            service.change_status(
                session,
                pharmacist,
                lot.id,
                StatusIn(
                    action="recall",
                    reason="Manufacturer recall notice (synthetic demo): possible particulate matter",
                ),
            )
            counts["recalled_lot_patients"] = len(patients)
            counts["recalled_lot_id"] = lot.id
            console.print(
                f"Inventory: recalled lot {lot.lot_number} ({product} {size:g} g) was dispensed to "
                f"{len(patients)} patient(s); trace it with `igflow lots trace {lot.lot_number}`."
            )
        run = service.run_allocation(session, pharmacist, today, 7)
        counts["allocated_vials"] = run.allocated_vials
    console.print(
        f"Inventory: {counts['lots']} lots ({counts['vials']} vials) at {len(centres)} centres, "
        f"{counts['par_levels']} par levels, {counts['allocated_vials']} vials allocated for the coming week."
    )
    return counts
