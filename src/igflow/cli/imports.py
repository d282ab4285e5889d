"""``igflow import ...``: patients, prescribers, coverages and measurements from CSV, and FHIR transaction
Bundles, on the command line with a progress bar.

``igflow import patients FILE --as USERNAME [--dry-run]`` (likewise ``prescribers``, ``coverages``,
``measurements`` and ``bundle``). The import runs as the igflow user named by ``--as`` (their roles and site
limits apply, and the audit log names them, from ``cli:<os user>``). The file is read twice as a stream (a
check of every row, then the writes in one transaction), never whole into memory (a bundle, being one JSON
document, is). Exit codes: 0 imported (or, with --dry-run, every row is good); 1 bad rows, nothing written;
2 the user or the file cannot be used. The template of each kind is in docs/imports.md.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from igflow.config import get_settings

import_app = typer.Typer(
    help="Import patients, prescribers, coverages and measurements (CSV) or a FHIR transaction Bundle.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)
SHOWN_ERRORS = 200  # bad rows printed; all of them are written with --errors FILE

FileArg = Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, readable=True)]
AsOpt = Annotated[str, typer.Option("--as", help="The igflow user the import runs as (roles, sites, audit)")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing")]
ErrorsOpt = Annotated[Path | None, typer.Option("--errors", help="Also write every bad row to this CSV file")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_source(kind: str, path: Path) -> Any:
    from igflow.imports import service
    from igflow.imports.columns import parse_rows, text_stream
    from igflow.imports.job import source_of

    if kind == "bundle":
        return source_of(kind, path.read_bytes(), path.name, _sha256(path))
    size = max(path.stat().st_size, 1)
    state: dict[str, Any] = {}

    def rows() -> Any:
        with path.open("rb") as binary:
            state["binary"] = binary
            yield from parse_rows(kind, text_stream(binary))

    def fraction() -> float:
        binary = state.get("binary")
        try:
            return binary.tell() / size if binary is not None else 0.0
        except ValueError:  # closed
            return 1.0

    return service.Source(rows, fraction, path.name, _sha256(path))


def _principal(db: Any, username: str) -> Any:
    from sqlalchemy import select

    from igflow.security import service as security_service
    from igflow.security.models import User

    with db.session() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None or not user.active:
            err.print(f"[red]No active igflow user '{username}'. An administrator adds users.[/red]")
            raise typer.Exit(2)
        return security_service.principal_for_user(user, client_address=f"cli:{getpass.getuser()}")


def run(kind: str, path: Path, username: str, dry_run: bool, errors_file: Path | None) -> None:
    import igflow.models  # noqa: F401 - every table
    from igflow.db import Database
    from igflow.errors import Forbidden
    from igflow.imports import service

    db = Database(get_settings().database_url)
    try:
        principal = _principal(db, username)
        source = file_source(kind, path)
        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task(f"{service.KIND_LABELS[kind]} from {path.name}", total=1.0)

            def progress(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message)

            try:
                report = service.run_import(db, principal, kind, source, dry_run=dry_run, progress=progress)
            except Forbidden as exc:
                err.print(f"[red]{exc.message}[/red]")
                raise typer.Exit(2) from None
    finally:
        db.dispose()
    _print(report, errors_file)
    if report.error_count:
        raise typer.Exit(1)


def _print(report: Any, errors_file: Path | None) -> None:
    if report.error_count:
        table = Table(title=f"{report.error_count:,} bad row(s) of {report.rows:,}: nothing was written")
        table.add_column("Line", justify="right")
        table.add_column("Reason")
        for error in report.errors[:SHOWN_ERRORS]:
            table.add_row(str(error.line), error.reason)
        console.print(table)
        if report.error_count > SHOWN_ERRORS:
            console.print(
                f"... and {report.error_count - SHOWN_ERRORS:,} more (write them all with --errors FILE)"
            )
        if errors_file is not None:
            import csv

            with errors_file.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["line", "reason"])
                writer.writerows([e.line, e.reason] for e in report.errors)
            console.print(f"Wrote {len(report.errors):,} bad row(s) to {errors_file}")
    elif report.dry_run:
        console.print(f"Dry run: all {report.rows:,} row(s) are good; nothing was written.")
    elif report.rows == 0:
        console.print("The file has no rows: nothing was written.")
    else:
        console.print(f"Imported {report.imported:,} row(s) in one transaction.")


def _command(kind: str, doc: str) -> None:
    def command(file: FileArg, as_user: AsOpt, dry_run: DryOpt = False, errors: ErrorsOpt = None) -> None:
        run(kind, file, as_user, dry_run, errors)

    command.__doc__ = doc
    import_app.command(kind)(command)


_command("patients", "Patients from a CSV file (template: docs/imports.md#patients).")
_command("prescribers", "Prescribers from a CSV file (template: docs/imports.md#prescribers).")
_command("coverages", "Coverages from a CSV file (template: docs/imports.md#coverages).")
_command("measurements", "Measurements and outcome readings from a CSV file (docs/imports.md#measurements).")
_command("bundle", "A FHIR R4 transaction Bundle of Patient, Coverage and Observation entries.")
