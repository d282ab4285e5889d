"""A Spanish-speaking patient on a phone (issue 13): the browser asks for Spanish; the patient reads their
next appointment and how to prepare for it, fills in the symptom diary with a red flag and is told what to
do now; the nurses' work queue shows the urgent task at once. The new patient pages (questionnaires, costs,
caregivers) pass axe in Spanish on the phone too. Screenshots: docs/portal-es-phone.png,
docs/diary-red-flag-es.png (written there with IGFLOW_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from igflow.demo.network import DEMO_USERS
from tests.e2e.conftest import sign_in
from tests.e2e.test_accessibility import _violations
from tests.support.visible_text import offending

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]
PASSWORDS = {u.username: u.password for u in DEMO_USERS}
DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    target = DOCS / name if os.environ.get("IGFLOW_UPDATE_SCREENSHOTS") else tmp_path / name
    page.screenshot(path=str(target), full_page=True)


def _sign_in_es(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state("networkidle")


def test_a_spanish_patient_on_a_phone_prepares_reports_a_red_flag_and_the_nurse_sees_it(
    browser: Any, live_server: str, tmp_path: Path
) -> None:
    context = browser.new_context(
        base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True, locale="es-ES"
    )
    phone = context.new_page()
    errors: list[str] = []
    phone.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _sign_in_es(phone, "patient", PASSWORDS["patient"])
    phone.goto("/my")
    assert phone.locator("html").get_attribute("lang") == "es"
    assert phone.get_by_role("heading", name="Mis citas de infusión").is_visible()
    first = phone.locator("section.card ul li").first
    assert " de " in first.inner_text()  # "jueves 10 de diciembre de 2026, 09:00–13:30 ..."
    prepare = phone.get_by_role("heading", name="Cómo prepararse para el", exact=False)
    assert prepare.is_visible()
    advice = phone.locator("ul.preparation").inner_text()
    assert "Tome mucha agua" in advice and "Use ropa cómoda" in advice and "911" in advice
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    assert offending(phone.content()) == []
    name = phone.locator("dt", has_text="Nombre").locator("xpath=following-sibling::dd[1]").inner_text()
    _shot(phone, "portal-es-phone.png", tmp_path)

    phone.get_by_role("link", name="Cómo me siento").click()
    phone.wait_for_url("**/my/diary")
    diary = phone.locator("form.diary").first
    diary.get_by_role("group", name="Dolor de cabeza").get_by_label("Fuerte").check()
    diary.get_by_role("group", name="Rigidez en el cuello", exact=False).get_by_label("Sí").check()
    diary.get_by_role("button", name="Guardar mis respuestas").click()
    alert = phone.get_by_role("alert").filter(has_text="Llame a su centro de infusión ahora")
    alert.wait_for()
    assert "meningitis aséptica" in alert.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    _shot(phone, "diary-red-flag-es.png", tmp_path)

    for url in ("/my/measures", "/my/costs", "/my/caregivers"):
        phone.goto(url)
        phone.wait_for_load_state("networkidle")
        assert phone.locator("html").get_attribute("lang") == "es"
        assert _violations(phone) == [], url
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, url
    assert [e for e in errors if "status of 422" not in e] == []
    context.close()

    staff = browser.new_context(base_url=live_server)
    nurse = staff.new_page()
    sign_in(nurse, "nurse", PASSWORDS["nurse"])
    nurse.goto("/tasks")
    given, family = name.split(" ", 1)
    row = nurse.locator("tr", has_text="Symptom diary").filter(has_text=f"{family}, {given}")
    assert row.count() >= 1
    text = row.first.inner_text()
    assert "aseptic meningitis" in text and "Call the patient now." in text
    staff.close()
