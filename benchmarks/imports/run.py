"""Time to import a synthetic patient CSV (100,000 rows by default), against a same-run baseline.

    .venv/bin/python benchmarks/imports/run.py                    # SQLite (a file in a temporary folder)
    .venv/bin/python benchmarks/imports/run.py --postgres         # also PostgreSQL at 127.0.0.1:5432
    .venv/bin/python benchmarks/imports/run.py --rows 20000 --out /tmp/r.json

Each backend gets a fresh migrated database (PostgreSQL: one created on the server and dropped at the end)
with two sites and an intake user. The file is generated from a seed (synthetic names, no real person), then
timed three ways in the same run:

- ``parse``: reading and validating every row with the pure CSV layer only (the baseline);
- ``check``: pass 1 alone (a dry run that stops at the check: parsing plus the per-chunk look-ups);
- ``import``: the whole import (check, then every row through ``patients.service.create`` with its audit row,
  in one transaction, committed).

Figures: seconds, rows per second, and each as a ratio to the parse baseline; peak memory of the process
(ru_maxrss) after the run, to show the file was streamed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import igflow.models  # noqa: F401 - every table
from igflow.cli.imports import file_source
from igflow.db import Database
from igflow.imports import service
from igflow.imports.columns import PatientRow, parse_rows, text_stream, to_csv
from igflow.migrate import upgrade
from igflow.patients.models import Patient
from igflow.security import service as security_service
from igflow.security.models import User, UserRole
from igflow.sites.models import Site

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GIVEN = ["Alex", "Maja", "Chidi", "Priya", "Jonas", "Ines", "Tomas", "Aiko", "Lena", "Omar", "Rosa", "Emil"]
FAMILY = ["Rivera", "Lindqvist", "Okafor", "Nair", "Berg", "Costa", "Novak", "Sato", "Haddad", "Moreau"]


def write_file(path: Path, rows: int, seed: int) -> int:
    rng = random.Random(seed)

    def row(i: int) -> dict[str, Any]:
        return {
            "mrn": f"SYN-{i:07d}",
            "family_name": rng.choice(FAMILY),
            "given_name": rng.choice(GIVEN),
            "date_of_birth": f"{rng.randint(1930, 2015)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "sex": rng.choice(["female", "male"]),
            "site_code": rng.choice(["north", "south"]),
            "phone": f"+1 503 555 {rng.randint(0, 9999):04d}",
            "allergies": rng.choice(["", "", "Penicillin", "Latex"]),
            "diabetes": rng.random() < 0.1,
        }

    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(to_csv("patients", []))
        for start in range(0, rows, 5000):
            chunk = to_csv("patients", (row(i) for i in range(start, min(rows, start + 5000))))
            handle.write(chunk.split("\n", 1)[1])
    return path.stat().st_size


def _setup(url: str) -> tuple[Database, Any]:
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        for code, name in (("north", "North Centre"), ("south", "South Centre")):
            session.add(
                Site(
                    code=code, name=name, kind="centre", address="1 Test Way", timezone="America/Los_Angeles"
                )
            )
        user = User(username="bench.intake", display_name="Bench Intake", password_hash="x")
        user.roles = [UserRole(role="intake")]
        session.add(user)
        session.commit()
        principal = security_service.principal_for_user(user, client_address="bench")
    return db, principal


def _time(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def parse_only(path: Path) -> int:
    good = 0
    with path.open("rb") as binary:
        for item in parse_rows("patients", text_stream(binary)):
            good += isinstance(item, PatientRow)
    return good


def check_only(db: Database, principal: Any, path: Path) -> service.ImportReport:
    report = service.ImportReport(kind="patients", dry_run=True)
    service.check(db, principal, "patients", file_source("patients", path), report, lambda _f, _m: None)
    return report


def bench(label: str, url: str, path: Path, rows: int) -> dict[str, Any]:
    db, principal = _setup(url)
    try:
        parse_s, good = _time(lambda: parse_only(path))
        assert good == rows, good
        check_s, checked = _time(lambda: check_only(db, principal, path))
        assert checked.error_count == 0, checked.errors[:3]
        import_s, report = _time(
            lambda: service.run_import(db, principal, "patients", file_source("patients", path))
        )
        assert report.committed and report.imported == rows, report.summary()
        with db.session() as session:
            stored = session.execute(select(func.count()).select_from(Patient)).scalar_one()
        assert stored == rows
    finally:
        db.dispose()
    out = {
        "backend": label,
        "rows": rows,
        "parse_s": round(parse_s, 2),
        "check_s": round(check_s, 2),
        "import_s": round(import_s, 2),
        "parse_rows_per_s": round(rows / parse_s),
        "check_rows_per_s": round(rows / check_s),
        "import_rows_per_s": round(rows / import_s),
        "check_over_parse": round(check_s / parse_s, 2),
        "import_over_parse": round(import_s / parse_s, 2),
    }
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL (--server)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite (with --postgres)")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "patients.csv"
        size = write_file(path, args.rows, args.seed)
        print(f"{args.rows:,} rows, {size / 1048576:.1f} MiB", flush=True)
        if not args.no_sqlite:
            results.append(bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", path, args.rows))
        if args.postgres:
            name = f"igflow_bench_imports_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.server, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
            try:
                results.append(bench("postgresql", url, path, args.rows))
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    doc = {
        "file_mib": round(size / 1048576, 1),
        "peak_rss_mib": round(peak_mib),
        "cpus": os.cpu_count(),
        "load_avg_at_end": [round(x, 1) for x in os.getloadavg()],
        "results": results,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
