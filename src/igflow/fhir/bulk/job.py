"""The ``$export`` job: page through each type's FHIR search as the requester, write NDJSON files, audit.

1. The requester is rebuilt as they were at kick-off: the job runner gives their account with the roles of
   the request (and the site limits the account has now); the SMART client and its scopes come from the
   job's parameters, so a token's scopes narrow the export exactly as they narrow a search.
2. In one read snapshot (``ctx.read_session()``), each type's search sources
   (:mod:`igflow.fhir.service.engine`) are streamed (``yield_per``) and mapped by their own builders: the
   export is the search, without its paging. Group and patient level export the patient compartment, in
   batches of patients (``patient=`` / ``_id=`` as a search would). ``_since`` keeps resources whose
   ``meta.lastUpdated`` is later; a type with no last-updated time is exported whatever ``_since`` says,
   as the IG allows.
3. Each file of up to ``fhir_export_file_max_resources`` resources is saved in its own short transaction
   (none is open during the reading's long work on SQLite); a deleted export (the client's DELETE) is seen
   before each file, and the job stops.
4. The last transaction writes the error file (the types left out, as OperationOutcome), one audit row for
   the export with its counts and one per exported patient (``fhir.export``, as a FHIR read is audited per
   patient), and marks the job succeeded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator

from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.config import get_settings
from igflow.db import Database, utcnow
from igflow.fhir.bulk import service
from igflow.fhir.bulk.group import member_query, site_of_group
from igflow.fhir.bulk.models import BulkExport, BulkExportFile
from igflow.fhir.search import Params
from igflow.fhir.service.engine import Item, Kind
from igflow.fhir.service.registry import BY_NAME
from igflow.jobs.kinds import JobKind
from igflow.jobs.models import Job
from igflow.jobs.runner import JobCancelled, JobContext
from igflow.patients.models import Patient
from igflow.security import audit, scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

KIND_NAME = service.KIND_NAME
PATIENT_BATCH = 500  # patients per search at group and patient level (one IN list)
STREAM_ROWS = 500  # rows fetched and mapped at a time


def requester(ctx: JobContext) -> Principal:
    """The job's principal with the SMART client and scopes of the kick-off."""
    scopes = ctx.params.get("scopes")
    return dataclasses.replace(
        ctx.principal,
        client_id=ctx.params.get("client_id"),
        scopes=frozenset(scopes) if scopes is not None else None,
    )


class Writer:
    """Collects NDJSON lines per type and saves a file each time one is full."""

    def __init__(self, db: Database, export_pk: int, max_per_file: int) -> None:
        self.db = db
        self.export_pk = export_pk
        self.max_per_file = max_per_file
        self.lines: list[str] = []
        self.parts: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.by_patient: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self.late_omitted: list[str] = []

    def add(self, resource_type: str, item: Item) -> None:
        self.lines.append(item.resource.model_dump_json())
        self.counts[resource_type] += 1
        if item.patient_id is not None:
            self.by_patient[item.patient_id][resource_type] += 1
        if len(self.lines) >= self.max_per_file:
            self.flush(resource_type)

    def flush(self, resource_type: str) -> None:
        if not self.lines:
            return
        with self.db.session() as session:
            self._save(session, resource_type, self.lines)
            session.commit()
        self.lines = []

    def _save(self, session: Session, resource_type: str, lines: list[str]) -> None:
        export = session.get(BulkExport, self.export_pk)
        if export is None or export.deleted_at is not None:
            raise JobCancelled
        self.parts[resource_type] += 1
        content = "\n".join(lines) + "\n"
        session.add(
            BulkExportFile(
                export_pk=self.export_pk,
                resource_type=resource_type,
                part=self.parts[resource_type],
                count=len(lines),
                size_bytes=len(content.encode()),
                content=content,
            )
        )

    def save_errors(self, session: Session, omitted: list[str]) -> None:
        if not omitted:
            return
        outcomes = [
            OperationOutcome.model_validate(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "warning",
                            "code": "forbidden",
                            "details": {
                                "text": f"{name} was not exported: the requester may not search it "
                                "(permission or scope)."
                            },
                        }
                    ],
                }
            ).model_dump_json()
            for name in omitted
        ]
        self._save(session, service.ERRORS, outcomes)

    def discard(self) -> None:
        """Best effort: the files of an export that stopped (the sweep removes what this leaves)."""
        try:
            with self.db.session() as session:
                service._delete_files(session, self.export_pk)
                session.commit()
        except Exception:  # noqa: S110 - the retention sweep deletes them later
            pass


def _batches(kind: Kind, patient_ids: list[int] | None) -> Iterator[Params]:
    if patient_ids is None:
        yield Params(kind.name, count=0)
        return
    name = service.patient_param(kind)
    assert name is not None
    for start in range(0, len(patient_ids), PATIENT_BATCH):
        chunk = [str(i) for i in patient_ids[start : start + PATIENT_BATCH]]
        yield Params(kind.name, values={name: [chunk]}, count=0)


