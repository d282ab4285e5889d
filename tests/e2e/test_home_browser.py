"""Home visits in a real browser: the scheduler's routes on a map, and a home nurse's day on a phone, from
her visit list to the chart she keeps at the patient's home."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from igflow.demo.network import DEMO_USERS
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]
PASSWORDS = {u.username: u.password for u in DEMO_USERS}
DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}


def _first_day_with_visits(page: Any) -> str:
    for offset in range(0, 15):
        day = (dt.date.today() + dt.timedelta(days=offset)).isoformat()
        if page.request.get(f"/api/v1/home/routes?date={day}").json():
            return day
    raise AssertionError("the demo's routing run booked home visits in the next two weeks")


def test_the_scheduler_sees_the_days_routes_on_a_map(page: Any, tmp_path: Path) -> None:
    sign_in(page, "scheduler", PASSWORDS["scheduler"])
    day = _first_day_with_visits(page)
    page.goto(f"/home?date={day}")
    assert page.get_by_role("heading", name="Routes", exact=False).count() >= 1
    assert "Waiting to be routed" in page.content()
    page.goto(f"/home/routes?date={day}")
    assert page.locator("figure.route-map svg polyline").count() >= 1
    assert "Drawn from the coordinates on record, not a street map." in page.content()
    update = os.environ.get("IGFLOW_UPDATE_SCREENSHOTS")
    page.screenshot(path=str(DOCS / "home-routes.png" if update else tmp_path / "routes.png"), full_page=True)
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_home_nurse_works_through_her_day_on_a_phone(
    browser: Any, live_server: str, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, "nurse.home", PASSWORDS["nurse.home"])
        found = None
        for offset in range(0, 15):
            day = (dt.date.today() + dt.timedelta(days=offset)).isoformat()
            page.goto(f"/home/my-day?date={day}")
            if page.locator("ul.visits li").count():
                found = day
                break
        assert found, "the demo gives the nurse.home sign-in visits in the next two weeks"
        first = page.locator("ul.visits li").first
        assert "min drive" in first.inner_text()
        assert page.locator("figure.route-map svg[role=img]").count() == 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, "the visit list fits a phone without sideways scrolling"
        update = os.environ.get("IGFLOW_UPDATE_SCREENSHOTS")
        page.screenshot(
            path=str(DOCS / "home-nurse-day.png" if update else tmp_path / "day.png"), full_page=True
        )
        first.get_by_role("button", name="Arrived: start chart").click()
        page.wait_for_load_state("networkidle")
        assert "/chair/records/" in page.url
        assert page.get_by_role("heading").first.is_visible()
    finally:
        context.close()
