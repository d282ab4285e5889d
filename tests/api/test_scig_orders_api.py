"""Orders for subcutaneous products: a switch from IVIG planned by the SCIG planner, given at home, verified
like any plan (never a hard-stopped one), new versions when the facts it depends on change, and a course
(the nurse's training visit) made from the verified plan."""

from __future__ import annotations

from typing import Any

from tests.api.test_scheduling_api import _course, _patient
from tests.conftest import World


def _sc_order(world: World, patient_id: int, **changes: Any) -> Any:
    body = {
        "patient_id": patient_id,
        "prescriber_id": world.prescriber_id,
        "indication_id": "pid",
        "phase": "maintenance",
        "product_id": "cuvitru",
        "previous_iv_dose_g": 30,
        "iv_interval_weeks": 4,
        "sc_interval_days": 7,
        "first_infusion": True,
        **changes,
    }
    return world.client("prescriber").post("/api/v1/orders", json=body)


def _verify(world: World, order_id: int, version: int = 1) -> Any:
    return world.client("pharmacist").post(
        f"/api/v1/orders/{order_id}/verifications", json={"version": version, "decision": "verified"}
    )


def test_an_sc_order_is_planned_as_a_switch_verified_and_scheduled(world: World) -> None:
    pid = _patient(world, "una", "SC0001")  # 70 kg, born 1975
    created = _sc_order(world, pid)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["setting"] == "home" and order["sc_interval_days"] == 7
    plan = order["versions"][0]["plan"]
    assert plan["route"] == "sc" and plan["product"] == "cuvitru" and plan["weight_kg"] == 70
    # 30 g every 4 weeks x 1.30 (Cuvitru) = 9.75 g a week, weekly; whole vials 8 + 2 = 10 g = 50 mL at 20%
    assert plan["weekly_dose_g"] == 30 / 4 * 1.30 == 9.75 and plan["dose_per_infusion_g"] == 9.75
    assert plan["dispensed_g"] == 10 and plan["volume_ml"] == 10 / 0.2
    # first two infusions (>= 40 kg): <= 60 mL per site at 20 mL/h per site; later up to 60 mL/h per site
    assert plan["sites"] == 1 and plan["rate_ml_per_h_per_site"] == 20
    assert plan["infusions"]["later"]["rate_ml_per_h_per_site"] == 60
    assert plan["duration_min"] == 50 / 20 * 60 == 150
    day = plan["days"][0]
    # the training visit: set-up 15 + teaching 30 + infusion 150 + first-infusion observation 60
    assert day["chair_min"] == 15 + 30 + 150 + 60 and day["dispensed_g"] == 10
    assert plan["regimen"]["interval_weeks"] == [1.0, 1.0] and plan["priority"] == 3
    assert all(a["severity"] != "hard_stop" for a in plan["alerts"])
    assert _verify(world, order["id"]).json()["verification_status"] == "verified"
    course = _course(world, order["id"])
    assert [(s["day_index"], s["duration_min"], s["dose_g"]) for s in course["sessions"]] == [(1, 255, 10.0)]


def test_sc_inputs_are_checked_with_the_field_named(world: World) -> None:
    pid = _patient(world, "una", "SC0002")
    centre = _sc_order(world, pid, setting="centre")
    assert centre.status_code == 422 and centre.json()["field"] == "setting"
    assert "given at home" in centre.json()["detail"] and "training visits" in centre.json()["detail"]
    missing = _sc_order(world, pid, previous_iv_dose_g=None)
    assert missing.status_code == 422 and missing.json()["field"] == "previous_iv_dose_g"
    no_interval = _sc_order(world, pid, sc_interval_days=None)
    assert no_interval.status_code == 422 and no_interval.json()["field"] == "sc_interval_days"
    too_far = _sc_order(world, pid, sc_interval_days=40)
    assert too_far.status_code == 422 and too_far.json()["field"] == "sc_interval_days"
    dose = _sc_order(world, pid, dose_g_per_kg=0.4)
    assert dose.status_code == 422 and dose.json()["field"] == "dose_g_per_kg"
    iv = _sc_order(world, pid, product_id="privigen")
    assert iv.status_code == 422 and iv.json()["field"] == "previous_iv_dose_g"
    assert "intravenously" in iv.json()["detail"]
    negative = _sc_order(world, pid, iv_interval_weeks=-1)
    assert negative.status_code == 422


