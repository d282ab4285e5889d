"""The pharmacy's pages (issue 12): stock, expiring, pick lists, receive and recall each a page; receiving
from a scanned GS1 code; lot numbers found whatever their case; money in dollars on screen and typed in
dollars, stored in integer cents."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from igflow.costs.core import parse_dollars
from igflow.costs.panels import money
from igflow.inventory.models import InventoryLot
from igflow.web.render import TEMPLATES
from tests.api.test_inventory_api import gtin
from tests.api.test_page_forms import _beside, _selected
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


# --- pick lists: what the booked appointments need against what is on hand -----------------------------


def _needs(world: World, day: str, **params: Any) -> list[dict[str, Any]]:
    got = world.client("pharmacist").get(
        "/api/v1/inventory/needs", params={"start": day, "days": 1, "site_id": world.sites["north"], **params}
    )
    assert got.status_code == 200, got.text
    return list(got.json())


def test_the_pick_list_shows_needs_against_stock_and_the_lots_fefo_would_pick(world: World) -> None:
    from tests.api.test_inventory_api import _stock_for_plan, booked_appointment, patient

    pid = patient(world, "nia", "NEED001")
    booked = booked_appointment(world, pid)
    appt, plan = booked["appointment"], booked["plan"]
    day1 = next(d for d in plan["days"] if d["day"] == 1)["vials"]
    pharmacist = world.client("pharmacist")

    # nothing received yet: every vial is short, and the page says so
    before = _needs(world, appt["date"])
    assert [(n["vial_size_g"], n["vials_needed"], n["short"], n["on_hand"]) for n in before] == sorted(
        (float(v["size_g"]), int(v["count"]), int(v["count"]), 0) for v in day1
    )
    assert all(n["grams_needed"] == n["vials_needed"] * n["vial_size_g"] for n in before)
    url = f"/inventory/picks?site={appt['site_id']}&date={appt['date']}&days=1"
    page = pharmacist.get(url)
    assert page.status_code == 200 and offending(page.text) == []
    needs_text = visible_text(page.text.split('id="needs"')[1].split("</section>")[0])
    assert "Gammagard Liquid 10%" in needs_text and "short " in needs_text

    # an earlier (A) and a later (B) lot of each size: FEFO would pick A, nothing is short
    lots = _stock_for_plan(world, plan)
    after = _needs(world, appt["date"])
    assert all(n["short"] == 0 and n["allocated"] == 0 for n in after)
    assert {p["lot_number"][0] for n in after for p in n["would_pick"]} == {"A"}
    assert sum(p["count"] for n in after for p in n["would_pick"]) == sum(int(v["count"]) for v in day1)
    assert all(n["on_hand"] == 2 * n["vials_needed"] for n in after)  # A and B each hold what one day needs
    would = sorted((p["lot_id"], p["count"]) for n in after for p in n["would_pick"])
    page = pharmacist.get(url)
    assert offending(page.text) == []
    assert f'href="/inventory/lots/{lots[0]["id"]}">A0</a> ×' in page.text

    # what the Allocate button does is what the page said it would pick
    assert _post(pharmacist, "/inventory/allocate", {"start": appt["date"], "days": "1"}).status_code == 200
    held = pharmacist.get(
        "/api/v1/inventory/pick-list", params={"site_id": appt["site_id"], "date": appt["date"]}
    ).json()
    assert sorted((p["lot_id"], p["count"]) for p in held) == would
    allocated = _needs(world, appt["date"])
    assert all(n["allocated"] == n["vials_needed"] and n["would_pick"] == [] for n in allocated)
    assert "all allocated" in visible_text(pharmacist.get(url).text)


def test_needs_of_another_site_are_refused_and_a_bad_horizon_is_refused(world: World) -> None:
    from tests.api.test_inventory_api import booked_appointment, patient

    booked = booked_appointment(world, patient(world, "ned", "NEED002"))
    day = booked["appointment"]["date"]
    assert _needs(world, day, site_id=world.sites["south"]) == []  # nothing booked there
    pharmacist = world.client("pharmacist")
    too_long = pharmacist.get("/api/v1/inventory/needs", params={"start": day, "days": 99})
    assert too_long.status_code == 422


def test_the_one_page_pharmacys_pick_list_links_still_work(world: World) -> None:
    pharmacist = world.client("pharmacist")
    day = dt.date.today().isoformat()
    old = pharmacist.get(
        "/inventory", params={"site": world.sites["north"], "date": day}, follow_redirects=False
    )
    assert old.status_code == 303
    assert old.headers["location"] == f"/inventory/picks?site={world.sites['north']}&date={day}"
    assert pharmacist.get("/inventory", follow_redirects=False).status_code == 200  # the Stock page


# --- receiving from a scan: one form, so nothing typed is lost ---------------------------------------------


def _typed(world: World) -> dict[str, str]:
    """What a pharmacist has typed before scanning: the count, cost, supplier and storage place."""
    return {
        "site_id": str(world.sites["south"]),
        "count": "7",
        "acquisition_cost": "1,234.56",
        "supplier": "Typed Supplier",
        "storage_place": "Fridge 3",
    }


def test_the_scanners_enter_fills_the_form_and_saves_nothing(world: World) -> None:
    pharmacist = world.client("pharmacist")
    code = gtin("350000000013")
    assert (
        _post(pharmacist, "/inventory/lots", _receipt(world, gtin=code, lot_number="FIRST")).status_code
        == 303
    )
    # the scanner types the code and Enter: the form goes to its default action with everything in it
    scanned = f"]d2{_scan(code, 'scn-2', EXPIRY)}\r\n".replace(GS, "<GS>")
    filled = _post(pharmacist, "/inventory/lots", {**_typed(world), "scan": scanned})
    assert filled.status_code == 200, filled.text
    html = filled.text
    for kept in ('value="7"', 'value="1,234.56"', 'value="Typed Supplier"', 'value="Fridge 3"'):
        assert kept in html, kept
    assert _selected(html, "site_id") == [str(world.sites["south"])]
    assert 'value="scn-2"' in html and f'value="{EXPIRY.isoformat()}"' in html and f'value="{code}"' in html
    assert _selected(html, "product_id") == ["privigen"] and 'value="20"' in html
    assert 'name="scan" type="text" value=""' in html  # the scan field is empty again, ready for Receive
    assert offending(html) == []
    with world.db.session() as session:
        numbers = session.execute(select(InventoryLot.lot_number).where(InventoryLot.gtin == code)).scalars()
        assert list(numbers) == ["FIRST"]  # nothing saved from the scan


def test_an_unknown_product_code_is_said_beside_the_product_and_nothing_is_chosen(world: World) -> None:
    pharmacist = world.client("pharmacist")
    code = gtin("350000000020")
    hri = f"(01){code}(17){EXPIRY.strftime('%y%m%d')}(10)UNK1(21)SER9"
    filled = _post(pharmacist, "/inventory/receive/scan", {**_typed(world), "scan": hri})
    assert filled.status_code == 200
    html = filled.text
    note = re.search(r'<p class="warning" id="product-note">(.*?)</p>', html, re.S)
    assert note and f"This code's product (GTIN {code}) is not in the catalog" in visible_text(note.group(1))
    assert "choose the product" in note.group(1)
    assert _selected(html, "product_id") == []  # no product guessed
    assert 'aria-describedby="product-note"' in html
    assert 'value="UNK1"' in html and 'value="Typed Supplier"' in html and 'value="7"' in html
    assert offending(html) == []
    # receiving without choosing the product is refused beside it, and everything stays
    refused = _post(pharmacist, "/inventory/lots", {**_typed(world), "lot_number": "UNK1", "gtin": code})
    assert refused.status_code == 422 and _beside(refused.text, "product_id")
    assert 'value="UNK1"' in refused.text and 'value="Typed Supplier"' in refused.text


def test_an_unreadable_code_keeps_everything_typed_and_says_why_in_words(world: World) -> None:
    pharmacist = world.client("pharmacist")
    for scan in ("hello", "(01)12345", f"01{gtin('350000000037')}17991399"):
        refused = _post(pharmacist, "/inventory/lots", {**_typed(world), "scan": scan, "lot_number": "KEEP1"})
        assert refused.status_code == 422, scan
        beside = _beside(refused.text, "scan")
        assert beside and "Failed to get" not in refused.text and "GS1 Application" not in beside, scan
        assert "biip" not in refused.text.lower()
        for kept in ('value="KEEP1"', 'value="Typed Supplier"', 'value="1,234.56"', f'value="{scan}"'):
            assert kept in refused.text, (scan, kept)
        assert offending(refused.text) == [], scan
    nothing = _post(pharmacist, "/inventory/receive/scan", _typed(world))
    assert nothing.status_code == 422 and "nothing was scanned" in _beside(nothing.text, "scan").lower()


def test_a_bad_amount_in_dollars_is_refused_in_words(world: World) -> None:
    pharmacist = world.client("pharmacist")
    for amount, words in (("twelve", "is not an amount in dollars"), ("1.005", "fraction of a cent")):
        refused = _post(pharmacist, "/inventory/lots", _receipt(world, acquisition_cost=amount))
        assert refused.status_code == 422
        assert words in _beside(refused.text, "acquisition_cost"), amount
        assert f'value="{amount}"' in refused.text


# --- lot numbers in any case ------------------------------------------------------------------------------


def test_lot_search_and_the_chair_side_scan_ignore_case(world: World) -> None:
    from tests.api.test_inventory_api import _stock_for_plan, booked_appointment, patient, scan_text

    booked = booked_appointment(world, patient(world, "lia", "CASE001"))
    appt, plan = booked["appointment"], booked["plan"]
    lots = _stock_for_plan(world, plan)
    pharmacist, nurse = world.client("pharmacist"), world.client("nurse")
    found = pharmacist.get("/api/v1/inventory/lots", params={"lot_number": "a0"}).json()
    assert [lot["id"] for lot in found] == [lots[0]["id"]]
    assert (
        pharmacist.post("/api/v1/inventory/allocations", json={"start": appt["date"], "days": 1}).status_code
        == 200
    )
    lower = {**lots[0], "lot_number": "a0"}  # the carton's lot printed (or keyed) in lower case
    checked = nurse.post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": scan_text(lower)}
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["lot_id"] == lots[0]["id"]
    trace = pharmacist.get("/inventory/recall", params={"lot": "a0"})
    assert trace.status_code == 200 and f'href="/inventory/lots/{lots[0]["id"]}"' in trace.text


# --- money on screen --------------------------------------------------------------------------------------


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_cents_shown_in_dollars_read_back_exactly(cents: int) -> None:
    shown = money(cents)
    assert re.fullmatch(r"-?\$\d{1,3}(,\d{3})*\.\d{2}", shown)
    assert parse_dollars(shown.replace(",", "")) == cents == parse_dollars(shown)


def test_dollars_typed_in_forms_become_exact_cents() -> None:
    assert parse_dollars("1234.56") == 123456 == parse_dollars("1,234.56") == parse_dollars(" $1,234.56 ")
    assert parse_dollars("0.1") == 10 and parse_dollars("19.99") == 1999  # no float rounding
    for bad in ("", "1.234", "abc", "NaN", "1e400.5", "Infinity"):
        with pytest.raises(ValueError):
            parse_dollars(bad)


def test_money_is_shown_with_one_filter_on_the_pharmacy_pages() -> None:
    rendered = TEMPLATES.env.from_string("{{ 123456|money }} {{ none|money }}").render()
    assert rendered == "$1,234.56 unknown"
