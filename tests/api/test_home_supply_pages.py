"""Pages of deliveries and of the patient's own infusion log speak to people: the queue says what is wrong
and what to do, a delivery's page offers the next steps its status allows, the patient's page says what is
due and the plan in plain words, and no internal code reaches the page."""

from __future__ import annotations

import datetime as dt
import re

from tests.api.home_supply_helpers import home_site, patient_user, receive_lot, sc_patient, soon
from tests.api.test_scheduling_api import _patient
from tests.conftest import World

CODES = (
    "delivery_excursion",
    "not_shipped",
    "no_delivery",
    "storage_range_c",
    "reaction_grade",
    "home_stock_reconcile",
    "self_infusion_follow_up",
)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_the_deliveries_pages_say_what_is_wrong_and_what_to_do(world: World) -> None:
    home_site(world)
    pid = _patient(world, "hal", "PG0001")
    lot = receive_lot(world, "OCT-P", product="octagam-10", size_g=10, count=4)
    pharmacist = world.client("pharmacist")
    page = pharmacist.get("/deliveries")
    assert page.status_code == 200
    assert "Temperature excursions: vials held" in page.text and "Plan a delivery" in page.text
    assert "Plan a delivery" not in world.client("nurse").get("/deliveries").text
    assert '<a href="/deliveries"' in page.text  # in the navigation
    d = pharmacist.post(
        "/api/v1/deliveries",
        json={
            "patient_id": pid,
            "from_site_id": world.sites["north"],
            "needed_by": soon(1),
            "lines": [{"lot_id": lot["id"], "vials": 2}],
        },
    ).json()
    queue = _text(pharmacist.get("/deliveries").text)
    assert (
        "Not shipped within the lead time" in queue and "Pack and ship it today by express courier" in queue
    )
    view = pharmacist.get(f"/deliveries/{d['id']}").text
    assert "Delivery {}: planned".format(d["id"]) in view and "stored at 2–8 °C" in view
    assert "Packed: take the vials from stock" in view and "Cancel the delivery" in view
    packed = pharmacist.post(f"/deliveries/{d['id']}/pack", data={"version": "1"})
    assert packed.status_code == 303 and packed.headers["location"].startswith(f"/deliveries/{d['id']}")
    shipped = pharmacist.post(
        f"/deliveries/{d['id']}/ship", data={"version": "2", "carrier": "", "carrier_reference": ""}
    )
    assert shipped.status_code == 422 and "Carrier" in shipped.text
    pharmacist.post(f"/deliveries/{d['id']}/ship", data={"carrier": "Cold Co", "carrier_reference": "CC-1"})
    bad = pharmacist.post(
        f"/deliveries/{d['id']}/readings", data={"readings": "time, celsius\nyesterday, warm"}
    )
    assert bad.status_code == 422 and "line 2: write the date and time" in bad.text
    warm = pharmacist.post(
        f"/deliveries/{d['id']}/readings", data={"readings": "2026-11-03 08:00, 4.1\n2026-11-03 09:00, 12.5"}
    )
    assert warm.status_code == 303
    held = pharmacist.get(f"/deliveries/{d['id']}").text
    assert "held after a temperature excursion" in held and "Lot OCT-P: 2 vial(s) held" in held
    assert (
        "above 8 °C (Octagam 10%)" in held and "Release the hold" in held and "Waste the held vials" in held
    )
    tasks = world.client("pharmacist").get("/tasks").text
    assert "Release or waste on the delivery's page" in tasks and f'href="/deliveries/{d["id"]}"' in tasks
    for code in CODES:
        assert code not in _text(held) and code not in _text(queue), code


def test_the_patient_logs_an_infusion_on_their_page_and_sees_what_is_due(world: World) -> None:
    pid, oid = sc_patient(world, "pia", "PG0002")
    receive_lot(world, "CUV8-P", size_g=8, count=4)
    receive_lot(world, "CUV2-P", size_g=2, count=4)
    pharmacist = world.client("pharmacist")
    d = pharmacist.post(
        "/api/v1/deliveries",
        json={"patient_id": pid, "from_site_id": world.sites["north"], "order_id": oid, "needed_by": soon(2)},
    ).json()
    pharmacist.post(f"/api/v1/deliveries/{d['id']}/pack", json={})
    pharmacist.post(
        f"/api/v1/deliveries/{d['id']}/ship", json={"carrier": "Cold Co", "carrier_reference": "CC-2"}
    )
    patient = world.client(patient_user(world, "pia.patient", pid))
    page = patient.get("/my/self-infusions")
    assert page.status_code == 200 and "camera=(self)" in page.headers["permissions-policy"]
    text = _text(page.text)
    assert "Log your first self-infusion" in text and "Cuvitru 20%: 50 mL every week." in text
    assert "Did you have a reaction?" in text and "I had to stop or slow the infusion" in text
    assert (
        "Deliveries on their way" in text
        and "It arrived" in text
        and '<script src="/static/scan.js"' in page.text
    )
    got = patient.post(f"/my/deliveries/{d['id']}/receive", data={"version": str(d["version"] + 2)})
    assert got.status_code == 303
    started = (dt.datetime.now() - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "client_id": "page-0001-aaaa",
        "infused_at": started,
        "lot": "CUV8-P",
        "vials": "1",
        "volume_ml": "50",
        "sites": "1",
        "duration_min": "50",
        "reaction": "mild",
        "symptoms": ["site"],
    }
    saved = patient.post("/my/self-infusions", data=form)
    assert saved.status_code == 200, saved.text[:500]
    text = _text(saved.text)
    assert (
        "Saved" in text
        and "taken from the stock at your home" in text
        and "Your nurse will call you about" in text
    )
    assert "Your next infusion is due on" in text
    again = patient.post("/my/self-infusions", data=form)  # the browser re-sends: it lands once
    assert (
        _text(again.text).count("A mild reaction that went away by itself") == 2
    )  # a radio label and one row
    refused = patient.post(
        "/my/self-infusions", data={**form, "client_id": "page-0002-aaaa", "volume_ml": ""}
    )
    assert refused.status_code == 422 and "Volume (mL)" in refused.text
    assert "camera=(self)" not in world.client("pharmacist").get("/deliveries").headers.get(
        "permissions-policy", ""
    )
    for code in CODES:
        assert code not in text, code
    chart = _text(world.client("nurse").get(f"/patients/{pid}").text)
    assert "Deliveries, home stock and self-infusion log" in chart and "grade 1: A mild reaction" in chart
    assert "lot CUV2-P: 1 on hand" in chart and "Next due" in chart


def test_the_navigation_leads_each_role_to_its_page(world: World) -> None:
    pid = _patient(world, "ivy", "PG0003")
    assert "/my/self-infusions" in world.client(patient_user(world, "ivy.patient", pid)).get("/my").text
    for role in ("pharmacist", "nurse", "scheduler", "prescriber"):
        assert 'href="/deliveries"' in world.client(role).get("/patients").text, role
    assert 'href="/deliveries"' not in world.client("intake").get("/patients").text
    plain = world.client("ivy.patient").get("/my/self-infusions")
    assert plain.status_code == 200 and "call your home-infusion nurse" in plain.text
