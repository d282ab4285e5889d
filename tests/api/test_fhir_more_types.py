"""FHIR R4 Task (work queues), Claim and ClaimResponse (prior authorisation, from the PAS export) and
AuditEvent (auditors only): each validates with its fhir.resources R4B model, reads back as searched, and
keeps to igflow's permissions and site limits."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from igflow.appointments.models import Appointment
from igflow.authorizations import pas
from igflow.authorizations.models import PriorAuthRequest
from igflow.directory.models import Payer
from igflow.fhir.mapping.schedule import slot_id
from igflow.patients.models import Coverage
from tests.api.test_fhir_api import charted_world
from tests.conftest import World

FHIR = "/fhir/R4"


def get_bundle(client: Any, url: str) -> Bundle:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return Bundle.model_validate_json(response.text)


def _without_references(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_references(v) for k, v in node.items() if k != "reference"}
    if isinstance(node, list):
        return [_without_references(v) for v in node]
    return node


def add_prior_auth(world: World, patient_id: int, order_id: int, status: str = "approved") -> int:
    """A request on the patient's order and coverage, with the payer's decision recorded."""
    with world.db.session() as session:
        coverage = (
            session.execute(select(Coverage).where(Coverage.patient_id == patient_id)).scalars().first()
        )
        if coverage is None:
            payer = Payer(code=f"pa-payer-{patient_id}", name="Prior Auth Payer")
            session.add(payer)
            session.flush()
            coverage = Coverage(patient_id=patient_id, payer_id=payer.id, member_id="M-9", benefit="medical")
            session.add(coverage)
            session.flush()
        request = PriorAuthRequest(
            patient_id=patient_id,
            order_id=order_id,
            coverage_id=coverage.id,
            policy_id="generic",
            created_by_user_id=world.users["admin"],
            attestations={},
            status=status,
            requested_grams=120,
            submitted_at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC),
            decided_at=dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC),
            payer_reference="AUTH-778",
            decision_reason="meets the policy",
            authorised_grams=120,
            authorised_infusions=3,
            start_date=dt.date(2026, 3, 5),
            end_date=dt.date(2026, 9, 4),
        )
        session.add(request)
        session.commit()
        return request.id


def test_tasks_are_the_users_own_queues(world: World) -> None:
    c = charted_world(world)
    tasks = {}
    for role in ("pharmacist", "nurse", "prescriber"):
        bundle = get_bundle(world.client(role), f"{FHIR}/Task?patient={c.patient_id}")
        tasks[role] = {e.resource.performerType[0].coding[0].code for e in bundle.entry or []}
    assert tasks["pharmacist"] <= {"pharmacist"} and tasks["nurse"] <= {"nurse"}
    assert any(tasks.values())
    nurse_tasks = get_bundle(world.client("nurse"), f"{FHIR}/Task?status=ready")
    for entry in nurse_tasks.entry or []:
        task = entry.resource
        assert task.status == "ready" and task.for_fhir.reference == f"Patient/{c.patient_id}"
        assert task.input is None and task.output is None  # the working detail stays in igflow
    assert get_bundle(world.client("nurse"), f"{FHIR}/Task?status=completed").total == 0
    assert world.client("scheduler").get(f"{FHIR}/Task").status_code == 403


def test_claim_is_the_pas_exports_claim_pointing_at_this_servers_resources(world: World) -> None:
    c = charted_world(world)
    request_id = add_prior_auth(world, c.patient_id, c.order_id)
    client = world.client("prior_auth")
    claim = client.get(f"{FHIR}/Claim/{request_id}").json()
    assert claim["use"] == "preauthorization" and claim["status"] == "active"
    assert claim["patient"] == {"reference": f"Patient/{c.patient_id}"}
    assert claim["insurance"][0]["coverage"]["reference"].startswith("Coverage/")
    assert claim["insurer"]["reference"].startswith("Organization/payer-")
    assert {"system": pas.REQUEST_SYSTEM, "value": str(request_id)} in claim["identifier"]
    assert "urn:uuid:" not in client.get(f"{FHIR}/Claim/{request_id}").text
    exported = client.get(f"/api/v1/prior-auth/{request_id}/pas-bundle").json()
    pas_claim = next(e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "Claim")
    # the same Claim, built once by the PAS export: only the references differ
    assert _without_references(claim["item"]) == _without_references(pas_claim["item"])
    assert f"MedicationRequest/{c.order_id}" in json.dumps(claim["item"])
    for reference in ("patient", "insurer", "provider"):
        target = claim[reference].get("reference")
        if target:
            assert client.get(f"{FHIR}/{target}").status_code in (200, 403), target


def test_claim_response_reads_back_through_the_pas_import_as_the_recorded_decision(world: World) -> None:
    c = charted_world(world)
    request_id = add_prior_auth(world, c.patient_id, c.order_id)
    response = world.client("prior_auth").get(f"{FHIR}/ClaimResponse/{request_id}").json()
    assert response["preAuthRef"] == "AUTH-778" and response["outcome"] == "complete"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{'0' * 8}-0000-4000-8000-{'0' * 12}", "resource": response}],
    }
    decision = pas.read_response(bundle, request_id=request_id)
    assert decision.outcome == "approved" and decision.payer_reference == "AUTH-778"
    assert decision.grams == 120 and decision.infusions == 3
    assert (decision.start_date, decision.end_date) == (dt.date(2026, 3, 5), dt.date(2026, 9, 4))
    draft = add_prior_auth(world, c.patient_id, c.order_id, status="draft")
    assert world.client("prior_auth").get(f"{FHIR}/ClaimResponse/{draft}").status_code == 404
    assert world.client("prior_auth").get(f"{FHIR}/Claim/{draft}").json()["status"] == "draft"


def test_audit_events_are_for_auditors_and_leave_out_the_detail(world: World) -> None:
    ann = world.patients["ann"]
    world.client("nurse").get(f"{FHIR}/Patient?name=northwood")  # detail names the parameters
    auditor = world.client("auditor")
    bundle = get_bundle(auditor, f"{FHIR}/AuditEvent?patient={ann}")
    events = [e.resource for e in bundle.entry or []]
    assert any(e.type.code == "fhir.search" and e.agent[0].who.display == "nurse" for e in events)
    text = auditor.get(f"{FHIR}/AuditEvent?patient={ann}").text
    assert "returned_ids" not in text and "testclient" not in text and '"hash"' not in text
    for role in ("pharmacist", "admin", "nurse"):
        assert world.client(role).get(f"{FHIR}/AuditEvent").status_code == 403, role
    # an auditor limited to North sees only rows about North's patients
    world.add_user("auditor.north", ["auditor"], ["north"])
    world.client("nurse").get(f"{FHIR}/Patient/{world.patients['sol']}")
    limited = get_bundle(world.client("auditor.north"), f"{FHIR}/AuditEvent?_count=200")
    patients = {
        e.resource.entity[-1].what.reference for e in limited.entry or [] if len(e.resource.entity) > 1
    }
    assert patients == {f"Patient/{ann}"}


def test_another_sites_tasks_and_requests_are_not_found(world: World) -> None:
    c = charted_world(world)  # Una is at North
    request_id = add_prior_auth(world, c.patient_id, c.order_id)
    world.add_user("prior_auth.south", ["prior_auth"], ["south"])
    world.add_user("nurse.south", ["nurse"], ["south"])
    south = world.client("prior_auth.south")
    assert south.get(f"{FHIR}/Claim/{request_id}").status_code == 404
    assert south.get(f"{FHIR}/ClaimResponse/{request_id}").status_code == 404
    assert get_bundle(south, f"{FHIR}/Claim").total == 0
    nurse = world.client("nurse.south")
    assert get_bundle(nurse, f"{FHIR}/Task").total == 0


# --- Schedule and Slot -------------------------------------------------------------------------------------


def _next_monday() -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=7 - today.weekday())


def test_each_chair_has_a_schedule_with_its_centres_hours(world: World) -> None:
    scheduler = world.client("scheduler")
    bundle = get_bundle(scheduler, f"{FHIR}/Schedule")
    assert bundle.total == 7  # North's 4 chairs and South's 3
    schedule = bundle.entry[0].resource
    assert schedule.id.startswith("chair-") and schedule.active
    assert schedule.actor[0].reference == f"Location/{schedule.id}"
    assert "Mon 08:00-17:00" in schedule.comment
    read = scheduler.get(f"{FHIR}/Schedule/{schedule.id}")
    assert read.status_code == 200 and read.json()["id"] == schedule.id
    world.add_user("scheduler.north", ["scheduler"], ["north"])
    north = get_bundle(world.client("scheduler.north"), f"{FHIR}/Schedule")
    assert north.total == 4
    assert world.client("intake").get(f"{FHIR}/Schedule").status_code == 403


def test_free_slots_are_the_open_hours_less_bookings_and_closures(world: World) -> None:
    from igflow.sites.models import ClosedDate
    from tests.api.test_infusions_api import _booked

    scheduler = world.client("scheduler")
    chair = get_bundle(scheduler, f"{FHIR}/Schedule?_count=1").entry[0].resource.id
    monday = _next_monday()
    url = f"{FHIR}/Slot?schedule=Schedule/{chair}&start={monday.isoformat()}"
    day = get_bundle(scheduler, url + "&_count=200")
    assert day.total == 36  # 08:00 to 17:00 in 15-minute steps
    first = day.entry[0].resource
    assert first.id == f"{chair}-{monday:%Y%m%d}-0800" and first.status == "free"
    assert first.start.isoformat().startswith(f"{monday.isoformat()}T08:00:00")
    assert scheduler.get(f"{FHIR}/Slot/{first.id}").json()["id"] == first.id
    assert get_bundle(scheduler, url + "&status=busy").total == 0
    week = get_bundle(
        scheduler, f"{FHIR}/Slot?schedule=Schedule/{chair}&start=ge{monday.isoformat()}&_count=0"
    )
    assert week.total == 5 * 36  # seven days from Monday: five open days
    too_long = scheduler.get(f"{FHIR}/Slot?start=ge2026-01-01&start=lt2026-06-01")
    assert too_long.status_code == 400
    # a booked appointment takes its chair's slots
    appointment_id, _plan = _booked(world)
    with world.db.session() as session:
        booked = session.get(Appointment, appointment_id)
        assert booked is not None and booked.chair_id is not None
        held = slot_id(booked.chair_id, booked.date, booked.start_min)
        free = slot_id(booked.chair_id, booked.date, booked.start_min - 15)
    assert scheduler.get(f"{FHIR}/Slot/{held}").status_code == 404
    assert scheduler.get(f"{FHIR}/Slot/{free}").status_code in (200, 404)  # free unless closed or full
    # a closed day has none
    with world.db.session() as session:
        session.add(ClosedDate(site_id=world.sites["north"], date=monday, reason="training"))
        session.commit()
    north_chairs = [
        e.resource.id
        for e in get_bundle(world.client("scheduler"), f"{FHIR}/Schedule").entry or []
        if e.resource.actor[1].reference == f"Location/site-{world.sites['north']}"
    ]
    closed = get_bundle(
        scheduler, f"{FHIR}/Slot?schedule=Schedule/{north_chairs[0]}&start={monday.isoformat()}"
    )
    assert closed.total == 0
