"""Accessibility proven in a real browser (issue 13): axe-core (through axe-playwright-python, which ships
axe.min.js; nothing is downloaded) on the patient pages and the main staff pages of the demo, with zero
serious or critical violations (WCAG 2.x A/AA rules); keyboard-only use of the patient's pages; text that
scales to 200 %."""

from __future__ import annotations

from typing import Any

import pytest

from igflow.demo.network import DEMO_USERS
from igflow.demo.patient_side import CAREGIVER_USER
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]
PASSWORDS = {u.username: u.password for u in DEMO_USERS}
PASSWORDS[CAREGIVER_USER[0]] = CAREGIVER_USER[1]  # made by the patient-side demo (igflow.demo.patient_side)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}

PAGES = {
    "patient": [
        *["/my", "/my/requests", "/my/messages", "/my/diary", "/my/self-infusions"],
        *["/my/measures", "/my/costs", "/my/caregivers"],  # questionnaires, costs, caregivers (issue 13)
    ],
    "caregiver": ["/my", "/my/diary", "/my/caregivers"],  # the demo patient's caregiver
    "pharmacist": ["/", "/patients", "/verification-queue", "/inventory", "/inventory/receive", "/tasks"],
    "nurse": ["/", "/chair", "/tasks", "/home"],
    "scheduler": ["/schedule", "/schedule/requests", "/planning", "/schedule/closures"],
    "intake": ["/referrals", "/referrals/new", "/patients/new"],
}


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} e.g. {v['nodes'][0]['target']}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("role", sorted(PAGES))
def test_no_serious_or_critical_axe_violations(browser: Any, live_server: str, role: str) -> None:
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    sign_in(page, role, PASSWORDS[role])
    found = {}
    for url in PAGES[role]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        problems = _violations(page)
        if problems:
            found[url] = problems
    context.close()
    assert found == {}, found


def test_the_check_finds_a_violation_when_there_is_one(page: Any) -> None:
    page.set_content('<html lang="en"><body><main><img src="x.png"><a href="/x"></a></main></body></html>')
    problems = " ".join(_violations(page))
    assert "image-alt (critical)" in problems and "link-name (serious)" in problems


def test_a_patient_asks_for_a_call_back_with_the_keyboard_alone(page: Any) -> None:
    # the SCIG patient: the demo patient's own call back is asked in test_patient_side_browser (one open
    # request per kind, and the tests share one live server)
    sign_in(page, "patient.scig", PASSWORDS["patient.scig"])
    page.goto("/my/requests")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to content"
    kind = page.get_by_label("What you are asking for")
    kind.focus()
    kind.press("End")  # the last choice: a call back
    for _ in range(20):  # the appointment, three dates (each a few stops in chromium), then the message
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "message":
            break
    assert page.evaluate("document.activeElement.name") == "message"
    page.keyboard.type("Keyboard only: please call me")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Send my request"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert "Keyboard only: please call me" in page.content()


@pytest.mark.parametrize("url", ["/my", "/my/requests", "/my/diary"])
def test_patient_pages_keep_their_text_at_200_percent(browser: Any, live_server: str, url: str) -> None:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, "patient", PASSWORDS["patient"])
    page.goto(url)
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280 + 1  # nothing cut off sideways
    context.close()
