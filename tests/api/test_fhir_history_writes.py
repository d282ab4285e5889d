"""FHIR R4 vread and _history of Patient (versions rebuilt exactly from the change log, else left out),
ETags with If-None-Match, and the writes igflow owns: PUT Patient (demographics, If-Match) and POST
Observation (outside lab results by LOINC code)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy import select, update

from igflow.fhir.mapping.patient_history import FieldChange, rebuild
from igflow.patients.models import Patient
from igflow.security.models import AuditEvent
from tests.conftest import World

FHIR = "/fhir/R4"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _patch(world: World, pid: int, version: int, **changes: Any) -> Any:
    response = world.client("intake").patch(f"/api/v1/patients/{pid}", json={"version": version, **changes})
    assert response.status_code == 200, response.text
    return response


# --- the rebuild (pure) ------------------------------------------------------------------------------------

CURRENT = {
    "given_name": "Ann",
    "family_name": "North",
    "date_of_birth": dt.date(1970, 5, 18),
    "sex": "female",
    "phone": "555-0102",
    "email": "",
    "address": "",
}


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_the_rebuild_puts_back_each_versions_old_values() -> None:
    changes = [
        FieldChange(2, "phone", "", "555-0101", _at(1)),
        FieldChange(3, "phone", "555-0101", "555-0102", _at(2)),
        FieldChange(3, "date_of_birth", "1970-05-17", "1970-05-18", _at(2)),
        FieldChange(4, "allergies", "", "latex", _at(3)),  # not shown: same demographics as version 3
    ]
    history = rebuild(CURRENT, 4, _at(3), T0, changes)
    assert [v.version for v in history.versions] == [4, 3, 2, 1] and history.earliest_exact == 1
    v4, v3, v2, v1 = history.versions
    assert v4.values == v3.values and v4.fields_changed == ("allergies",)
    assert v2.values["phone"] == "555-0101" and v2.values["date_of_birth"] == dt.date(1970, 5, 17)
    assert v1.values["phone"] == "" and v1.last_updated == T0 and v2.last_updated == _at(1)


def test_the_rebuild_stops_where_the_log_is_missing_or_disagrees() -> None:
    gap = [FieldChange(3, "phone", "555-0101", "555-0102", _at(2))]  # version 2 made without a log row
    history = rebuild(CURRENT, 3, _at(2), T0, gap)
    assert [v.version for v in history.versions] == [3] and history.earliest_exact == 3
    wrong = [
        FieldChange(2, "phone", "", "555-0101", _at(1)),
        FieldChange(3, "phone", "555-0101", "555-9999", _at(2)),  # not what the record holds
    ]
    assert [v.version for v in rebuild(CURRENT, 3, _at(2), T0, wrong).versions] == [3]


# --- vread, _history, ETags --------------------------------------------------------------------------------


def test_history_and_vread_of_a_patient_with_etags(world: World) -> None:
    ann = world.patients["ann"]
    nurse = world.client("nurse")
    first = nurse.get(f"{FHIR}/Patient/{ann}")
    assert first.headers["etag"] == 'W/"1"'
    assert nurse.get(f"{FHIR}/Patient/{ann}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    _patch(world, ann, 1, phone="555-0101")
    _patch(world, ann, 2, date_of_birth="1970-05-18", change_reason="birth certificate seen")
    _patch(world, ann, 3, allergies="Penicillin; latex", change_reason="new allergy reported")
    stale = nurse.get(f"{FHIR}/Patient/{ann}", headers={"If-None-Match": 'W/"1"'})
    assert stale.status_code == 200 and stale.headers["etag"] == 'W/"4"'
    assert nurse.get(f"{FHIR}/Patient/{ann}", headers={"If-None-Match": '"4"'}).status_code == 304

    response = nurse.get(f"{FHIR}/Patient/{ann}/_history")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.text)
    assert bundle.type == "history" and bundle.total == 4
    entries = bundle.entry or []
    assert [e.resource.meta.versionId for e in entries] == ["4", "3", "2", "1"]
    assert [e.request.method for e in entries] == ["PUT", "PUT", "PUT", "POST"]
    assert [e.response.etag for e in entries] == ['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']
    v1 = entries[-1].resource
    assert not v1.telecom and str(v1.birthDate) == "1970-05-17"
    assert (
        entries[1].resource.telecom[0].value == "555-0101"
        and str(entries[1].resource.birthDate) == "1970-05-18"
    )
    # the newest entry is exactly what a read answers
    assert entries[0].resource.model_dump() == FhirPatient.model_validate_json(stale.text).model_dump()

    v2 = nurse.get(f"{FHIR}/Patient/{ann}/_history/2")
    assert v2.status_code == 200 and v2.headers["etag"] == 'W/"2"'
    patient = FhirPatient.model_validate_json(v2.text)
    assert patient.meta.versionId == "2" and patient.telecom[0].value == "555-0101"
    assert str(patient.birthDate) == "1970-05-17"
    assert (
        nurse.get(f"{FHIR}/Patient/{ann}/_history/2", headers={"If-None-Match": 'W/"2"'}).status_code == 304
    )
    missing = nurse.get(f"{FHIR}/Patient/{ann}/_history/5")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"
    assert nurse.get(f"{FHIR}/Patient/{ann}/_history?_since=2026-01-01").status_code == 400

    with world.db.session() as session:
        rows = list(
            session.execute(
                select(AuditEvent.action, AuditEvent.patient_id)
                .where(AuditEvent.action.in_(("fhir.history", "fhir.vread")))
                .order_by(AuditEvent.id)
            ).all()
        )
    assert [r.action for r in rows] == ["fhir.history", "fhir.vread", "fhir.vread"]
    assert {r.patient_id for r in rows} == {ann}


def test_a_version_made_without_the_change_log_is_not_guessed(world: World) -> None:
    ann = world.patients["ann"]
    _patch(world, ann, 1, phone="555-0101")
    with world.db.session() as session:  # a change made behind the service's back: no change-log row
        session.execute(update(Patient).where(Patient.id == ann).values(version=3, phone="555-0199"))
        session.commit()
    nurse = world.client("nurse")
    bundle = Bundle.model_validate_json(nurse.get(f"{FHIR}/Patient/{ann}/_history").text)
    assert [e.resource.meta.versionId for e in bundle.entry or []] == ["3"]
    older = nurse.get(f"{FHIR}/Patient/{ann}/_history/1")
    assert older.status_code == 404
    assert "cannot be rebuilt exactly" in older.json()["issue"][0]["details"]["text"]


def test_another_sites_patient_has_no_history_for_a_site_limited_user(world: World) -> None:
    sol = world.patients["sol"]
    limited = world.client("nurse.north")
    for url in (f"{FHIR}/Patient/{sol}/_history", f"{FHIR}/Patient/{sol}/_history/1"):
        response = limited.get(url)
        assert response.status_code == 404, (url, response.text)
        assert "Southgate" not in response.text
    assert world.client("scheduler").get(f"{FHIR}/Patient/{sol}/_history").status_code == 200
    assert world.client("admin").get(f"{FHIR}/Patient/{sol}/_history").status_code == 403


# --- PUT Patient -------------------------------------------------------------------------------------------

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _read(client: Any, pid: int) -> dict[str, Any]:
    response = client.get(f"{FHIR}/Patient/{pid}")
    assert response.status_code == 200, response.text
    return response.json()


def _put(client: Any, pid: int, body: dict[str, Any], **headers: str) -> Any:
    return client.put(f"{FHIR}/Patient/{pid}", json=body, headers={**FHIR_JSON, **headers})


def test_put_patient_changes_demographics_through_the_patient_service(world: World) -> None:
    ann = world.patients["ann"]
    intake = world.client("intake")
    body = _read(intake, ann)
    body["telecom"] = [
        {"system": "phone", "value": "555-0111"},
        {"system": "email", "value": "ann@example.org"},
    ]
    body["address"] = [{"text": "2 New Road"}]
    assert _put(intake, ann, body).status_code == 428  # If-Match is required
    assert _put(intake, ann, body, **{"If-Match": 'W/"7"'}).status_code == 412
    done = _put(intake, ann, body, **{"If-Match": 'W/"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["etag"] == 'W/"2"' and done.headers["content-location"].endswith(
        f"/Patient/{ann}/_history/2"
    )
    patient = FhirPatient.model_validate_json(done.text)
    assert patient.meta.versionId == "2" and patient.address[0].text == "2 New Road"
    again = _put(intake, ann, body, **{"If-Match": 'W/"1"'})  # the same stale ETag once more
    assert again.status_code == 412 and "version 2" in again.json()["issue"][0]["details"]["text"]

    # the date of birth needs a reason: refused without one, taken from the extension or the header
    body = _read(intake, ann)
    body["birthDate"] = "1970-05-18"
    refused = _put(intake, ann, body, **{"If-Match": 'W/"2"'})
    assert refused.status_code == 422, refused.text
    assert "X-Change-Reason" in refused.json()["issue"][0]["details"]["text"]
    ok = _put(intake, ann, body, **{"If-Match": 'W/"2"', "X-Change-Reason": "passport seen"})
    assert ok.status_code == 200, ok.text
    body = _read(intake, ann)
    body["gender"] = "other"
    body["extension"] = [
        {
            "url": "https://igflow.example/fhir/StructureDefinition/change-reason",
            "valueString": "patient told us",
        }
    ]
    assert _put(intake, ann, body, **{"If-Match": 'W/"3"'}).status_code == 200

    record = world.client("intake").get(f"/api/v1/patients/{ann}").json()
    assert (
        record["phone"] == "555-0111" and record["date_of_birth"] == "1970-05-18" and record["sex"] == "other"
    )
    assert record["allergies"] == "Penicillin"  # screening facts are not touched by a FHIR update
    with world.db.session() as session:
        actions = list(
            session.execute(
                select(AuditEvent.action).where(AuditEvent.action == "patient.update").order_by(AuditEvent.id)
            ).scalars()
        )
    assert len(actions) == 3
    history = Bundle.model_validate_json(world.client("nurse").get(f"{FHIR}/Patient/{ann}/_history").text)
    assert [e.resource.meta.versionId for e in history.entry or []] == ["4", "3", "2", "1"]


def test_put_patient_refuses_what_igflow_does_not_keep(world: World) -> None:
    ann = world.patients["ann"]
    intake = world.client("intake")
    base = _read(intake, ann)
    for change, where in (
        ({"maritalStatus": {"text": "married"}}, "Patient.maritalStatus"),
        ({"address": [{"line": ["1 Road"], "city": "Town"}]}, "Patient.address[0].city"),
        ({"identifier": [{"system": "urn:igflow:mrn", "value": "OTHER1"}]}, "Patient.identifier[0].value"),
        ({"telecom": [{"system": "fax", "value": "1"}]}, "Patient.telecom[0].system"),
        ({"name": [{"family": "X", "given": ["Y"], "prefix": ["Dr"]}]}, "Patient.name[0].prefix"),
        ({"extension": [{"url": "http://example.org/x", "valueString": "y"}]}, "Patient.extension[0]"),
        ({"telecom": [{"system": "email", "value": "not an email"}]}, "Patient.telecom (email)"),
    ):
        response = _put(intake, ann, {**base, **change}, **{"If-Match": 'W/"1"'})
        assert response.status_code == 422, (change, response.text)
        issue = response.json()["issue"][0]
        assert issue["location"] == [where], (change, issue)
    wrong_id = _put(intake, ann, {**base, "id": "999"}, **{"If-Match": 'W/"1"'})
    assert wrong_id.status_code == 400
    assert _read(intake, ann)["meta"]["versionId"] == "1"


def test_put_patient_permissions_and_site_limits(world: World) -> None:
    sol = world.patients["sol"]
    body = _read(world.client("intake"), sol)
    assert (
        _put(world.client("nurse"), sol, body, **{"If-Match": 'W/"1"'}).status_code == 403
    )  # no patient.write
    world.add_user("intake.north", ["intake"], ["north"])
    hidden = _put(world.client("intake.north"), sol, body, **{"If-Match": 'W/"1"'})
    assert hidden.status_code == 404 and "Southgate" not in hidden.text


# --- POST Observation --------------------------------------------------------------------------------------


def _lab(pid: int, code: str, value: float, unit: dict[str, str], **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-03-02T08:30:00-08:00",
        "valueQuantity": {"value": value, **unit},
        **more,
    }


UMOL = {"system": "http://unitsofmeasure.org", "code": "umol/L", "unit": "µmol/L"}


def test_an_outside_creatinine_becomes_a_measurement(world: World) -> None:
    ann = world.patients["ann"]
    nurse = world.client("nurse")
    sent = _lab(ann, "14682-9", 88, UMOL, note=[{"text": "Outside lab: Example Diagnostics"}])
    response = nurse.post(f"{FHIR}/Observation", json=sent, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"].endswith(f"/Observation/{created['id']}")
    assert created["id"].startswith("measurement-") and created["valueQuantity"]["code"] == "umol/L"
    assert created["effectiveDateTime"] == "2026-03-02"
    read = nurse.get(f"{FHIR}/Observation/{created['id']}")
    assert read.status_code == 200 and read.json() == created
    rows = nurse.get(f"/api/v1/patients/{ann}/measurements?kind=creatinine_umol_per_l").json()
    assert [(r["value"], r["note"]) for r in rows] == [(88, "Outside lab: Example Diagnostics")]
    with world.db.session() as session:
        assert session.execute(
            select(AuditEvent.id).where(
                AuditEvent.action == "measurement.create", AuditEvent.patient_id == ann
            )
        ).scalar_one()


def test_unknown_codes_wrong_units_and_unsupported_elements_are_refused(world: World) -> None:
    ann = world.patients["ann"]
    nurse = world.client("nurse")
    mgdl = {"system": "http://unitsofmeasure.org", "code": "mg/dL", "unit": "mg/dL"}
    for body, words in (
        (_lab(ann, "2160-0", 1.0, mgdl), "LOINC 2160-0 is not a result igflow keeps"),
        (_lab(ann, "14682-9", 1.0, mgdl), "converts no units"),
        (_lab(ann, "2465-3", 750, mgdl), "received in g/L"),
        (_lab(ann, "8867-4", 70, {"system": "http://unitsofmeasure.org", "code": "/min"}), "vital sign"),
        (_lab(ann, "14682-9", 88, UMOL, performer=[{"display": "Lab"}]), "Observation.performer"),
        (_lab(ann, "14682-9", 88, UMOL, status="preliminary"), "only final"),
        (_lab(ann, "14682-9", 1, UMOL), "between"),  # the measurement's own entry check
        ({**_lab(ann, "14682-9", 88, UMOL), "code": {"text": "creatinine"}}, "LOINC coding"),
    ):
        response = nurse.post(f"{FHIR}/Observation", json=body, headers=FHIR_JSON)
        assert response.status_code == 422, (words, response.text)
        assert words in response.json()["issue"][0]["details"]["text"], (words, response.json())
    assert nurse.get(f"/api/v1/patients/{ann}/measurements").json() == []
    # an outcome measure needs the measure to apply to the patient's indications (Ann has no order)
    platelets = {"system": "http://unitsofmeasure.org", "code": "10*9/L"}
    outcome = nurse.post(f"{FHIR}/Observation", json=_lab(ann, "777-3", 150, platelets), headers=FHIR_JSON)
    assert outcome.status_code == 422 and outcome.json()["issue"][0]["location"] == ["Observation.code"]


def test_an_outside_igg_trough_becomes_an_outcome_reading(world: World) -> None:
    from tests.api.test_infusions_api import _booked

    _booked(world)  # Una, with an order whose indication measures the IgG trough
    una = world.patients["una"]
    gl = {"system": "http://unitsofmeasure.org", "code": "g/L"}
    body = {**_lab(una, "2465-3", 7.9, gl), "effectiveDateTime": dt.date.today().isoformat()}
    intake = world.client("intake")  # may write measurements but not outcome readings
    assert intake.post(f"{FHIR}/Observation", json=body, headers=FHIR_JSON).status_code == 403
    response = world.client("prescriber").post(f"{FHIR}/Observation", json=body, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    assert response.json()["id"].startswith("outcome-")
    readings = world.client("prescriber").get(f"/api/v1/patients/{una}/outcomes").json()
    assert [(r["measure_id"], r["value"], r["method"]) for r in readings] == [("igg-trough", 7.9, "review")]


def test_observation_writes_respect_permissions_and_site_limits(world: World) -> None:
    sol = world.patients["sol"]
    body = _lab(sol, "14682-9", 88, UMOL)
    assert (
        world.client("scheduler").post(f"{FHIR}/Observation", json=body, headers=FHIR_JSON).status_code == 403
    )
    hidden = world.client("nurse.north").post(f"{FHIR}/Observation", json=body, headers=FHIR_JSON)
    assert hidden.status_code == 404 and "Southgate" not in hidden.text
    assert world.client("nurse").get(f"/api/v1/patients/{sol}/measurements").json() == []


def test_smart_write_scopes_cover_the_writes_they_name(world: World) -> None:
    from tests.api.test_fhir_smart import bearer, register

    client = register(world, ["system/Patient.rs", "system/Observation.c"])
    headers = {**bearer(world, client, "system/Patient.rs system/Observation.c"), **FHIR_JSON}
    anonymous = world.client(None)
    ann = world.patients["ann"]
    created = anonymous.post(f"{FHIR}/Observation", json=_lab(ann, "14682-9", 90, UMOL), headers=headers)
    assert created.status_code == 201, created.text
    body = anonymous.get(f"{FHIR}/Patient/{ann}", headers=headers).json()
    refused = anonymous.put(f"{FHIR}/Patient/{ann}", json=body, headers={**headers, "If-Match": 'W/"1"'})
    assert refused.status_code == 403 and "system/Patient.u" in refused.json()["issue"][0]["details"]["text"]
    writer = register(world, ["system/*.write", "system/*.read"])
    full = {**bearer(world, writer, "system/Patient.u system/Patient.r"), **FHIR_JSON}
    body["telecom"] = [{"system": "phone", "value": "555-0123"}]
    done = anonymous.put(f"{FHIR}/Patient/{ann}", json=body, headers={**full, "If-Match": 'W/"1"'})
    assert done.status_code == 200, done.text
    with world.db.session() as session:
        actor = session.execute(
            select(AuditEvent.actor).where(AuditEvent.action == "patient.update")
        ).scalar_one()
    assert actor.startswith("svc via ")


def test_write_scopes_parse_for_the_types_that_take_writes_only() -> None:
    import pytest

    from igflow.fhir.smart import scopes

    types = ["Patient", "Observation", "Appointment"]
    assert scopes.parse("system/Patient.u", types).interactions == {scopes.UPDATE}
    assert scopes.parse("system/Observation.crs", types).interactions == {
        scopes.CREATE,
        scopes.READ,
        scopes.SEARCH,
    }
    assert scopes.parse("system/*.write", types).interactions == {scopes.CREATE, scopes.UPDATE}
    assert scopes.parse("system/Patient.*", types).covers("Patient", scopes.UPDATE)
    assert scopes.needed("Observation", scopes.CREATE) == "system/Observation.c"
    for text, words in (
        ("system/Appointment.write", "read-only"),
        ("system/Patient.c", "read-only"),  # Patient is updated, not created, over FHIR
        ("system/Patient.ud", "nothing is deleted"),
        ("system/Patient.sr", "cruds in that order"),
    ):
        with pytest.raises(scopes.ScopeError, match=words):
            scopes.parse(text, types)
