"""The patient's side and the record's history in a real browser (issues 12 and 13): a patient on a phone
asks for a call back and reads the nurse's answer, chooses quiet hours; the schedulers see patients'
requests; intake changes a screening fact with a reason and reads the history."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from igflow.demo.network import DEMO_USERS
from tests.e2e.conftest import sign_in
from tests.support.visible_text import offending

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]
PASSWORDS = {u.username: u.password for u in DEMO_USERS}
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    target = DOCS / name if os.environ.get("IGFLOW_UPDATE_SCREENSHOTS") else tmp_path / name
    page.screenshot(path=str(target), full_page=True)


def _errors(page: Any) -> list[str]:
    """Console errors, but for the browser's note of a refused form's 422 (the answer the test asks for)."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: (
            found.append(msg.text) if msg.type == "error" and "status of 422" not in msg.text else None
        ),
    )
    return found


def test_a_patient_on_a_phone_asks_for_a_call_back_and_reads_the_answer(
    browser: Any, live_server: str, tmp_path: Path
) -> None:
    phone_context = browser.new_context(
        base_url=live_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = phone_context.new_page()
    console = _errors(phone)
    sign_in(phone, "patient", PASSWORDS["patient"])
    phone.get_by_role("link", name="My requests").click()
    phone.wait_for_url("**/my/requests")
    phone.get_by_label("What you are asking for").select_option("call_back")
    phone.get_by_label("Anything the team should know").fill("May I drive home after the infusion?")
    phone.get_by_role("button", name="Send my request").click()
    phone.wait_for_load_state("networkidle")
    assert phone.get_by_role("status").inner_text() == "Your request is with the team."
    assert "May I drive home after the infusion?" in phone.content()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1

    nurse_context = browser.new_context(base_url=live_server)
    nurse = nurse_context.new_page()
    sign_in(nurse, "nurse", PASSWORDS["nurse"])
    nurse.goto("/tasks")
    row = nurse.locator("tr", has_text="May I drive home after the infusion?")
    row.get_by_label("Note").fill("Please bring someone to drive you on your first visit.")
    row.get_by_role("button", name="Done").click()
    nurse.wait_for_load_state("networkidle")

    phone.reload()
    assert "Please bring someone to drive you on your first visit." in phone.content()
    assert offending(phone.content()) == []
    _shot(phone, "my-requests.png", tmp_path)

    phone.get_by_role("link", name="My messages").click()
    phone.wait_for_url("**/my/messages")
    phone.get_by_label("Quiet from").fill("22:00")
    phone.get_by_label("Quiet until").fill("07:30")
    phone.get_by_role("button", name="Save").click()
    phone.wait_for_load_state("networkidle")
    assert phone.get_by_role("status").first.inner_text() == "Saved."
    assert phone.get_by_label("Quiet from").input_value() == "22:00"
    _shot(phone, "my-messages.png", tmp_path)
    assert console == []
    for context in (phone_context, nurse_context):
        context.close()


def test_the_schedulers_see_patients_requests(page: Any, tmp_path: Path) -> None:
    console = _errors(page)
    sign_in(page, "scheduler", PASSWORDS["scheduler"])
    page.goto("/schedule")
    page.get_by_role("link", name="Patients' requests").click()
    page.wait_for_url("**/schedule/requests")
    assert page.get_by_role("heading", name="Patients' requests").is_visible()
    assert offending(page.content()) == []
    _shot(page, "patients-requests.png", tmp_path)
    assert console == []


def test_intake_changes_a_screening_fact_with_a_reason_and_reads_the_history(
    page: Any, tmp_path: Path
) -> None:
    console = _errors(page)
    sign_in(page, "intake", PASSWORDS["intake"])
    page.goto("/patients")
    page.locator("table.list tbody tr td a").first.click()
    page.get_by_role("link", name="Change details").click()
    page.wait_for_url("**/edit")
    box = page.get_by_label("Heart failure")
    box.set_checked(not box.is_checked())
    page.get_by_label("Phone").fill("555-0123")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_load_state("networkidle")
    assert "Say why these screening facts changed" in page.content()  # refused beside the reason
    assert page.get_by_label("Phone").input_value() == "555-0123"  # every answer kept
    page.get_by_label("Reason for the change", exact=False).fill("Echocardiogram report from cardiology")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**/history")
    table = page.locator("table").inner_text()
    assert (
        "Heart failure" in table and "Echocardiogram report from cardiology" in table and "555-0123" in table
    )
    assert offending(page.content()) == []
    _shot(page, "patient-history.png", tmp_path)
    assert console == []
