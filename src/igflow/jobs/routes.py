"""JSON API of jobs: read one, list, cancel. Each kind's own route submits it (``POST /planning-runs``).

The routes declare ``authenticated``; the service then requires the permission of the job's kind (403)
and hides other people's jobs from site-limited users (404).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from igflow.jobs import service
from igflow.jobs.schemas import JobOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["jobs"])


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(
    kind: str | None = Query(default=None, max_length=64),
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
) -> list[JobOut]:
    return [service.job_out(j) for j in service.list_jobs(session, principal, kind)]


@router.get("/jobs/{job_id}", response_model=JobOut)
def read_job(
    job_id: int, principal: Principal = require(Perm.AUTHENTICATED), session: Session = Depends(get_session)
) -> JobOut:
    return service.job_out(service.get_job(session, principal, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, status_code=202)
def cancel_job(
    job_id: int, principal: Principal = require(Perm.AUTHENTICATED), session: Session = Depends(get_session)
) -> JobOut:
    return service.job_out(service.cancel(session, principal, job_id))
