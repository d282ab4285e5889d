"""The pharmacy's receiving form in a real browser (issue 12): the scanner types the carton's code and Enter
into the scan field; the form comes back with product, lot, expiry and GTIN filled in and everything typed
before kept, nothing saved; Enter in another field then receives the lot. No JavaScript is involved."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.test_role_walks import PASSWORDS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def test_a_scan_fills_the_receiving_form_without_losing_what_was_typed(page: Any, live_server: str) -> None:
    sign_in(page, "pharmacist", PASSWORDS["pharmacist"])
    page.goto("/inventory/receive")
    assert page.locator('nav.tabs a[aria-current="page"]').inner_text() == "Receive"
    page.get_by_label("Vials").fill("4")
    page.get_by_label("Supplier").fill("Browser Supplier (synthetic)")
    page.get_by_label("Cost per vial ($)").fill("1,234.56")
    known = page.request.get("/api/v1/inventory/lots").json()[0]  # a GTIN the pharmacy received before
    code, product, size = known["gtin"], known["product_id"], f"{known['vial_size_g']:g}"
    expiry = (dt.date.today() + dt.timedelta(days=420)).replace(day=1)
    scan = page.get_by_label("Scan the carton's GS1 code")
    scan.fill(f"(01){code}(17){expiry:%y%m%d}(10)brw-77(21)S1")
    scan.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/inventory/lots")  # the form again, not a saved lot
    assert page.get_by_label("Lot number").input_value() == "brw-77"
    assert page.get_by_label("Label expiry").input_value() == expiry.isoformat()
    assert page.get_by_label("GTIN (14 digits)").input_value() == code
    assert page.get_by_label("Product").input_value() == product
    assert page.get_by_label("Vial size (g)").input_value() == size
    assert page.get_by_label("Vials").input_value() == "4"
    assert page.get_by_label("Supplier").input_value() == "Browser Supplier (synthetic)"
    assert page.get_by_label("Cost per vial ($)").input_value() == "1,234.56"
    assert scan.input_value() == ""
    page.get_by_label("Supplier").press("Enter")
    page.wait_for_load_state("networkidle")
    assert "/inventory/lots/" in page.url, page.content()
    text = page.locator("main").inner_text()
    assert "Lot brw-77" in text and "$1,234.56" in text


def test_an_unreadable_scan_is_said_beside_the_field(page: Any, live_server: str) -> None:
    sign_in(page, "pharmacist", PASSWORDS["pharmacist"])
    page.goto("/inventory/receive")
    page.get_by_label("Supplier").fill("Kept Supplier")
    scan = page.get_by_label("Scan the carton's GS1 code")
    scan.fill("hello")
    page.get_by_role("button", name="Fill from the scan").click()
    page.wait_for_load_state("networkidle")
    assert "not a GS1 code this page can read" in page.locator("#err-scan").inner_text()
    assert page.get_by_label("Supplier").input_value() == "Kept Supplier"
    assert scan.get_attribute("aria-invalid") == "true"
