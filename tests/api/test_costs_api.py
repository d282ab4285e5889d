"""Drug cost through the API and the pages: prices per gram with effective dates and source (refusals name
the field, a second price on a date is 409), the cost of a verified plan, a course and an infusion with its
partial-vial waste, unknown without a price (never zero), per-patient sums, the monthly report per site and
payer, permissions and audit."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from igflow.costs import service as cost_service
from igflow.costs.core import to_mg
from igflow.security.models import AuditEvent
from tests.api.test_infusions_api import Chart, _lots_for
from tests.api.test_scheduling_api import _course, _patient, _verified_order, book_first_option
from tests.conftest import World

TODAY = dt.date.today()
PRODUCT = "gammagard-liquid"
NAME = "Gammagard Liquid 10%"
VITALS = {"systolic_bp_mmhg": 122, "heart_rate_bpm": 74, "temperature_c": 36.8, "spo2_percent": 98}


def _price(world: World, cents: int = 8250, on: dt.date | None = None, **extra: Any) -> Any:
    return world.client(extra.pop("user", "pharmacist")).post(
        "/api/v1/prices",
        json={
            "product_id": extra.pop("product_id", PRODUCT),
            "cents_per_gram": cents,
            "effective_from": (on or TODAY - dt.timedelta(days=365)).isoformat(),
            "source": extra.pop("source", "test contract"),
            **extra,
        },
    )


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<main", 1)[-1]))


def test_a_price_is_added_listed_with_its_history_and_audited(world: World) -> None:
    first = _price(world, 8000, TODAY - dt.timedelta(days=400), source="wholesaler invoice 2025")
    assert first.status_code == 201, first.text
    second = _price(world, 8250, TODAY - dt.timedelta(days=30), user="admin")
    assert second.status_code == 201, second.text
    assert second.json()["cents_per_gram"] == 8250 and second.json()["product_name"] == NAME
    listed = world.client("admin").get(f"/api/v1/prices?product_id={PRODUCT}").json()
    assert len(listed) == 1
    rows = listed[0]["prices"]
    assert [r["cents_per_gram"] for r in rows] == [8000, 8250]
    assert (
        rows[0]["effective_to"] == (TODAY - dt.timedelta(days=31)).isoformat()
        and rows[1]["effective_to"] is None
    )
    assert rows[0]["source"] == "wholesaler invoice 2025"
    assert listed[0]["in_force"]["cents_per_gram"] == 8250
    every = world.client("pharmacist").get("/api/v1/prices").json()
    assert {p["product_id"] for p in every} >= {PRODUCT, "privigen"}
    assert next(p for p in every if p["product_id"] == "privigen")["in_force"] is None
    with world.db.session() as session:
        actions = list(session.execute(select(AuditEvent.action)).scalars())
    assert actions.count("cost.price.create") == 2


def test_refusals_name_the_field_in_words(world: World) -> None:
    duplicate = TODAY - dt.timedelta(days=10)
    assert _price(world, 8000, duplicate).status_code == 201
    again = _price(world, 9000, duplicate)
    assert again.status_code == 409 and again.json()["field"] == "effective_from"
    assert "already has a price from" in again.json()["detail"] and "$80.00 a gram" in again.json()["detail"]
    zero = _price(world, 0)
    assert zero.status_code == 422 and zero.json()["field"] == "cents_per_gram"
    assert "more than zero cents" in zero.json()["detail"]
    assert _price(world, -5).json()["field"] == "cents_per_gram"
    unknown = _price(world, product_id="no-such-product")
    assert unknown.status_code == 422 and unknown.json()["field"] == "product_id"
    assert "not a product in the catalog" in unknown.json()["detail"]
    empty = _price(world, source="   ")
    assert empty.status_code == 422 and empty.json()["field"] == "source"
    assert "where the price comes from" in empty.json()["detail"]
    # the page's form: dollars in, the field named in words
    pharmacist = world.client("pharmacist")
    form = {
        "product_id": PRODUCT,
        "price_per_gram": "82.505",
        "effective_from": TODAY.isoformat(),
        "source": "x",
    }
    page = pharmacist.post("/prices", data=form)
    assert page.status_code == 422 and "Price per gram: " in _text(page.text)
    assert "fraction of a cent" in page.text and "cents_per_gram" not in _text(page.text)
    ok = pharmacist.post("/prices", data={**form, "price_per_gram": "$82.50"})
    assert ok.status_code == 303
    shown = _text(pharmacist.get("/prices").text)
    assert "$82.50" in shown and "igflow ships no real prices" in shown


def test_roles_without_the_permission_are_refused(world: World) -> None:
    for role in ("nurse", "scheduler", "intake", "prescriber", "auditor"):
        assert _price(world, user=role).status_code == 403, role
        assert world.client(role).get("/api/v1/prices").status_code == 403, role
        assert world.client(role).get("/api/v1/reports/cost").status_code == 403, role
    # the administrator sets prices but reads no patient's costs
    assert world.client("admin").get("/api/v1/reports/cost").status_code == 403
    assert world.client("admin").get("/prices").status_code == 200


def _signed_infusion(world: World, volume_share: float = 1.0) -> dict[str, Any]:
    """A verified Gammagard plan, its course booked, day 1 charted at the chair (vials scanned and
    dispensed) and ended with ``volume_share`` of the day's volume."""
    pid = _patient(world, "una", "CST001")
    oid = _verified_order(world, pid)
    course = _course(world, oid)
    booked = book_first_option(world, course["id"])
    plan = world.client("pharmacist").get(f"/api/v1/orders/{oid}").json()["versions"][-1]["plan"]
    scans = _lots_for(world, plan)
    appointment = booked["appointments"][0]
    record = world.client("nurse").post(f"/api/v1/appointments/{appointment['id']}/infusion").json()
    chart = Chart(world, record["id"])
    steps: list[tuple[str, dict[str, Any]]] = [
        ("checklist", {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": "22G"}),
        ("weight", {"weight_kg": plan["weight_kg"]}),
        ("vitals", VITALS),
        *[("vial", {"scan_text": s}) for s in scans],
        ("start", {}),
        (
            "end",
            {
                "volume_infused_ml": round(plan["days"][0]["volume_ml"] * volume_share, 1),
                "vials_wasted": 0,
                "confirm_volume": True,
            },
        ),
    ]
    for kind, payload in steps:
        response = chart(kind, payload)
        assert response.status_code == 201, (kind, response.text)
    return {
        "patient": pid,
        "order": oid,
        "course": course["id"],
        "record": record["id"],
        "plan": plan,
        "date": dt.date.fromisoformat(appointment["date"]),
    }


def test_without_a_price_the_cost_is_unknown_and_says_who_sets_it(world: World) -> None:
    pid = _patient(world, "una", "CST002")
    oid = _verified_order(world, pid)
    cost = world.client("pharmacist").get(f"/api/v1/orders/{oid}/cost")
    assert cost.status_code == 200, cost.text
    body = cost.json()
    assert body["verified"] is True and body["days"]
    assert all(d["dispensed_cents"] is None for d in body["days"])
    assert body["days"][0]["unknown"] == f"unknown, no price on {TODAY.isoformat()}"
    assert body["cycle"]["complete"] is False and body["cycle"]["total_cents"] == 0
    page = world.client("pharmacist").get(f"/orders/{oid}")
    text = _text(page.text)
    assert f"No price on record for {NAME} on {TODAY.isoformat()}" in text
    assert "a pharmacist or administrator sets it on the Prices page" in text
    assert 'href="/prices"' in page.text
    # a price from tomorrow does not apply today: still unknown, never invented
    _price(world, 8000, TODAY + dt.timedelta(days=1))
    assert world.client("pharmacist").get(f"/api/v1/orders/{oid}/cost").json()["days"][0]["unknown"]


def test_the_order_page_shows_the_cost_of_a_cycle(world: World) -> None:
    _price(world, 8250)
    pid = _patient(world, "una", "CST003")
    oid = _verified_order(world, pid)
    body = world.client("pharmacist").get(f"/api/v1/orders/{oid}/cost").json()
    plan = world.client("pharmacist").get(f"/api/v1/orders/{oid}").json()["versions"][-1]["plan"]
    expected = sum((to_mg(d["dispensed_g"]) * 8250 + 500) // 1000 for d in plan["days"])
    assert body["cycle"]["total_cents"] == expected and body["cycle"]["complete"]
    assert body["days"][0]["cents_per_gram"] == 8250 and body["days"][0]["price_source"] == "test contract"
    page = _text(world.client("pharmacist").get(f"/orders/{oid}").text)
    dollars = f"${expected // 100:,}.{expected % 100:02d}"
    assert "Drug cost of one cycle" in page and f"Total: {dollars}" in page
    # a prescriber reads the order but not its cost: no panel, no refusal
    other = world.client("prescriber").get(f"/orders/{oid}")
    assert other.status_code == 200 and "Drug cost" not in other.text


def test_an_infusion_costs_its_vials_and_the_partial_vial_waste(world: World) -> None:
    _price(world, 10_000)  # $100.00 a gram
    s = _signed_infusion(world, volume_share=0.5)
    day = s["plan"]["days"][0]
    dispensed_mg = to_mg(day["dispensed_g"])
    given_mg = to_mg(round(round(day["volume_ml"] * 0.5, 1) * s["plan"]["concentration_g_per_ml"], 3))
    cost = world.client("pharmacist").get(f"/api/v1/infusions/{s['record']}/cost")
    assert cost.status_code == 200, cost.text
    c = cost.json()["cost"]
    assert c["dispensed"] is True and c["dispensed_mg"] == dispensed_mg and c["given_mg"] == given_mg
    assert c["waste_mg"] == dispensed_mg - given_mg > 0
    assert c["dispensed_cents"] == dispensed_mg * 10 and c["waste_cents"] == (dispensed_mg - given_mg) * 10
    assert c["given_cents"] + c["waste_cents"] == c["dispensed_cents"]
    course = world.client("pharmacist").get(f"/api/v1/courses/{s['course']}/cost").json()
    assert course["days"][0]["dispensed"] is True and course["total"]["waste_cents"] == c["waste_cents"]
    patient = world.client("pharmacist").get(f"/api/v1/patients/{s['patient']}/cost").json()
    assert patient["cycles"][0]["total"]["total_cents"] == course["total"]["total_cents"]
    assert sum(y["total"]["total_cents"] for y in patient["years"]) == course["total"]["total_cents"]
    page = _text(world.client("pharmacist").get(f"/courses/{s['course']}").text)
    assert "Drug cost of this course" in page and "dispensed at the chair" in page
    history = _text(world.client("pharmacist").get(f"/patients/{s['patient']}/infusions").text)
    assert "Drug cost" in history and "Per year" in history
    report = world.client("pharmacist").get("/api/v1/reports/cost").json()
    month = s["date"].strftime("%Y-%m")
    rows = [r for r in report["rows"] if r["month"] == month]
    assert sum(r["dispensed_cents"] for r in rows) == c["dispensed_cents"]
    assert rows[0]["site_name"] == "North Centre" and rows[0]["payer_name"] == "No coverage on record"
    assert report["patients"][0]["patient_id"] == s["patient"]
    page = _text(world.client("pharmacist").get("/reports/cost").text)
    assert "Drug cost report" in page and "North Centre" in page
    with world.db.session() as session:
        actions = set(session.execute(select(AuditEvent.action)).scalars())
    assert {"cost.infusion.read", "cost.course.read", "cost.patient.read", "cost.report.read"} <= actions


def test_a_site_limited_pharmacist_sees_no_other_sites_costs(world: World) -> None:
    _price(world, 8250)
    s = _signed_infusion(world)
    world.add_user("pharmacist.south", ["pharmacist"], ["south"])
    south = world.client("pharmacist.south")
    for url in (
        f"/api/v1/orders/{s['order']}/cost",
        f"/api/v1/courses/{s['course']}/cost",
        f"/api/v1/infusions/{s['record']}/cost",
        f"/api/v1/patients/{s['patient']}/cost",
    ):
        assert south.get(url).status_code == 404, url
    report = south.get("/api/v1/reports/cost").json()
    assert report["rows"] == [] and report["patients"] == []


def test_authorised_grams_are_priced_per_product(world: World) -> None:
    _price(world, 8000)
    with world.db.session() as session:
        cost = cost_service.authorisation_cost(session, [PRODUCT, "privigen"], 120, TODAY)
    assert cost.least_cents == cost.most_cents == 960_000
    assert [u.product_id for u in cost.unknown] == ["privigen"]
