"""Helpers of the home-supply tests: a home-infusion site, a patient on a verified SC order, lots received
at a pharmacy, a patient account, and reads of the ledger and of the stock at a patient's home."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select

from igflow.home.models import HomeStock
from igflow.inventory.models import StockBalance, StockMove
from igflow.inventory.service import gtin_check_digit
from igflow.sites.models import Site
from tests.api.test_scheduling_api import _patient
from tests.conftest import World

_CODES = itertools.count(100)


def home_site(world: World) -> int:
    """The home-infusion site (kind home), created once per world."""
    if "home" in world.sites:
        return world.sites["home"]
    with world.db.session() as session:
        site = Site(code="home", name="Home Infusion Service", kind="home", timezone="America/Los_Angeles")
        session.add(site)
        session.commit()
        world.sites["home"] = site.id
    return world.sites["home"]


def sc_patient(world: World, key: str, mrn: str, site: str = "north", **order: Any) -> tuple[int, int]:
    """A patient (70 kg) on a verified Cuvitru order: 30 g every 4 weeks as IVIG -> 10 g weekly SC, in
    vials of 8 g + 2 g, 50 mL, 1 site. Returns (patient id, order id)."""
    home_site(world)
    pid = _patient(world, key, mrn, site)
    body = {
        "patient_id": pid,
        "prescriber_id": world.prescriber_id,
        "indication_id": "pid",
        "phase": "maintenance",
        "product_id": "cuvitru",
        "previous_iv_dose_g": 30,
        "iv_interval_weeks": 4,
        "sc_interval_days": 7,
        "first_infusion": False,
        **order,
    }
    created = world.client("prescriber").post("/api/v1/orders", json=body)
    assert created.status_code == 201, created.text
    oid = created.json()["id"]
    verified = world.client("pharmacist").post(
        f"/api/v1/orders/{oid}/verifications", json={"version": 1, "decision": "verified"}
    )
    assert verified.status_code == 201, verified.text
    return pid, oid


def gtin(n: int | None = None) -> str:
    first13 = f"0301{(n if n is not None else next(_CODES)):09d}"
    return first13 + str(gtin_check_digit(first13))


def receive_lot(
    world: World,
    lot_number: str,
    *,
    product: str = "cuvitru",
    size_g: float = 8,
    count: int = 5,
    site: str = "north",
    expiry_days: int = 300,
) -> dict[str, Any]:
    response = world.client("pharmacist").post(
        "/api/v1/inventory/lots",
        json={
            "product_id": product,
            "lot_number": lot_number,
            "gtin": gtin(),
            "label_expiry": (dt.date.today() + dt.timedelta(days=expiry_days)).isoformat(),
            "vial_size_g": size_g,
            "site_id": world.sites[site],
            "count": count,
            "storage_place": "Fridge 1",
            "acquisition_cost_cents": 50000,
            "supplier": "Synthetic Supplier",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def patient_user(world: World, username: str, patient_id: int) -> str:
    if username not in world.users:
        world.add_user(username, ["patient"], patient_id=patient_id)
    return username


def on_hand(world: World, lot_id: int, site: str) -> int:
    with world.db.session() as session:
        row = session.execute(
            select(StockBalance.on_hand).where(
                StockBalance.lot_id == lot_id, StockBalance.site_id == world.sites[site]
            )
        ).first()
        return int(row[0]) if row else 0


def at_home(world: World, patient_id: int, lot_id: int) -> tuple[int, int]:
    """(on hand, held) of the lot at the patient's home."""
    with world.db.session() as session:
        row = session.execute(
            select(HomeStock).where(HomeStock.patient_id == patient_id, HomeStock.lot_id == lot_id)
        ).scalar_one_or_none()
        return (row.on_hand, row.held) if row is not None else (0, 0)


def moves(world: World, lot_id: int) -> list[tuple[str, str, int, int | None, str | None]]:
    """(kind, site code, count, patient id, waste reason) of the lot's ledger, in order."""
    with world.db.session() as session:
        codes = {sid: code for code, sid in world.sites.items()}
        rows = session.execute(select(StockMove).where(StockMove.lot_id == lot_id).order_by(StockMove.id))
        return [(m.kind, codes[m.site_id], m.count, m.patient_id, m.waste_reason) for m in rows.scalars()]


def soon(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()