def _patients(session: Session, principal: Principal, export: BulkExport) -> list[int] | None:
    """Group and patient level: the patients to export (as the requester sees them); None: system level."""
    if export.level == "system":
        return None
    if export.level == "group":
        site_id = site_of_group(export.group_id or "")
        if site_id is None or not scope.sees_site(principal, site_id):
            return []
        return list(session.execute(member_query(principal, site_id)).scalars())
    query = scope.rows(select(Patient.id), principal, Patient).order_by(Patient.id)
    return list(session.execute(query).scalars())


def _newer(item: Item, since: dt.datetime | None) -> bool:
    if since is None:
        return True
    meta = getattr(item.resource, "meta", None)
    updated = getattr(meta, "lastUpdated", None) if meta is not None else None
    if updated is None:
        return True  # no last-updated time kept for this type: exported whatever _since says
    value = updated if isinstance(updated, dt.datetime) else dt.datetime.fromisoformat(str(updated))
    return value.astimezone(dt.UTC) > since.astimezone(dt.UTC)


def _read_all(
    ctx: JobContext, session: Session, principal: Principal, export: BulkExport, writer: Writer
) -> None:
    patient_ids = _patients(session, principal, export)
    kinds = [BY_NAME[name] for name in export.types if name in BY_NAME]
    # the roles in force now (the runner narrows them to the account's current ones): a type the
    # requester may no longer search is left out, and named in the error file
    writer.late_omitted = [k.name for k in kinds if not service.may_search(principal, k)]
    kinds = [k for k in kinds if k.name not in writer.late_omitted]
    for i, kind in enumerate(kinds):
        batches = list(_batches(kind, patient_ids))
        for j, params in enumerate(batches):
            for source in kind.sources(session, principal, params):
                result = session.execute(source.query.execution_options(yield_per=STREAM_ROWS))
                for rows in result.partitions():
                    for item in source.build(session, list(rows)):
                        if _newer(item, export.since):
                            writer.add(kind.name, item)
                    ctx.check_cancelled()
            share = (i + (j + 1) / max(len(batches), 1)) / max(len(kinds), 1)
            ctx.progress(0.02 + 0.93 * share, f"{kind.name}: {writer.counts[kind.name]} exported")
        writer.flush(kind.name)


def _finish(
    ctx: JobContext, principal: Principal, export_pk: int, started: dt.datetime, writer: Writer
) -> None:
    with ctx.db.session() as session:
        export = session.get(BulkExport, export_pk)
        assert export is not None
        omitted = [*export.omitted, *writer.late_omitted]
        writer.save_errors(session, omitted)
        export.transaction_time = started
        counts = {name: writer.counts[name] for name in export.types}
        detail = {
            "export": export.export_id,
            "level": export.level,
            "group": export.group_id,
            "since": export.since.isoformat() if export.since else None,
            "counts": counts,
            "patients": len(writer.by_patient),
            "omitted": omitted,
        }
        audit.record(session, principal.actor, "fhir.export", "$export", export.export_id, detail=detail)
        for patient_id, per_type in sorted(writer.by_patient.items()):
            audit.record(
                session,
                principal.actor,
                "fhir.export",
                "Patient",
                patient_id,
                patient_id=patient_id,
                detail={"export": export.export_id, "counts": dict(sorted(per_type.items()))},
            )
        ctx.complete(
            session,
            "fhir_bulk_export",
            export.id,
            {"resources": sum(counts.values()), "patients": len(writer.by_patient), "counts": counts},
        )
        session.commit()


def run_export(ctx: JobContext, max_per_file: int | None = None) -> None:
    settings = get_settings()
    export_pk = int(ctx.params["export"])
    principal = requester(ctx)
    with ctx.db.session() as session:
        service.sweep(session, utcnow(), settings.fhir_export_retention_h)
        export = session.get(BulkExport, export_pk)
        if export is None or export.deleted_at is not None:
            raise JobCancelled
        if export.job_id is None:
            export.job_id = ctx.job_id
            session.commit()
    writer = Writer(ctx.db, export_pk, max_per_file or settings.fhir_export_file_max_resources)
    try:
        ctx.progress(0.01, "Reading")
        started = utcnow()
        with ctx.read_session() as session:
            export = session.get(BulkExport, export_pk)
            assert export is not None
            _read_all(ctx, session, principal, export, writer)
        ctx.progress(0.97, "Saving the manifest and the audit trail")
        _finish(ctx, principal, export_pk, started, writer)
    except BaseException:
        writer.discard()
        raise


def _run(ctx: JobContext) -> None:
    run_export(ctx)


def _result_url(job: Job) -> str | None:
    export_id = (job.params or {}).get("export_id")
    return f"/fhir/R4/$export-status/{export_id}" if export_id else None


KIND = JobKind(
    name=KIND_NAME,
    label="FHIR bulk export",
    permission=Perm.PATIENT_LIST,
    run=_run,
    result_url=_result_url,
)
