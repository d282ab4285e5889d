"""The pharmacy's pages (issue 12): stock, expiring, pick lists, receive and recall each a page; receiving
from a scanned GS1 code; lot numbers found whatever their case; money in dollars on screen and typed in
dollars, stored in integer cents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from igflow.costs.core import parse_dollars
from igflow.costs.panels import money
from igflow.inventory.models import InventoryLot
from tests.api.test_inventory_api import gtin
from tests.api.test_page_forms import _beside
from tests.conftest import World
from tests.support.visible_text import offending, visible_text

GS = "\x1d"
EXPIRY = (dt.date.today() + dt.timedelta(days=400)).replace(day=1)


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _receipt(world: World, **changes: str) -> dict[str, str]:
    return {
        "product_id": "privigen",
        "site_id": str(world.sites["north"]),
        "lot_number": "PGX1",
        "gtin": gtin("350000000002"),
        "label_expiry": EXPIRY.isoformat(),
        "vial_size_g": "20",
        "count": "3",
        "acquisition_cost": "1,234.50",
        "supplier": "Page Supplier",
        **changes,
    }


def _scan(code: str, lot: str, expiry: dt.date) -> str:
    return f"01{code}17{expiry.strftime('%y%m%d')}10{lot}{GS}2100042"


def test_receiving_takes_dollars_and_stores_cents(world: World) -> None:
    pharmacist = world.client("pharmacist")
    saved = _post(pharmacist, "/inventory/lots", _receipt(world))
    assert saved.status_code == 303, saved.text
    with world.db.session() as session:
        lot = session.execute(select(InventoryLot).where(InventoryLot.lot_number == "PGX1")).scalar_one()
        assert lot.acquisition_cost_cents == 123450
    page = visible_text(pharmacist.get(saved.headers["location"]).text)
    assert "$1,234.50" in page
    stock = visible_text(pharmacist.get("/inventory").text)
    assert "$3,703.50" in stock  # 3 vials at $1,234.50


def test_a_bad_amount_is_refused_beside_the_field_and_the_answers_are_kept(world: World) -> None:
    pharmacist = world.client("pharmacist")
    refused = _post(pharmacist, "/inventory/lots", _receipt(world, acquisition_cost="12.345"))
    assert refused.status_code == 422
    assert "fraction of a cent" in _beside(refused.text, "acquisition_cost")
    assert 'value="PGX1"' in refused.text and 'value="Page Supplier"' in refused.text
    assert offending(refused.text) == []


def test_a_scan_fills_lot_and_expiry_and_the_product_known_from_an_earlier_receipt(world: World) -> None:
    pharmacist = world.client("pharmacist")
    code = gtin("350000000002")
    assert _post(pharmacist, "/inventory/lots", _receipt(world)).status_code == 303
    later = EXPIRY + dt.timedelta(days=31)
    filled = _post(pharmacist, "/inventory/receive/scan", {"scan": _scan(code, "PGX2", later), "count": "5"})
    assert filled.status_code == 200
    html = filled.text
    assert 'value="PGX2"' in html and f'value="{later.isoformat()}"' in html and f'value="{code}"' in html
    assert (
        '<option value="privigen" selected' in html.replace("\n", " ") or 'value="privigen"  selected' in html
    )
    assert 'value="5"' in html  # what was typed before the scan is kept
    assert "as received before under GTIN" in visible_text(html)
    assert offending(html) == []


def test_a_scan_of_a_new_product_code_asks_for_the_product(world: World) -> None:
    pharmacist = world.client("pharmacist")
    code = gtin("350000000099")
    hri = f"(01){code}(17){EXPIRY.strftime('%y%m%d')}(10)NEW7"
    filled = _post(pharmacist, "/inventory/receive/scan", {"scan": hri})
    assert filled.status_code == 200
    assert "has not been received here before: choose the product" in visible_text(filled.text)
    assert 'value="NEW7"' in filled.text


def test_an_unreadable_scan_is_said_in_words_beside_the_field(world: World) -> None:
    pharmacist = world.client("pharmacist")
    refused = _post(pharmacist, "/inventory/receive/scan", {"scan": "hello", "supplier": "Kept Co"})
    assert refused.status_code == 422
    beside = _beside(refused.text, "scan")
    assert "Failed to get GS1" not in refused.text and beside
    assert 'value="Kept Co"' in refused.text


def test_lot_numbers_are_found_whatever_their_case(world: World) -> None:
    pharmacist = world.client("pharmacist")
    assert _post(pharmacist, "/inventory/lots", _receipt(world, lot_number="AbC9")).status_code == 303
    again = _post(pharmacist, "/inventory/lots", _receipt(world, lot_number="abc9", count="2"))
    assert again.status_code == 303  # the same lot, not a second one spelled differently
    with world.db.session() as session:
        lots = session.execute(
            select(InventoryLot).where(InventoryLot.gtin == gtin("350000000002"))
        ).scalars()
        assert [lot.lot_number for lot in lots] == ["AbC9"]
    recall = pharmacist.get("/inventory/recall", params={"lot": "ABC9"})
    assert recall.status_code == 200 and 'href="/inventory/lots/' in recall.text  # found, not "not found"


def test_each_pharmacy_page_has_its_tab_and_the_expiring_window_is_chosen(world: World) -> None:
    pharmacist = world.client("pharmacist")
    soon = dt.date.today() + dt.timedelta(days=45)
    assert _post(
        pharmacist, "/inventory/lots", _receipt(world, lot_number="SOON1", label_expiry=soon.isoformat())
    )
    for url, words in (
        ("/inventory", "Stock"),
        ("/inventory/expiring", "Expiring"),
        ("/inventory/picks", "Pick lists"),
        ("/inventory/receive", "Receive"),
        ("/inventory/recall", "Recall"),
    ):
        page = pharmacist.get(url)
        assert page.status_code == 200 and f'aria-current="page">{words}</a>' in page.text, url
    within_30 = visible_text(pharmacist.get("/inventory/expiring", params={"within": 30}).text)
    within_60 = visible_text(pharmacist.get("/inventory/expiring", params={"within": 60}).text)
    assert "SOON1" not in within_30 and "SOON1" in within_60
    assert pharmacist.get("/inventory/expiring", params={"within": 9999}).status_code == 422


@given(st.integers(min_value=0, max_value=10**12))
def test_money_shown_in_dollars_reads_back_to_the_same_cents(cents: int) -> None:
    assert parse_dollars(money(cents)) == cents
