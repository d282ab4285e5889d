"""Imports through the /imports page and its background job, and the import service's one transaction."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from igflow.directory.models import Payer, Prescriber
from igflow.errors import InvalidInput
from igflow.imports import service
from igflow.imports.columns import to_csv
from igflow.imports.job import source_of
from igflow.jobs.models import Job
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage, Measurement, Patient, PatientSite
from igflow.security import service as security_service
from igflow.security.models import AuditEvent, User
from tests.conftest import World

MIXED = (
    "mrn,family_name,given_name,date_of_birth,sex,site_code\n"
    "NEW-1,Rivera,Alex,1968-04-02,female,north\n"
    "NEW-2,Okafor,Chidi,1970-02-30,male,north\n"
    "TST0001,Again,Annika,1970-05-17,female,north\n"
    "NEW-1,Twice,Alex,1968-04-02,female,north\n"
    "NEW-5,Elsewhere,Eve,1980-01-01,female,east\n"
    "NEW-6,Fine,Finn,1981-01-01,male,south\n"
)


def _patients(n: int, site: str = "north", start: int = 1) -> str:
    rows = [
        {
            "mrn": f"IMP-{i:05d}",
            "family_name": f"Family{i}",
            "given_name": "Given",
            "date_of_birth": "1970-01-01",
            "sex": "female",
            "site_code": site,
        }
        for i in range(start, start + n)
    ]
    return to_csv("patients", rows)


def _first(text: str) -> bytes:
    """The header and the first row."""
    return ("\n".join(text.splitlines()[:2]) + "\n").encode()


def _count(world: World, model: Any) -> int:
    with world.db.session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def _principal(world: World, username: str) -> Any:
    with world.db.session() as session:
        user = session.get(User, world.users[username])
        assert user is not None
        return security_service.principal_for_user(user, client_address=None)


def _upload(world: World, username: str, kind: str, text: str, dry_run: bool) -> tuple[Any, int]:
    client = world.client(username)
    data = {"dry_run": "on"} if dry_run else {}
    response = client.post(
        f"/imports/{kind}", data=data, files={"file": (f"{kind}.csv", text.encode(), "text/csv")}
    )
    assert response.status_code == 303, response.text
    job_id = int(re.fullmatch(r"/jobs/(\d+)", response.headers["location"])[1])  # type: ignore[index]
    return client, job_id


def _result(world: World, job_id: int) -> dict[str, Any]:
    with world.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "succeeded", (job.state, job.error)
        return dict(job.result or {})


@pytest.fixture
def payer(world: World) -> int:
    with world.db.session() as session:
        p = Payer(code="acme-health", name="Acme Health")
        session.add(p)
        session.commit()
        return p.id


def test_a_dry_run_from_the_page_lists_every_bad_row_and_writes_nothing(world: World) -> None:
    before = _count(world, Patient)
    client, job_id = _upload(world, "intake", "patients", MIXED, dry_run=True)
    result = _result(world, job_id)
    assert result["dry_run"] and not result["committed"] and result["rows"] == 6
    lines = {e["line"]: e["reason"] for e in result["errors"]}
    assert sorted(lines) == [3, 4, 5, 6]
    assert "calendar" in lines[3]
    assert "MRN TST0001 is already in igflow" in lines[4]
    assert "also on line 2" in lines[5]
    assert "no active site with code 'east'" in lines[6]
    assert _count(world, Patient) == before
    page = client.get(f"/imports/jobs/{job_id}")
    assert page.status_code == 200
    assert "Nothing was written" in page.text and "also on line 2" in page.text
    assert client.get(f"/jobs/{job_id}").status_code == 200  # the job page shows it (and links here)


def test_a_valid_file_is_written_in_one_transaction_with_audit_rows(world: World) -> None:
    before = _count(world, Patient)
    _, job_id = _upload(world, "intake", "patients", _patients(30), dry_run=False)
    result = _result(world, job_id)
    assert result["committed"] and result["imported"] == 30 and result["error_count"] == 0
    assert _count(world, Patient) == before + 30
    with world.db.session() as session:
        sites = session.execute(
            select(PatientSite.site_id, PatientSite.rank).join(Patient).where(Patient.mrn == "IMP-00007")
        ).all()
        assert sites == [(world.sites["north"], 1)]
        actions = list(
            session.execute(
                select(AuditEvent.action, func.count())
                .where(AuditEvent.actor == "intake")
                .group_by(AuditEvent.action)
            )
        )
    counts = dict(actions)  # type: ignore[arg-type]
    assert counts["patient.create"] == 30 and counts["import.run"] == 1 and counts["import.upload"] == 1
    again = _upload(world, "intake", "patients", _patients(1, start=7), dry_run=False)[1]
    assert (
        "already in igflow" in _result(world, again)["errors"][0]["reason"]
    )  # a duplicate is refused by row


def test_a_failure_mid_write_leaves_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    principal = _principal(world, "intake")
    real = patients_service.create
    calls = {"n": 0}

    def failing(session: Any, who: Any, data: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 25:
            raise InvalidInput("date_of_birth: refused by the service", "date_of_birth")
        if calls["n"] == 40:
            raise RuntimeError("the disk is full")
        return real(session, who, data)

    monkeypatch.setattr(patients_service, "create", failing)
    before, audit_before = _count(world, Patient), _count(world, AuditEvent)
    report = service.run_import(
        world.db, principal, "patients", source_of("patients", _patients(30).encode())
    )
    assert not report.committed and report.imported == 0 and report.stage == "write"
    assert [(e.line, e.reason) for e in report.errors] == [(26, "date_of_birth: refused by the service")]
    assert _count(world, Patient) == before  # the 24 rows written before it were rolled back
    calls["n"] = 10
    with pytest.raises(RuntimeError):
        service.run_import(world.db, principal, "patients", source_of("patients", _patients(60).encode()))
    assert _count(world, Patient) == before
    with world.db.session() as session:
        new = session.execute(select(AuditEvent.action).where(AuditEvent.id > 0)).scalars().all()
    assert "patient.create" not in new[audit_before:] and "import.rejected" in new[audit_before:]


def test_a_cancel_while_writing_leaves_nothing(world: World) -> None:
    from igflow.jobs.runner import JobCancelled

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Wrote 100 "):
            raise JobCancelled

    before = _count(world, Patient)
    with pytest.raises(JobCancelled):
        service.run_import(
            world.db,
            _principal(world, "intake"),
            "patients",
            source_of("patients", _patients(150).encode()),
            progress=progress,
        )
    assert _count(world, Patient) == before


def test_site_limits_apply_to_patients_coverages_and_measurements(world: World, payer: int) -> None:
    world.add_user("intake.north", ["intake"], ["north"])
    principal = _principal(world, "intake.north")
    report = service.run_import(
        world.db, principal, "patients", source_of("patients", _patients(2, site="south").encode())
    )
    assert report.error_count == 2 and "South Centre is not one of your sites" in report.errors[0].reason
    coverages = "mrn,payer_code,member_id\nTST0002,acme-health,M-1\nTST0001,acme-health,M-2\n"
    report = service.run_import(world.db, principal, "coverages", source_of("coverages", coverages.encode()))
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "mrn: no patient with MRN TST0002 at your sites (import or add the patient first)")
    ]
    measurements = "mrn,kind,value,measured_on\nTST0002,weight_kg,70,2026-11-01\n"
    report = service.run_import(
        world.db, principal, "measurements", source_of("measurements", measurements.encode())
    )
    assert report.error_count == 1 and "TST0002" in report.errors[0].reason
    assert _count(world, Coverage) == 0 and _count(world, Measurement) == 0


def test_coverages_measurements_and_prescribers_go_through_their_services(world: World, payer: int) -> None:
    intake = _principal(world, "intake")
    coverages = (
        "mrn,payer_code,member_id,rank,effective_from\nTST0001,acme-health,M-1,1,2026-01-01\n"
        "TST0002,acme-health,M-1,1,2026-01-01\nTST0002,nobody,M-3,1,\n"
    )
    report = service.run_import(world.db, intake, "coverages", source_of("coverages", coverages.encode()))
    assert {e.line for e in report.errors} == {3, 4} and _count(world, Coverage) == 0
    report = service.run_import(world.db, intake, "coverages", source_of("coverages", _first(coverages)))
    assert report.committed and report.imported == 1 and _count(world, Coverage) == 1
    measurements = (
        "mrn,kind,value,measured_on\nTST0001,weight_kg,72.5,2026-11-01\nTST0001,weight_kg,725,2026-11-01\n"
        "TST0001,glucose_mg_dl,90,2026-11-01\nTST0001,height_cm,170,2099-01-01\nTST0001,height_cm,170,1999-01-01\n"
    )
    report = service.run_import(
        world.db, intake, "measurements", source_of("measurements", measurements.encode())
    )
    reasons = {e.line: e.reason for e in report.errors}
    assert sorted(reasons) == [3, 4, 5, 6] and "between 0.3 and 400 kg" in reasons[3]
    assert "measured_on: must be from 2000-01-01" in reasons[6]
    report = service.run_import(
        world.db, intake, "measurements", source_of("measurements", _first(measurements))
    )
    assert report.committed and _count(world, Measurement) == 1
    prescribers = "name,npi\nDr New,1111111111\nDr Same,1234567890\nDr Twice,1111111111\n"
    report = service.run_import(
        world.db, intake, "prescribers", source_of("prescribers", prescribers.encode())
    )
    assert {e.line for e in report.errors} == {3, 4}
    assert _count(world, Prescriber) == 1


def test_a_bundle_creates_the_patient_then_their_coverage_and_weight(world: World, payer: int) -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "imports" / "bundle.json").read_bytes()
    client, job_id = _upload(world, "intake", "bundle", text.decode(), dry_run=False)
    result = _result(world, job_id)
    assert result["committed"] and result["imported"] == 3, result
    with world.db.session() as session:
        patient = session.execute(select(Patient).where(Patient.mrn == "EXM-0101")).scalar_one()
        assert [
            c.member_id
            for c in session.execute(select(Coverage).where(Coverage.patient_id == patient.id)).scalars()
        ] == ["W555000111"]
        weights = (
            session.execute(select(Measurement.value).where(Measurement.patient_id == patient.id))
            .scalars()
            .all()
        )
        assert weights == [64.2]
    assert "Imported 3 rows" in client.get(f"/imports/jobs/{job_id}").text


def test_the_page_shows_each_role_what_it_may_import(world: World) -> None:
    page = world.client("prior_auth").get("/imports")
    assert page.status_code == 200
    assert 'action="/imports/coverages"' in page.text and 'action="/imports/prescribers"' in page.text
    assert 'action="/imports/patients"' not in page.text and "needs the" in page.text
    refused = world.client("nurse").post(
        "/imports/patients", files={"file": ("p.csv", _patients(1).encode(), "text/csv")}
    )
    assert refused.status_code == 403
    empty = world.client("intake").post("/imports/patients", files={"file": ("p.csv", b"", "text/csv")})
    assert empty.status_code == 422 and "the file is empty" in empty.text


def test_an_import_result_is_only_for_who_may_see_it(world: World) -> None:
    _, job_id = _upload(world, "intake", "patients", _patients(1), dry_run=True)
    assert world.client("scheduler").get(f"/imports/jobs/{job_id}").status_code == 403
    assert world.client("pharmacist").get(f"/imports/jobs/{job_id}").status_code == 200


def test_a_site_limited_importer_neither_reaches_another_sites_patients_nor_others_imports(
    world: World, payer: int
) -> None:
    world.add_user("intake.north", ["intake"], ["north"])
    north = world.client("intake.north")
    _, theirs = _upload(world, "intake", "patients", _patients(1), dry_run=True)
    assert north.get(f"/imports/jobs/{theirs}").status_code == 404  # another user's import: not found
    assert f"/imports/jobs/{theirs}" not in north.get("/imports").text
    coverages = "mrn,payer_code,member_id\nTST0002,acme-health,M-9\n"
    _, mine = _upload(world, "intake.north", "coverages", coverages, dry_run=False)
    result = _result(world, mine)
    assert result["error_count"] == 1 and not result["committed"]
    page = north.get(f"/imports/jobs/{mine}").text
    assert "no patient with MRN TST0002 at your sites" in page
    assert "Southgate" not in page and "Solveig" not in page
    assert _count(world, Coverage) == 0


def test_a_file_with_a_wrong_header_is_refused_in_words(world: World) -> None:
    client, job_id = _upload(world, "intake", "patients", "name,npi\nDr A,1234567890\n", dry_run=True)
    page = client.get(f"/imports/jobs/{job_id}").text
    assert "cannot be read as a patients file" in page
    assert "required column(s) missing: mrn, family_name" in page


def test_the_page_explains_each_column_and_offers_a_template_to_download(world: World) -> None:
    import csv
    import io

    from igflow.imports.columns import COLUMNS

    client = world.client("intake")
    page = client.get("/imports")
    assert page.status_code == 200 and 'href="/imports/templates/patients.csv"' in page.text
    assert "docs/imports.md" not in page.text  # the guide is on the page, not in a package file
    template = client.get("/imports/templates/patients.csv")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")
    header, example = csv.reader(io.StringIO(template.text))
    assert header == [c.name for c in COLUMNS["patients"]]
    assert len(example) == len(COLUMNS["patients"])
    assert client.get("/imports/templates/nothing.csv").status_code == 404
