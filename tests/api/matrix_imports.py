"""Role-matrix rows for the /imports routes (imported by test_role_matrix.py).

The page is open to staff (it lists the kinds each may import and says who imports the others); each upload
route needs its kind's permission: patients and bundles ``patient.write`` (pharmacist, intake), prescribers
``directory.write`` and coverages ``coverage.write`` (intake, prior-authorisation specialist), measurements
``measurement.write`` (pharmacist, nurse, intake, prescriber). An allowed role posting no file gets 422. The
result page, like the job pages, declares ``authenticated`` and the job's kind decides (here a patients
import: pharmacist and intake).
"""

from __future__ import annotations

from typing import Any

ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, PRIOR = (
    "admin",
    "pharmacist",
    "nurse",
    "scheduler",
    "intake",
    "prescriber",
    "prior_auth",
)
STAFF = {ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, PRIOR}

IMPORTS_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/imports", STAFF),
    ("GET", "/imports/templates/{kind}.csv", STAFF),
    ("POST", "/imports/patients", {PHARM, INTAKE}),
    ("POST", "/imports/prescribers", {INTAKE, PRIOR}),
    ("POST", "/imports/coverages", {INTAKE, PRIOR}),
    ("POST", "/imports/measurements", {PHARM, NURSE, INTAKE, PRESC}),
    ("POST", "/imports/bundle", {PHARM, INTAKE}),
    ("GET", "/imports/jobs/{import_job}", {PHARM, INTAKE}),
]


def import_ids(world: Any, ids: dict[str, int]) -> dict[str, Any]:
    """A finished patients import (a dry run by intake), and a kind with a CSV template."""
    client = world.client("intake")
    text = (
        b"mrn,family_name,given_name,date_of_birth,sex,site_code\nMTX-1,Matrix,Mo,1970-01-01,female,north\n"
    )
    response = client.post(
        "/imports/patients", data={"dry_run": "on"}, files={"file": ("p.csv", text, "text/csv")}
    )
    assert response.status_code == 303, response.text
    return {"import_job": int(response.headers["location"].rsplit("/", 1)[1]), "kind": "patients"}
