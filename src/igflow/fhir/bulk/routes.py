"""The Bulk Data ``$export`` routes, added to the ``/fhir/R4`` router by :func:`register` (ahead of the read
routes, so that ``/Patient/$export`` is not read as a patient's id), so that errors are OperationOutcome.

- ``GET /$export``, ``GET /Patient/$export``, ``GET /Group/{group_id}/$export``: the kick-off (header
  ``Prefer: respond-async``): 202 with ``Content-Location``, the status URL.
- ``GET /$export-status/{export_id}``: 202 with ``X-Progress`` and ``Retry-After`` while it runs, 200 with
  the manifest when done, 500 with an OperationOutcome if it failed; ``DELETE`` cancels it and deletes its
  files (202).
- ``GET /$export-file/{export_id}/{name}``: one NDJSON file (``application/fhir+ndjson``).

Every route needs ``patient.list``; the service narrows the types and answers only the requester.
"""

from __future__ import annotations

import datetime as dt
import json
from email.utils import format_datetime

from fastapi import APIRouter, Depends, Request, Response
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy.orm import Session

from igflow.fhir.bulk import service
from igflow.fhir.bundle import operation_outcome
from igflow.fhir.search import BadRequest
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

PREFIX = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
RETRY_AFTER_S = 2


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}"


def _json(
    body: object, status: int, headers: dict[str, str] | None = None, media: str = FHIR_JSON
) -> Response:
    return Response(json.dumps(body), status_code=status, headers=headers, media_type=media)


def _information(text: str) -> OperationOutcome:
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational", "details": {"text": text}}],
        }
    )


def _retention_h(request: Request) -> float:
    return float(request.app.state.settings.fhir_export_retention_h)


def _kickoff(
    request: Request,
    principal: Principal,
    session: Session,
    queue: JobQueue,
    level: str,
    group_id: str | None = None,
) -> Response:
    accept = request.headers.get("accept", "").lower()
    if accept and not any(t in accept for t in ("json", "*/*", "application/*")):
        raise BadRequest("Accept: the kick-off answers application/fhir+json only.", "Accept")
    export = service.kickoff(
        session,
        queue,
        principal,
        level,
        group_id,
        request.query_params.multi_items(),
        request.headers.get("prefer", ""),
        str(request.url),
        _retention_h(request),
    )
    where = f"{_base(request)}/$export-status/{export.export_id}"
    body = _information(f"The export was accepted: follow {where} for its progress.")
    return Response(
        body.model_dump_json(), status_code=202, headers={"Content-Location": where}, media_type=FHIR_JSON
    )


def system_export(
    request: Request,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    return _kickoff(request, principal, session, queue, "system")


def patient_export(
    request: Request,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    return _kickoff(request, principal, session, queue, "patient")


def group_export(
    group_id: str,
    request: Request,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    return _kickoff(request, principal, session, queue, "group", group_id[:64])


def export_status(
    export_id: str,
    request: Request,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
) -> Response:
    st = service.status(session, principal, export_id, _retention_h(request))
    state = st.job.state
    if state in ("queued", "running"):
        percent = round(100 * (st.job.progress or 0.0))
        text = st.job.progress_message or ("Waiting for a worker" if state == "queued" else "Running")
        progress = f"{percent}% {text}"[:100]
        headers = {"X-Progress": progress, "Retry-After": str(RETRY_AFTER_S)}
        return Response(status_code=202, headers=headers)
    if state == "succeeded":
        headers = {}
        if st.expires_at is not None:
            headers["Expires"] = format_datetime(st.expires_at.astimezone(dt.UTC), usegmt=True)
        return _json(service.manifest(st, _base(request)), 200, headers, media="application/json")
    message = st.job.error or "The export was cancelled before it finished."
    if state == "failed":
        message = f"The export failed: {message}"
    return Response(operation_outcome(500, message).model_dump_json(), status_code=500, media_type=FHIR_JSON)


def delete_export(
    export_id: str,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
) -> Response:
    service.remove(session, principal, export_id)
    body = _information("The export was cancelled (if it was running) and its files deleted.")
    return Response(body.model_dump_json(), status_code=202, media_type=FHIR_JSON)


def export_file(
    export_id: str,
    file_name: str,
    request: Request,
    principal: Principal = require(Perm.PATIENT_LIST),
    session: Session = Depends(get_session),
) -> Response:
    found = service.read_file(session, principal, export_id, file_name, _retention_h(request))
    return Response(found.content, media_type=service.NDJSON)


def register(router: APIRouter) -> None:
    """Add the routes to the FHIR router (its route class answers errors as OperationOutcome)."""
    router.add_api_route("/$export", system_export, methods=["GET"])
    router.add_api_route("/Patient/$export", patient_export, methods=["GET"])
    router.add_api_route("/Group/{group_id}/$export", group_export, methods=["GET"])
    router.add_api_route("/$export-status/{export_id}", export_status, methods=["GET"])
    router.add_api_route("/$export-status/{export_id}", delete_export, methods=["DELETE"])
    router.add_api_route("/$export-file/{export_id}/{file_name}", export_file, methods=["GET"])