def test_an_iv_order_at_home_keeps_the_iv_plan(world: World) -> None:
    pid = _patient(world, "una", "SC0003")
    created = world.client("prescriber").post(
        "/api/v1/orders",
        json={
            "patient_id": pid,
            "prescriber_id": world.prescriber_id,
            "indication_id": "pid",
            "phase": "maintenance",
            "product_id": "gammagard-liquid",
            "setting": "home",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["setting"] == "home"
    plan = created.json()["versions"][0]["plan"]
    assert "route" not in plan and plan["days"][0]["steps"]


def test_a_hard_stopped_sc_plan_cannot_be_verified(world: World) -> None:
    pid = _patient(world, "una", "SC0004")
    # Hizentra: 60 g every 4 weeks x 1.37 = 20.55 g a week -> 21 g = 105 mL; first infusion 15 mL per site
    # needs 7 sites, the label allows 4: a hard stop offering every 4 days (11.7 g, 4 sites)
    order = _sc_order(world, pid, product_id="hizentra", previous_iv_dose_g=60).json()
    plan = order["versions"][0]["plan"]
    assert order["verification_status"] == "hard_stop" and plan["suggested_interval_days"] == 4
    stop = next(a for a in plan["alerts"] if a["severity"] == "hard_stop")
    assert stop["code"] == "too_many_sites" and "prescriber" in stop["resolves"]
    refused = _verify(world, order["id"])
    assert refused.status_code == 422 and "cannot be verified" in refused.json()["detail"]
    # HyQvia: the ramp-up is planned, but its rate is not in the catalog: a hard stop that says so
    hyqvia = _sc_order(world, pid, product_id="hyqvia", sc_interval_days=None).json()
    plan = hyqvia["versions"][0]["plan"]
    assert [(s["week"], s["dose_g"]) for s in plan["ramp_up"]] == [(1, 7.5), (2, 15.0), (4, 22.5), (7, 30.0)]
    assert hyqvia["verification_status"] == "hard_stop"
    assert [a["code"] for a in plan["alerts"] if a["severity"] == "hard_stop"] == ["rate_not_in_catalog"]


def test_an_sc_plan_follows_the_weight_but_not_the_height(world: World) -> None:
    pid = _patient(world, "una", "SC0005")
    order = _sc_order(world, pid).json()
    assert _verify(world, order["id"]).status_code == 201
    nurse, pharmacist = world.client("nurse"), world.client("pharmacist")
    url = f"/api/v1/patients/{pid}/measurements"
    nurse.post(url, json={"kind": "height_cm", "value": 180, "measured_on": "2026-11-10"})
    read = pharmacist.get(f"/api/v1/orders/{order['id']}").json()
    assert read["verification_status"] == "verified" and read["out_of_date_changes"] == []
    # 35 kg: under 40 kg the first two infusions take at most 20 mL per site (50 mL -> 3 sites)
    nurse.post(url, json={"kind": "weight_kg", "value": 35, "measured_on": "2026-11-11"})
    read = pharmacist.get(f"/api/v1/orders/{order['id']}").json()
    assert read["verification_status"] == "out_of_date"
    assert [c["fact"] for c in read["out_of_date_changes"]] == ["weight_kg"]
    now = pharmacist.post(f"/api/v1/orders/{order['id']}/plan-versions").json()
    assert now["current_version"] == 2 and now["verification_status"] == "pending"
    plan = now["versions"][-1]["plan"]
    assert plan["route"] == "sc" and plan["weight_kg"] == 35 and plan["sites"] == 3
    assert plan["ml_per_site"] == round(50 / 3, 1)


def test_the_sc_indication_scope_and_contraindications_stop_the_plan(world: World) -> None:
    pid = _patient(world, "una", "SC0006")
    cidp = _sc_order(world, pid, product_id="hizentra", indication_id="cidp").json()
    codes = [a["code"] for a in cidp["versions"][0]["plan"]["alerts"] if a["severity"] == "hard_stop"]
    assert codes == ["scig_indication_not_planned"]
    induction = _sc_order(world, pid, phase="induction").json()
    codes = [a["code"] for a in induction["versions"][0]["plan"]["alerts"] if a["severity"] == "hard_stop"]
    assert "scig_phase_not_planned" in codes


def test_the_calculator_preview_plans_an_sc_product(world: World) -> None:
    body = {
        "indication": "pid",
        "phase": "maintenance",
        "product": "cuvitru",
        "weight_kg": 70,
        "height_cm": 170,
        "sex": "female",
        "age_years": 40,
        "previous_iv_dose_g": 30,
        "iv_interval_weeks": 4,
        "interval_days": 14,
    }
    response = world.client("pharmacist").post("/api/v1/dose-plans/preview", json=body)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["route"] == "sc" and plan["dose_per_infusion_g"] == 9.75 * 2  # every 2 weeks: twice weekly
    missing = world.client("pharmacist").post(
        "/api/v1/dose-plans/preview", json={**body, "previous_iv_dose_g": None}
    )
    assert missing.status_code == 422 and missing.json()["field"] == "previous_iv_dose_g"


def test_an_sc_order_without_its_iv_regimen_is_a_hard_stop_that_says_who_resolves_it() -> None:
    from igflow.catalog import load_catalog
    from igflow.orders import scig as scig_orders
    from igflow.orders.schemas import OrderIn

    legacy = OrderIn(
        patient_id=1, prescriber_id=1, indication_id="pid", phase="maintenance", product_id="cuvitru"
    )
    plan = scig_orders.plan(legacy, {"weight_kg": 70.0, "age_years": 40.0}, load_catalog())
    assert plan["status"] == "hard_stop" and plan["days"] == []
    assert plan["alerts"][0]["code"] == "sc_inputs_missing" and "prescriber" in plan["alerts"][0]["resolves"]
