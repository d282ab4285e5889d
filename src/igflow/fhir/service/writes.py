"""The writes igflow owns over FHIR: PUT Patient (demographics) and POST Observation (outside lab results).

Each goes through the capability's own service, so its rules, history and audit apply as they do for
igflow's API: a demographic change through ``patients.service.update`` (the append-only change log, the
change reason a screening fact, the date of birth or sex needs, the ``patient.update`` audit row), a result
through ``patients.service.add_measurement`` or ``outcomes.service.add_reading`` (range checks,
``measurement.create`` / ``outcome.reading.create`` audit rows, reviews raised). Site limits are those
services' own: another site's patient is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.errors import Conflict, Forbidden, IgflowError, InvalidInput, NotFound, PreconditionRequired
from igflow.fhir.mapping.observation import to_measurement_observation, to_outcome_observation
from igflow.fhir.mapping.observation_in import LabResult, from_observation
from igflow.fhir.mapping.patient import to_patient
from igflow.fhir.mapping.patient_update import FHIR_PATHS, from_patient
from igflow.fhir.search import BadRequest, numeric_id
from igflow.fhir.service.engine import Item
from igflow.outcomes import service as outcomes_service
from igflow.outcomes.schemas import ReadingIn
from igflow.patients import service as patients_service
from igflow.patients.schemas import MeasurementIn, PatientPatch
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

_IF_MATCH = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


class PreconditionFailed(IgflowError):
    """If-Match names another version than the current one."""

    status_code = 412


def _read_as(model: Any, data: Any, resource_type: str) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("resourceType") != resource_type:
        raise BadRequest(f"The body must be a {resource_type} resource (JSON).")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0].get("loc", ()))
        raise BadRequest(
            f"The body is not a valid R4 {resource_type}: {where or 'resource'} is invalid."
        ) from None
    return data


def _field_error(exc: IgflowError) -> IgflowError:
    """A patient-service refusal named by its place in the Patient resource."""
    if exc.field in FHIR_PATHS and isinstance(exc, InvalidInput):
        path = FHIR_PATHS[exc.field]
        return InvalidInput(f"{path}: {exc.message.split(': ', 1)[-1]}", path)
    return exc


def _patch(changes: dict[str, Any], version: int, reason: str | None) -> PatientPatch:
    try:
        return PatientPatch(version=version, change_reason=reason, **changes)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error.get("loc", ("",))[0])
        path = FHIR_PATHS.get(name, "Patient")
        raise InvalidInput(f"{path}: {error.get('msg', 'invalid')}", path) from None


def if_match_version(header: str | None) -> int:
    if header is None or not header.strip():
        raise PreconditionRequired(
            'If-Match: send the version you are changing (the ETag of your read, W/"3"), so that no one '
            "overwrites a change they have not seen",
            "If-Match",
        )
    match = _IF_MATCH.match(header)
    if match is None:
        raise BadRequest('If-Match: give one version ETag, such as W/"3"', "If-Match")
    return int(match.group(1))


def update_patient(
    session: Session,
    principal: Principal,
    ident: str,
    read_body: Callable[[], Any],
    if_match: str | None,
    reason_header: str | None,
) -> Item:
    """Replace a patient's demographics (PUT): If-Match required, through the patient service."""
    pid = numeric_id(ident)
    if pid is None:
        raise NotFound(f"Patient/{ident} not found")
    patient = patients_service.check_access(session, principal, pid)  # 404 for another site's patient
    expected = if_match_version(if_match)
    body = _read_as(FhirPatient, read_body(), "Patient")
    if str(body.get("id", "")) != ident:
        raise BadRequest(f"The Patient's id must be {ident}, as in the URL.", "Patient.id")
    update = from_patient(body, patient.mrn, reason_header)
    if expected != patient.version:
        raise PreconditionFailed(
            f"If-Match: Patient/{ident} is at version {patient.version}, not {expected}: someone changed it "
            "since you read it. Read it again, then send your change.",
            "If-Match",
        )
    patch = _patch(update.changes, expected, update.change_reason)
    try:
        updated = patients_service.update(session, principal, pid, patch, None)
    except Conflict as exc:  # changed at the same moment
        raise PreconditionFailed(exc.message, "If-Match") from None
    except InvalidInput as exc:
        raise _field_error(exc) from None
    return Item(to_patient(updated), updated.id)


def _store(session: Session, principal: Principal, result: LabResult) -> Observation:
    target = result.target
    if target.target == "measurement":
        data = MeasurementIn(
            kind=target.key,  # type: ignore[arg-type]  # a kind of MEASUREMENT_CODES
            value=result.value,
            measured_on=result.measured_on,
            note=result.note,
        )
        m = patients_service.add_measurement(session, principal, result.patient_id, data)
        kind = patients_service.measurement_kinds()[m.kind]
        return to_measurement_observation(m, label=kind.label, unit_text=kind.unit, corrected_by=None)
    if not principal.can(Perm.OUTCOME_WRITE):
        raise Forbidden(f"Your role does not allow recording outcome readings ({target.key}).")
    reading_in = ReadingIn(
        measure_id=target.key,
        value=result.value,
        measured_on=result.measured_on,
        method="review",
        note=result.note,
    )
    reading = outcomes_service.add_reading(session, principal, result.patient_id, reading_in)
    measure = next((m for m in load_catalog().outcomes.measures if m.id == reading.measure_id), None)
    return to_outcome_observation(reading, measure=measure, corrected_by=None)


def create_observation(session: Session, principal: Principal, read_body: Callable[[], Any]) -> Item:
    """Receive an outside lab result (POST): a LOINC code igflow maps, in the catalog's unit."""
    body = _read_as(Observation, read_body(), "Observation")
    result = from_observation(body)
    try:
        resource = _store(session, principal, result)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error.get("loc", ("",))[0])
        path = {"measured_on": "Observation.effectiveDateTime", "note": "Observation.note"}.get(
            name, "Observation.valueQuantity"
        )
        raise InvalidInput(f"{path}: {error.get('msg', 'invalid')}", path) from None
    except InvalidInput as exc:
        path = {
            "measured_on": "Observation.effectiveDateTime",
            "value": "Observation.valueQuantity",
            "measure_id": "Observation.code",
        }.get(exc.field or "", f"Observation ({exc.field})")
        raise InvalidInput(f"{path}: {exc.message.split(': ', 1)[-1]}", path) from None
    return Item(resource, result.patient_id)
