"""FHIR R4 at /fhir/R4: every resource type served round-trips through its fhir.resources R4B model, with
the content a client relies on (codes, statuses, lots, rate steps, grades), made through igflow's own API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from igflow.directory.models import Payer
from igflow.security.models import AuditEvent
from igflow.sites.models import Organisation
from tests.api.test_infusions_api import Chart, _booked, _lots_for
from tests.conftest import World

FHIR = "/fhir/R4"
TYPES = (
    "Patient",
    "Practitioner",
    "Organization",
    "Location",
    "Coverage",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
    "Observation",
    "AdverseEvent",
    "Appointment",
    "Group",
)
#: Work queues, prior authorisation and the audit log, each read by the role whose data it is
#: (round trip: test_the_added_types_round_trip_through_their_r4b_models below).
MORE_TYPES = ("Schedule", "Slot", "Task", "Claim", "ClaimResponse", "AuditEvent")
SIGN = "I charted this infusion and the record is complete"


@dataclass
class Charted:
    patient_id: int
    appointment_id: int
    record_id: int
    order_id: int
    plan: dict[str, Any]
    rate_changes: int
    first_vitals_id: int
    reaction_id: int


def charted_world(world: World) -> Charted:
    """One patient (Una, North) with a verified plan, a booked day charted from check-in to signature
    (vitals, every vial scanned, two rate changes, a grade 2 reaction, a correction), an outcome reading,
    a coverage, the organisation and a payer."""
    appointment_id, plan = _booked(world)
    pid = world.patients["una"]
    scans = _lots_for(world, plan)
    nurse = world.client("nurse")
    record = nurse.post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    day = plan["days"][0]
    steps = day["steps"]
    ok = [
        chart("checklist", {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": "22G"}),
        chart("weight", {"weight_kg": plan["weight_kg"]}),
        chart(
            "vitals",
            {
                "systolic_bp_mmhg": 124,
                "diastolic_bp_mmhg": 78,
                "heart_rate_bpm": 72,
                "resp_rate_per_min": 14,
                "temperature_c": 36.7,
                "spo2_percent": 98,
            },
        ),
        *[chart("vial", {"scan_text": scan}) for scan in scans],
        chart("start"),
        chart("rate_change", {"rate_ml_per_h": steps[1]["rate_ml_per_h"]}),
        chart(
            "reaction",
            {
                "grade": 2,
                "symptoms": ["headache", "flushing"],
                "action_taken": "slow_to_previous_step",
                "medications": ["paracetamol 1 g"],
            },
        ),
        chart("rate_change", {"rate_ml_per_h": steps[0]["rate_ml_per_h"]}),
        chart("end", {"volume_infused_ml": day["volume_ml"], "confirm_volume": True}),
        chart("vitals", {"systolic_bp_mmhg": 120, "heart_rate_bpm": 70, "temperature_c": 36.8}),
        chart("sign", {"statement": SIGN, "early_reason": "collected by transport"}),
    ]
    assert all(r.status_code == 201 for r in ok), [r.text for r in ok if r.status_code != 201]
    entries = nurse.get(f"/api/v1/infusions/{record['id']}").json()["entries"]
    first_vitals = next(e for e in entries if e["kind"] == "vitals")
    reaction = next(e for e in entries if e["kind"] == "reaction")
    fixed = chart("correction", {"text": "SBP 142"}, amends_id=first_vitals["id"], reason="typed 124 for 142")
    assert fixed.status_code == 201, fixed.text
    order_id = world.client("pharmacist").get(f"/api/v1/patients/{pid}/orders").json()[0]["id"]
    reading = world.client("prescriber").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={
            "measure_id": "igg-trough",
            "value": 7.5,
            "measured_on": dt.date.today().isoformat(),
            "method": "review",
        },
    )
    assert reading.status_code == 201, reading.text
    with world.db.session() as session:
        session.add(
            Organisation(
                name="Synthetic Infusion Pharmacy", timezone="UTC", default_dosing_policy_id="actual"
            )
        )
        payer = Payer(code="synthetic-health", name="Synthetic Health Plan")
        session.add(payer)
        session.commit()
        payer_id = payer.id
    coverage = world.client("intake").post(
        f"/api/v1/patients/{pid}/coverages",
        json={"payer_id": payer_id, "member_id": "SYN-123", "group_number": "G-9", "plan_name": "Gold"},
    )
    assert coverage.status_code == 201, coverage.text
    return Charted(pid, appointment_id, record["id"], order_id, plan, 2, first_vitals["id"], reaction["id"])


def get_bundle(client: Any, url: str) -> Bundle:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    return Bundle.model_validate_json(response.text)


def resources(bundle: Bundle) -> list[Any]:
    return [entry.resource for entry in bundle.entry or []]


def test_every_resource_type_round_trips_through_its_r4b_model(world: World) -> None:
    charted_world(world)
    pharmacist = world.client("pharmacist")
    for kind in TYPES:
        bundle = get_bundle(pharmacist, f"{FHIR}/{kind}")
        assert bundle.type == "searchset" and bundle.total and bundle.total >= 1, kind
        for resource in resources(bundle):
            assert resource.get_resource_type() == kind
            read = pharmacist.get(f"{FHIR}/{kind}/{resource.id}")
            assert read.status_code == 200, (kind, resource.id, read.text)
            assert read.headers["content-type"] == "application/fhir+json"
            again = get_fhir_model_class(kind).model_validate_json(read.text)
            assert again.model_dump() == resource.model_dump(), (kind, resource.id)


def _codes(resource: Any) -> set[tuple[str, str]]:
    return {(c.system, c.code) for c in resource.code.coding or []}


def test_observations_carry_loinc_where_verified_and_local_codes_otherwise(world: World) -> None:
    c = charted_world(world)
    bundle = get_bundle(world.client("pharmacist"), f"{FHIR}/Observation?patient={c.patient_id}&_count=200")
    observations = resources(bundle)
    by_code = {code: o for o in observations for code in _codes(o)}
    weight = by_code[("http://loinc.org", "29463-7")]
    assert weight.valueQuantity.code == "kg" and weight.valueQuantity.system == "http://unitsofmeasure.org"
    assert ("http://loinc.org", "8302-2") in by_code
    bp = [o for o in observations if ("http://loinc.org", "85354-9") in _codes(o)]
    assert len(bp) == 2  # baseline and discharge
    components = {comp.code.coding[0].code: comp.valueQuantity for comp in bp[0].component}
    assert components["8480-6"].value == 124 and components["8480-6"].code == "mm[Hg]"
    assert components["8462-4"].value == 78
    assert bp[0].status == "amended" and "SBP 142" in bp[0].note[0].text  # the chart correction
    assert [comp.code.coding[0].code for comp in bp[1].component] == ["8480-6"]  # diastolic not charted
    spo2 = by_code[("http://loinc.org", "59408-5")]
    assert ("http://loinc.org", "2708-6") in _codes(spo2) and spo2.valueQuantity.code == "%"
    assert by_code[("http://loinc.org", "8310-5")].valueQuantity.code == "Cel"
    assert len([o for o in observations if ("http://loinc.org", "8867-4") in _codes(o)]) == 2
    assert ("http://loinc.org", "9279-1") in by_code
    igg = by_code[("http://loinc.org", "2465-3")]
    assert igg.valueQuantity.value == 7.5 and igg.valueQuantity.code == "g/L"
    assert igg.method.coding[0].code == "review"
    assert all(o.partOf[0].reference == f"MedicationAdministration/{c.record_id}" for o in bp[1:])
    # searching by code, with or without the system
    for query in ("code=http://loinc.org|85354-9", "code=85354-9"):
        found = get_bundle(world.client("nurse"), f"{FHIR}/Observation?patient={c.patient_id}&{query}")
        assert found.total == 2
    none = get_bundle(world.client("nurse"), f"{FHIR}/Observation?code=http://snomed.info/sct|85354-9")
    assert none.total == 0


def test_observations_follow_the_permission_of_the_data_behind_them(world: World) -> None:
    c = charted_world(world)
    url = f"{FHIR}/Observation?patient={c.patient_id}&_count=200"
    everything = get_bundle(world.client("pharmacist"), url)
    ids = {o.id for o in resources(everything)}
    assert any(i.startswith("vitals-") for i in ids) and any(i.startswith("outcome-") for i in ids)
    # prior authorisation reads measurements and outcomes, not the chart at the chair
    prior = {o.id for o in resources(get_bundle(world.client("prior_auth"), url))}
    assert prior == {i for i in ids if not i.startswith("vitals-")}
    vitals_id = next(i for i in ids if i.startswith("vitals-"))
    refused = world.client("prior_auth").get(f"{FHIR}/Observation/{vitals_id}")
    assert refused.status_code == 404
    assert world.client("scheduler").get(url).status_code == 403


def test_the_infusion_as_administration_dispense_and_adverse_event(world: World) -> None:
    c = charted_world(world)
    pharmacist = world.client("pharmacist")
    admin = get_fhir_model_class("MedicationAdministration").model_validate_json(
        pharmacist.get(f"{FHIR}/MedicationAdministration/{c.record_id}").text
    )
    assert admin.status == "completed"  # a grade 2 reaction slowed it; it was not stopped
    assert admin.request.reference == f"MedicationRequest/{c.order_id}"
    steps = [e for e in admin.dosage.extension if e.url.endswith("/rate-step")]
    assert len(steps) == 1 + c.rate_changes  # the start at the plan's first rate, then each change
    rates = [next(x.valueQuantity.value for x in s.extension if x.url == "rate") for s in steps]
    plan_steps = c.plan["days"][0]["steps"]
    assert rates == [
        plan_steps[0]["rate_ml_per_h"],
        plan_steps[1]["rate_ml_per_h"],
        plan_steps[0]["rate_ml_per_h"],
    ]
    assert admin.dosage.dose.value == c.plan["days"][0]["volume_ml"] and admin.dosage.dose.code == "mL"
    dispense_refs = [
        r.reference for r in admin.supportingInformation if r.reference.startswith("MedicationDispense/")
    ]
    assert dispense_refs
    dispenses = resources(get_bundle(pharmacist, f"{FHIR}/MedicationDispense?patient={c.patient_id}"))
    assert {f"MedicationDispense/{d.id}" for d in dispenses} == set(dispense_refs)
    vials = sum(int(v["count"]) for v in c.plan["days"][0]["vials"])
    assert sum(d.quantity.value for d in dispenses) == vials
    lot = dispenses[0].contained[0]
    assert lot.batch.lotNumber.startswith("GL") and lot.batch.expirationDate
    assert dispenses[0].authorizingPrescription[0].reference == f"MedicationRequest/{c.order_id}"
    event = get_fhir_model_class("AdverseEvent").model_validate_json(
        pharmacist.get(f"{FHIR}/AdverseEvent/{c.reaction_id}").text
    )
    grade = next(e for e in event.extension if e.url.endswith("/ctcae-grade"))
    assert grade.valueCodeableConcept.coding[0].code == "2"
    assert event.severity.coding[0].code == "moderate"  # the catalog's label for grade 2
    assert event.suspectEntity[0].instance.reference == f"MedicationAdministration/{c.record_id}"
    assert event.event.text == "headache, flushing"
    assert get_bundle(pharmacist, f"{FHIR}/AdverseEvent?subject=Patient/{c.patient_id}").total == 1


def test_the_order_carries_the_dosage_of_its_verified_plan(world: World) -> None:
    _appointment_id, plan = _booked(world)
    pharmacist = world.client("pharmacist")
    order_id = pharmacist.get(f"/api/v1/patients/{world.patients['una']}/orders").json()[0]["id"]
    request = get_fhir_model_class("MedicationRequest").model_validate_json(
        pharmacist.get(f"{FHIR}/MedicationRequest/{order_id}").text
    )
    assert request.status == "active" and request.intent == "order"
    assert request.medicationCodeableConcept.coding[0].code == "gammagard-liquid"
    assert request.requester.reference == f"Practitioner/{world.prescriber_id}"
    day = plan["days"][0]
    dosage = request.dosageInstruction[0]
    assert dosage.sequence == 1 and dosage.doseAndRate[0].doseQuantity.value == day["dispensed_g"]
    assert [d.rateQuantity.value for d in dosage.doseAndRate[1:]] == [
        s["rate_ml_per_h"] for s in day["steps"]
    ]
    assert request.dispenseRequest.quantity.value == plan["dispensed_g"]
    # a new weight puts the plan out of date: no dosage until a pharmacist verifies the new version
    world.client("nurse").post(
        f"/api/v1/patients/{world.patients['una']}/measurements",
        json={
            "kind": "weight_kg",
            "value": plan["weight_kg"] + 9,
            "measured_on": dt.date.today().isoformat(),
        },
    )
    stale = pharmacist.get(f"{FHIR}/MedicationRequest/{order_id}").json()
    assert "dosageInstruction" not in stale and "No dose plan version" in stale["note"][-1]["text"]


def test_an_appointment_has_its_status_place_and_chair(world: World) -> None:
    c = charted_world(world)
    pharmacist = world.client("pharmacist")
    appointments = resources(
        get_bundle(world.client("scheduler"), f"{FHIR}/Appointment?patient={c.patient_id}")
    )
    assert [a.status for a in appointments if a.id == str(c.appointment_id)] == ["fulfilled"]  # signed
    appointment = next(a for a in appointments if a.id == str(c.appointment_id))
    actors = [p.actor.reference for p in appointment.participant]
    assert actors[0] == f"Patient/{c.patient_id}" and actors[1] == f"Location/site-{world.sites['north']}"
    assert actors[2].startswith("Location/chair-")
    chair = pharmacist.get(f"{FHIR}/{actors[2]}").json()
    assert chair["partOf"]["reference"] == f"Location/site-{world.sites['north']}"
    assert appointment.start.utcoffset() is not None
    fulfilled = get_bundle(world.client("scheduler"), f"{FHIR}/Appointment?status=fulfilled")
    assert fulfilled.total == 1
    assert get_bundle(world.client("scheduler"), f"{FHIR}/Appointment?status=booked,noshow").total == 0
    on_day = get_bundle(
        world.client("scheduler"),
        f"{FHIR}/Appointment?date={appointment.start.date()}&location=Location/site-{world.sites['north']}",
    )
    assert on_day.total == 1


def test_coverage_and_the_directory(world: World) -> None:
    c = charted_world(world)
    intake = world.client("intake")
    coverage = resources(get_bundle(intake, f"{FHIR}/Coverage?patient={c.patient_id}"))[0]
    assert coverage.subscriberId == "SYN-123" and coverage.status == "active"
    assert coverage.payor[0].reference.startswith("Organization/payer-")
    assert intake.get(f"{FHIR}/{coverage.payor[0].reference}").status_code == 200
    orgs = resources(get_bundle(intake, f"{FHIR}/Organization"))
    assert {o.id.split("-")[0] for o in orgs} == {"org", "payer"}
    practitioner = resources(get_bundle(intake, f"{FHIR}/Practitioner?identifier=1234567890"))[0]
    assert practitioner.name[0].family == "Prescriber"
    chairs = get_bundle(intake, f"{FHIR}/Location?partof=Location/site-{world.sites['north']}")
    assert chairs.total == 4


def test_a_patient_read_has_its_version_and_an_etag_and_is_audited(world: World) -> None:
    ann = world.patients["ann"]
    nurse = world.client("nurse")
    first = nurse.get(f"{FHIR}/Patient/{ann}")
    assert first.status_code == 200 and first.headers["etag"] == 'W/"1"'
    assert first.json()["meta"]["versionId"] == "1"
    patched = world.client("intake").patch(
        f"/api/v1/patients/{ann}", json={"phone": "555-0100", "version": 1}
    )
    assert patched.status_code == 200, patched.text
    second = nurse.get(f"{FHIR}/Patient/{ann}")
    assert second.headers["etag"] == 'W/"2"' and second.json()["telecom"][0]["value"] == "555-0100"
    nurse.get(f"{FHIR}/Patient?name=north")
    with world.db.session() as session:
        rows = list(
            session.execute(
                select(AuditEvent).where(AuditEvent.action.like("fhir.%")).order_by(AuditEvent.id)
            ).scalars()
        )
    assert [(r.action, r.resource_type, r.patient_id) for r in rows] == [
        ("fhir.read", "Patient", ann),
        ("fhir.read", "Patient", ann),
        ("fhir.search", "Patient", ann),
    ]
    assert all(r.actor == "nurse" for r in rows)
    assert '"name"' in rows[-1].detail and "north" not in rows[-1].detail  # names, not the values searched


def test_patient_search_by_identifier_name_and_birthdate(world: World) -> None:
    nurse = world.client("nurse")
    mrn = "urn:igflow:mrn|TST0001"
    assert [p.id for p in resources(get_bundle(nurse, f"{FHIR}/Patient?identifier={mrn}"))] == [
        str(world.patients["ann"])
    ]
    assert get_bundle(nurse, f"{FHIR}/Patient?identifier=tst0002").total == 1
    assert get_bundle(nurse, f"{FHIR}/Patient?identifier=http://other.example/mrn|TST0001").total == 0
    assert get_bundle(nurse, f"{FHIR}/Patient?name=SOUTH").total == 1
    assert get_bundle(nurse, f"{FHIR}/Patient?name=annika,solveig").total == 2
    assert get_bundle(nurse, f"{FHIR}/Patient?birthdate=1970-05-17").total == 2
    assert get_bundle(nurse, f"{FHIR}/Patient?birthdate=ge1970-05-18").total == 0
    assert get_bundle(nurse, f"{FHIR}/Patient?birthdate=1970&birthdate=lt1970-06").total == 2
    assert get_bundle(nurse, f"{FHIR}/Patient?name=annika&birthdate=gt1970-05-17").total == 0


def test_a_service_account_token_reads_through_fhir(world: World) -> None:
    issued = world.client("admin").post(
        "/api/v1/tokens", json={"user_id": world.users["svc"], "name": "fhir", "roles": ["pharmacist"]}
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    anonymous = world.client(None)
    read = anonymous.get(f"{FHIR}/Patient/{world.patients['ann']}", headers=headers)
    assert read.status_code == 200 and read.json()["resourceType"] == "Patient"
    wrong = anonymous.get(f"{FHIR}/Patient/{world.patients['ann']}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["resourceType"] == "OperationOutcome"
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_the_added_types_round_trip_through_their_r4b_models(world: World) -> None:
    from tests.api.test_fhir_more_types import add_prior_auth

    c = charted_world(world)
    add_prior_auth(world, c.patient_id, c.order_id)
    readers = {
        "Schedule": "scheduler",
        "Slot": "scheduler",
        "Task": "nurse",
        "Claim": "prior_auth",
        "ClaimResponse": "prior_auth",
        "AuditEvent": "auditor",
    }
    for kind in MORE_TYPES:
        client = world.client(readers[kind])
        bundle = get_bundle(client, f"{FHIR}/{kind}?_count=200")
        assert bundle.type == "searchset" and bundle.total and bundle.total >= 1, kind
        for resource in resources(bundle):
            assert resource.get_resource_type() == kind
            read = client.get(f"{FHIR}/{kind}/{resource.id}")
            assert read.status_code == 200, (kind, resource.id, read.text)
            again = get_fhir_model_class(kind).model_validate_json(read.text)
            assert again.model_dump() == resource.model_dump(), (kind, resource.id)
