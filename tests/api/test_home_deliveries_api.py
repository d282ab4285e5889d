"""Deliveries to a patient's home: planned with lots first-expiry-first-out, packed (the ledger moves the
vials to the home-infusion site with the patient's id), shipped, delivered, received by the nurse or the
patient; every move outside the state machine a 409; stock never negative at the pharmacy or at home;
cancelling a packed delivery returns its vials."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from igflow.security.models import AuditEvent
from tests.api.home_supply_helpers import at_home, moves, on_hand, patient_user, receive_lot, sc_patient, soon
from tests.conftest import World


def _plan(world: World, **body: Any) -> Any:
    return world.client("pharmacist").post("/api/v1/deliveries", json=body)


def _step(
    world: World, delivery_id: int, action: str, body: dict[str, Any] | None = None, user: str = "pharmacist"
) -> Any:
    return world.client(user).post(f"/api/v1/deliveries/{delivery_id}/{action}", json=body or {})


def _cuvitru_stock(world: World) -> dict[str, dict[str, Any]]:
    return {
        "late8": receive_lot(world, "CUV8-A", size_g=8, count=5, expiry_days=400),
        "early8": receive_lot(world, "CUV8-B", size_g=8, count=5, expiry_days=120),
        "two": receive_lot(world, "CUV2-A", size_g=2, count=5, expiry_days=200),
    }


def test_a_delivery_is_planned_fefo_packed_shipped_delivered_and_received(world: World) -> None:
    pid, oid = sc_patient(world, "hana", "HD0001")
    lots = _cuvitru_stock(world)
    north = world.sites["north"]
    planned = _plan(world, patient_id=pid, from_site_id=north, order_id=oid, needed_by=soon(5), infusions=2)
    assert planned.status_code == 201, planned.text
    d = planned.json()
    # two weekly infusions of 8 g + 2 g: the 8 g vials from the lot that expires first
    assert d["status"] == "planned" and d["version"] == 1
    assert sorted((line["lot_number"], line["vials"]) for line in d["lines"]) == [
        ("CUV2-A", 2),
        ("CUV8-B", 2),
    ]
    assert on_hand(world, lots["early8"]["id"], "north") == 5  # planning moves nothing
    packed = _step(world, d["id"], "pack", {"version": 1})
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] == "packed" and packed.json()["packed_at"]
    assert (
        on_hand(world, lots["early8"]["id"], "north") == 3
        and on_hand(world, lots["early8"]["id"], "home") == 2
    )
    assert at_home(world, pid, lots["early8"]["id"]) == (2, 0) and at_home(world, pid, lots["two"]["id"]) == (
        2,
        0,
    )
    assert moves(world, lots["early8"]["id"])[1:] == [
        ("transfer_out", "north", 2, pid, None),
        ("transfer_in", "home", 2, pid, None),
    ]
    stock = world.client("nurse").get(f"/api/v1/patients/{pid}/home-stock").json()
    assert {(s["lot_number"], s["on_hand"], s["held"]) for s in stock} == {("CUV8-B", 2, 0), ("CUV2-A", 2, 0)}
    shipped = _step(
        world, d["id"], "ship", {"version": 2, "carrier": "ColdCourier", "carrier_reference": "CC-1"}
    )
    assert shipped.json()["status"] == "shipped" and shipped.json()["carrier_reference"] == "CC-1"
    assert _step(world, d["id"], "delivered", {}).json()["status"] == "delivered"
    received = _step(world, d["id"], "receive", {}, user="nurse")
    assert received.status_code == 200, received.text
    body = received.json()
    assert body["status"] == "received" and body["received_by_user_id"] == world.users["nurse"]
    with world.db.session() as session:
        actions = [
            (e.action, e.patient_id)
            for e in session.execute(
                select(AuditEvent).where(
                    AuditEvent.resource_type == "home_delivery", AuditEvent.resource_id == str(d["id"])
                )
            ).scalars()
        ]
    for action in (
        "delivery.plan",
        "delivery.packed",
        "delivery.shipped",
        "delivery.delivered",
        "delivery.received",
    ):
        assert (action, pid) in actions


def test_every_move_outside_the_machine_is_a_409(world: World) -> None:
    pid, oid = sc_patient(world, "hana", "HD0002")
    _cuvitru_stock(world)
    d = _plan(
        world, patient_id=pid, from_site_id=world.sites["north"], order_id=oid, needed_by=soon(4)
    ).json()
    ship = {"carrier": "C", "carrier_reference": "R"}
    for action, body, user in (
        ("ship", ship, "pharmacist"),
        ("delivered", {}, "pharmacist"),
        ("receive", {}, "nurse"),
        ("release", {"reason": "fine"}, "pharmacist"),
        ("waste", {"reason": "warm"}, "pharmacist"),
    ):
        refused = _step(world, d["id"], action, body, user)
        assert refused.status_code == 409, (action, refused.text)
        assert refused.json()["field"] == "status" and "planned" in refused.json()["detail"]
    stale = _step(world, d["id"], "pack", {"version": 7})
    assert stale.status_code == 409 and "changed meanwhile" in stale.json()["detail"]
    assert _step(world, d["id"], "pack", {"version": 1}).status_code == 200
    again = _step(world, d["id"], "pack", {})
    assert again.status_code == 409 and "already packed" in again.json()["detail"]
    _step(world, d["id"], "ship", ship)
    cancel = _step(world, d["id"], "cancel", {"reason": "no longer needed"})
    assert cancel.status_code == 409 and "shipped" in cancel.json()["detail"]
    _step(world, d["id"], "receive", {}, "nurse")  # a shipped delivery is marked delivered, then received
    read = world.client("pharmacist").get(f"/api/v1/deliveries/{d['id']}").json()
    assert read["status"] == "received" and read["delivered_at"] and read["next_statuses"] == ["excursion"]
    assert _step(world, d["id"], "cancel", {"reason": "x y z"}).status_code == 409
    assert _step(world, d["id"], "receive", {}, "nurse").status_code == 409
    # the nurse receives but does not pack; the pharmacist packs but does not receive
    assert _step(world, d["id"], "pack", {}, "nurse").status_code == 403
    assert _step(world, d["id"], "receive", {}, "pharmacist").status_code == 403


def test_expired_quarantined_and_recalled_lots_are_never_sent(world: World) -> None:
    pid, oid = sc_patient(world, "hana", "HD0003")
    north = world.sites["north"]
    short = receive_lot(world, "CUV8-SHORT", size_g=8, count=5, expiry_days=3)
    held = receive_lot(world, "CUV8-Q", size_g=8, count=5, expiry_days=300)
    recalled = receive_lot(world, "CUV8-R", size_g=8, count=5, expiry_days=300)
    two = receive_lot(world, "CUV2-OK", size_g=2, count=5, expiry_days=300)
    pharmacist = world.client("pharmacist")
    assert (
        pharmacist.post(
            f"/api/v1/inventory/lots/{held['id']}/status",
            json={"action": "quarantine", "reason": "fridge alarm"},
        ).status_code
        == 200
    )
    assert (
        pharmacist.post(
            f"/api/v1/inventory/lots/{recalled['id']}/status", json={"action": "recall", "reason": "maker"}
        ).status_code
        == 200
    )
    # first-expiry-first-out skips them all: the only 8 g lot left expires before the day it is needed
    fefo = _plan(world, patient_id=pid, from_site_id=north, order_id=oid, needed_by=soon(5))
    assert fefo.status_code == 409 and fefo.json()["field"] == "lines"
    assert "1 x 8 g" in fefo.json()["detail"] and "no lot usable" in fefo.json()["detail"]
    for lot, word in ((held, "quarantined"), (recalled, "recalled"), (short, "usable until")):
        chosen = _plan(
            world,
            patient_id=pid,
            from_site_id=north,
            order_id=oid,
            needed_by=soon(5),
            lines=[{"lot_id": lot["id"], "vials": 1}, {"lot_id": two["id"], "vials": 1}],
        )
        assert chosen.status_code == 409 and word in chosen.json()["detail"], chosen.text
    other = receive_lot(world, "PRIV-1", product="privigen", size_g=10, count=2)
    wrong = _plan(
        world,
        patient_id=pid,
        from_site_id=north,
        order_id=oid,
        needed_by=soon(5),
        lines=[{"lot_id": other["id"], "vials": 1}],
    )
    assert wrong.status_code == 422 and "another product" in wrong.json()["detail"]
    past = _plan(world, patient_id=pid, from_site_id=north, order_id=oid, needed_by=soon(-1))
    assert past.status_code == 422 and past.json()["field"] == "needed_by"


def test_stock_never_goes_negative_at_the_pharmacy(world: World) -> None:
    pid, oid = sc_patient(world, "hana", "HD0004")
    north = world.sites["north"]
    eight = receive_lot(world, "CUV8-ONLY", size_g=8, count=3)
    receive_lot(world, "CUV2-ONLY", size_g=2, count=6)
    # two deliveries each planned against the same 3 vials of 8 g (planning reserves nothing)
    first = _plan(
        world, patient_id=pid, from_site_id=north, order_id=oid, needed_by=soon(3), infusions=3
    ).json()
    second = _plan(
        world, patient_id=pid, from_site_id=north, order_id=oid, needed_by=soon(10), infusions=3
    ).json()
    assert _step(world, first["id"], "pack", {}).status_code == 200
    refused = _step(world, second["id"], "pack", {})
    assert refused.status_code == 409, refused.text
    assert "CUV8-ONLY" in refused.json()["detail"] and "0 free vial(s)" in refused.json()["detail"]
    assert on_hand(world, eight["id"], "north") == 0 and on_hand(world, eight["id"], "home") == 3
    assert world.client("pharmacist").get(f"/api/v1/deliveries/{second['id']}").json()["status"] == "planned"


def test_cancelling_a_packed_delivery_returns_its_vials(world: World) -> None:
    pid, oid = sc_patient(world, "hana", "HD0005")
    lots = _cuvitru_stock(world)
    d = _plan(
        world, patient_id=pid, from_site_id=world.sites["north"], order_id=oid, needed_by=soon(4)
    ).json()
    _step(world, d["id"], "pack", {})
    assert at_home(world, pid, lots["early8"]["id"]) == (1, 0)
    short_reason = _step(world, d["id"], "cancel", {"reason": ""})
    assert short_reason.status_code == 422
    cancelled = _step(world, d["id"], "cancel", {"reason": "visit moved to a centre"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (
        on_hand(world, lots["early8"]["id"], "north") == 5
        and on_hand(world, lots["early8"]["id"], "home") == 0
    )
    assert at_home(world, pid, lots["early8"]["id"]) == (0, 0)
    assert moves(world, lots["early8"]["id"])[-2:] == [
        ("transfer_out", "home", 1, pid, None),
        ("transfer_in", "north", 1, pid, None),
    ]
    assert _step(world, d["id"], "pack", {}).status_code == 409


def test_the_patient_confirms_their_own_delivery_only(world: World) -> None:
    pid, oid = sc_patient(world, "hana", "HD0006")
    other, other_order = sc_patient(world, "ivo", "HD0007")
    _cuvitru_stock(world)
    north = world.sites["north"]
    mine = _plan(world, patient_id=pid, from_site_id=north, order_id=oid, needed_by=soon(4)).json()
    theirs = _plan(
        world, patient_id=other, from_site_id=north, order_id=other_order, needed_by=soon(4)
    ).json()
    for d in (mine, theirs):
        _step(world, d["id"], "pack", {})
        _step(world, d["id"], "ship", {"carrier": "C", "carrier_reference": "R"})
    patient = world.client(patient_user(world, "hana.patient", pid))
    listed = patient.get("/api/v1/me/deliveries").json()
    assert [d["id"] for d in listed] == [mine["id"]]
    refused = patient.post(f"/api/v1/me/deliveries/{theirs['id']}/receive", json={})
    assert refused.status_code == 404 and refused.json()["detail"] == f"delivery {theirs['id']} not found"
    assert patient.get(f"/api/v1/deliveries/{mine['id']}").status_code == 403  # staff routes are staff's
    got = patient.post(f"/api/v1/me/deliveries/{mine['id']}/receive", json={})
    assert got.status_code == 200 and got.json()["status"] == "received"
    with world.db.session() as session:
        event = session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "delivery.received", AuditEvent.resource_id == str(mine["id"])
            )
        ).scalar_one()
        assert json.loads(event.detail)["by"] == "the patient" and event.patient_id == pid


def test_a_site_limited_pharmacist_sees_and_moves_only_their_patients_deliveries(world: World) -> None:
    sol, sol_order = sc_patient(world, "sunna", "HD0008", site="south")
    receive_lot(world, "CUV8-S", size_g=8, count=4, site="south")
    receive_lot(world, "CUV2-S", size_g=2, count=4, site="south")
    d = _plan(
        world, patient_id=sol, from_site_id=world.sites["south"], order_id=sol_order, needed_by=soon(4)
    ).json()
    world.add_user("pharmacist.north", ["pharmacist"], ["north"])
    limited = world.client("pharmacist.north")
    assert limited.get(f"/api/v1/deliveries/{d['id']}").status_code == 404
    assert limited.post(f"/api/v1/deliveries/{d['id']}/pack", json={}).status_code == 404
    assert all(x["id"] != d["id"] for x in limited.get("/api/v1/deliveries").json())
    assert all(i["patient_id"] != sol for i in limited.get("/api/v1/deliveries/queue").json())
    assert limited.get(f"/api/v1/patients/{sol}/home-stock").status_code == 404
    from_south = limited.post(
        "/api/v1/deliveries",
        json={
            "patient_id": sol,
            "from_site_id": world.sites["south"],
            "order_id": sol_order,
            "needed_by": soon(4),
        },
    )
    assert from_south.status_code == 404
