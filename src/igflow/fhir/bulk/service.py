"""Use cases of Bulk Data ``$export``: kick-off, status and manifest, delete, file download, retention sweep.

Who may do what (see docs/fhir-bulk.md):

- A kick-off needs ``patient.list`` (the route's permission) and exports only the types the requester may
  *search*: the type's search permission and, for a SMART token, a ``system/`` scope covering its search.
  A type named in ``_type`` that the requester may not search is a 403 naming it; without ``_type`` such
  types are left out, and the manifest's ``error`` file (OperationOutcome) names each one left out.
- The status URL, ``DELETE`` on it and the files answer only the requester: the same account and, when a
  SMART backend client asked, the same client (with a fresh token). Anyone else gets a 404, as if the
  export did not exist. A file also needs, at download time, the right to search its type.
- What is exported is exactly what FHIR search returns to the requester: the job pages through each type's
  own search sources (:mod:`igflow.fhir.service.engine`) with the requester's roles, site limits and scopes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, IgflowError, NotFound
from igflow.fhir.bulk.group import site_of_group
from igflow.fhir.bulk.models import BulkExport, BulkExportFile
from igflow.fhir.search import BadRequest
from igflow.fhir.service.engine import Kind
from igflow.fhir.service.registry import BY_NAME, KINDS
from igflow.fhir.smart import scopes as smart_scopes
from igflow.jobs import service as jobs_service
from igflow.jobs.models import Job
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Site

KIND_NAME = "fhir_export"
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
LEVELS = ("system", "group", "patient")
GROUP = "Group"
ERRORS = "OperationOutcome"  # the resource type of the error files
#: Parameters of the Bulk Data IG this server does not offer: refused (400), not ignored.
NOT_SUPPORTED = ("_elements", "patient", "_typeFilter", "includeAssociatedData", "organizeOutputBy")


class NotFoundGone(NotFound):
    """An export deleted by its client or after the retention period."""


@dataclass(frozen=True)
class ExportAsk:
    level: str
    group_id: str | None
    types: list[str]
    omitted: list[str]
    since: dt.datetime | None


# --- which types, for whom --------------------------------------------------------------------------------


def patient_param(kind: Kind) -> str | None:
    """The search parameter that names a type's patient (None: the type is outside the patient
    compartment, exported only at system level)."""
    if kind.name == "Patient":
        return "_id"
    if not kind.patient_data or kind.name == GROUP:
        return None
    for name in ("patient", "subject", "beneficiary"):
        if name in kind.search_names:
            return name
    return None


def exportable(level: str) -> list[Kind]:
    """The types a level exports: every type at system level; the patient compartment otherwise."""
    if level == "system":
        return list(KINDS)
    return [k for k in KINDS if patient_param(k) is not None]


def may_search(principal: Principal, kind: Kind) -> bool:
    """The requester may search ``kind``: its permission and, for a SMART token, a covering scope."""
    if not principal.can(kind.search_permission):
        return False
    if principal.scopes is None:
        return True
    granted = smart_scopes.parse_all(principal.scopes, [k.name for k in KINDS])
    return smart_scopes.covers(granted, kind.name, smart_scopes.SEARCH)


def _needs(principal: Principal, kind: Kind) -> str:
    if not principal.can(kind.search_permission):
        return f"the permission {kind.search_permission.value}"
    return f"the scope {smart_scopes.needed(kind.name, smart_scopes.SEARCH)} (or system/{kind.name}.read)"


def parse_since(raw: str) -> dt.datetime:
    """A FHIR instant (``2026-12-01T08:00:00Z`` or with an offset): a time zone is required."""
    text = raw.strip()
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or "T" not in text:
        raise BadRequest(
            f"_since: {raw!r} is not a FHIR instant: give a date and time with a time zone, like "
            "2026-12-01T08:00:00Z",
            "_since",
        )
    return value.astimezone(dt.UTC)


def parse_ask(
    principal: Principal, level: str, group_id: str | None, items: Iterable[tuple[str, str]]
) -> ExportAsk:
    """The kick-off's parameters, checked: 400 for a bad or unsupported one, 403 for a type named in
    ``_type`` that the requester may not search, or when they may search none."""
    offered = exportable(level)
    names: list[str] = []
    since = None
    for name, raw in items:
        if name == "_outputFormat":
            if raw.strip() not in OUTPUT_FORMATS:
                raise BadRequest(f"_outputFormat: only {NDJSON} is offered, not {raw!r}", "_outputFormat")
        elif name == "_type":
            names += [t.strip() for t in raw.split(",") if t.strip()]
        elif name == "_since":
            if raw.strip():
                since = parse_since(raw)
        elif name in NOT_SUPPORTED:
            raise BadRequest(f"{name}: not supported by this server's $export (see /fhir/R4/metadata)", name)
        elif name != "_format":
            raise BadRequest(
                f"{name}: not a parameter of $export here (supported: _outputFormat, _type, _since)", name
            )
    by_name = {k.name: k for k in offered}
    for name in names:
        if name not in by_name:
            where = "served" if name not in BY_NAME else f"exported at {level} level"
            raise BadRequest(f"_type: {name} is not a resource type {where} here", "_type")
    if names:
        chosen = [by_name[n] for n in dict.fromkeys(names)]
        refused = [k for k in chosen if not may_search(principal, k)]
        if refused:
            raise Forbidden(
                "You may not export "
                + "; ".join(f"{k.name} (that needs {_needs(principal, k)})" for k in refused)
                + ". Leave it out of _type."
            )
        return ExportAsk(level, group_id, [k.name for k in chosen], [], since)
    allowed = [k.name for k in offered if may_search(principal, k)]
    if not allowed:
        raise Forbidden("You may not search any of the resource types this export covers.")
    omitted = [k.name for k in offered if k.name not in allowed]
    return ExportAsk(level, group_id, allowed, omitted, since)


def check_group(session: Session, principal: Principal, group_id: str) -> None:
    """The group exists and the requester may read it (a centre of theirs), else 404; a SMART token needs
    a scope covering the read of Group."""
    site_id = site_of_group(group_id)
    site = session.get(Site, site_id) if site_id is not None else None
    if site is None or not scope.sees_site(principal, site.id):
        raise NotFound(f"Group/{group_id} not found")
    kind = BY_NAME[GROUP]
    if principal.scopes is not None:
        granted = smart_scopes.parse_all(principal.scopes, [k.name for k in KINDS])
        if not smart_scopes.covers(granted, GROUP, smart_scopes.READ):
            raise Forbidden(
                f"The access token's scopes do not cover reading Group/{group_id}: that needs "
                f"{smart_scopes.needed(GROUP, smart_scopes.READ)} (or system/Group.read)."
            )
    if not principal.can(kind.read_permission):
        raise Forbidden(f"Reading Group/{group_id} needs the permission {kind.read_permission.value}.")


# --- kick-off ---------------------------------------------------------------------------------------------


def kickoff(
    session: Session,
    queue: Any,
    principal: Principal,
    level: str,
    group_id: str | None,
    items: list[tuple[str, str]],
    prefer: str,
    request_url: str,
    retention_h: float,
) -> BulkExport:
    """Check the request, record the export and queue its job (committed). The export's id goes in the
    status URL."""
    if level == "group":  # another centre's group is a 404 whatever else is wrong with the request
        assert group_id is not None
        check_group(session, principal, group_id)
    if "respond-async" not in [p.strip().lower() for p in prefer.replace(";", ",").split(",")]:
        raise BadRequest(
            "$export runs asynchronously: send the header 'Prefer: respond-async' (Bulk Data IG)", "Prefer"
        )
    ask = parse_ask(principal, level, group_id, items)
    sweep(session, utcnow(), retention_h)
    export = BulkExport(
        export_id=secrets.token_urlsafe(24),
        requested_by_user_id=principal.user_id,
        client_id=principal.client_id,
        level=level,
        group_id=group_id,
        types=ask.types,
        omitted=ask.omitted,
        since=ask.since,
        request_url=request_url[:4000],
    )
    session.add(export)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "fhir.export.kickoff",
        "$export",
        export.export_id,
        detail={"level": level, "group": group_id, "types": ask.types, "omitted": ask.omitted},
    )
    params = {
        "export": export.id,
        "export_id": export.export_id,
        "client_id": principal.client_id,
        "scopes": sorted(principal.scopes) if principal.scopes is not None else None,
    }
    job = jobs_service.submit(session, queue, principal, KIND_NAME, params)  # commits the export too
    session.refresh(export)
    if export.job_id is None:
        export.job_id = job.id
        session.commit()
    return export


# --- status, delete, files --------------------------------------------------------------------------------


def _own(session: Session, principal: Principal, export_id: str) -> BulkExport:
    export = session.execute(select(BulkExport).where(BulkExport.export_id == export_id)).scalar_one_or_none()
    missing = NotFound(f"There is no export {export_id[:64]!r} of yours.")
    if export is None or export.requested_by_user_id != principal.user_id:
        raise missing
    if export.client_id != principal.client_id:
        raise missing
    if export.deleted_at is not None:
        why = {"client": "it was deleted", "retention": "its retention period ended"}
        reason = why.get(export.deleted_reason or "", "it was deleted")
        raise NotFoundGone(f"The export {export_id[:64]!r} is gone: {reason}.")
    return export


def _job(session: Session, export: BulkExport) -> Job:
    job = session.get(Job, export.job_id) if export.job_id is not None else None
    if job is None:
        raise NotFound("This export has no job.")
    return job


def expires_at(job: Job, retention_h: float) -> dt.datetime | None:
    return job.finished_at + dt.timedelta(hours=retention_h) if job.finished_at is not None else None


@dataclass(frozen=True)
class Status:
    export: BulkExport
    job: Job
    files: list[BulkExportFile]
    expires_at: dt.datetime | None


def status(session: Session, principal: Principal, export_id: str, retention_h: float) -> Status:
    """Where the export stands (the caller answers 202, 200 or 500 from ``job.state``); an expired export
    is deleted now and is a 404."""
    sweep(session, utcnow(), retention_h)
    export = _own(session, principal, export_id)
    job = _job(session, export)
    files: list[BulkExportFile] = []
    if job.state == "succeeded":
        files = list(
            session.execute(
                select(BulkExportFile)
                .where(BulkExportFile.export_pk == export.id)
                .order_by(BulkExportFile.id)
            ).scalars()
        )
    return Status(export, job, files, expires_at(job, retention_h))


def manifest(st: Status, base: str) -> dict[str, Any]:
    """The completion manifest (Bulk Data IG 2.0): transactionTime, request, requiresAccessToken, output
    (one entry per file, with its count) and error (the OperationOutcome files)."""

    def entry(f: BulkExportFile) -> dict[str, Any]:
        return {"type": f.resource_type, "url": file_url(base, st.export, f), "count": f.count}

    when = st.export.transaction_time or st.export.created_at
    return {
        "transactionTime": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "request": st.export.request_url,
        "requiresAccessToken": True,
        "output": [entry(f) for f in st.files if f.resource_type != ERRORS],
        "error": [entry(f) for f in st.files if f.resource_type == ERRORS],
    }


def file_url(base: str, export: BulkExport, f: BulkExportFile) -> str:
    return f"{base}/$export-file/{export.export_id}/{f.name}"


def remove(session: Session, principal: Principal, export_id: str) -> BulkExport:
    """The client's DELETE: cancel the job if it has not finished, delete the files (committed, audited).
    A worker still running sees the deletion before its next file and stops."""
    export = _own(session, principal, export_id)
    job = _job(session, export)
    if job.state in ("queued", "running"):
        try:
            jobs_service.cancel(session, principal, job.id)
        except (Conflict, IgflowError):
            session.rollback()  # it finished meanwhile: its files go below all the same
    export = _own(session, principal, export_id)
    deleted = _delete_files(session, export.id)
    export.deleted_at = utcnow()
    export.deleted_reason = "client"
    audit.record(
        session,
        principal.actor,
        "fhir.export.delete",
        "$export",
        export.export_id,
        detail={"files": deleted, "job_state": job.state},
    )
    session.commit()
    return export


def read_file(
    session: Session, principal: Principal, export_id: str, name: str, retention_h: float
) -> BulkExportFile:
    """One file of a finished export, for its requester, who may still search its type (else 403)."""
    st = status(session, principal, export_id, retention_h)
    found = next((f for f in st.files if f.name == name), None)
    if found is None:
        raise NotFound(f"The export has no file {name[:80]!r}.")
    if found.resource_type != ERRORS:
        kind = BY_NAME.get(found.resource_type)
        if kind is None or not may_search(principal, kind):
            raise Forbidden(
                f"You may no longer read {found.resource_type}: that needs "
                + (_needs(principal, kind) if kind else "a type this server serves")
                + "."
            )
    audit.record(
        session,
        principal.actor,
        "fhir.export.download",
        "$export",
        st.export.export_id,
        detail={"file": found.name, "count": found.count},
    )
    session.commit()
    return found


# --- retention --------------------------------------------------------------------------------------------


def _delete_files(session: Session, export_pk: int) -> int:
    result = session.execute(
        delete(BulkExportFile)
        .where(BulkExportFile.export_pk == export_pk)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def sweep(session: Session, now: dt.datetime, retention_h: float) -> int:
    """Delete the files of exports that finished more than ``retention_h`` hours ago (the export is then
    gone: 404), and at once those of failed or cancelled exports. Commits; returns the exports swept."""
    cutoff = now - dt.timedelta(hours=retention_h)
    rows = session.execute(
        select(BulkExport, Job)
        .join(Job, Job.id == BulkExport.job_id)
        .where(BulkExport.deleted_at.is_(None), Job.state.in_(jobs_service.TERMINAL))
    ).all()
    swept = 0
    for export, job in rows:
        if job.finished_at is not None and job.finished_at < cutoff:
            export.deleted_at = now
            export.deleted_reason = "retention"
            files = _delete_files(session, export.id)
            audit.record(
                session,
                jobs_service.WORKER,
                "fhir.export.expired",
                "$export",
                export.export_id,
                detail={"files": files, "retention_h": retention_h},
            )
            swept += 1
        elif job.state != "succeeded" and _delete_files(session, export.id):
            swept += 1
    session.commit()
    return swept
