"""The cold chain of a delivery: a logger reading outside the product's storage range (or the courier's
flag, or an alarm seen at receipt) holds the delivered vials at the patient's home and opens a pharmacist
task naming the lots; the pharmacist releases the hold with a reason or wastes the vials (a waste move at
the home-infusion site) and a replacement is planned. A product whose range the catalog lacks needs the
pharmacist's judgement. Late and unshipped deliveries are on the queue, with what to do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from igflow.catalog import load_catalog
from igflow.home.cold_chain import Reading, judge
from igflow.home.models import HomeDelivery
from igflow.home.service import delivery_queue
from igflow.infusions.models import WorkTask
from tests.api.home_supply_helpers import at_home, home_site, moves, on_hand, patient_user, receive_lot, soon
from tests.api.test_scheduling_api import _patient
from tests.conftest import World


def _shipped(
    world: World, product: str = "octagam-10", vials: int = 3, lot: str = "OCT-1", **kw: Any
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A patient and a shipped delivery of one lot chosen by hand (an IV product given at home)."""
    home_site(world)
    pid = world.patients.get("hal") or _patient(world, "hal", "CC0001")
    received = receive_lot(world, lot, product=product, size_g=10, count=10, **kw)
    pharmacist = world.client("pharmacist")
    d = pharmacist.post(
        "/api/v1/deliveries",
        json={
            "patient_id": pid,
            "from_site_id": world.sites["north"],
            "needed_by": soon(3),
            "lines": [{"lot_id": received["id"], "vials": vials}],
        },
    ).json()
    assert pharmacist.post(f"/api/v1/deliveries/{d['id']}/pack", json={}).status_code == 200
    shipped = pharmacist.post(
        f"/api/v1/deliveries/{d['id']}/ship", json={"carrier": "Cold Co", "carrier_reference": "CC-9"}
    )
    assert shipped.status_code == 200, shipped.text
    return pid, shipped.json(), received


def _readings(*temps: float, start: str = "2026-11-03T08:00:00+00:00") -> list[dict[str, Any]]:
    at = dt.datetime.fromisoformat(start)
    return [{"at": (at + dt.timedelta(hours=k)).isoformat(), "celsius": t} for k, t in enumerate(temps)]


def _tasks(world: World, kind: str) -> list[WorkTask]:
    with world.db.session() as session:
        return list(
            session.execute(select(WorkTask).where(WorkTask.kind == kind).order_by(WorkTask.id)).scalars()
        )


def test_judging_readings_is_pure_and_names_why() -> None:
    ranges = {"octagam-10": load_catalog().products["octagam-10"].storage_range_c.value, "cuvitru": None}
    at = dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC)
    judged = judge([Reading(at, 5.0), Reading(at + dt.timedelta(hours=1), 9.0), Reading(at, -0.5)], ranges, 0)
    assert judged.unknown_products == ("cuvitru",) and judged.highest_c == 9.0 and judged.lowest_c == -0.5
    assert [(o.reading.celsius, o.why, o.product_ids) for o in judged.out_of_range] == [
        (-0.5, "at or below freezing (0 °C)", ("cuvitru", "octagam-10")),
        (9.0, "above 8 °C", ("octagam-10",)),
    ]


