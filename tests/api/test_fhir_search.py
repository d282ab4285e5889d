"""FHIR search: paging followed to the end, site limits, OperationOutcome errors, the CapabilityStatement."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.api.test_fhir_api import FHIR, MORE_TYPES, TYPES, charted_world, get_bundle, resources
from tests.conftest import World


def follow(client: Any, url: str) -> tuple[list[Bundle], list[str]]:
    """Every page from ``url`` by its next links; the ids in order."""
    pages, ids = [], []
    while url:
        bundle = get_bundle(client, url)
        pages.append(bundle)
        ids += [r.id for r in resources(bundle)]
        nxt = [link.url for link in bundle.link or [] if link.relation == "next"]
        url = nxt[0].removeprefix("http://testserver") if nxt else ""
        assert len(pages) < 50
    return pages, ids


def _patients(world: World, n: int) -> list[int]:
    intake = world.client("intake")
    out = []
    for k in range(n):
        created = intake.post(
            "/api/v1/patients",
            json={
                "mrn": f"PG{k:04d}",
                "given_name": f"Page{k}",
                "family_name": "Paging",
                "date_of_birth": "1980-01-01",
                "sex": "male",
                "site_ids": [world.sites["north"]],
            },
        )
        assert created.status_code == 201, created.text
        out.append(created.json()["id"])
    return out


def test_patient_pages_follow_next_to_the_end_with_the_right_total(world: World) -> None:
    made = _patients(world, 7)
    nurse = world.client("nurse")
    pages, ids = follow(nurse, f"{FHIR}/Patient?name=paging&_count=3")
    assert [len(p.entry or []) for p in pages] == [3, 3, 1]
    assert all(p.total == 7 for p in pages)
    assert sorted(ids) == sorted(str(i) for i in made) and len(set(ids)) == 7
    last = pages[-1]
    assert not [link for link in last.link if link.relation == "next"]
    assert [link.relation for link in last.link] == ["self", "first", "previous"]
    query = parse_qs(urlsplit(next(link.url for link in last.link if link.relation == "self")).query)
    assert query == {"name": ["paging"], "_count": ["3"], "_offset": ["6"]}
    everyone = get_bundle(nurse, f"{FHIR}/Patient")
    assert everyone.total == 9 and len(everyone.entry) == 9  # default _count 50
    counted = get_bundle(nurse, f"{FHIR}/Patient?_count=0")
    assert counted.total == 9 and counted.entry is None


def test_observation_pages_walk_every_kind_of_row(world: World) -> None:
    c = charted_world(world)
    nurse = world.client("nurse")
    whole = get_bundle(nurse, f"{FHIR}/Observation?patient={c.patient_id}&_count=200")
    pages, ids = follow(nurse, f"{FHIR}/Observation?patient=Patient/{c.patient_id}&_count=4")
    assert ids == [r.id for r in resources(whole)]
    assert len(ids) == whole.total and len(set(ids)) == len(ids)
    kinds = {i.split("-")[0] for i in ids}
    assert kinds == {"measurement", "outcome", "vitals"}
    assert all(p.total == whole.total for p in pages)


def test_count_is_clamped_and_dates_take_prefixes(world: World) -> None:
    c = charted_world(world)
    nurse = world.client("nurse")
    clamped = get_bundle(nurse, f"{FHIR}/Observation?_count=500")
    self_url = next(link.url for link in clamped.link if link.relation == "self")
    assert "_count=200" in self_url
    today = dt.date.today()
    all_today = get_bundle(nurse, f"{FHIR}/Observation?patient={c.patient_id}&date={today.isoformat()}")
    assert all_today.total and all_today.total > 0
    before = get_bundle(nurse, f"{FHIR}/Observation?patient={c.patient_id}&date=lt{today.isoformat()}")
    later = get_bundle(nurse, f"{FHIR}/Observation?patient={c.patient_id}&date=gt{today.isoformat()}")
    within = get_bundle(
        nurse, f"{FHIR}/Observation?patient={c.patient_id}&date=ge{today.year}&date=le{today.year}"
    )
    assert (before.total or 0) + (later.total or 0) + all_today.total == within.total
    given = get_bundle(
        nurse, f"{FHIR}/MedicationAdministration?patient={c.patient_id}&effective-time={today}"
    )
    assert given.total == 1
    assert get_bundle(nurse, f"{FHIR}/MedicationAdministration?date=lt{today}").total == 0


def _sol_observation_id(world: World) -> str:
    return next(
        r.id
        for r in resources(
            get_bundle(world.client("nurse"), f"{FHIR}/Observation?patient={world.patients['sol']}")
        )
    )


def test_a_site_limited_user_gets_404_for_another_sites_patient_and_finds_none_of_their_data(
    world: World,
) -> None:
    sol, ann = world.patients["sol"], world.patients["ann"]
    nurse = world.client("nurse")
    for pid in (sol, ann):
        r = nurse.post(
            f"/api/v1/patients/{pid}/measurements",
            json={"kind": "weight_kg", "value": 64, "measured_on": dt.date.today().isoformat()},
        )
        assert r.status_code == 201, r.text
    sol_observation = _sol_observation_id(world)
    north = world.client("nurse.north")
    refused = north.get(f"{FHIR}/Patient/{sol}")
    assert refused.status_code == 404
    outcome = OperationOutcome.model_validate_json(refused.text)
    assert outcome.issue[0].code == "not-found" and "Southgate" not in refused.text
    assert north.get(f"{FHIR}/Observation/{sol_observation}").status_code == 404
    assert north.get(f"{FHIR}/Patient/{ann}").status_code == 200
    patients = get_bundle(north, f"{FHIR}/Patient")
    assert [p.id for p in resources(patients)] == [str(ann)] and patients.total == 1
    assert get_bundle(north, f"{FHIR}/Patient?identifier=TST0002").total == 0
    assert get_bundle(north, f"{FHIR}/Observation?patient={sol}").total == 0
    mine = get_bundle(north, f"{FHIR}/Observation")
    assert {o.subject.reference for o in resources(mine)} == {f"Patient/{ann}"}
    for kind in TYPES:
        body = north.get(f"{FHIR}/{kind}?_count=200").text
        assert "Southgate" not in body and f'Patient/{sol}"' not in body, kind


def test_errors_are_operation_outcomes_naming_the_problem(world: World) -> None:
    nurse = world.client("nurse")

    def outcome(url: str, status: int, client: Any = nurse, **kwargs: Any) -> OperationOutcome:
        response = client.request(kwargs.pop("method", "GET"), url, **kwargs)
        assert response.status_code == status, (url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/fhir+json"
        return OperationOutcome.model_validate_json(response.text)

    unknown = outcome(f"{FHIR}/Patient?colour=blue", 400)
    assert unknown.issue[0].code == "invalid" and "colour" in unknown.issue[0].diagnostics
    assert unknown.issue[0].location == ["colour"]
    assert "refused, not ignored" in unknown.issue[0].diagnostics
    assert "birthdate" in outcome(f"{FHIR}/Patient?birthdate=17/05/1970", 400).issue[0].diagnostics
    assert "prefix" in outcome(f"{FHIR}/Patient?birthdate=sa1970", 400).issue[0].diagnostics
    assert "modifiers" in outcome(f"{FHIR}/Patient?name:exact=Annika", 400).issue[0].diagnostics
    assert "_sort" in outcome(f"{FHIR}/Patient?_sort=name", 400).issue[0].diagnostics
    assert "_count" in outcome(f"{FHIR}/Patient?_count=-1", 400).issue[0].diagnostics
    assert (
        "status"
        in outcome(f"{FHIR}/Appointment?status=done", 400, world.client("scheduler")).issue[0].diagnostics
    )
    wrong_type = outcome(f"{FHIR}/Appointment?patient=Group/1", 400, world.client("scheduler"))
    assert "expected a reference to Patient" in wrong_type.issue[0].diagnostics
    assert outcome(f"{FHIR}/Patient/999999", 404).issue[0].code == "not-found"
    assert outcome(f"{FHIR}/Patient/not-an-id!", 404).issue[0].code == "not-found"
    assert outcome(f"{FHIR}/Basic", 404).issue[0].code == "not-found"
    assert outcome(f"{FHIR}/Basic/1", 404).issue[0].code == "not-found"
    written = outcome(f"{FHIR}/Patient", 405, method="POST", json={"resourceType": "Patient"})
    assert written.issue[0].code == "not-supported"
    outcome(f"{FHIR}/Patient/{world.patients['ann']}", 405, method="DELETE")
    forbidden = outcome(f"{FHIR}/Observation", 403, world.client("scheduler"))
    assert forbidden.issue[0].code == "forbidden"
    login = outcome(f"{FHIR}/Patient", 401, world.client(None))
    assert login.issue[0].code == "login"
    assert (
        outcome(f"{FHIR}/Patient", 406, headers={"Accept": "application/fhir+xml"}).issue[0].code
        == "not-supported"
    )
    assert outcome(f"{FHIR}/Patient?_format=xml", 400).issue[0].location == ["_format"]
    assert get_bundle(nurse, f"{FHIR}/Patient?_format=json&name=").total == 2  # an empty value is ignored


def test_the_capability_statement_says_what_is_served_and_what_is_not(world: World) -> None:
    response = world.client(None).get(f"{FHIR}/metadata")  # public, as FHIR clients expect
    assert response.status_code == 200 and response.headers["content-type"] == "application/fhir+json"
    statement = CapabilityStatement.model_validate_json(response.text)
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    assert statement.format == ["application/fhir+json", "json"]
    rest = statement.rest[0]
    assert sorted(r.type for r in rest.resource) == sorted(TYPES + MORE_TYPES)
    interactions = {
        "Patient": ["read", "vread", "update", "history-instance", "search-type"],
        "Observation": ["read", "create", "search-type"],
    }
    for resource in rest.resource:
        expected = interactions.get(resource.type, ["read", "search-type"])
        assert [i.code for i in resource.interaction] == expected
        assert resource.searchParam[0].name == "_id"
    patient = next(r for r in rest.resource if r.type == "Patient")
    assert patient.versioning == "versioned"
    assert {p.name for p in patient.searchParam} == {"_id", "identifier", "name", "birthdate"}
    for words in ("SMART", "$export", "writes", "strict", "_count"):
        assert words in rest.documentation, words
    assert "Bearer" in rest.security.description
    # every parameter the statement lists is accepted, and one it does not list is refused
    nurse = world.client("nurse")
    for resource in rest.resource:
        if resource.type in ("MedicationDispense",):
            client = world.client("pharmacist")
        elif resource.type == "Appointment":
            client = world.client("scheduler")
        elif resource.type == "Coverage":
            client = world.client("intake")
        elif resource.type in ("Claim", "ClaimResponse"):
            client = world.client("prior_auth")
        elif resource.type == "AuditEvent":
            client = world.client("auditor")
        else:
            client = nurse
        for param in resource.searchParam:
            value = {"date": "2026", "reference": "1", "token": "x", "string": "a"}[param.type]
            if resource.type == "Appointment" and param.name == "status":
                value = "booked"
            if param.name in ("location", "partof"):
                value = "Location/site-1"
            if resource.type == "Slot" and param.name == "start":
                value = "2026-03-02"  # a Slot search covers at most 31 days
            answer = client.get(f"{FHIR}/{resource.type}?{param.name}={value}")
            assert answer.status_code == 200, (resource.type, param.name, answer.text)
        assert client.get(f"{FHIR}/{resource.type}?not-a-param=1").status_code == 400
