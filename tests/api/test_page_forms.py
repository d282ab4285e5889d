"""Page forms speak the users' language (issue 12): a problem is said once, beside its field, by the field's
label; a refusal naming no field is a sentence; a library's words are translated; a form shown again keeps
every answer; a decimal comma is read as a decimal point; an order started from a referral starts from its
indication; every page has an icon."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from igflow.errors import InvalidInput, NotFound
from igflow.inventory.gs1 import ScanError, parse_scan
from igflow.patients.schemas import MeasurementIn
from igflow.web.forms import FormFailure, decimal_point, form_number, validate_form
from igflow.web.render import TEMPLATES, error_line
from tests.api.test_infusions_api import Chart, _booked, _lots_for
from tests.api.test_scheduling_api import _patient
from tests.conftest import World
from tests.support.visible_text import offending, visible_text

TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()
GS1_WORDS = (
    "That is not a GS1 code this page can read: "
    "scan the carton's 2D barcode or type the product, lot and expiry"
)


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _beside(html: str, field: str) -> str:
    """The problem shown beside a field (its span.field-error), as text."""
    found = re.search(rf'<span class="field-error" id="err-{re.escape(field)}"[^>]*>(.*?)</span>', html, re.S)
    assert found, f"no problem shown beside {field}"
    return visible_text(found.group(1))


def _selected(html: str, name: str) -> list[str]:
    """The values chosen in a select (``<option ... selected>``)."""
    found = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"\s+selected', found.group(1))


def _ticked(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="checkbox" name="{re.escape(name)}" value="([^"]*)" checked', html)


def _new_patient(**answers: str) -> dict[str, str]:
    return {
        "mrn": "NEW0001",
        "given_name": "Nora",
        "family_name": "Newland",
        "date_of_birth": "1980-02-03",
        "sex": "female",
        **answers,
    }


# --- a problem is said once, beside its field, in words ---------------------------------------------------


def test_a_field_problem_is_said_once_beside_its_field_by_its_label(world: World) -> None:
    intake = world.client("intake")
    refused = _post(intake, "/patients/new", _new_patient(date_of_birth=TOMORROW))
    assert refused.status_code == 422
    text = visible_text(refused.text)
    assert _beside(refused.text, "date_of_birth").startswith("Must be from 1900-01-01 to today")
    assert text.count("Must be from 1900-01-01") + text.count("must be from 1900-01-01") == 1, text
    assert "Please correct the field marked below: Date of birth." in text
    assert "date_of_birth" not in text and "Value error" not in text
    assert offending(refused.text) == []


def test_a_service_message_naming_its_field_is_said_once() -> None:
    failure = FormFailure.of(InvalidInput("date_of_birth: cannot be in the future", "date_of_birth"))
    assert failure.fields == {"date_of_birth": "cannot be in the future"}
    assert failure.message == "Date of birth: cannot be in the future."
    page = TEMPLATES.env.from_string(
        '{% from "macros.html" import field, form_errors %}'
        "{{ form_errors(errors, {'date_of_birth': 'Date of birth'}) }}"
        "{{ field('date_of_birth', 'Date of birth', {}, errors) }}"
        "{{ form_errors({'date_of_birth': 'date_of_birth: cannot be in the future'}) }}"
    ).render(errors={"date_of_birth": "date_of_birth: cannot be in the future"})
    text = visible_text(page)
    assert text.count("annot be in the future") == 2, text  # beside the field, and in a list without it
    assert "Date of birth: cannot be in the future." in text and "date_of_birth" not in text
    assert offending(page) == []


def test_a_chart_entry_problem_names_the_field_not_the_payload(world: World) -> None:
    failure = FormFailure.of(
        InvalidInput("payload.rate_ml_per_h: 130 mL/h is above the plan's maximum", "payload.rate_ml_per_h")
    )
    assert failure.fields == {"rate_ml_per_h": "130 mL/h is above the plan's maximum"}
    assert failure.message == "Rate (mL/h): 130 mL/h is above the plan's maximum."
    appointment_id, plan = _booked(world)
    scans = _lots_for(world, plan)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    chart("checklist", {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": "22G"})
    chart("weight", {"weight_kg": plan["weight_kg"]})
    chart("vitals", {"systolic_bp_mmhg": 120, "heart_rate_bpm": 70, "temperature_c": 36.6})
    for scan in scans:
        chart("vial", {"scan_text": scan})
    assert chart("start").status_code == 201
    top = plan["days"][0]["steps"][-1]["rate_ml_per_h"]
    url = f"/chair/records/{record['id']}/entries"
    too_fast = _post(
        nurse, url, {"kind": "rate_change", "client_id": "page-rate-1", "rate_ml_per_h": top + 50}
    )
    assert too_fast.status_code == 422
    text = visible_text(too_fast.text)
    assert "Rate (mL/h): " in text and "above the plan's maximum" in text
    assert "payload" not in text and offending(too_fast.text) == []
    # a decimal comma at the chair: 72,5 mL/h is 72.5 mL/h
    comma = _post(nurse, url, {"kind": "rate_change", "client_id": "page-rate-2", "rate_ml_per_h": "1,5"})
    assert comma.status_code == 303, visible_text(comma.text)
    entries = nurse.get(f"/api/v1/infusions/{record['id']}").json()["entries"]
    assert entries[-1]["payload"]["rate_ml_per_h"] == 1.5


def test_a_refusal_naming_no_field_is_a_sentence(world: World) -> None:
    assert FormFailure.of(NotFound("patient 99999 not found")).errors == {"form": "Patient 99999 not found."}
    assert error_line("form", "form: patient 99999 not found") == "Patient 99999 not found."
    intake = world.client("intake")
    refused = _post(
        intake,
        "/referrals/new",
        {
            "patient_id": "99999",
            "received_on": "2026-01-05",
            "prescriber_id": str(world.prescriber_id),
            "icd10_code": "G61.81",
            "diagnosis_text": "CIDP",
            "indication_id": "cidp",
            "urgency": "routine",
        },
    )
    assert refused.status_code == 422
    assert _beside(refused.text, "patient_id") == "Patient 99999 not found"
    text = visible_text(refused.text)
    assert "form:" not in text and "patient_id" not in text and offending(refused.text) == []


def test_a_scan_the_library_cannot_read_is_said_in_plain_words(world: World) -> None:
    with pytest.raises(ScanError) as unreadable:
        parse_scan("hello")
    assert unreadable.value.message == GS1_WORDS
    with pytest.raises(ScanError) as hri:
        parse_scan("(99")
    assert hri.value.message == GS1_WORDS
    appointment_id, _plan = _booked(world)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    refused = _post(
        nurse,
        f"/chair/records/{record['id']}/entries",
        {"kind": "vial", "client_id": "page-scan-1", "scan_text": "hello"},
    )
    assert refused.status_code == 422
    text = visible_text(refused.text)
    assert "That is not a GS1 code this page can read: scan the vial's 2D barcode" in text
    assert "Failed to get" not in text and "Application Identifier" not in text and "Scan:" not in text


# --- a form shown again keeps every answer ---------------------------------------------------------------


def test_the_new_patient_form_keeps_every_answer(world: World) -> None:
    intake = world.client("intake")
    answers = _new_patient(
        date_of_birth=TOMORROW,
        sex="male",
        iga_deficiency_anti_iga="yes",
        pregnancy_status="not_applicable",
        diabetes="on",
        heart_failure="on",
        allergies="Latex",
    )
    sites = [str(world.sites["south"]), str(world.sites["north"])]
    refused = _post(intake, "/patients/new", {**answers, "site_ids": sites})
    assert refused.status_code == 422
    html = refused.text
    assert _selected(html, "iga_deficiency_anti_iga") == ["yes"]
    assert _selected(html, "pregnancy_status") == ["not_applicable"]
    assert _selected(html, "sex") == ["male"]
    assert _ticked(html, "diabetes") == ["on"] and _ticked(html, "heart_failure") == ["on"]
    assert _ticked(html, "renal_impairment") == []
    assert sorted(_ticked(html, "site_ids")) == sorted(sites)
    assert ">Latex</textarea>" in html and 'value="Nora"' in html


def test_the_referral_form_keeps_every_answer(world: World) -> None:
    intake = world.client("intake")
    refused = _post(
        intake,
        "/referrals/new",
        {
            "patient_id": str(world.patients["ann"]),
            "received_on": TOMORROW,
            "prescriber_id": str(world.prescriber_id),
            "icd10_code": "G61.81",
            "diagnosis_text": "Chronic inflammatory demyelinating polyneuropathy",
            "indication_id": "cidp",
            "urgency": "urgent",
            "notes": "Seen in clinic",
        },
    )
    assert refused.status_code == 422
    html = refused.text
    assert _beside(html, "received_on") == "Cannot be in the future"
    assert _selected(html, "prescriber_id") == [str(world.prescriber_id)]
    assert _selected(html, "indication_id") == ["cidp"] and _selected(html, "urgency") == ["urgent"]
    assert ">Seen in clinic</textarea>" in html


def _accepted_referral(world: World, patient_id: int, indication: str, received_on: str) -> int:
    created = world.client("intake").post(
        "/api/v1/referrals",
        json={
            "patient_id": patient_id,
            "received_on": received_on,
            "prescriber_id": world.prescriber_id,
            "icd10_code": "G61.81",
            "diagnosis_text": "Synthetic diagnosis",
            "indication_id": indication,
            "urgency": "routine",
        },
    )
    assert created.status_code == 201, created.text
    referral = created.json()
    accepted = world.client("pharmacist").put(
        f"/api/v1/referrals/{referral['id']}/decision",
        json={"status": "accepted", "version": referral["version"]},
    )
    assert accepted.status_code == 200, accepted.text
    return int(referral["id"])


def test_an_order_started_from_a_referral_starts_from_its_indication(world: World) -> None:
    pid = _patient(world, "rhea", "ORD0001")
    prescriber = world.client("prescriber")
    blank = prescriber.get(f"/patients/{pid}/orders/new").text
    assert _selected(blank, "indication_id") == [] and _selected(blank, "product_id") == []
    assert '<option value="">Choose…</option>' in blank  # the form asks, it does not start from Kawasaki
    older = _accepted_referral(world, pid, "pid", "2026-01-05")
    cidp = _accepted_referral(world, pid, "cidp", "2026-02-07")
    # the referral page and the chart link to the order form from the referral
    link = f"/patients/{pid}/orders/new?referral_id={older}"
    assert link in world.client("prescriber").get(f"/referrals/{older}").text
    assert link in world.client("prescriber").get(f"/patients/{pid}").text
    started = prescriber.get(link).text
    assert _selected(started, "referral_id") == [str(older)] and _selected(started, "indication_id") == [
        "pid"
    ]
    assert "Primary immunodeficiency" in visible_text(started) and offending(started) == []
    # without a referral named, the latest accepted one
    latest = prescriber.get(f"/patients/{pid}/orders/new").text
    assert _selected(latest, "referral_id") == [str(cidp)] and _selected(latest, "indication_id") == ["cidp"]


def test_the_order_form_keeps_every_answer(world: World) -> None:
    pid = _patient(world, "rhea", "ORD0002")
    referral = _accepted_referral(world, pid, "cidp", "2026-02-07")
    prescriber = world.client("prescriber")
    refused = _post(
        prescriber,
        f"/patients/{pid}/orders/new",
        {
            "prescriber_id": str(world.prescriber_id),
            "referral_id": str(referral),
            "indication_id": "cidp",
            "phase": "induction",
            "product_id": "privigen",
            "setting": "home",
            "dose_g_per_kg": "lots",
            "first_infusion": "true",
            "notes": "Check veins",
        },
    )
    assert refused.status_code == 422
    html = refused.text
    assert _beside(html, "dose_g_per_kg") == "Enter a number, such as 72.5"
    assert _selected(html, "referral_id") == [str(referral)] and _selected(html, "phase") == ["induction"]
    assert _selected(html, "setting") == ["home"] and "privigen" in _selected(html, "product_id")
    assert _ticked(html, "first_infusion") == ["true"] and ">Check veins</textarea>" in html
    assert "Please correct the field marked below: Dose g/kg." in visible_text(html)
    # "none" chosen stays none (not the latest referral) when the form comes back
    none = _post(
        prescriber,
        f"/patients/{pid}/orders/new",
        {"prescriber_id": str(world.prescriber_id), "referral_id": "", "indication_id": "pid", "phase": "x"},
    )
    assert none.status_code == 422 and _selected(none.text, "referral_id") == []
    assert _selected(none.text, "indication_id") == ["pid"]


def test_receiving_stock_keeps_the_site_and_names_the_field(world: World) -> None:
    pharmacist = world.client("pharmacist")
    refused = _post(
        pharmacist,
        "/inventory/lots",
        {
            "product_id": "privigen",
            "site_id": str(world.sites["south"]),
            "lot_number": "PRV-9",
            "gtin": "hello",
            "label_expiry": (dt.date.today() + dt.timedelta(days=200)).isoformat(),
            "vial_size_g": "10",
            "count": "4",
            "acquisition_cost_cents": "90000",
            "supplier": "Synthetic Distributor",
        },
    )
    assert refused.status_code == 422
    html = refused.text
    assert _selected(html, "site_id") == [str(world.sites["south"])]
    assert _selected(html, "product_id") == ["privigen"]
    assert _beside(html, "gtin") == "Enter the 14 digits of the GTIN"
    assert "Please correct the field marked below: GTIN (14 digits)." in visible_text(html)
    assert offending(html) == []


# --- numbers: a decimal comma is a decimal point in page forms -------------------------------------------


def test_a_decimal_comma_is_read_as_a_point() -> None:
    assert decimal_point("72,5") == "72.5" and decimal_point(" 0,125 ") == "0.125"
    assert decimal_point("-3,25") == "-3.25" and decimal_point("72.5") == "72.5"
    assert decimal_point("1,000") == "1,000" and decimal_point("12,500") == "12,500"  # thousands? not guessed
    assert decimal_point("a,b") == "a,b" and decimal_point(72) == 72
    assert form_number("36,8", "temperature_c") == 36.8 and form_number("", "temperature_c") is None
    with pytest.raises(InvalidInput) as refused:
        form_number("1,000", "weight_kg")
    assert refused.value.field == "weight_kg" and "enter a number" in refused.value.message
    reading = validate_form(
        MeasurementIn, {"kind": "weight_kg", "value": "72,5", "measured_on": "2026-01-05"}
    )
    assert reading.value == 72.5


def test_page_forms_take_a_decimal_comma(world: World) -> None:
    pid = _patient(world, "rhea", "NUM0001")
    nurse = world.client("nurse")
    stored = _post(
        nurse,
        f"/patients/{pid}/measurements",
        {"kind": "weight_kg", "value": "72,5", "measured_on": "2026-01-05"},
    )
    assert stored.status_code == 303, visible_text(stored.text)
    weights = nurse.get(f"/api/v1/patients/{pid}/measurements").json()
    assert 72.5 in [m["value"] for m in weights if m["kind"] == "weight_kg"]
    prescriber = world.client("prescriber")
    order = _post(
        prescriber,
        f"/patients/{pid}/orders/new",
        {
            "prescriber_id": str(world.prescriber_id),
            "indication_id": "cidp",
            "phase": "maintenance",
            "product_id": "privigen",
            "dose_g_per_kg": "0,4",
        },
    )
    assert order.status_code == 303, visible_text(order.text)
    oid = order.headers["location"].rsplit("/", 1)[1]
    assert prescriber.get(f"/api/v1/orders/{oid}").json()["dose_g_per_kg"] == 0.4
    calculator = world.client("pharmacist").get(
        "/dose",
        params={
            "indication": "cidp",
            "phase": "maintenance",
            "product": "privigen",
            "weight_kg": "72,5",
            "height_cm": "170",
            "sex": "female",
            "age_years": "40",
        },
    )
    assert calculator.status_code == 200 and "72.5" in visible_text(calculator.text)
    assert 'role="alert"' not in calculator.text.split("<main", 1)[1].split("Day 1", 1)[0]


# --- names, not codes, and an icon on every page ---------------------------------------------------------


def test_every_page_has_an_icon_served_without_signing_in(world: World) -> None:
    anonymous = world.client(None)
    icon = anonymous.get("/favicon.ico")
    assert icon.status_code in (301, 302, 307, 308) and icon.headers["location"] == "/static/favicon.svg"
    svg = anonymous.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert '<link rel="icon" href="/static/favicon.svg"' in world.client("nurse").get("/patients").text
    assert '<link rel="icon" href="/static/favicon.svg"' in anonymous.get("/login").text


def test_pharmacy_pages_name_sites_and_products(world: World) -> None:
    _appointment_id, plan = _booked(world)
    _lots_for(world, plan)
    pharmacist = world.client("pharmacist")
    assert pharmacist.post("/inventory/allocate", data={"csrf_token": pharmacist.csrf}).status_code == 200
    for url in ("/inventory", "/inventory/expiring", "/inventory/picks", "/inventory/receive"):
        page = pharmacist.get(url).text
        text = visible_text(page)
        assert "\nnorth\n" not in f"\n{text}\n", url
        assert offending(page) == [], (url, offending(page))
    assert "North Centre" in visible_text(pharmacist.get("/inventory").text)
    recall = pharmacist.get("/inventory/recall", params={"lot": "GL0A"}).text
    lot = re.search(r'href="/inventory/lots/(\d+)"', recall)
    assert lot and offending(recall) == []
    lot_page = pharmacist.get(f"/inventory/lots/{lot.group(1)}").text
    assert "North Centre: " in visible_text(lot_page) and offending(lot_page) == []


def test_the_verification_queue_shows_urgency_and_waiting_and_sorts(world: World) -> None:
    from tests.api.test_scheduling_api import _patient

    prescriber = world.client("prescriber")
    for key, mrn, indication, phase in (
        ("kaw", "VQ0001", "kawasaki", "acute"),
        ("pidq", "VQ0002", "pid", "maintenance"),
    ):
        pid = _patient(world, key, mrn)
        created = prescriber.post(
            "/api/v1/orders",
            json={
                "patient_id": pid,
                "prescriber_id": world.prescriber_id,
                "indication_id": indication,
                "phase": phase,
                "product_id": "gammagard-liquid",
            },
        )
        assert created.status_code == 201, created.text
    page = world.client("pharmacist").get("/verification-queue")
    assert page.status_code == 200
    text = page.text
    assert "urgent" in text and "routine" in text and " min<" in text
    assert text.index("Kaw") < text.index("Pidq")  # the urgent one first
    by_patient = world.client("pharmacist").get("/verification-queue", params={"sort": "patient"})
    assert "<strong>by patient</strong>" in by_patient.text


def test_each_role_starts_from_its_counts(world: World) -> None:
    home = {
        role: world.client(role).get("/").text for role in ("pharmacist", "scheduler", "prior_auth", "intake")
    }
    assert "plans to verify" in home["pharmacist"] and 'href="/verification-queue"' in home["pharmacist"]
    assert "courses waiting to be booked" in home["scheduler"] and "in the chairs today" in home["scheduler"]
    assert "authorisations ending soon" in home["prior_auth"]
    assert "plans to verify" not in home["intake"] and "courses waiting" not in home["intake"]
