"""The import jobs the /imports page submits: one kind per import kind, each with the permission it needs.

A job reads its upload (``import_upload``, by id; only the person who uploaded it can run it), checks every
row, writes them in one transaction through the capabilities' services, and completes in that same
transaction. Its result is the report: rows read, rows imported, and every bad row with its line and reason.
Cancelling stops it between rows; nothing of the file is written then.
"""

from __future__ import annotations

import io
from typing import Any

from igflow.imports import service
from igflow.imports.bundle import parse_bundle
from igflow.imports.columns import RowError, parse_rows, text_stream
from igflow.jobs.kinds import JobKind
from igflow.jobs.models import Job
from igflow.jobs.runner import JobContext

PREFIX = "import_"


def source_of(kind: str, content: bytes, filename: str = "", sha256: str = "") -> service.Source:
    """A source over bytes (an upload, or a file the CLI read): a fresh stream for each pass."""
    if kind == "bundle":
        parsed = parse_bundle(content)

        def bundle_rows() -> Any:
            yield from parsed.errors
            yield from parsed.rows

        return service.Source(bundle_rows, lambda: 1.0, filename, sha256)
    state: dict[str, io.BytesIO] = {}

    def rows() -> Any:
        state["binary"] = binary = io.BytesIO(content)
        yield from parse_rows(kind, text_stream(binary))

    def fraction() -> float:
        binary = state.get("binary")
        try:
            return binary.tell() / max(len(content), 1) if binary is not None else 0.0
        except ValueError:  # read to the end and closed
            return 1.0

    return service.Source(rows, fraction, filename, sha256)


def _handler(kind: str) -> Any:
    def run(ctx: JobContext) -> None:
        with ctx.read_session() as session:
            upload = service.load_upload(session, ctx.principal, int(ctx.params["upload_id"]))
            content, filename, sha256 = bytes(upload.content), upload.filename, upload.sha256
        source = source_of(kind, content, filename, sha256)

        def progress(fraction: float, message: str) -> None:
            ctx.progress(fraction, message)
            ctx.check_cancelled()

        def finish(session: Any, report: service.ImportReport) -> None:
            summary = report.summary()
            summary["filename"] = filename
            ctx.complete(session, "import", int(ctx.params["upload_id"]), summary)

        service.run_import(
            ctx.db,
            ctx.principal,
            kind,
            source,
            dry_run=bool(ctx.params.get("dry_run")),
            progress=progress,
            finish=finish,
        )

    return run


def _result_url(job: Job) -> str | None:
    return f"/imports/jobs/{job.id}"


def _kind(kind: str) -> JobKind:
    return JobKind(
        name=PREFIX + kind,
        label=f"{service.KIND_LABELS[kind]} import",
        permission=service.KIND_PERMISSION[kind],
        run=_handler(kind),
        result_url=_result_url,
    )


KINDS = tuple(_kind(k) for k in ("patients", "prescribers", "coverages", "measurements", "bundle"))
KIND = KINDS[0]

__all__ = ["KIND", "KINDS", "RowError", "source_of"]
