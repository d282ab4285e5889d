"""The /imports page: upload a CSV file (or a FHIR bundle), check it or import it, as a background job.

The page lists the import kinds the person may run (the others say which role runs them). An upload is kept
(``import_upload``) and a job is submitted; the browser goes to the job's page (progress, cancel) and, when
it has finished, to the result here: rows imported, or every bad row with its line and reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.errors import IgflowError, NotFound
from igflow.imports import service
from igflow.imports.columns import COLUMNS
from igflow.imports.job import PREFIX
from igflow.jobs import service as jobs_service
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm, refusal
from igflow.security.principal import Principal
from igflow.web.render import render

router = APIRouter(include_in_schema=False)
IMPORT_KINDS = ("patients", "prescribers", "coverages", "measurements", "bundle")
HINTS = {
    "patients": "New patients, each with their home site (one of your sites).",
    "prescribers": "New prescribers for the directory, each with a unique NPI.",
    "coverages": "Insurance coverages of patients already in igflow, by MRN and payer code.",
    "measurements": "Weights, heights, labs and outcome readings of patients already in igflow, by MRN.",
    "bundle": "A FHIR R4 transaction Bundle (JSON) of Patient, Coverage and Observation entries.",
}


def _index(
    request: Request,
    session: Session,
    principal: Principal,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kinds = []
    recent: list[Any] = []
    for kind in IMPORT_KINDS:
        allowed = principal.can(service.KIND_PERMISSION[kind])
        kinds.append(
            {
                "kind": kind,
                "label": service.KIND_LABELS[kind],
                "hint": HINTS[kind],
                "allowed": allowed,
                "refusal": "" if allowed else refusal(service.KIND_PERMISSION[kind]),
                "columns": [c.name for c in COLUMNS.get(kind, ())],
                "guide": list(COLUMNS.get(kind, ())),
            }
        )
        if allowed:
            recent += jobs_service.list_jobs(session, principal, kind=PREFIX + kind, limit=10)
    recent.sort(key=lambda j: j.id, reverse=True)
    return render(
        request,
        "imports/index.html",
        {
            "kinds": kinds,
            "recent": [jobs_service.job_out(j) for j in recent[:15]],
            "labels": jobs_service.STATE_LABELS,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/imports", response_class=HTMLResponse)
def imports_page(
    request: Request, principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> Response:
    return _index(request, session, principal)


@router.get("/imports/templates/{kind}.csv")
def import_template(kind: str, _principal: Principal = require(Perm.SITE_READ)) -> Response:
    """An empty file in igflow's template for one kind: the header row, then one example row (synthetic)."""
    import csv
    import io

    columns = COLUMNS.get(kind)
    if not columns:
        raise NotFound(f"kind: there is no CSV template for {kind!r}", "kind")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    writer.writerow([c.example for c in columns])
    return Response(
        content=out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="igflow-{kind}-template.csv"'},
    )


async def _upload(
    request: Request, kind: str, principal: Principal, session: Session, queue: JobQueue
) -> Response:
    form = await request.form()
    max_bytes = request.app.state.settings.max_upload_bytes
    upload = form.get("file")
    content, filename = b"", ""
    if upload is not None and hasattr(upload, "read"):
        filename = getattr(upload, "filename", "") or ""
        content = await upload.read(max_bytes + 1)
    dry_run = str(form.get("dry_run", "")).lower() in ("on", "yes", "true", "1")

    def submit() -> int:
        stored = service.store_upload(session, principal, kind, filename, content, max_bytes)
        job = jobs_service.submit(
            session, queue, principal, PREFIX + kind, {"upload_id": stored.id, "dry_run": dry_run}
        )
        return job.id

    try:
        job_id = await run_in_threadpool(submit)
    except IgflowError as exc:
        session.rollback()
        return _index(request, session, principal, {kind: exc.message.removeprefix("file: ")}, 422)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


def _route(kind: str) -> None:
    perm = service.KIND_PERMISSION[kind]

    async def upload(
        request: Request,
        principal: Principal = require(perm),
        session: Session = Depends(get_session),
        queue: JobQueue = Depends(get_queue),
    ) -> Response:
        return await _upload(request, kind, principal, session, queue)

    upload.__name__ = f"import_{kind}_upload"
    router.add_api_route(f"/imports/{kind}", upload, methods=["POST"], response_class=HTMLResponse)


for _kind in IMPORT_KINDS:
    _route(_kind)


@router.get("/imports/jobs/{job_id}", response_class=HTMLResponse)
def import_result(
    request: Request,
    job_id: int,
    principal: Principal = require(Perm.AUTHENTICATED),
    session: Session = Depends(get_session),
) -> Response:
    """The result of an import job (its kind's permission decides, as on the job pages)."""
    job = jobs_service.get_job(session, principal, job_id)
    if not job.kind.startswith(PREFIX):
        raise NotFound(f"import {job_id} not found")
    out = jobs_service.job_out(job)
    return render(
        request,
        "imports/result.html",
        {
            "job": out,
            "kind_label": service.KIND_LABELS.get(job.kind.removeprefix(PREFIX), "Import"),
            "result": job.result or {},
            "state_label": jobs_service.STATE_LABELS.get(job.state, job.state),
            "listed_max": service.MAX_LISTED,
        },
    )
