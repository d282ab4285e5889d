"""Orders: plans from the patient's latest facts, new versions when facts change, two-person verification."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from igflow.cli.dose import dose
from igflow.orders.models import PlanVersion, Verification
from igflow.security.models import User
from tests.conftest import World


def _measure(world: World, kind: str, value: float, on: str = "2026-11-01") -> None:
    response = world.client("nurse").post(
        f"/api/v1/patients/{world.patients['ann']}/measurements",
        json={"kind": kind, "value": value, "measured_on": on},
    )
    assert response.status_code == 201, response.text


def _order(world: World, user: str = "prescriber", **changes: Any) -> Any:
    body = {
        "patient_id": world.patients["ann"],
        "prescriber_id": world.prescriber_id,
        "indication_id": "cidp",
        "phase": "maintenance",
        "product_id": "privigen",
        **changes,
    }
    return world.client(user).post("/api/v1/orders", json=body)


def _plan_versions(world: World) -> int:
    with world.db.session() as session:
        return len(session.execute(select(PlanVersion)).scalars().all())


def _recompute(world: World, order_id: int) -> Any:
    """The POST that brings an out-of-date plan up to date (a GET never writes a version)."""
    response = world.client("pharmacist").post(f"/api/v1/orders/{order_id}/plan-versions")
    assert response.status_code == 200, response.text
    return response.json()


def _ready(world: World) -> None:
    _measure(world, "weight_kg", 72.0)
    _measure(world, "height_cm", 168.0)


def test_order_needs_weight_and_height_first(world: World) -> None:
    response = _order(world)
    assert response.status_code == 422
    assert response.json()["field"] == "patient_id"
    assert "weight and height" in response.json()["detail"]


def test_order_gets_a_plan_and_a_second_person_verifies_it(world: World) -> None:
    _ready(world)
    created = _order(world)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["verification_status"] == "pending"
    plan = order["versions"][0]["plan"]
    assert plan["weight_kg"] == 72.0 and plan["product"] == "privigen"
    assert plan["dispensed_g"] > 0 and plan["days"][0]["steps"], "a full plan with vials and pump steps"
    verified = world.client("pharmacist").post(
        f"/api/v1/orders/{order['id']}/verifications", json={"version": 1, "decision": "verified"}
    )
    assert verified.status_code == 201, verified.text
    assert verified.json()["verification_status"] == "verified"
    with world.db.session() as session:
        row = session.execute(select(Verification)).scalar_one()
        assert row.verified_by_user_id == world.users["pharmacist"]


def test_the_person_who_entered_the_order_cannot_verify_it_through_any_door(world: World) -> None:
    _ready(world)
    world.add_user("dual", ["pharmacist", "intake"])  # may both enter and verify, but not the same order
    order = _order(world, user="dual").json()
    url = f"/api/v1/orders/{order['id']}/verifications"
    response = world.client("dual").post(url, json={"version": 1, "decision": "verified"})
    assert response.status_code == 403
    assert "second person" in response.json()["detail"]
    # The same person with an API token (a service account holding both roles) is refused too.
    with world.db.session() as session:
        user = session.get(User, world.users["dual"])
        assert user is not None
        user.is_service_account = True
        session.commit()
    token = world.client("admin").post(
        "/api/v1/tokens", json={"user_id": world.users["dual"], "name": "t", "roles": ["pharmacist"]}
    )
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    by_token = world.client(None).post(url, json={"version": 1, "decision": "verified"}, headers=headers)
    assert by_token.status_code == 403
    # The web form is refused the same way.
    page = world.client("dual").post(
        f"/orders/{order['id']}/verify", data={"version": "1", "decision": "verified"}
    )
    assert page.status_code == 403
    with world.db.session() as session:
        assert session.execute(select(Verification)).first() is None


def test_a_new_weight_makes_a_new_version_that_needs_a_new_verification(world: World) -> None:
    _ready(world)
    order = _order(world).json()
    pharmacist = world.client("pharmacist")
    url = f"/api/v1/orders/{order['id']}/verifications"
    assert pharmacist.post(url, json={"version": 1, "decision": "verified"}).status_code == 201
    _measure(world, "weight_kg", 95.0, on="2026-11-15")
    # Reading never writes: the order reads as out of date, with what changed, until a POST recomputes it.
    read = pharmacist.get(f"/api/v1/orders/{order['id']}").json()
    assert read["current_version"] == 1 and read["verification_status"] == "out_of_date"
    assert [c["fact"] for c in read["out_of_date_changes"]] == ["weight_kg"]
    assert _plan_versions(world) == 1
    assert order["id"] in [o["id"] for o in pharmacist.get("/api/v1/verification-queue").json()]
    assert _plan_versions(world) == 1
    _recompute(world, order["id"])
    now = pharmacist.get(f"/api/v1/orders/{order['id']}").json()
    assert now["current_version"] == 2 and now["out_of_date_changes"] == []
    assert now["verification_status"] == "pending"
    changes = {c["fact"]: (c["before"], c["after"]) for c in now["versions"][1]["changes"]}
    assert changes["weight_kg"] == (72.0, 95.0)
    assert now["versions"][1]["plan"]["dispensed_g"] > now["versions"][0]["plan"]["dispensed_g"]
    stale = pharmacist.post(url, json={"version": 1, "decision": "verified"})
    assert stale.status_code == 409 and "now version 2" in stale.json()["detail"]
    assert now["versions"][0]["verifications"][0]["decision"] == "verified"  # the record of v1 stays
    assert (
        pharmacist.post(url, json={"version": 2, "decision": "verified"}).json()["verification_status"]
        == "verified"
    )
    _measure(world, "creatinine_umol_per_l", 160, on="2026-11-16")
    _recompute(world, order["id"])
    again = pharmacist.get(f"/api/v1/orders/{order['id']}").json()
    assert again["current_version"] == 3 and again["verification_status"] == "pending"
    assert _plan_versions(world) == 3


def test_a_hard_stopped_plan_cannot_be_verified(world: World) -> None:
    _ready(world)
    intake = world.client("intake")
    pid = world.patients["ann"]
    version = intake.get(f"/api/v1/patients/{pid}").json()["version"]
    intake.patch(
        f"/api/v1/patients/{pid}",
        json={"iga_deficiency_anti_iga": "yes", "version": version, "change_reason": "anti-IgA result"},
    )
    order = _order(world).json()
    assert order["verification_status"] == "hard_stop"
    codes = [a["code"] for a in order["versions"][0]["plan"]["alerts"]]
    assert "iga_deficiency_with_antibodies" in codes
    response = world.client("pharmacist").post(
        f"/api/v1/orders/{order['id']}/verifications", json={"version": 1, "decision": "verified"}
    )
    assert response.status_code == 422 and "hard stops" in response.json()["detail"]
    no_reason = world.client("pharmacist").post(
        f"/api/v1/orders/{order['id']}/verifications", json={"version": 1, "decision": "rejected"}
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "note"
    rejected = world.client("pharmacist").post(
        f"/api/v1/orders/{order['id']}/verifications",
        json={
            "version": 1,
            "decision": "rejected",
            "note": "IgA deficiency with antibodies: discuss alternatives",
        },
    )
    assert rejected.json()["verification_status"] == "hard_stop"


def test_unknown_ids_are_refused_with_the_valid_ones_listed(world: World) -> None:
    _ready(world)
    response = _order(world, product_id="aspirin")
    assert response.status_code == 422 and response.json()["field"] == "product_id"
    assert "privigen" in response.json()["detail"]


def test_queue_lists_pending_and_hard_stopped_plans(world: World) -> None:
    _ready(world)
    first = _order(world).json()
    second = _order(world, product_id="gamunex-c").json()
    pharmacist = world.client("pharmacist")
    pharmacist.post(
        f"/api/v1/orders/{first['id']}/verifications", json={"version": 1, "decision": "verified"}
    )
    queued = [o["id"] for o in pharmacist.get("/api/v1/verification-queue").json()]
    assert queued == [second["id"]]


def test_preview_returns_the_same_json_as_the_cli(world: World) -> None:
    args = {
        "indication": "itp-adult",
        "phase": "acute",
        "product": "gamunex-c",
        "weight_kg": 64,
        "height_cm": 170,
        "sex": "male",
        "age_years": 40,
    }
    api = world.client("nurse").post("/api/v1/dose-plans/preview", json=args)
    assert api.status_code == 200, api.text
    import typer

    cli = typer.Typer()
    cli.command()(dose)
    flags = [x for k, v in args.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    result = CliRunner().invoke(cli, [*flags, "--json"])
    assert json.loads(result.stdout) == api.json()
    bad = world.client("nurse").post("/api/v1/dose-plans/preview", json={**args, "weight_kg": 640})
    assert bad.status_code == 422 and bad.json()["field"] == "weight_kg"