def test_a_warm_reading_holds_the_vials_and_a_release_lifts_the_hold(world: World) -> None:
    pid, d, lot = _shipped(world)
    pharmacist = world.client("pharmacist")
    fine = pharmacist.post(f"/api/v1/deliveries/{d['id']}/readings", json={"readings": _readings(4.0, 5.5)})
    assert fine.status_code == 200 and fine.json()["status"] == "shipped"
    warm = pharmacist.post(
        f"/api/v1/deliveries/{d['id']}/readings", json={"readings": _readings(4.0, 5.5, 11.2)}
    )
    body = warm.json()
    assert warm.status_code == 200 and body["status"] == "excursion" and body["excursion"] is True
    assert len(body["readings"]) == 3  # the two readings sent again are stored once
    assert [r["out_of_range"] for r in body["readings"]] == [None, None, "above 8 °C (Octagam 10%)"]
    assert (
        body["held"] == [{"lot_id": lot["id"], "lot_number": "OCT-1", "vials": 3}] and body["excursion_open"]
    )
    assert at_home(world, pid, lot["id"]) == (3, 3)
    [task] = _tasks(world, "delivery_excursion")
    assert task.queue == "pharmacist" and task.patient_id == pid and "OCT-1 (3)" in task.title
    assert task.detail["delivery_id"] == d["id"] and "Release the hold" in task.detail["todo"]
    queue = pharmacist.get("/api/v1/deliveries/queue").json()
    assert [(i["kind"], i["delivery_id"]) for i in queue] == [("excursion", d["id"])]
    # the nurse may not use a held delivery's vials, nor receive it as if nothing happened
    assert world.client("nurse").post(f"/api/v1/deliveries/{d['id']}/receive", json={}).status_code == 409
    assert pharmacist.post(f"/api/v1/deliveries/{d['id']}/release", json={"reason": ""}).status_code == 422
    released = pharmacist.post(
        f"/api/v1/deliveries/{d['id']}/release",
        json={"reason": "under 25 °C for 3 hours: within the label's room-temperature allowance"},
    )
    assert released.status_code == 200 and released.json()["status"] == "shipped"
    assert "released by" in released.json()["excursion_note"] and not released.json()["excursion_open"]
    assert at_home(world, pid, lot["id"]) == (3, 0)
    [task] = _tasks(world, "delivery_excursion")
    assert task.status == "done" and task.outcome["resolution"] == "released"
    assert (
        pharmacist.post(f"/api/v1/deliveries/{d['id']}/release", json={"reason": "again"}).status_code == 409
    )
    assert (
        world.client("nurse").post(f"/api/v1/deliveries/{d['id']}/receive", json={}).json()["status"]
        == "received"
    )


def test_wasting_held_vials_writes_them_off_at_home_and_plans_a_replacement(world: World) -> None:
    pid, d, lot = _shipped(world, vials=2)
    nurse, pharmacist = world.client("nurse"), world.client("pharmacist")
    assert nurse.post(f"/api/v1/deliveries/{d['id']}/receive", json={}).status_code == 200
    frozen = pharmacist.post(
        f"/api/v1/deliveries/{d['id']}/readings", json={"readings": _readings(3.0, -1.5)}
    )
    assert frozen.json()["status"] == "excursion" and "freezing" in frozen.json()["excursion_note"]
    wasted = pharmacist.post(f"/api/v1/deliveries/{d['id']}/waste", json={"reason": "frozen in transit"})
    assert wasted.status_code == 200, wasted.text
    body = wasted.json()
    assert body["status"] == "excursion" and not body["excursion_open"] and body["replacement_id"]
    assert at_home(world, pid, lot["id"]) == (0, 0) and on_hand(world, lot["id"], "home") == 0
    assert moves(world, lot["id"])[-1] == ("waste", "home", 2, pid, "temperature_excursion")
    replacement = pharmacist.get(f"/api/v1/deliveries/{body['replacement_id']}").json()
    assert replacement["status"] == "planned" and replacement["needed_by"] == d["needed_by"]
    assert [(line["lot_number"], line["vials"]) for line in replacement["lines"]] == [("OCT-1", 2)]
    [task] = _tasks(world, "delivery_excursion")
    assert task.outcome["resolution"] == "wasted" and task.outcome["replacement_id"] == body["replacement_id"]
    assert pharmacist.post(f"/api/v1/deliveries/{d['id']}/waste", json={"reason": "again"}).status_code == 409


def test_a_product_without_a_range_needs_the_pharmacists_judgement(world: World) -> None:
    _pid, d, _lot = _shipped(world, product="privigen", lot="PRIV-CC")
    url = f"/api/v1/deliveries/{d['id']}/readings"
    pharmacist = world.client("pharmacist")
    unjudged = pharmacist.post(url, json={"readings": _readings(6.0)})
    assert unjudged.status_code == 422 and unjudged.json()["field"] == "judgement"
    assert "no storage range for Privigen 10%" in unjudged.json()["detail"]
    no_note = pharmacist.post(url, json={"readings": _readings(6.0), "judgement": "within"})
    assert no_note.status_code == 422 and no_note.json()["field"] == "note"
    within = pharmacist.post(
        url, json={"readings": _readings(6.0), "judgement": "within", "note": "label copy: 2-8 C"}
    )
    assert within.status_code == 200 and within.json()["status"] == "shipped"
    assert within.json()["storage"][0]["known"] is False
    excursion = pharmacist.post(
        url, json={"readings": _readings(6.0, 27.0), "judgement": "excursion", "note": "far too warm"}
    )
    assert (
        excursion.json()["status"] == "excursion"
        and "judged the readings an excursion" in excursion.json()["excursion_note"]
    )


