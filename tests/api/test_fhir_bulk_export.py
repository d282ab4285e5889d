"""FHIR Bulk Data $export end to end: kick-off, status polling while the job runner works, the manifest,
NDJSON files validated line by line with fhir.resources, _type and _since, refusals, site limits, SMART
scopes, who may read the files, DELETE, and the retention period."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select, update

from igflow.config import Settings
from igflow.db import utcnow
from igflow.fhir.bulk import job as export_job
from igflow.fhir.bulk import service as export_service
from igflow.fhir.bulk.models import BulkExport, BulkExportFile
from igflow.jobs.models import Job
from igflow.jobs.queue import JobQueue
from igflow.jobs.runner import execute
from igflow.security.models import AuditEvent
from tests.api.test_fhir_api import FHIR, charted_world, get_bundle
from tests.api.test_fhir_smart import add_weight, bearer, register
from tests.conftest import World

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture
def queued(world: World) -> Iterator[JobQueue]:
    """A queue that keeps jobs waiting until the test runs them (``execute``), in place of the inline one."""
    q = JobQueue("memory://", world.db)
    previous = world.app.state.jobs
    world.app.state.jobs = q
    yield q
    world.app.state.jobs = previous
    q.flush()


def kickoff(client: Any, path: str = "/$export", headers: dict[str, str] | None = None) -> str:
    response = client.get(f"{FHIR}{path}", headers={**ASYNC, **(headers or {})})
    assert response.status_code == 202, response.text
    OperationOutcome.model_validate_json(response.text)
    location = response.headers["content-location"]
    assert location.startswith(f"http://testserver{FHIR}/$export-status/")
    return str(location.removeprefix("http://testserver"))


def export_row(world: World, status_url: str) -> BulkExport:
    with world.db.session() as session:
        export = session.execute(
            select(BulkExport).where(BulkExport.export_id == status_url.rsplit("/", 1)[1])
        ).scalar_one()
        session.expunge(export)
        return export


def manifest(client: Any, status_url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.get(status_url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "expires" in response.headers
    body: dict[str, Any] = response.json()
    assert body["requiresAccessToken"] is True
    assert body["request"].startswith("http://testserver/fhir/R4/")
    dt.datetime.fromisoformat(body["transactionTime"].replace("Z", "+00:00"))
    return body


def read_files(client: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, list]:
    """Every output file, every line validated with its fhir.resources R4B model; counts checked."""
    out: dict[str, list[Any]] = {}
    for entry in body["output"] + body["error"]:
        response = client.get(entry["url"].removeprefix("http://testserver"), headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [line for line in response.text.split("\n") if line]
        assert len(lines) == entry["count"], entry
        model = get_fhir_model_class(entry["type"])
        resources = [model.model_validate_json(line) for line in lines]
        assert all(r.get_resource_type() == entry["type"] for r in resources)
        out.setdefault(entry["type"], []).extend(resources)
    return out


def test_a_system_export_runs_on_the_job_queue_and_matches_search(
    world: World, queued: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    charted_world(world)
    add_weight(world, "sol")
    monkeypatch.setattr(
        export_job,
        "get_settings",
        lambda: Settings(database_url="sqlite://", fhir_export_file_max_resources=3),
    )
    pharmacist = world.client("pharmacist")
    status_url = kickoff(pharmacist)
    waiting = pharmacist.get(status_url)
    assert waiting.status_code == 202 and waiting.headers["retry-after"] == "2"
    assert waiting.headers["x-progress"].startswith("0%")
    export = export_row(world, status_url)
    assert export.job_id is not None and export.level == "system"
    execute(world.db, export.job_id)  # the job runner, in this test's thread
    with world.db.session() as session:
        job = session.get(Job, export.job_id)
        assert job is not None and job.state == "succeeded", job.error if job else None
    body = manifest(pharmacist, status_url)
    files = read_files(pharmacist, body)
    # every type the pharmacist may search, with exactly what search returns
    for name in export.types:
        total = get_bundle(pharmacist, f"{FHIR}/{name}?_count=0").total
        assert len(files.get(name, [])) == total, name
        assert sum(e["count"] for e in body["output"] if e["type"] == name) == total
    assert all(e["count"] <= 3 for e in body["output"])  # files of at most 3 resources (the setting)
    assert len([e for e in body["output"] if e["type"] == "Observation"]) > 1
    assert len(body["error"]) == (1 if export.omitted else 0)
    # audited: one row for the export with its counts, one per patient exported
    with world.db.session() as session:
        rows = list(session.execute(select(AuditEvent).where(AuditEvent.action == "fhir.export")).scalars())
    summary = [r for r in rows if r.resource_type == "$export"]
    assert len(summary) == 1 and summary[0].actor == "pharmacist"
    counts = json.loads(summary[0].detail)["counts"]
    assert counts["Patient"] == len(files["Patient"])
    per_patient = {r.patient_id for r in rows if r.resource_type == "Patient"}
    assert per_patient == {int(p.id) for p in files["Patient"]}
    assert world.patients["sol"] in per_patient


def test_type_and_since_narrow_the_export(world: World) -> None:
    charted_world(world)
    pharmacist = world.client("pharmacist")
    body = manifest(pharmacist, kickoff(pharmacist, "/$export?_type=Patient,Observation"))
    assert {e["type"] for e in body["output"]} == {"Patient", "Observation"}
    assert body["error"] == []
    files = read_files(pharmacist, body)
    assert len(files["Patient"]) == get_bundle(pharmacist, f"{FHIR}/Patient?_count=0").total
    # _since: Patient and Appointment keep meta.lastUpdated and are left out when older; Observation keeps
    # none and is exported whatever _since says (the IG allows it)
    since = (utcnow() + dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    later = manifest(
        pharmacist,
        kickoff(pharmacist, f"/$export?_type=Patient,Appointment,Observation&_since={since}"),
    )
    assert {e["type"] for e in later["output"]} == {"Observation"}
    earlier = "2000-01-01T00:00:00Z"
    again = manifest(pharmacist, kickoff(pharmacist, f"/$export?_type=Patient&_since={earlier}"))
    assert sum(e["count"] for e in again["output"]) == len(files["Patient"])
    ndjson = manifest(
        pharmacist,
        kickoff(pharmacist, "/Patient/$export?_type=Patient&_outputFormat=application/fhir%2Bndjson"),
    )
    assert [e["type"] for e in ndjson["output"]] == ["Patient"]


def _outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    return str(OperationOutcome.model_validate_json(response.text).issue[0].details.text)


def test_kickoff_refusals_are_operation_outcomes(world: World) -> None:
    pharmacist = world.client("pharmacist")
    assert "respond-async" in _outcome(pharmacist.get(f"{FHIR}/$export"), 400)
    assert "respond-async" in _outcome(pharmacist.get(f"{FHIR}/Patient/$export"), 400)
    bad = {
        "_outputFormat=text/csv": "_outputFormat",
        "_type=Basic": "Basic",
        "_type=Practitioner": "patient level",  # at patient level: the patient compartment only
        "_since=2026-01-01": "instant",
        "_typeFilter=Patient%3Factive%3Dtrue": "not supported",
        "colour=blue": "not a parameter",
    }
    for query, words in bad.items():
        path = "/Patient/$export" if "Practitioner" in query else "/$export"
        assert words in _outcome(pharmacist.get(f"{FHIR}{path}?{query}", headers=ASYNC), 400), query
    assert "not found" in _outcome(pharmacist.get(f"{FHIR}/Group/site-999999/$export", headers=ASYNC), 404)
    assert _outcome(world.client("auditor").get(f"{FHIR}/$export", headers=ASYNC), 403)
    assert _outcome(world.client(None).get(f"{FHIR}/$export", headers=ASYNC), 401)


def test_a_type_the_requester_may_not_search_is_refused_or_left_out(world: World) -> None:
    charted_world(world)
    scheduler = world.client("scheduler")  # patients and appointments; no clinical data
    refused = _outcome(scheduler.get(f"{FHIR}/$export?_type=Patient,Observation", headers=ASYNC), 403)
    assert "Observation" in refused and "patient.clinical.read" in refused
    body = manifest(scheduler, kickoff(scheduler, "/$export"))
    exported = {e["type"] for e in body["output"]}
    assert "Observation" not in exported and {"Patient", "Appointment"} <= exported
    errors = read_files(scheduler, body)["OperationOutcome"]
    left_out = {issue.details.text.split(" ")[0] for o in errors for issue in o.issue}
    assert {"Observation", "MedicationAdministration", "Coverage"} <= left_out
    assert not exported & left_out


def test_smart_scopes_narrow_the_export_as_they_narrow_search(world: World) -> None:
    add_weight(world, "ann")
    client = register(world, ["system/*.read"])
    token = bearer(world, client, "system/Patient.rs")
    refused = _outcome(
        world.client(None).get(f"{FHIR}/$export?_type=Observation", headers={**ASYNC, **token}), 403
    )
    assert "system/Observation.s" in refused
    status_url = kickoff(world.client(None), "/$export", token)
    fresh = bearer(world, client, "system/Patient.rs")  # a new token of the same client reads it
    body = manifest(world.client(None), status_url, fresh)
    assert [e["type"] for e in body["output"]] == ["Patient"]
    files = read_files(world.client(None), body, fresh)
    assert len(files["Patient"]) == 2
    # the files need the scope still: a token of the same client without it is refused
    narrow = bearer(world, client, "system/Observation.rs")
    url = body["output"][0]["url"].removeprefix("http://testserver")
    assert "system/Patient.s" in _outcome(world.client(None).get(url, headers=narrow), 403)
    # the service account signed in some other way is not the requester (the client asked)
    assert world.client("svc").get(status_url).status_code == 404
    # a group needs the read of Group too
    north = world.sites["north"]
    assert "system/Group.r" in _outcome(
        world.client(None).get(f"{FHIR}/Group/site-{north}/$export", headers={**ASYNC, **token}), 403
    )
    with world.db.session() as session:
        actors = set(
            session.execute(select(AuditEvent.actor).where(AuditEvent.action == "fhir.export")).scalars()
        )
    assert actors == {f"svc via {client['client_id']}"}


def test_a_site_limited_user_exports_only_their_sites_patients(world: World) -> None:
    add_weight(world, "ann")
    add_weight(world, "sol")
    north_nurse = world.client("nurse.north")
    north, south = world.sites["north"], world.sites["south"]
    ann, sol = world.patients["ann"], world.patients["sol"]
    for path in ("/$export", "/Patient/$export", f"/Group/site-{north}/$export"):
        body = manifest(north_nurse, kickoff(north_nurse, path))
        files = read_files(north_nurse, body)
        assert [p.id for p in files["Patient"]] == [str(ann)], path
        assert {o.subject.reference for o in files["Observation"]} == {f"Patient/{ann}"}, path
        for resources in files.values():
            text = "".join(r.model_dump_json() for r in resources)
            assert "Southgate" not in text and f'Patient/{sol}"' not in text, path
    assert _outcome(north_nurse.get(f"{FHIR}/Group/site-{south}/$export", headers=ASYNC), 404)
    assert north_nurse.get(f"{FHIR}/Group/site-{south}").status_code == 404
    # the unlimited nurse's group of South holds Sol alone
    nurse = world.client("nurse")
    body = manifest(nurse, kickoff(nurse, f"/Group/site-{south}/$export"))
    files = read_files(nurse, body)
    assert [p.id for p in files["Patient"]] == [str(sol)]
    assert "Group" not in files  # the patient compartment only


def test_group_read_names_the_centres_patients(world: World) -> None:
    north = world.sites["north"]
    response = world.client("scheduler").get(f"{FHIR}/Group/site-{north}")
    assert response.status_code == 200, response.text
    group = Group.model_validate_json(response.text)
    assert group.actual is True and group.type == "person" and group.quantity == 1
    assert [m.entity.reference for m in group.member] == [f"Patient/{world.patients['ann']}"]
    assert world.client("admin").get(f"{FHIR}/Group/site-{north}").status_code == 403
    statement = world.client(None).get(f"{FHIR}/metadata").json()
    rest = statement["rest"][0]
    assert rest["operation"][0]["definition"].endswith("OperationDefinition/export")
    declared = {r["type"]: r.get("operation", []) for r in rest["resource"]}
    assert declared["Patient"][0]["definition"].endswith("patient-export")
    assert declared["Group"][0]["definition"].endswith("group-export")


def test_another_user_cannot_read_the_status_or_the_files(world: World) -> None:
    add_weight(world, "ann")
    pharmacist = world.client("pharmacist")
    status_url = kickoff(pharmacist)
    body = manifest(pharmacist, status_url)
    url = body["output"][0]["url"].removeprefix("http://testserver")
    for other in ("nurse", "intake", "nurse.north"):
        client = world.client(other)
        assert client.get(status_url).status_code == 404
        assert client.get(url).status_code == 404
        assert client.delete(status_url).status_code == 404
    assert world.client("admin").get(url).status_code == 403  # no patient.list at all
    assert pharmacist.get(url).status_code == 200


def test_delete_cancels_a_waiting_export_and_removes_a_finished_ones_files(
    world: World, queued: JobQueue
) -> None:
    add_weight(world, "ann")
    pharmacist = world.client("pharmacist")
    status_url = kickoff(pharmacist)
    export = export_row(world, status_url)
    deleted = pharmacist.delete(status_url)
    assert deleted.status_code == 202, deleted.text
    assert export.job_id is not None
    execute(world.db, export.job_id)  # a worker that gets the message now has nothing to do
    with world.db.session() as session:
        job = session.get(Job, export.job_id)
        assert job is not None and job.state == "cancelled"
    assert "deleted" in _outcome(pharmacist.get(status_url), 404)
    assert pharmacist.delete(status_url).status_code == 404
    # a finished export: DELETE removes its files
    done_url = kickoff(pharmacist)
    done = export_row(world, done_url)
    assert done.job_id is not None
    execute(world.db, done.job_id)
    body = manifest(pharmacist, done_url)
    file_url = body["output"][0]["url"].removeprefix("http://testserver")
    assert pharmacist.delete(done_url).status_code == 202
    assert pharmacist.get(file_url).status_code == 404
    with world.db.session() as session:
        left = session.execute(
            select(func.count()).select_from(BulkExportFile).where(BulkExportFile.export_pk == done.id)
        ).scalar_one()
    assert left == 0
    # a running export whose client deletes it stops before its next file
    running_url = kickoff(pharmacist)
    running = export_row(world, running_url)
    assert pharmacist.delete(running_url).status_code == 202
    with world.db.session() as session:  # as if a worker had taken it just before the DELETE
        session.execute(update(Job).where(Job.id == running.job_id).values(state="queued"))
        session.commit()
    assert running.job_id is not None
    execute(world.db, running.job_id)
    with world.db.session() as session:
        job = session.get(Job, running.job_id)
        assert job is not None and job.state == "cancelled"


def test_files_are_deleted_after_the_retention_period(world: World) -> None:
    add_weight(world, "ann")
    pharmacist = world.client("pharmacist")
    old_url, new_url = kickoff(pharmacist), kickoff(pharmacist)
    old, new = export_row(world, old_url), export_row(world, new_url)
    with world.db.session() as session:
        session.execute(
            update(Job).where(Job.id == old.job_id).values(finished_at=utcnow() - dt.timedelta(hours=25))
        )
        session.commit()
        assert export_service.sweep(session, utcnow(), 24.0) == 1
        files = dict(
            session.execute(
                select(BulkExportFile.export_pk, func.count()).group_by(BulkExportFile.export_pk)
            ).all()
        )
        assert old.id not in files and files[new.id] >= 1
        expired = session.execute(
            select(AuditEvent).where(AuditEvent.action == "fhir.export.expired")
        ).scalar_one()
        assert expired.resource_id == old.export_id
    assert "retention" in _outcome(pharmacist.get(old_url), 404)
    manifest(pharmacist, new_url)
    # the status poll sweeps too: with a retention of 0.001 h the new one goes on its next poll
    with world.db.session() as session:
        session.execute(
            update(Job).where(Job.id == new.job_id).values(finished_at=utcnow() - dt.timedelta(minutes=1))
        )
        session.commit()
    world.app.state.settings.fhir_export_retention_h = 0.001
    assert pharmacist.get(new_url).status_code == 404


def test_a_type_the_requester_may_no_longer_search_when_the_job_runs_is_left_out(
    world: World, queued: JobQueue
) -> None:
    from igflow.security.models import User

    add_weight(world, "ann")
    world.add_user("two.hats", ["scheduler", "nurse"])
    client = world.client("two.hats")
    status_url = kickoff(client, "/$export?_type=Patient,Observation")
    export = export_row(world, status_url)
    with world.db.session() as session:  # the nurse role is taken away before a worker starts the job
        user = session.get(User, world.users["two.hats"])
        assert user is not None
        user.roles = [r for r in user.roles if r.role != "nurse"]
        session.commit()
    assert export.job_id is not None
    execute(world.db, export.job_id)
    body = manifest(client, status_url)
    assert [e["type"] for e in body["output"]] == ["Patient"]
    errors = read_files(client, body)["OperationOutcome"]
    assert "Observation was not exported" in errors[0].issue[0].details.text
