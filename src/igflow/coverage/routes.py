"""JSON API of coverage."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.coverage import service
from igflow.coverage.schemas import CoverageEndIn, CoverageIn, CoverageOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["coverage"])


@router.get("/patients/{patient_id}/coverages", response_model=list[CoverageOut])
def list_coverages(
    patient_id: int,
    principal: Principal = require(Perm.COVERAGE_READ),
    session: Session = Depends(get_session),
) -> list[CoverageOut]:
    """The patient's coverages, active first, primary before secondary."""
    return service.list_coverages(session, principal, patient_id)


@router.post("/patients/{patient_id}/coverages", response_model=CoverageOut, status_code=201)
def add_coverage(
    patient_id: int,
    data: CoverageIn,
    principal: Principal = require(Perm.COVERAGE_WRITE),
    session: Session = Depends(get_session),
) -> CoverageOut:
    """Add a coverage; a second active coverage of the same rank is a 409 (end the old one first)."""
    return service.add_coverage(session, principal, patient_id, data)


@router.post("/coverages/{coverage_id}/end", response_model=CoverageOut)
def end_coverage(
    coverage_id: int,
    data: CoverageEndIn,
    principal: Principal = require(Perm.COVERAGE_WRITE),
    session: Session = Depends(get_session),
) -> CoverageOut:
    """End a coverage on a date, with the reason (kept for the record, never deleted)."""
    return service.end_coverage(session, principal, coverage_id, data)
