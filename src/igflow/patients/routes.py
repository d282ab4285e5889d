"""JSON API of the patients capability."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.orm import Session

from igflow.errors import Forbidden, InvalidInput
from igflow.patients import service
from igflow.patients.schemas import (
    MeasurementIn,
    MeasurementOut,
    Page,
    PatientClinical,
    PatientIn,
    PatientPatch,
    PatientSummary,
)
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["patients"])


def _etag(version: int) -> str:
    return f'W/"{version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(
            'If-Match: expected the ETag given when the record was read, e.g. W/"3"', "If-Match"
        ) from None


@router.get("/patients", response_model=Page[PatientSummary])
def search_patients(
    q: str | None = Query(default=None, max_length=100, description="Name words or MRN"),
    mrn: str | None = Query(default=None, max_length=32),
    date_of_birth: date | None = None,
    site_id: int | None = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=25, ge=1, le=200),
    sort: str = Query(
        default="name", description="name, mrn, date_of_birth, created_at; prefix - for descending"
    ),
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
) -> Page[PatientSummary]:
    return service.search(
        session,
        principal,
        q=q,
        mrn=mrn,
        date_of_birth=date_of_birth,
        site_id=site_id,
        page=page,
        page_size=page_size,
        sort=sort,
    )


@router.post("/patients", response_model=PatientClinical, status_code=201)
def create_patient(
    data: PatientIn,
    response: Response,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> PatientClinical:
    patient = service.create(session, principal, data)
    response.headers["ETag"] = _etag(patient.version)
    return service.clinical(session, patient)


@router.get("/patients/{patient_id}", response_model=PatientClinical | PatientSummary)
def read_patient(
    patient_id: int,
    response: Response,
    principal: Principal = require(Perm.PATIENT_READ),
    session: Session = Depends(get_session),
) -> PatientClinical | PatientSummary:
    shape = service.read_shape(session, principal, patient_id)
    response.headers["ETag"] = _etag(shape.version)
    return shape


@router.patch("/patients/{patient_id}", response_model=PatientClinical)
def update_patient(
    patient_id: int,
    data: PatientPatch,
    response: Response,
    if_match: str | None = Header(default=None),
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> PatientClinical:
    patient = service.update(session, principal, patient_id, data, parse_if_match(if_match))
    response.headers["ETag"] = _etag(patient.version)
    return service.clinical(session, patient)


@router.get("/patients/{patient_id}/measurements", response_model=list[MeasurementOut])
def list_measurements(
    patient_id: int,
    kind: str | None = None,
    principal: Principal = require(Perm.PATIENT_CLINICAL_READ),
    session: Session = Depends(get_session),
) -> list[MeasurementOut]:
    return [
        MeasurementOut.model_validate(m) for m in service.measurements(session, principal, patient_id, kind)
    ]


@router.post("/patients/{patient_id}/measurements", response_model=MeasurementOut, status_code=201)
def add_measurement(
    patient_id: int,
    data: MeasurementIn,
    principal: Principal = require(Perm.MEASUREMENT_WRITE),
    session: Session = Depends(get_session),
) -> MeasurementOut:
    return MeasurementOut.model_validate(service.add_measurement(session, principal, patient_id, data))


@router.get("/me/patient", response_model=PatientClinical)
def my_record(
    principal: Principal = require(Perm.PATIENT_SELF), session: Session = Depends(get_session)
) -> PatientClinical:
    if principal.patient_id is None:
        raise Forbidden("This account is not linked to a patient record.")
    patient = service.read(session, principal, principal.patient_id)
    return service.clinical(session, patient)
