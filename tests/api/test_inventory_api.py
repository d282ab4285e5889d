"""Inventory through the API: receive lots, FEFO allocation and pick list, scan hard stops at the chair,
idempotent dispense, quarantine/recall releasing allocations, recall trace (JSON and CSV)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from igflow.inventory.service import gtin_check_digit
from tests.conftest import World


def gtin(prefix12: str) -> str:
    first13 = "0" + prefix12
    return first13 + str(gtin_check_digit(first13))


def patient(world: World, key: str, mrn: str, site: str = "north") -> int:
    intake = world.client("intake")
    created = intake.post(
        "/api/v1/patients",
        json={
            "mrn": mrn,
            "given_name": key.title(),
            "family_name": "Stock",
            "date_of_birth": "1975-01-01",
            "sex": "male",
            "site_ids": [world.sites[site]],
        },
    )
    assert created.status_code == 201, created.text
    pid = int(created.json()["id"])
    nurse = world.client("nurse")
    for kind, value in (("weight_kg", 70), ("height_cm", 175)):
        nurse.post(
            f"/api/v1/patients/{pid}/measurements",
            json={"kind": kind, "value": value, "measured_on": "2026-11-01"},
        )
    world.patients[key] = pid
    return pid


def booked_appointment(
    world: World,
    pid: int,
    product: str = "gammagard-liquid",
    indication: str = "pid",
    phase: str = "maintenance",
) -> dict[str, Any]:
    """A verified order, its course and the first suggested booking; returns the first appointment + plan."""
    order = world.client("prescriber").post(
        "/api/v1/orders",
        json={
            "patient_id": pid,
            "prescriber_id": world.prescriber_id,
            "indication_id": indication,
            "phase": phase,
            "product_id": product,
        },
    )
    assert order.status_code == 201, order.text
    oid = order.json()["id"]
    verified = world.client("pharmacist").post(
        f"/api/v1/orders/{oid}/verifications", json={"version": 1, "decision": "verified"}
    )
    assert verified.status_code == 201, verified.text
    scheduler = world.client("scheduler")
    course = scheduler.post("/api/v1/courses", json={"order_id": oid})
    assert course.status_code == 201, course.text
    cid = course.json()["id"]
    option = scheduler.get(f"/api/v1/courses/{cid}/suggestions").json()[0]
    booked = scheduler.post(
        f"/api/v1/courses/{cid}/bookings", json={k: option[k] for k in ("site", "dates", "starts", "chairs")}
    )
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["appointments"][0]
    plan = world.client("pharmacist").get(f"/api/v1/orders/{oid}").json()["versions"][-1]["plan"]
    return {"appointment": appointment, "plan": plan, "order": oid}


def receive(
    world: World,
    *,
    product: str = "gammagard-liquid",
    lot: str = "LOT1",
    code: str = "300000000001",
    size: float = 10,
    count: int = 10,
    expiry: str = "2027-06-30",
    site: str = "north",
    **extra: Any,
) -> dict[str, Any]:
    response = world.client("pharmacist").post(
        "/api/v1/inventory/lots",
        json={
            "product_id": product,
            "lot_number": lot,
            "gtin": gtin(code),
            "label_expiry": expiry,
            "vial_size_g": size,
            "site_id": world.sites[site],
            "count": count,
            "storage_place": "Fridge 1",
            "acquisition_cost_cents": 95000,
            "supplier": "Test Wholesaler",
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def day1_size(plan: dict[str, Any]) -> float:
    return float(next(d for d in plan["days"] if d["day"] == 1)["vials"][0]["size_g"])


def scan_text(lot: dict[str, Any], serial: str = "S1") -> str:
    expiry = dt.date.fromisoformat(lot["label_expiry"])
    return f"(01){lot['gtin']}(17){expiry:%y%m%d}(10){lot['lot_number']}(21){serial}"


def test_receive_validates_and_derives_stock(world: World) -> None:
    lot = receive(world)
    assert lot["on_hand"] == 10 and lot["stock"][0]["available"] == 10
    assert lot["storage_state"] == "refrigerated" and lot["effective_expiry"] == "2027-06-30"
    pharm = world.client("pharmacist")
    bad = pharm.post("/api/v1/inventory/lots", json={**_receipt(world), "gtin": "00300000000002"})
    assert bad.status_code == 422 and "gtin" in bad.text
    size = pharm.post("/api/v1/inventory/lots", json={**_receipt(world), "vial_size_g": 7})
    assert size.status_code == 422 and "vial_size_g" in size.text
    past = pharm.post("/api/v1/inventory/lots", json={**_receipt(world), "label_expiry": "2020-01-31"})
    assert past.status_code == 422 and past.json()["field"] == "label_expiry"
    clash = pharm.post(
        "/api/v1/inventory/lots", json={**_receipt(world), "gtin": lot["gtin"], "product_id": "privigen"}
    )
    assert clash.status_code == 422 and clash.json()["field"] == "gtin"
    unknown = pharm.post("/api/v1/inventory/lots", json={**_receipt(world), "product_id": "nope"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "product_id"
    # room temperature: Gammagard's allowance is unknown in the catalog -> refused, not guessed
    warm = pharm.put(
        f"/api/v1/inventory/lots/{lot['id']}/storage",
        json={"storage_place": "Shelf", "room_temperature_since": "2026-11-01"},
    )
    assert warm.status_code == 422 and "room_temperature_since" in warm.text
    # Octagam 10%: 9 months at room temperature shortens the effective expiry
    octa = receive(world, product="octagam-10", lot="OCT1", code="300000000002", expiry="2028-01-31")
    moved = pharm.put(
        f"/api/v1/inventory/lots/{octa['id']}/storage",
        json={"storage_place": "Shelf", "room_temperature_since": "2026-11-01"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["effective_expiry"] == "2027-07-31"
    assert moved.json()["storage_state"] == "room temperature since 2026-11-01"
    nurse = world.client("nurse")
    assert nurse.post("/api/v1/inventory/lots", json=_receipt(world)).status_code == 403
    assert nurse.get(f"/api/v1/inventory/lots/{lot['id']}").json()["moves"][0]["kind"] == "receipt"


def _receipt(world: World) -> dict[str, Any]:
    return {
        "product_id": "gammagard-liquid",
        "lot_number": "LOTX",
        "gtin": gtin("300000000009"),
        "label_expiry": "2027-06-30",
        "vial_size_g": 10,
        "site_id": world.sites["north"],
        "count": 5,
        "acquisition_cost_cents": 1000,
        "supplier": "S",
    }


def _stock_for_plan(world: World, plan: dict[str, Any], day: int = 1, extra: int = 0) -> list[dict[str, Any]]:
    vials = next(d for d in plan["days"] if d["day"] == day)["vials"]
    lots = []
    for k, vial in enumerate(vials):
        lots.append(
            receive(
                world,
                product=plan["product"],
                lot=f"A{k}",
                code=f"31000000000{k}",
                size=vial["size_g"],
                count=vial["count"] + extra,
                expiry="2027-03-31",
            )
        )
        lots.append(
            receive(
                world,
                product=plan["product"],
                lot=f"B{k}",
                code=f"32000000000{k}",
                size=vial["size_g"],
                count=vial["count"] + extra,
                expiry="2027-09-30",
            )
        )
    return lots


def test_fefo_allocation_pick_list_scan_dispense_recall_trace(world: World) -> None:
    pid = patient(world, "una", "INV001")
    booked = booked_appointment(world, pid)
    appt, plan = booked["appointment"], booked["plan"]
    lots = _stock_for_plan(world, plan)
    pharm, nurse = world.client("pharmacist"), world.client("nurse")
    shortfalls = pharm.get("/api/v1/inventory/shortfalls", params={"start": appt["date"], "days": 1}).json()
    assert {s["appointment_id"] for s in shortfalls} == {appt["id"]}
    run = pharm.post("/api/v1/inventory/allocations", json={"start": appt["date"], "days": 1})
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["shortfalls"] == []
    day1 = next(d for d in plan["days"] if d["day"] == 1)["vials"]
    assert body["allocated_vials"] == sum(v["count"] for v in day1)
    # FEFO: every pick comes from the earlier-expiring "A" lots
    assert {p["lot_number"][0] for p in body["picks"]} == {"A"}
    picks = nurse.get(
        "/api/v1/inventory/pick-list", params={"site_id": appt["site_id"], "date": appt["date"]}
    ).json()
    assert sum(p["count"] for p in picks) == body["allocated_vials"]
    # running it again allocates nothing more
    again = pharm.post("/api/v1/inventory/allocations", json={"start": appt["date"], "days": 1}).json()
    assert again["allocated_vials"] == 0

    a_lot = next(lot for lot in lots if lot["lot_number"] == "A0")
    ok = nurse.post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": scan_text(a_lot)}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["lot_id"] == a_lot["id"] and ok.json()["allocated_to_appointment"] == day1[0]["count"]

    other = receive(world, product="privigen", lot="PRV1", code="330000000001", size=10)
    wrong = nurse.post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": scan_text(other)}
    )
    assert wrong.status_code == 422 and "wrong product" in wrong.json()["detail"]
    unknown = nurse.post(
        "/api/v1/inventory/scan-checks",
        json={"appointment_id": appt["id"], "scan": f"(01){a_lot['gtin']}(17)270331(10)NOPE"},
    )
    assert unknown.status_code == 422 and "not in stock" in unknown.json()["detail"]
    garbage = nurse.post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": "hello"}
    )
    assert garbage.status_code == 422
    stranger = nurse.post(
        "/api/v1/inventory/scan-checks",
        json={"appointment_id": appt["id"], "scan": f"(01){gtin('399999999999')}(17)270331(10)X1"},
    )
    assert stranger.status_code == 422 and "not in the pharmacy's stock records" in stranger.json()["detail"]
    old_lot = receive(
        world,
        lot="OLD1",
        code="310000000000",
        size=day1_size(plan),
        count=2,
        expiry=dt.date.today().isoformat(),
    )
    expired = nurse.post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": scan_text(old_lot)}
    )
    if appt["date"] > old_lot["label_expiry"]:
        assert expired.status_code == 422 and "expired" in expired.json()["detail"]
    mismatch = nurse.post(
        "/api/v1/inventory/scan-checks",
        json={
            "appointment_id": appt["id"],
            "scan": f"(01){a_lot['gtin']}(17)290101(10){a_lot['lot_number']}",
        },
    )
    assert mismatch.status_code == 422 and "differs from the record" in mismatch.json()["detail"]

    count = day1[0]["count"]
    first = nurse.post(
        "/api/v1/inventory/dispenses",
        json={"appointment_id": appt["id"], "lot_id": a_lot["id"], "count": count, "client_id": "chair-0001"},
    )
    assert first.status_code == 201, first.text
    replay = nurse.post(
        "/api/v1/inventory/dispenses",
        json={"appointment_id": appt["id"], "lot_id": a_lot["id"], "count": count, "client_id": "chair-0001"},
    )
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    detail = nurse.get(f"/api/v1/inventory/lots/{a_lot['id']}").json()
    assert [m["kind"] for m in detail["moves"]] == ["receipt", "allocation", "dispense"]
    assert detail["on_hand"] == 0 and detail["stock"][0]["allocated"] == 0
    # no stock left: the database refuses a further dispense
    more = nurse.post(
        "/api/v1/inventory/dispenses", json={"appointment_id": appt["id"], "lot_id": a_lot["id"], "count": 1}
    )
    assert more.status_code == 409 and "not enough stock" in more.json()["detail"]

    # recall the dispensed lot; the trace finds the patient
    recall = pharm.post(
        f"/api/v1/inventory/lots/{a_lot['id']}/status",
        json={"action": "recall", "reason": "manufacturer notice"},
    )
    assert recall.status_code == 200 and recall.json()["lot"]["status"] == "recalled"
    trace = pharm.get("/api/v1/inventory/trace", params={"lot": "A0"}).json()
    assert [(r["patient_id"], r["appointment_id"], r["vial_count"]) for r in trace] == [
        (pid, appt["id"], count)
    ]
    csv = pharm.get("/api/v1/inventory/trace.csv", params={"lot": "A0"})
    assert csv.headers["content-type"].startswith("text/csv") and "INV001" in csv.text
    recalled = nurse.post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": scan_text(a_lot)}
    )
    assert recalled.status_code == 422 and "recalled" in recalled.json()["detail"]


def test_quarantine_releases_allocations_and_release_restores_use(world: World) -> None:
    pid = patient(world, "vic", "INV002")
    booked = booked_appointment(world, pid)
    appt, plan = booked["appointment"], booked["plan"]
    _stock_for_plan(world, plan)
    pharm = world.client("pharmacist")
    run = pharm.post("/api/v1/inventory/allocations", json={"start": appt["date"], "days": 1}).json()
    lot_id = run["picks"][0]["lot_id"]
    held = sum(p["count"] for p in run["picks"] if p["lot_id"] == lot_id)
    quarantine = pharm.post(
        f"/api/v1/inventory/lots/{lot_id}/status", json={"action": "quarantine", "reason": "fridge alarm"}
    )
    assert quarantine.status_code == 200, quarantine.text
    assert quarantine.json()["released"] == [
        {"appointment_id": appt["id"], "site_id": appt["site_id"], "count": held}
    ]
    assert quarantine.json()["lot"]["stock"][0]["allocated"] == 0
    short = pharm.get("/api/v1/inventory/shortfalls", params={"start": appt["date"], "days": 1}).json()
    assert any(s["appointment_id"] == appt["id"] for s in short)
    # re-allocation uses the other lot
    rerun = pharm.post("/api/v1/inventory/allocations", json={"start": appt["date"], "days": 1}).json()
    assert rerun["shortfalls"] == [] and all(p["lot_id"] != lot_id for p in rerun["picks"] if p["count"])
    dispense = world.client("nurse").post(
        "/api/v1/inventory/dispenses", json={"appointment_id": appt["id"], "lot_id": lot_id, "count": 1}
    )
    assert dispense.status_code == 409 and "quarantined" in dispense.json()["detail"]
    lot = pharm.get(f"/api/v1/inventory/lots/{lot_id}").json()
    scanned = world.client("nurse").post(
        "/api/v1/inventory/scan-checks", json={"appointment_id": appt["id"], "scan": scan_text(lot)}
    )
    assert scanned.status_code == 422 and "quarantined" in scanned.json()["detail"]
    released = pharm.post(
        f"/api/v1/inventory/lots/{lot_id}/status", json={"action": "release", "reason": "ok temp"}
    )
    assert released.status_code == 200 and released.json()["lot"]["status"] == "available"
    twice = pharm.post(
        f"/api/v1/inventory/lots/{lot_id}/status", json={"action": "release", "reason": "again"}
    )
    assert twice.status_code == 409


def test_shortage_proposes_and_reorder_suggests(world: World) -> None:
    pid = patient(world, "wyn", "INV003")
    booked = booked_appointment(world, pid)
    appt, plan = booked["appointment"], booked["plan"]
    pharm = world.client("pharmacist")
    # no gammagard at all; gamunex-c in stock in big vials at the site
    receive(world, product="gamunex-c", lot="GMX1", code="340000000001", size=40, count=10)
    shortage = pharm.get("/api/v1/inventory/shortage", params={"start": appt["date"], "days": 1}).json()
    assert shortage["shortage_products"] == [plan["product"]]
    assert shortage["served_in_order"] == [appt["id"]]
    (proposal,) = shortage["proposals"]
    assert proposal["kind"] == "switch_product" and proposal["switch_to"] == "gamunex-c"
    assert "Proposals only" in shortage["note"]
    # nothing was allocated by the proposal
    assert (
        pharm.get("/api/v1/inventory/lots", params={"product_id": "gamunex-c"}).json()[0]["stock"][0][
            "allocated"
        ]
        == 0
    )
    par = pharm.put(
        "/api/v1/inventory/par-levels",
        json={"site_id": world.sites["north"], "product_id": "gamunex-c", "vial_size_g": 40, "par_count": 15},
    )
    assert par.status_code == 200, par.text
    suggestions = pharm.get("/api/v1/inventory/reorder", params={"start": appt["date"], "days": 1}).json()
    gamunex = next(s for s in suggestions if s["product_id"] == "gamunex-c")
    assert gamunex["suggested"] == 5 and gamunex["usable"] == 10
    assert any(s["product_id"] == plan["product"] and s["forecast"] > 0 for s in suggestions)


def test_transfer_waste_return_and_stock_views(world: World) -> None:
    lot = receive(world, count=6, expiry=(dt.date.today() + dt.timedelta(days=20)).isoformat())
    pharm = world.client("pharmacist")
    moved = pharm.post(
        f"/api/v1/inventory/lots/{lot['id']}/transfers",
        json={"from_site_id": world.sites["north"], "to_site_id": world.sites["south"], "count": 2},
    )
    assert moved.status_code == 201 and [m["kind"] for m in moved.json()] == ["transfer_out", "transfer_in"]
    once = {"from_site_id": world.sites["north"], "to_site_id": world.sites["south"], "count": 1}
    first = pharm.post(
        f"/api/v1/inventory/lots/{lot['id']}/transfers", json={**once, "client_id": "xfer-0001"}
    )
    again = pharm.post(
        f"/api/v1/inventory/lots/{lot['id']}/transfers", json={**once, "client_id": "xfer-0001"}
    )
    assert [m["id"] for m in first.json()] == [m["id"] for m in again.json()] and len(again.json()) == 2
    back = pharm.post(
        f"/api/v1/inventory/lots/{lot['id']}/transfers",
        json={"from_site_id": world.sites["south"], "to_site_id": world.sites["north"], "count": 1},
    )
    assert back.status_code == 201
    south_picks = world.client("nurse.north").get(
        "/api/v1/inventory/pick-list", params={"site_id": world.sites["south"], "date": "2026-12-01"}
    )
    assert south_picks.status_code == 403
    too_many = pharm.post(
        f"/api/v1/inventory/lots/{lot['id']}/transfers",
        json={"from_site_id": world.sites["south"], "to_site_id": world.sites["north"], "count": 3},
    )
    assert too_many.status_code == 409
    wasted = world.client("nurse").post(
        f"/api/v1/inventory/lots/{lot['id']}/waste",
        json={"site_id": world.sites["south"], "count": 1, "waste_reason": "broken"},
    )
    assert wasted.status_code == 201, wasted.text
    bad_reason = pharm.post(
        f"/api/v1/inventory/lots/{lot['id']}/waste",
        json={"site_id": world.sites["south"], "count": 1, "waste_reason": "lost"},
    )
    assert bad_reason.status_code == 422 and "waste_reason" in bad_reason.text
    stock = {(r["site_code"], r["product_id"]): r for r in pharm.get("/api/v1/inventory/stock").json()}
    assert stock[("north", "gammagard-liquid")]["on_hand"] == 4
    assert stock[("south", "gammagard-liquid")]["on_hand"] == 1
    assert stock[("north", "gammagard-liquid")]["value_cents"] == 4 * 95000
    expiring = pharm.get("/api/v1/inventory/expiring").json()
    assert [(e["lot"]["id"], e["band"]) for e in expiring] == [(lot["id"], 30)]


def test_pharmacy_pages(world: World) -> None:
    pid = patient(world, "xia", "INV004")
    booked = booked_appointment(world, pid)
    appt, plan = booked["appointment"], booked["plan"]
    lots = _stock_for_plan(world, plan)
    pharm = world.client("pharmacist")
    home = pharm.get("/inventory")
    assert home.status_code == 200
    assert "Stock by site and product" in home.text and "Reorder suggestions" in home.text
    assert 'href="/inventory/receive"' in home.text and 'aria-current="page">Stock' in home.text
    assert "style=" not in home.text and "<script>" not in home.text
    assert '<svg class="stock-chart"' in home.text
    day_picks = pharm.get("/inventory/picks", params={"site": appt["site_id"], "date": appt["date"]})
    assert "Shortfalls" in day_picks.text and "Shortage allocation proposal" in day_picks.text
    assert "Receive a lot" in pharm.get("/inventory/receive").text
    allocated = pharm.post("/inventory/allocate", data={"start": appt["date"], "days": "1"})
    assert allocated.status_code == 200 and "Allocated" in allocated.text
    picks = pharm.get("/inventory/picks", params={"site": appt["site_id"], "date": appt["date"]})
    assert "Xia" in picks.text and "A0" in picks.text
    bad = pharm.post("/inventory/lots", data={"product_id": "privigen", "gtin": "123"})
    assert bad.status_code == 422 and "gtin" in bad.text
    good = pharm.post(
        "/inventory/lots",
        data={
            "product_id": "privigen",
            "site_id": str(world.sites["north"]),
            "lot_number": "PG9",
            "gtin": gtin("350000000001"),
            "label_expiry": "2027-05-31",
            "vial_size_g": "20",
            "count": "4",
            "acquisition_cost_cents": "180000",
            "supplier": "Form Supplier",
        },
    )
    assert good.status_code == 303, good.text
    lot_page = pharm.get(good.headers["location"])
    assert lot_page.status_code == 200 and "Ledger" in lot_page.text and "receipt" in lot_page.text
    a0 = next(lot for lot in lots if lot["lot_number"] == "A0")
    quarantined = pharm.post(
        f"/inventory/lots/{a0['id']}/status", data={"action": "quarantine", "reason": "alarm"}
    )
    assert quarantined.status_code == 200 and "Allocations released" in quarantined.text
    world.client("nurse").post(
        "/api/v1/inventory/dispenses",
        json={"appointment_id": appt["id"], "lot_id": lots[1]["id"], "count": 1},
    )
    recall = world.client("nurse").get("/inventory/recall", params={"lot": lots[1]["lot_number"]})
    assert recall.status_code == 200 and "INV004" in recall.text and "Export CSV" in recall.text
    assert world.client("nurse").get("/inventory/recall", params={"lot": "NOSUCH"}).status_code == 404
    nurse_stock = world.client("nurse").get("/inventory").text
    assert 'href="/inventory/receive"' not in nurse_stock  # no tab that leads to a refusal
    assert world.client("nurse").get("/inventory/receive").status_code == 403


def test_allocation_under_shortage_serves_clinical_priority_first(world: World) -> None:
    routine = booked_appointment(world, patient(world, "pia", "INV005"))  # PID maintenance, priority 3
    induction = booked_appointment(
        world, patient(world, "quin", "INV006"), indication="cidp", phase="induction"
    )
    low, high = routine["appointment"], induction["appointment"]
    assert routine["plan"]["priority"] == 3 and induction["plan"]["priority"] == 2
    high_vials = next(d for d in induction["plan"]["days"] if d["day"] == 1)["vials"]
    for k, vial in enumerate(high_vials):  # exactly the induction's first day, nothing more
        receive(world, lot=f"P{k}", code=f"39000000000{k}", size=vial["size_g"], count=vial["count"])
    start = min(low["date"], high["date"])
    end = max(low["date"], high["date"])
    days = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
    run = world.client("pharmacist").post(
        "/api/v1/inventory/allocations", json={"start": start, "days": days}
    )
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["shortage_products"] == ["gammagard-liquid"]
    held = sum(p["count"] for p in body["picks"] if p["appointment_id"] == high["id"])
    assert held == sum(v["count"] for v in high_vials)
    assert all(s["appointment_id"] != high["id"] for s in body["shortfalls"])
    assert any(s["appointment_id"] == low["id"] for s in body["shortfalls"])
