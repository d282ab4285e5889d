"""JSON API of home visits: nurses and their days off, routing runs, the day's routes."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from igflow.home.models import RoutingRun
from igflow.home.schemas import AbsenceIn, AbsenceOut, NurseIn, NurseOut, RouteOut, RoutingIn, RoutingRunOut
from igflow.home.service import nurses as nurses_service
from igflow.home.service import routes_view
from igflow.home.service import runs as runs_service
from igflow.jobs import routing as routing_job
from igflow.jobs import service as jobs_service
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.jobs.schemas import JobOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["home visits"])


@router.get("/home/nurses", response_model=list[NurseOut])
def list_nurses(
    principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> list[NurseOut]:
    """Home nurses with their skills, hours and home base."""
    return [nurses_service.nurse_out(n) for n in nurses_service.list_nurses(session, principal)]


@router.post("/home/nurses", response_model=NurseOut, status_code=201)
def create_nurse(
    data: NurseIn, principal: Principal = require(Perm.HOME_PLAN), session: Session = Depends(get_session)
) -> NurseOut:
    return nurses_service.nurse_out(nurses_service.create_nurse(session, principal, data))


@router.put("/home/nurses/{nurse_id}", response_model=NurseOut)
def update_nurse(
    nurse_id: int,
    data: NurseIn,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> NurseOut:
    return nurses_service.nurse_out(nurses_service.update_nurse(session, principal, nurse_id, data))


@router.post("/home/nurses/{nurse_id}/absences", response_model=AbsenceOut, status_code=201)
def add_absence(
    nurse_id: int,
    data: AbsenceIn,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> AbsenceOut:
    """A nurse's day off (sick, leave): her visits that day lose their nurse until routing re-routes them."""
    return nurses_service.add_absence(session, principal, nurse_id, data)


@router.get("/home/routes", response_model=list[RouteOut])
def day_routes(
    day: dt.date = Query(alias="date"),
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> list[RouteOut]:
    """Each nurse's route on a date: visits in order, with times and travel."""
    return routes_view.day_routes(session, principal, day)


@router.post("/home/routing-runs", response_model=JobOut, status_code=202)
def run_routing(
    data: RoutingIn,
    response: Response,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> JobOut:
    """Queue a routing run; poll the job (``GET /jobs/{id}``) for progress and its draft run."""
    job = jobs_service.submit(session, queue, principal, routing_job.KIND_NAME, routing_job.params_of(data))
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return jobs_service.job_out(job)


def _out(run: RoutingRun) -> RoutingRunOut:
    return RoutingRunOut(
        id=run.id,
        start_date=run.start_date,
        days=run.days,
        status=run.status,
        figures=run.figures,
        result=run.result,
    )


@router.get("/home/routing-runs/{run_id}", response_model=RoutingRunOut)
def read_run(
    run_id: int, principal: Principal = require(Perm.HOME_PLAN), session: Session = Depends(get_session)
) -> RoutingRunOut:
    return _out(runs_service.get_run(session, principal, run_id))


@router.post("/home/routing-runs/{run_id}/publish", response_model=RoutingRunOut)
def publish_run(
    run_id: int, principal: Principal = require(Perm.HOME_PLAN), session: Session = Depends(get_session)
) -> RoutingRunOut:
    """Book the run's routes; courses not placed whole stay waiting (listed in the result, with why)."""
    runs_service.publish(session, principal, run_id)
    return _out(runs_service.get_run(session, principal, run_id))


@router.post("/home/routing-runs/{run_id}/discard", response_model=RoutingRunOut)
def discard_run(
    run_id: int, principal: Principal = require(Perm.HOME_PLAN), session: Session = Depends(get_session)
) -> RoutingRunOut:
    return _out(runs_service.discard(session, principal, run_id))
