"""Import use cases: check every row (pass 1, nothing written), then write them in one transaction (pass 2).

Pass 1 streams the rows in chunks and looks up, per chunk, what igflow already holds: the sites and their
limits, MRNs, NPIs, payers and member ids. It reports **every** bad row with its line (a bundle: its entry
index) and the reason in words, and writes nothing.

Pass 2 runs only when pass 1 found no bad row. It reads the rows again and hands each to the capability's own
service (patients, directory, coverage, measurements, outcome readings), so their validation, audit rows and
history apply, inside **one database transaction**: the services' own commits become savepoints of it
(``join_transaction_mode="create_savepoint"``), a row a service refuses rolls back its savepoint and is
reported, and at the end the transaction commits only if no row was refused, this is not a dry run and no
one cancelled; otherwise it rolls back and nothing of the file stays. A dry run does both passes and rolls
back, so it reports exactly what the real import would.

Duplicates are refused row by row (this import adds records; it never changes one): an MRN, NPI or member
id (per payer) already in igflow or earlier in the same file is a bad row naming where the other one is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.coverage import service as coverage_service
from igflow.db import Database, utcnow
from igflow.directory import service as directory_service
from igflow.errors import Forbidden, IgflowError, InvalidInput, NotFound
from igflow.imports.columns import (
    CoverageRow,
    MeasurementRow,
    PatientRow,
    PrescriberRow,
    Row,
    RowError,
    schema_problems,
)
from igflow.imports.models import ImportUpload
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage, Patient
from igflow.patients.schemas import MeasurementIn, MeasurementKind
from igflow.security import audit, scope
from igflow.security.permissions import Perm, refusal
from igflow.security.principal import Principal
from igflow.sites import service as sites_service

CHUNK = 500  # rows per look-up in pass 1
MAX_LISTED = 10_000  # bad rows kept for the report beyond this are counted, not listed
KIND_PERMISSION = {
    "patients": Perm.PATIENT_WRITE,
    "prescribers": Perm.DIRECTORY_WRITE,
    "coverages": Perm.COVERAGE_WRITE,
    "measurements": Perm.MEASUREMENT_WRITE,
    "bundle": Perm.PATIENT_WRITE,
}
KIND_LABELS = {
    "patients": "Patients",
    "prescribers": "Prescribers",
    "coverages": "Coverages",
    "measurements": "Measurements",
    "bundle": "FHIR bundle",
}
ROW_PERMISSION: dict[type, Perm] = {
    PatientRow: Perm.PATIENT_WRITE,
    PrescriberRow: Perm.DIRECTORY_WRITE,
    CoverageRow: Perm.COVERAGE_WRITE,
    MeasurementRow: Perm.MEASUREMENT_WRITE,
}
MEASUREMENT_KINDS = frozenset(get_args(MeasurementKind))
Progress = Callable[[float, str], None]


@dataclass
class Source:
    """Where the rows come from: ``open()`` gives a fresh stream of them (pass 1 and pass 2 each read it);
    ``fraction()`` how far the current read has got, 0..1 (for the progress bar)."""

    open: Callable[[], Iterator[Row | RowError]]
    fraction: Callable[[], float] = lambda: 0.0
    filename: str = ""
    sha256: str = ""


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    rows: int = 0  # data rows read (good and bad)
    imported: int = 0  # rows written (committed)
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)  # the first MAX_LISTED bad rows, by line
    error_count: int = 0
    stage: str = "check"  # where it stopped: "check" (pass 1) or "write" (pass 2)

    def add(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(error)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "imported": self.imported,
            "committed": self.committed,
            "error_count": self.error_count,
            "errors": [
                {"line": e.line, "reason": e.reason} for e in sorted(self.errors, key=lambda e: e.line)
            ],
            "stage": self.stage,
        }


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def check_permission(principal: Principal, kind: str) -> None:
    perm = KIND_PERMISSION[kind]
    if not principal.can(perm):
        raise Forbidden(refusal(perm))


# --- pass 1: check ----------------------------------------------------------------------------------------


class Checker:
    """What pass 1 knows across chunks: the sites, payers and NPIs, and the keys seen earlier in the file."""

    def __init__(self, session: Session, principal: Principal, kind: str) -> None:
        self.session = session
        self.principal = principal
        self.kind = kind
        self.sites = {s.code.lower(): s for s in sites_service.list_sites(session)}
        self.payers = {p.code.lower(): p for p in directory_service.list_payers(session)}
        self.npis = {p.npi.upper() for p in directory_service.list_prescribers(session) if p.npi}
        self.new_mrns: dict[str, int] = {}  # patients of this file -> their line
        self.npi_lines: dict[str, int] = {}
        self.member_lines: dict[tuple[int, str], int] = {}
        self._outcomes: dict[str, Any] | None = None

    def outcome_measures(self) -> dict[str, Any]:
        if self._outcomes is None:
            from igflow.catalog import load_catalog

            self._outcomes = {m.id: m for m in load_catalog().outcomes.measures}
        return self._outcomes

    def chunk(self, rows: list[Row]) -> list[RowError]:
        mrns = {r.data.mrn.upper() for r in rows if isinstance(r, PatientRow)}
        refs = {r.mrn for r in rows if isinstance(r, CoverageRow | MeasurementRow)}
        existing = _existing_mrns(self.session, mrns) if mrns else set()
        visible = _visible_mrns(self.session, self.principal, refs) if refs else {}
        members = {
            (self.payers[r.payer_code].id, r.data.member_id)
            for r in rows
            if isinstance(r, CoverageRow) and r.payer_code in self.payers
        }
        taken = _existing_members(self.session, members) if members else set()
        errors = []
        for row in rows:
            reasons = self.row(row, existing, visible, taken)
            if reasons:
                errors.append(RowError(row.line, "; ".join(reasons)))
        return errors

    def row(
        self, row: Row, existing: set[str], visible: dict[str, int], taken: set[tuple[int, str]]
    ) -> list[str]:
        perm = ROW_PERMISSION[type(row)]
        if not self.principal.can(perm):
            return [refusal(perm)]
        if isinstance(row, PatientRow):
            return self._patient(row, existing)
        if isinstance(row, PrescriberRow):
            return self._prescriber(row)
        if isinstance(row, CoverageRow):
            return self._patient_ref(row.mrn, visible) + self._coverage(row, taken)
        return self._patient_ref(row.mrn, visible) + self._measurement(row)

    def _patient(self, row: PatientRow, existing: set[str]) -> list[str]:
        reasons = []
        site = self.sites.get(row.site_code)
        if site is None or not site.active:
            codes = ", ".join(
                sorted(c for c, s in self.sites.items() if s.active and scope.sees_site(self.principal, s.id))
            )
            reasons.append(f"site_code: no active site with code '{row.site_code}' (your sites: {codes})")
        elif not scope.sees_site(self.principal, site.id):
            reasons.append(
                f"site_code: {site.name} is not one of your sites; you import patients for your own sites "
                "(an administrator can change your sites on the Users page)"
            )
        mrn = row.data.mrn.upper()
        if mrn in existing:
            reasons.append(
                f"mrn: a patient with MRN {mrn} is already in igflow; this import adds new patients only "
                "(change that patient on their page, or remove the row)"
            )
        elif mrn in self.new_mrns:
            reasons.append(f"mrn: MRN {mrn} is also on line {self.new_mrns[mrn]} of this file")
        else:
            self.new_mrns[mrn] = row.line
        return reasons

    def _prescriber(self, row: PrescriberRow) -> list[str]:
        npi = (row.data.npi or "").upper()
        if npi in self.npis:
            return [f"npi: a prescriber with identifier {npi} is already in the directory"]
        if npi in self.npi_lines:
            return [f"npi: identifier {npi} is also on line {self.npi_lines[npi]} of this file"]
        self.npi_lines[npi] = row.line
        return []

    def _patient_ref(self, mrn: str, visible: dict[str, int]) -> list[str]:
        if mrn in visible or mrn in self.new_mrns:
            return []
        return [f"mrn: no patient with MRN {mrn} at your sites (import or add the patient first)"]

    def _coverage(self, row: CoverageRow, taken: set[tuple[int, str]]) -> list[str]:
        payer = self.payers.get(row.payer_code)
        if payer is None or not payer.active:
            return [
                f"payer_code: no active payer with code '{row.payer_code}' in the directory (intake or a "
                "prior-authorisation specialist adds payers)"
            ]
        key = (payer.id, row.data.member_id)
        if key in taken:
            return [f"member_id: {payer.name} member {row.data.member_id} is already on a coverage in igflow"]
        if key in self.member_lines:
            line = self.member_lines[key]
            return [f"member_id: {payer.name} member {row.data.member_id} is also on line {line}"]
        self.member_lines[key] = row.line
        return []

    def _measurement(self, row: MeasurementRow) -> list[str]:
        if row.measured_on > utcnow().date():
            return ["measured_on: cannot be in the future"]
        if row.kind in MEASUREMENT_KINDS:
            try:
                measurement_in(row)
                patients_service.validate_measurement(row.kind, row.value)
            except ValidationError as exc:
                return schema_problems(exc)
            except InvalidInput as exc:
                return [exc.message]
            return []
        spec = self.outcome_measures().get(row.kind)
        if spec is None:
            kinds = ", ".join(sorted(MEASUREMENT_KINDS))
            return [
                f"kind: '{row.kind}' is neither a measurement kind ({kinds}) nor a catalog outcome measure"
            ]
        if spec.parts:
            return [f"kind: {spec.name} is entered in its parts; enter it on the patient's outcomes page"]
        if not self.principal.can(Perm.OUTCOME_WRITE):
            return [refusal(Perm.OUTCOME_WRITE)]
        try:
            reading_in(row)
        except ValidationError as exc:
            return schema_problems(exc)
        return []


def _existing_mrns(session: Session, mrns: set[str]) -> set[str]:
    """MRNs already in igflow, at any site (an MRN is unique across the organisation)."""
    return set(session.execute(select(Patient.mrn).where(Patient.mrn.in_(mrns))).scalars())


def _visible_mrns(session: Session, principal: Principal, mrns: set[str]) -> dict[str, int]:
    query = scope.rows(select(Patient.mrn, Patient.id).where(Patient.mrn.in_(mrns)), principal, Patient)
    return {mrn: pid for mrn, pid in session.execute(query)}


def _existing_members(session: Session, keys: set[tuple[int, str]]) -> set[tuple[int, str]]:
    query = select(Coverage.payer_id, Coverage.member_id).where(
        tuple_(Coverage.payer_id, Coverage.member_id).in_(sorted(keys))
    )
    return {(payer, member) for payer, member in session.execute(query)}


def check(
    db: Database, principal: Principal, kind: str, source: Source, report: ImportReport, progress: Progress
) -> None:
    """Pass 1: every row's format and references, nothing written; bad rows go on the report."""
    with db.read_session() as session:
        checker = Checker(session, principal, kind)
        for chunk in _chunks(source.open(), CHUNK):
            good = []
            for item in chunk:
                if isinstance(item, RowError):
                    report.add(item)
                    if item.line > 1 or kind == "bundle":
                        report.rows += 1
                else:
                    good.append(item)
                    report.rows += 1
            for error in checker.chunk(good):
                report.add(error)
            progress(0.5 * source.fraction(), f"Checked {report.rows:,} rows, {report.error_count:,} bad")
        session.rollback()


