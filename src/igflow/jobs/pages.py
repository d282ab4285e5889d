"""Pages of jobs: a job's progress (htmx polls a fragment every second), cancel, start again."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.db import utcnow
from igflow.jobs import service
from igflow.jobs.deps import get_queue
from igflow.jobs.models import Job
from igflow.jobs.queue import JobQueue
from igflow.jobs.schemas import JobOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.render import render

router = APIRouter(include_in_schema=False)
WAITING_HINT_S = 10  # a job queued this long: say that a worker may not be running


def _context(job: Job) -> dict[str, object]:
    out: JobOut = service.job_out(job)
    waited = (utcnow() - job.created_at).total_seconds()
    return {
        "job": out,
        "state_label": service.STATE_LABELS.get(job.state, job.state),
        "active": job.state in ("queued", "running"),
        "percent": round(job.progress * 100),
        "no_worker": job.state == "queued" and waited > WAITING_HINT_S,
    }


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    request: Request,
    job_id: int,
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
) -> Response:
    job = service.get_job(session, principal, job_id)
    return render(request, "jobs/job.html", _context(job))


@router.get("/jobs/{job_id}/progress", response_class=HTMLResponse)
def job_progress(
    request: Request,
    job_id: int,
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
) -> Response:
    """The status fragment the job page polls; once the job has succeeded, htmx goes to its result."""
    job = service.get_job(session, principal, job_id)
    context = _context(job)
    response = render(request, "jobs/_status.html", context)
    result_url = service.job_out(job).result_url
    if result_url and request.headers.get("hx-request"):
        response.headers["HX-Redirect"] = result_url
    return response


@router.post("/jobs/{job_id}/cancel")
def job_cancel(
    job_id: int, principal: Principal = require(Perm.AUTHENTICATED), session: Session = Depends(get_session)
) -> Response:
    service.cancel(session, principal, job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/again")
async def job_again(
    job_id: int,
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    job = await run_in_threadpool(service.submit_again, session, queue, principal, job_id)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
