"""The FHIR routes' rows for the route-table tests (imported by test_role_matrix.py and
test_site_isolation.py), and a check that every FHIR route the app serves has its row here.

Each FHIR type needs the read permission of its data (igflow.fhir.service.registry); the rows below are
written by hand from the role descriptions, as the role matrix asks, not derived from that table.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from igflow.app import iter_routes

ANON = "anonymous"
ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, AUDIT, PATIENT, PRIOR = (
    "admin",
    "pharmacist",
    "nurse",
    "scheduler",
    "intake",
    "prescriber",
    "auditor",
    "patient.ann",
    "prior_auth",
)
SIGNED_IN = {ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, AUDIT, PATIENT, PRIOR}
STAFF = {ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, PRIOR}
CLINICAL = {PHARM, NURSE, INTAKE, PRESC}
DIRECTORY = {ADMIN, PHARM, NURSE, INTAKE, PRESC, PRIOR}
PATIENTS = CLINICAL | {SCHED, PRIOR}  # patient.list and patient.read
CHART = CLINICAL | {PRIOR}  # order.read, patient.clinical.read
INFUSIONS = {PHARM, NURSE, PRESC}  # infusion.read
COVERAGE = {PHARM, INTAKE, PRESC, PRIOR}
STOCK = {PHARM, NURSE}  # inventory.read
SCHEDULE = {PHARM, NURSE, SCHED, PRIOR}
CLAIMS = {PHARM, INTAKE, PRESC, PRIOR}  # prior_auth.read

F = "/fhir/R4"
_TYPES: list[tuple[str, str, set[str]]] = [
    ("Patient", "{ann}", PATIENTS),
    ("Practitioner", "{fhir_prescriber}", DIRECTORY),
    ("Organization", "{fhir_organization}", DIRECTORY),
    ("Location", "{fhir_location}", STAFF),
    ("Coverage", "{no_row}", COVERAGE),
    ("MedicationRequest", "{order}", CHART),
    ("MedicationDispense", "{fhir_dispense}", STOCK),
    ("MedicationAdministration", "{record}", INFUSIONS),
    ("Observation", "{fhir_observation}", CHART),
    ("AdverseEvent", "{no_row}", INFUSIONS),
    ("Appointment", "{appointment}", SCHEDULE),
    ("Schedule", "{no_row}", SCHEDULE),
    ("Slot", "{no_row}", SCHEDULE),
    ("Task", "{no_row}", INFUSIONS),  # infusion.read, as igflow's task list
    ("Claim", "{pa}", CLAIMS),  # prior_auth.read
    ("ClaimResponse", "{no_row}", CLAIMS),
    ("AuditEvent", "{no_row}", {AUDIT}),
    ("Group", "{fhir_group}", PATIENTS),  # a centre's patients (patient.list)
]
# (method, path template, roles allowed): metadata is public; another type or any write is an
# OperationOutcome (404/405) for anyone signed in.
FHIR_MATRIX: list[tuple[str, str, set[str]]] = [("GET", f"{F}/metadata", SIGNED_IN | {ANON})]
# SMART Backend Services: discovery and the token endpoint are public (the token endpoint answers 400
# invalid_request to an empty form, whoever sends it: its caller proves who it is in the form).
FHIR_MATRIX += [
    ("GET", f"{F}/.well-known/smart-configuration", SIGNED_IN | {ANON}),
    ("POST", f"{F}/auth/token", SIGNED_IN | {ANON}),
]
for _name, _ident, _roles in _TYPES:
    FHIR_MATRIX += [("GET", f"{F}/{_name}", _roles), ("GET", f"{F}/{_name}/{_ident}", _roles)]
# vread and instance history: the read permission of Patient
FHIR_MATRIX += [
    ("GET", f"{F}/Patient/{{ann}}/_history", PATIENTS),
    ("GET", f"{F}/Patient/{{ann}}/_history/{{fhir_version}}", PATIENTS),
]
# the writes igflow owns: the permission of the same write in igflow's API (patient.write; measurement.write)
FHIR_MATRIX += [
    ("PUT", f"{F}/Patient/{{ann}}", {PHARM, INTAKE}),
    ("POST", f"{F}/Observation", CLINICAL),
]
# Bulk Data $export: kick-offs, status (and DELETE) and files all need patient.list; a kick-off without
# Prefer: respond-async is a 400, an unknown export a 404 (both allowed, not 401/403)
FHIR_MATRIX += [
    ("GET", f"{F}/$export", PATIENTS),
    ("GET", f"{F}/Patient/$export", PATIENTS),
    ("GET", f"{F}/Group/{{fhir_group}}/$export", PATIENTS),
    ("GET", f"{F}/$export-status/{{fhir_export}}", PATIENTS),
    ("DELETE", f"{F}/$export-status/{{fhir_export}}", PATIENTS),
    ("GET", f"{F}/$export-file/{{fhir_export}}/{{fhir_file}}", PATIENTS),
]
for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    FHIR_MATRIX += [
        (_method, f"{F}/{{fhir_type}}", SIGNED_IN),
        (_method, f"{F}/{{fhir_type}}/{{fhir_id}}", SIGNED_IN),
    ]


def fhir_matrix_ids(world: Any, ids: dict[str, Any]) -> dict[str, Any]:
    """Ids for the rows above (rows that do not exist are fine: an allowed role gets 404, not 403)."""
    return {
        "fhir_prescriber": world.prescriber_id,
        "fhir_organization": "payer-999999",
        "fhir_location": f"site-{world.sites['north']}",
        "fhir_dispense": f"{ids['appointment']}-999999",
        "fhir_observation": "measurement-999999",
        "fhir_type": "Basic",
        "fhir_id": "1",
        "fhir_version": "1",
        "fhir_group": f"site-{world.sites['north']}",
        "fhir_export": "no-such-export",
        "fhir_file": "Patient-1.ndjson",
    }


#: Path parameters of FHIR reads that name a site-scoped object (a site-limited user is refused).
FHIR_SCOPED_PARAMS = {"observation_id", "adverse_event_id", "dispense_id", "group_id"}
FHIR_SCOPED_PARAMS |= {"schedule_id", "slot_id"}  # a chair of another centre, and its free slot


def fhir_isolation_ids(world: Any) -> dict[str, Any]:
    """South's objects as FHIR ids, for the FHIR read routes' path parameters in the site-isolation walk."""
    from igflow.appointments.models import Appointment
    from igflow.directory.models import Payer
    from igflow.infusions.models import ChartEntry, InfusionRecord
    from igflow.inventory.models import InventoryLot
    from igflow.patients.models import Measurement
    from igflow.sites.models import Chair

    sol = world.patients["sol"]
    with world.db.session() as session:
        measurement = (
            session.execute(select(Measurement.id).where(Measurement.patient_id == sol)).scalars().first()
        )
        entry = (
            session.execute(
                select(ChartEntry.id)
                .join(InfusionRecord, InfusionRecord.id == ChartEntry.record_id)
                .where(InfusionRecord.patient_id == sol)
            )
            .scalars()
            .first()
        )
        appointment = (
            session.execute(select(Appointment.id).where(Appointment.patient_id == sol)).scalars().first()
        )
        lot = session.execute(select(InventoryLot.id).where(InventoryLot.lot_number == "SOUTH1")).scalar_one()
        payer = session.execute(select(Payer.id).where(Payer.code == "south-payer")).scalar_one()
        south_chair = session.execute(
            select(Chair.id).where(Chair.site_id == world.sites["south"]).order_by(Chair.id).limit(1)
        ).scalar_one()
    monday = dt.date.today() + dt.timedelta(days=7 - dt.date.today().weekday())
    return {
        "prescriber_id": world.prescriber_id,
        "organization_id": f"payer-{payer}",
        "location_id": f"site-{world.sites['south']}",
        "observation_id": f"measurement-{measurement}",
        "adverse_event_id": entry,
        "dispense_id": f"{appointment}-{lot}",
        "fhir_type": "Basic",
        "fhir_id": "1",
        "version_id": "1",
        "audit_event_id": 999_999,
        "schedule_id": f"chair-{south_chair}",
        "slot_id": f"chair-{south_chair}-{monday:%Y%m%d}-0900",
        "group_id": f"site-{world.sites['south']}",
        "export_id": "no-such-export",
        "file_name": "Patient-1.ndjson",
    }


def _template(path: str) -> str:
    return re.sub(r"{[^}]*}", "{}", path)


def test_every_fhir_route_has_a_row(app: Any) -> None:
    served = {
        (m, _template(p)) for p, methods, _ in iter_routes(app) if p.startswith(F) for m in methods - {"HEAD"}
    }
    assert served == {(m, _template(p)) for m, p, _ in FHIR_MATRIX}