# --- pass 2: write ----------------------------------------------------------------------------------------


def _patient_id(session: Session, principal: Principal, mrn: str) -> int:
    found = _visible_mrns(session, principal, {mrn})
    if mrn not in found:
        raise NotFound(f"mrn: no patient with MRN {mrn} at your sites")
    return found[mrn]


def measurement_in(row: MeasurementRow) -> MeasurementIn:
    return MeasurementIn.model_validate(
        {"kind": row.kind, "value": row.value, "measured_on": row.measured_on, "note": row.note}
    )


def reading_in(row: MeasurementRow) -> Any:
    from igflow.outcomes.schemas import ReadingIn

    return ReadingIn.model_validate(
        {
            "measure_id": row.kind,
            "value": row.value,
            "measured_on": row.measured_on,
            "method": row.method,
            "note": row.note,
        }
    )


def write_row(
    session: Session, principal: Principal, row: Row, sites: dict[str, int], payers: dict[str, int]
) -> None:
    """One row through its capability's service (which audits it); the service's commit is a savepoint."""
    if isinstance(row, PatientRow):
        data = row.data.model_copy(update={"site_ids": [sites[row.site_code]]})
        patients_service.create(session, principal, data)
    elif isinstance(row, PrescriberRow):
        directory_service.create_prescriber(session, principal.actor, row.data)
    elif isinstance(row, CoverageRow):
        data = row.data.model_copy(update={"payer_id": payers[row.payer_code]})
        coverage_service.add_coverage(session, principal, _patient_id(session, principal, row.mrn), data)
    elif row.kind in MEASUREMENT_KINDS:
        patient_id = _patient_id(session, principal, row.mrn)
        patients_service.add_measurement(session, principal, patient_id, measurement_in(row))
    else:
        from igflow.outcomes.service import add_reading

        if not principal.can(Perm.OUTCOME_WRITE):
            raise Forbidden(refusal(Perm.OUTCOME_WRITE))
        add_reading(session, principal, _patient_id(session, principal, row.mrn), reading_in(row))


