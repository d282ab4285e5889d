"""Site protocols through the API: governance (second person, once), plans citing them, pharmacist values."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.conftest import World

CAP = {
    "at_risk_max_rate": {
        "value": [
            {
                "products": ["*"],
                "risk_groups": ["renal", "thrombosis", "cardiac"],
                "max_rate_mg_per_kg_min": 3.3,
            }
        ],
        "basis": "lowest numeric at-risk cap in a current IVIG label (Octagam 10 %, Panzyga)",
    }
}


def _approvers(world: World) -> None:
    world.add_user("pt.chair", ["pharmacist", "pt_approver"])
    world.add_user("pt.other", ["pharmacist", "pt_approver"])
    world.add_user("pt.only", ["pt_approver"])  # a committee member who is not a pharmacist


def _propose(world: World, user: str = "pharmacist", values: dict[str, Any] | None = None) -> Any:
    response = world.client(user).post(
        "/api/v1/protocols",
        json={"title": "Test protocol", "effective_from": "2026-01-01", "values": values or CAP},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _decide(world: World, user: str, protocol: Any, decision: str = "approved", note: str = "") -> Any:
    return world.client(user).post(
        f"/api/v1/protocols/{protocol['id']}/decision",
        json={"decision": decision, "version": protocol["version"], "note": note},
    )


def test_a_proposer_cannot_approve_and_approval_needs_a_pharmacist_approver(world: World) -> None:
    _approvers(world)
    mine = _propose(world, "pt.chair")
    refused = _decide(world, "pt.chair", mine)
    assert refused.status_code == 403 and "second person" in refused.json()["detail"]
    assert _decide(world, "pt.only", mine).status_code == 403  # not a pharmacist
    assert _decide(world, "pharmacist", mine).status_code == 403  # no P&T-approver role
    approved = _decide(world, "pt.other", mine)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


def test_an_approved_version_never_changes(world: World) -> None:
    _approvers(world)
    draft = _propose(world)
    assert _decide(world, "pt.chair", draft).status_code == 200
    edit = world.client("pharmacist").put(
        f"/api/v1/protocols/{draft['id']}",
        json={"title": "Changed", "effective_from": "2026-01-01", "values": {}},
    )
    assert edit.status_code == 409 and "new version" in edit.json()["detail"]
    again = _decide(world, "pt.other", draft, "rejected", "second thoughts")
    assert again.status_code == 409
    stored = world.client("pharmacist").get(f"/api/v1/protocols/{draft['id']}").json()
    assert stored["title"] == "Test protocol" and stored["status"] == "approved"
    assert stored["values"]["at_risk_max_rate"]["value"][0]["max_rate_mg_per_kg_min"] == 3.3


def test_a_draft_is_edited_only_by_its_proposer_and_a_rejection_needs_a_reason(world: World) -> None:
    _approvers(world)
    draft = _propose(world)
    body = {"title": "Test protocol v2", "effective_from": "2026-01-01", "values": CAP}
    assert world.client("pt.chair").put(f"/api/v1/protocols/{draft['id']}", json=body).status_code == 403
    assert world.client("pharmacist").put(f"/api/v1/protocols/{draft['id']}", json=body).status_code == 200
    assert _decide(world, "pt.chair", draft, "rejected").status_code == 422
    assert _decide(world, "pt.chair", draft, "rejected", "evidence too thin").json()["status"] == "rejected"


def test_invalid_values_are_refused_with_the_setting_named(world: World) -> None:
    response = world.client("pharmacist").post(
        "/api/v1/protocols",
        json={
            "title": "Bad",
            "effective_from": "2026-01-01",
            "values": {"chair_weight_change_max_percent": {"value": 0, "basis": "none"}},
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Weight change at the chair that needs a pharmacist")


def _ready_patient(world: World, age_over_65: bool = True) -> None:
    nurse = world.client("nurse")
    for kind, value in (("weight_kg", 80.0), ("height_cm", 172.0)):
        response = nurse.post(
            f"/api/v1/patients/{world.patients['ann']}/measurements",
            json={"kind": kind, "value": value, "measured_on": "2026-11-01"},
        )
        assert response.status_code == 201, response.text
    patch = world.client("pharmacist").get(f"/api/v1/patients/{world.patients['ann']}")
    etag = patch.headers["etag"]
    response = world.client("pharmacist").patch(
        f"/api/v1/patients/{world.patients['ann']}",
        json={
            "diabetes": True,
            "change_reason": "at-risk facts for the protocol test",
            **({"date_of_birth": "1955-03-01"} if age_over_65 else {}),
        },
        headers={"If-Match": etag},
    )
    assert response.status_code == 200, response.text


def _order(world: World, phase: str = "induction") -> Any:
    """A CIDP order on Privigen for Ann, entered by the prescriber."""
    response = world.client("prescriber").post(
        "/api/v1/orders",
        json={
            "patient_id": world.patients["ann"],
            "prescriber_id": world.prescriber_id,
            "indication_id": "cidp",
            "phase": phase,
            "product_id": "privigen",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_without_a_protocol_the_verifying_pharmacist_enters_the_value_with_a_reason(world: World) -> None:
    _ready_patient(world)
    order = _order(world)
    plan = order["versions"][-1]["plan"]
    stop = next(a for a in plan["alerts"] if a["code"] == "risk_rate_cap_unknown")
    assert stop["resolvable_by"] == "pharmacist"
    pharmacist = world.client("pharmacist")
    url = f"/api/v1/orders/{order['id']}/verifications"
    plain = pharmacist.post(url, json={"version": 1, "decision": "verified"})
    assert plain.status_code == 422 and "Enter the at-risk maximum rate" in plain.json()["detail"]
    no_reason = pharmacist.post(
        url, json={"version": 1, "decision": "verified", "at_risk_max_rate_mg_per_kg_min": 2}
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    done = pharmacist.post(
        url,
        json={
            "version": 1,
            "decision": "verified",
            "at_risk_max_rate_mg_per_kg_min": 2.0,
            "reason": "diabetic, 70 y, eGFR 55: slower than the usual label maximum",
        },
    )
    assert done.status_code == 201, done.text
    result = done.json()
    assert result["verification_status"] == "verified" and result["current_version"] == 2
    latest = result["versions"][-1]
    assert latest["inputs"]["pharmacist_values"]["max_rate_mg_per_kg_min"] == 2.0
    assert max(s["rate_mg_per_kg_min"] for d in latest["plan"]["days"] for s in d["steps"]) <= 2.0
    assert "rate_cap_by_pharmacist" in [a["code"] for a in latest["plan"]["alerts"]]
    # the prescriber entered the order, the pharmacist decided the value and verified: two people
    assert latest["verifications"][0]["verified_by_user_id"] == world.users["pharmacist"]
    assert (
        "At-risk maximum 2 mg/kg/min entered for this patient: diabetic" in latest["verifications"][0]["note"]
    )


def test_an_approved_protocol_makes_the_plan_slower_and_cites_it(world: World) -> None:
    _approvers(world)
    _ready_patient(world)
    before = _order(world)
    assert before["verification_status"] == "hard_stop"
    protocol = _propose(world)
    assert _decide(world, "pt.chair", protocol).status_code == 200
    # Reading never writes: the order reads as out of date until a POST recomputes its plan.
    stale = world.client("pharmacist").get(f"/api/v1/orders/{before['id']}").json()
    assert stale["verification_status"] == "out_of_date" and stale["current_version"] == 1
    assert [c["fact"] for c in stale["out_of_date_changes"]] == ["protocol_ids"]
    recomputed = world.client("pharmacist").post(f"/api/v1/orders/{before['id']}/plan-versions")
    assert recomputed.status_code == 200, recomputed.text
    order = world.client("pharmacist").get(f"/api/v1/orders/{before['id']}").json()
    latest = order["versions"][-1]
    assert order["verification_status"] == "pending" and latest["inputs"]["protocol_ids"] == [protocol["id"]]
    assert any(c["fact"] == "protocol_ids" for c in latest["changes"])
    assert any("Site protocol 'Test protocol' v1" in s for s in latest["plan"]["sources"])
    assert max(s["rate_mg_per_kg_min"] for d in latest["plan"]["days"] for s in d["steps"]) <= 3.3
    verified = world.client("pharmacist").post(
        f"/api/v1/orders/{order['id']}/verifications",
        json={"version": latest["version"], "decision": "verified"},
    )
    assert verified.status_code == 201, verified.text


def _maintenance_order(world: World) -> Any:
    """A CIDP maintenance order on Privigen for a patient with no risk factors (a plan without stops)."""
    nurse = world.client("nurse")
    for kind, value in (("weight_kg", 70.0), ("height_cm", 170.0)):
        nurse.post(
            f"/api/v1/patients/{world.patients['ann']}/measurements",
            json={"kind": kind, "value": value, "measured_on": "2026-11-01"},
        )
    return _order(world, "maintenance")


def test_a_version_is_decided_once_and_changed_only_by_a_reasoned_re_review(world: World) -> None:
    order = _maintenance_order(world)
    url = f"/api/v1/orders/{order['id']}/verifications"
    pharmacist = world.client("pharmacist")
    assert pharmacist.post(url, json={"version": 1, "decision": "verified"}).status_code == 201
    again = pharmacist.post(url, json={"version": 1, "decision": "verified"})
    assert again.status_code == 409 and "decided once" in again.json()["detail"]
    assert (
        pharmacist.post(url, json={"version": 1, "decision": "rejected", "re_review": True}).status_code
        == 422
    )
    re_review = pharmacist.post(
        url, json={"version": 1, "decision": "rejected", "re_review": True, "note": "dose check on review"}
    )
    assert re_review.status_code == 201 and re_review.json()["verification_status"] == "rejected"


@pytest.mark.postgres
def test_concurrent_verify_and_reject_exactly_one_wins(world: World) -> None:
    if world.db.engine.dialect.name != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent transactions")
    world.add_user("pharmacist.b", ["pharmacist"])
    order = _maintenance_order(world)
    url = f"/api/v1/orders/{order['id']}/verifications"
    clients = [world.client("pharmacist"), world.client("pharmacist.b")] * 3
    bodies = [
        {"version": 1, "decision": "verified"},
        {"version": 1, "decision": "rejected", "note": "no"},
    ] * 3
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def go(client: Any, body: dict[str, Any]) -> None:
        barrier.wait()
        statuses.append(client.post(url, json=body).status_code)

    threads = [threading.Thread(target=go, args=pair) for pair in zip(clients, bodies, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) == 1, statuses
    assert all(status in (201, 409) for status in statuses), statuses
    final = world.client("pharmacist").get(f"/api/v1/orders/{order['id']}").json()
    assert len(final["versions"][0]["verifications"]) == 1


@pytest.mark.postgres
def test_concurrent_approvals_exactly_one_wins(world: World) -> None:
    if world.db.engine.dialect.name != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent transactions")
    _approvers(world)
    draft = _propose(world)
    clients = [world.client("pt.chair"), world.client("pt.other")] * 3
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def go(client: Any) -> None:
        barrier.wait()
        statuses.append(
            client.post(
                f"/api/v1/protocols/{draft['id']}/decision",
                json={"decision": "approved", "version": 1, "note": ""},
            ).status_code
        )

    threads = [threading.Thread(target=go, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 1 and statuses.count(409) == len(clients) - 1, statuses


def test_cli_with_the_exported_protocol_gives_the_same_plan_as_the_api(world: World, tmp_path: Any) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from igflow.cli.dose import dose

    _approvers(world)
    protocol = _propose(world)
    assert _decide(world, "pt.chair", protocol).status_code == 200
    exported = world.client("nurse").get(f"/api/v1/protocols/{protocol['id']}/document")
    assert exported.status_code == 200
    path = tmp_path / "protocol.json"
    path.write_text(json.dumps(exported.json()))
    args = {
        "indication": "cidp",
        "phase": "induction",
        "product": "privigen",
        "weight_kg": 80,
        "height_cm": 172,
        "sex": "female",
        "age_years": 70,
    }
    api = world.client("nurse").post("/api/v1/dose-plans/preview", json={**args, "risk": ["diabetes"]})
    assert api.status_code == 200, api.text
    assert not any(a["severity"] == "hard_stop" for a in api.json()["alerts"])
    cli = typer.Typer()
    cli.command()(dose)
    flags = [x for k, v in args.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    result = CliRunner().invoke(cli, [*flags, "--risk", "diabetes", "--protocol", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == api.json()
    without = CliRunner().invoke(cli, [*flags, "--risk", "diabetes", "--json"])
    assert without.exit_code == 3  # no protocol: the pharmacist-resolvable stop
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: Bad\nvalues:\n  observation_later_min: {value: -5, basis: test}\n")
    refused = CliRunner().invoke(cli, [*flags, "--protocol", str(bad), "--json"])
    assert refused.exit_code == 2 and "Observation after later infusions" in refused.output


def test_the_order_form_ranks_products_and_the_order_keeps_the_reasons(world: World) -> None:
    _ready_patient(world)
    page = world.client("prescriber").get(
        f"/patients/{world.patients['ann']}/orders/new?indication_id=cidp&phase=induction&compare=1"
    )
    assert page.status_code == 200
    assert "Products for this patient, ranked" in page.text and "no coverage data" in page.text
    order = _order(world)
    choice = order["product_choice"]
    assert choice["of"] >= 5 and choice["reasons"][0] in (
        "licensed for this indication",
        "off-label for this indication",
    )
    detail = world.client("pharmacist").get(f"/orders/{order['id']}")
    assert "Product choice: ranked" in detail.text


def test_the_protocol_pages_propose_edit_and_approve(world: World) -> None:
    _approvers(world)
    pharmacist = world.client("pharmacist")
    form = {
        "title": "Centre protocol",
        "site_id": "",
        "effective_from": "2026-01-01",
        "summary": "first version",
        "cap0.products": "*",
        "cap0.risk_groups": ["renal", "thrombosis"],
        "cap0.max": "3,3",
        "at_risk_max_rate.basis": "",
        "chair_weight_change_max_percent.value": "5",
        "chair_weight_change_max_percent.basis": "within whole-vial rounding",
        "premedication_after_reaction.value": "Paracetamol by mouth\nAn oral antihistamine",
        "premedication_after_reaction.basis": "CMAJ table 2",
        "vital_limits.heart_rate_bpm.high": "110",
        "vital_limits.basis": "local early-warning choice",
    }
    missing_basis = pharmacist.post("/protocols/new", data=form, follow_redirects=False)
    assert missing_basis.status_code == 422
    assert "At-risk maximum infusion rate, basis" in missing_basis.text
    assert "values." not in missing_basis.text and "cap0" not in missing_basis.text.split("<form")[0]
    assert 'value="Centre protocol"' in missing_basis.text  # the answers are kept
    form["at_risk_max_rate.basis"] = "lowest numeric label cap"
    created = pharmacist.post("/protocols/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    stored = pharmacist.get("/api/v1" + url).json()
    assert stored["values"]["at_risk_max_rate"]["value"][0]["max_rate_mg_per_kg_min"] == 3.3
    assert stored["values"]["premedication_after_reaction"]["value"] == [
        "Paracetamol by mouth",
        "An oral antihistamine",
    ]
    page = " ".join(pharmacist.get(url).text.split())
    assert "3.3 mg/kg/min for every IV product, patients with renal risk or thrombosis risk" in page
    assert "Heart rate (/min): alert above 110" in page
    assert stored["values"]["vital_limits"]["value"] == {"heart_rate_bpm": {"high": 110.0}}
    assert "Approve version" not in page  # the proposer sees no approve button
    approver = world.client("pt.chair")
    decided = approver.post(
        f"{url}/decision", data={"decision": "approved", "version": "1", "note": ""}, follow_redirects=False
    )
    assert decided.status_code == 303
    assert "In force" in pharmacist.get("/protocols").text
    edit = pharmacist.get(f"{url}/edit", follow_redirects=False)
    assert edit.status_code == 303 and "/protocols/new?from=" in edit.headers["location"]