def test_the_courier_flag_and_an_alarm_at_receipt_are_excursions(world: World) -> None:
    pid, d, lot = _shipped(world)
    pharmacist = world.client("pharmacist")
    flagged = pharmacist.post(
        f"/api/v1/deliveries/{d['id']}/excursion", json={"note": "courier: box left in the sun"}
    )
    assert flagged.json()["status"] == "excursion" and flagged.json()["held"][0]["vials"] == 3
    pharmacist.post(f"/api/v1/deliveries/{d['id']}/release", json={"reason": "logger shows 2-8 C throughout"})
    patient = world.client(patient_user(world, "hal.patient", pid))
    alarm = patient.post(
        f"/api/v1/me/deliveries/{d['id']}/receive", json={"logger_alarm": True, "note": "red light"}
    )
    assert alarm.status_code == 200 and alarm.json()["status"] == "excursion"
    assert "logger alarm seen at receipt by the patient: red light" in alarm.json()["excursion_note"]
    assert at_home(world, pid, lot["id"]) == (3, 3)
    assert len(_tasks(world, "delivery_excursion")) == 2


def test_late_and_unshipped_deliveries_are_on_the_queue_with_what_to_do(world: World) -> None:
    home_site(world)
    pid = _patient(world, "hal", "CC0002")
    lot = receive_lot(world, "OCT-Q", product="octagam-10", size_g=10, count=10)
    pharmacist = world.client("pharmacist")

    def plan(days: int) -> int:
        body = {
            "patient_id": pid,
            "from_site_id": world.sites["north"],
            "needed_by": soon(days),
            "lines": [{"lot_id": lot["id"], "vials": 1}],
        }
        return int(pharmacist.post("/api/v1/deliveries", json=body).json()["id"])

    late, unshipped, due = plan(1), plan(1), plan(6)
    with world.db.session() as session:  # the first one's day passed without it arriving
        session.execute(
            update(HomeDelivery)
            .where(HomeDelivery.id == late)
            .values(needed_by=dt.date.today() - dt.timedelta(days=1))
        )
        session.commit()
    queue = pharmacist.get("/api/v1/deliveries/queue").json()
    kinds = [(i["kind"], i["delivery_id"]) for i in queue]
    assert kinds == [("late", late), ("not_shipped", unshipped), ("due", due)]
    assert "plan a replacement" in queue[0]["todo"] and "express courier" in queue[1]["todo"]
    assert "2 day(s) before" in queue[1]["words"]
    with world.db.session() as session:
        assert delivery_queue.sweep_late(session) == 2
        assert delivery_queue.sweep_late(session) == 0  # once per delivery
    titles = sorted(t.title for t in _tasks(world, "delivery_late"))
    assert titles[0].startswith(f"Delivery {late} late") and titles[1].startswith(
        f"Delivery {unshipped} not shipped"
    )
    pharmacist.post(f"/api/v1/deliveries/{unshipped}/cancel", json={"reason": "visit moved to a centre"})
    assert [t.status for t in _tasks(world, "delivery_late") if t.detail["delivery_id"] == unshipped] == [
        "done"
    ]


def test_two_pharmacists_packing_the_same_delivery_move_its_stock_once(world: World) -> None:
    from igflow.home.delivery_schemas import VersionIn
    from igflow.home.service import deliveries
    from tests.races import needs_concurrency, race

    needs_concurrency(world)
    home_site(world)
    pid = _patient(world, "hal", "CC0003")
    lot = receive_lot(world, "OCT-R", product="octagam-10", size_g=10, count=4)
    world.add_user("pharmacist2", ["pharmacist"])
    pharmacist = world.client("pharmacist")
    ids = [
        pharmacist.post(
            "/api/v1/deliveries",
            json={
                "patient_id": pid,
                "from_site_id": world.sites["north"],
                "needed_by": soon(3),
                "lines": [{"lot_id": lot["id"], "vials": 3}],
            },
        ).json()["id"]
        for _ in range(2)
    ]
    same = race(
        world,
        [
            (u, lambda s, p: deliveries.pack(s, p, ids[0], VersionIn(version=1)))
            for u in ("pharmacist", "pharmacist2")
        ],
    )
    assert sorted(type(o).__name__ for o in same) == ["Conflict", "DeliveryOut"]
    assert on_hand(world, lot["id"], "north") == 1 and at_home(world, pid, lot["id"]) == (3, 0)
    # the second delivery wants 3 of the 1 left: refused, and stock stays at zero or more everywhere
    refused = pharmacist.post(f"/api/v1/deliveries/{ids[1]}/pack", json={})
    assert refused.status_code == 409 and on_hand(world, lot["id"], "north") == 1