Finish = Callable[[Session, ImportReport], None]


def write(
    db: Database,
    principal: Principal,
    kind: str,
    source: Source,
    report: ImportReport,
    progress: Progress,
    finish: Finish | None = None,
) -> None:
    """Pass 2: every row through its service in one transaction; committed only if all went in."""
    report.stage = "write"
    good = report.rows
    with db.engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            sites = {s.code.lower(): s.id for s in sites_service.list_sites(session)}
            payers = {p.code.lower(): p.id for p in directory_service.list_payers(session)}
            done = 0
            for item in source.open():
                if isinstance(item, RowError):  # the file changed since it was checked
                    report.add(item)
                    continue
                try:
                    write_row(session, principal, item, sites, payers)
                except IgflowError as exc:
                    session.rollback()
                    report.add(RowError(item.line, exc.message))
                except ValidationError as exc:
                    session.rollback()
                    report.add(RowError(item.line, "; ".join(schema_problems(exc))))
                except IntegrityError:
                    session.rollback()
                    report.add(
                        RowError(item.line, "conflicts with a record someone saved meanwhile; check it again")
                    )
                done += 1
                if done % 100 == 0:
                    session.expunge_all()  # keep the identity map small on a large file
                    progress(0.5 + 0.5 * done / max(good, 1), f"Wrote {done:,} of {good:,} rows")
            keep = report.error_count == 0 and not report.dry_run
            if keep:
                report.imported, report.committed = done, True
                _audit(session, principal, kind, source, report)
                if finish is not None:
                    finish(session, report)
                session.commit()
                outer.commit()
            else:
                session.close()
                outer.rollback()
        except BaseException:
            session.close()
            if outer.is_active:
                outer.rollback()
            raise
        finally:
            session.close()


def _audit(session: Session, principal: Principal, kind: str, source: Source, report: ImportReport) -> None:
    action = (
        "import.run"
        if report.committed
        else "import.dry_run"
        if report.error_count == 0
        else "import.rejected"
    )
    audit.record(
        session,
        principal.actor,
        action,
        "import",
        outcome="success" if report.error_count == 0 else "failure",
        detail={
            "kind": kind,
            "filename": source.filename,
            "sha256": source.sha256,
            "rows": report.rows,
            "imported": report.imported,
            "bad_rows": report.error_count,
            "dry_run": report.dry_run,
        },
    )


def run_import(
    db: Database,
    principal: Principal,
    kind: str,
    source: Source,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    finish: Finish | None = None,
) -> ImportReport:
    """Check, then (if every row is good) write in one transaction. ``finish(session, report)`` runs in the
    final transaction: the import's own when it commits, else a short one of its own (with the audit row)."""
    check_permission(principal, kind)
    step = progress or (lambda _fraction, _message: None)
    report = ImportReport(kind=kind, dry_run=dry_run)
    step(0.0, "Checking every row")
    check(db, principal, kind, source, report, step)
    if report.error_count == 0 and report.rows > 0:
        step(0.5, "Every row is good: writing")
        write(db, principal, kind, source, report, step, finish)
    if not report.committed:
        with db.session() as session:
            _audit(session, principal, kind, source, report)
            if finish is not None:
                finish(session, report)
            session.commit()
    step(1.0, "Imported" if report.committed else "Nothing written")
    return report


# --- uploads (the web page) -------------------------------------------------------------------------------


def store_upload(
    session: Session, principal: Principal, kind: str, filename: str, content: bytes, max_bytes: int
) -> ImportUpload:
    """Keep an uploaded file for its import job (committed, audited)."""
    check_permission(principal, kind)
    if not content:
        raise InvalidInput("file: the file is empty; choose the CSV (or bundle) file to import", "file")
    if len(content) > max_bytes:
        raise InvalidInput(
            f"file: {len(content) / 1048576:.1f} MiB is over the limit of {max_bytes / 1048576:.1f} MiB; "
            "split the file, or run 'igflow import' on the server (no limit there)",
            "file",
        )
    upload = ImportUpload(
        kind=kind,
        filename=(filename or "upload")[:200],
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by_user_id=principal.user_id,
    )
    session.add(upload)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "import.upload",
        "import_upload",
        upload.id,
        detail={"kind": kind, "bytes": len(content)},
    )
    session.commit()
    return upload


def load_upload(session: Session, principal: Principal, upload_id: int) -> ImportUpload:
    upload = session.get(ImportUpload, upload_id)
    if upload is None or upload.uploaded_by_user_id != principal.user_id:
        raise NotFound(f"upload {upload_id} not found")
    return upload


def today() -> date:
    return utcnow().date()
