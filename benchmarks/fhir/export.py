"""FHIR Bulk Data $export of the demo network: resources per second, against a same-run baseline.

What is measured (same database, same requester, same process, one after the other, ``--repeat`` times):

- **export**: a system-level ``$export`` kicked off through the service (as the route does) on a queue that
  keeps it waiting, then run to its end by the job runner (``igflow.jobs.runner.execute``): streaming every
  type's search sources, NDJSON files written, the audit rows (one for the export, one per patient) and the
  job's completion. Resources per second = resources in the manifest / the job's wall time.
- **search paging** (the baseline): the same types through ``engine.search`` page after page
  (``_count=200``, the server's largest page), each resource serialised to JSON as a search response
  would, each page audited as FHIR search audits it. The same resources, the way a client without
  ``$export`` would have to fetch them (without HTTP, as the export is measured without it too).

Usage (a fresh SQLite file; loads ``igflow demo``'s network first, which takes a while)::

    PYTHONPATH=src .venv/bin/python benchmarks/fhir/export.py --patients 250 --orders 120 --repeat 3

PostgreSQL: ``--database-url postgresql+psycopg://postgres@127.0.0.1:5432/<an empty database>``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import igflow.models  # noqa: F401 - every table
from igflow.db import Database
from igflow.demo.network import load_demo
from igflow.fhir.bulk import service as export_service
from igflow.fhir.bulk.models import BulkExport, BulkExportFile
from igflow.fhir.search import MAX_COUNT, Params
from igflow.fhir.service import engine
from igflow.fhir.service.registry import BY_NAME
from igflow.jobs.queue import JobQueue
from igflow.jobs.runner import execute
from igflow.migrate import upgrade
from igflow.security import service as security_service
from igflow.security.models import User
from igflow.security.principal import Principal


def _principal(db: Database, username: str) -> Principal:
    with db.session() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        return security_service.principal_for_user(user, client_address="benchmark")


def run_export(
    db: Database, queue: JobQueue, principal: Principal, types: str = ""
) -> tuple[float, int, dict[str, int]]:
    items = [("_type", types)] if types else []
    with db.session() as session:
        export = export_service.kickoff(
            session, queue, principal, "system", None, items, "respond-async", "bench://$export", 24.0
        )
        pk, job_id = export.id, export.job_id
    assert job_id is not None
    started = time.perf_counter()
    execute(db, job_id)
    seconds = time.perf_counter() - started
    with db.session() as session:
        rows = session.execute(
            select(BulkExportFile.resource_type, func.sum(BulkExportFile.count))
            .where(BulkExportFile.export_pk == pk, BulkExportFile.resource_type != "OperationOutcome")
            .group_by(BulkExportFile.resource_type)
        ).all()
        export_row = session.get(BulkExport, pk)
        assert export_row is not None
        types = list(export_row.types)
    counts = {t: int(n) for t, n in rows}
    return seconds, sum(counts.values()), {t: counts.get(t, 0) for t in types}


def run_search(db: Database, principal: Principal, types: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    seen = 0
    for name in types:
        kind = BY_NAME[name]
        offset = 0
        while True:
            with db.session() as session:
                total, items = engine.search(
                    session, principal, kind, Params(name, count=MAX_COUNT, offset=offset)
                )
                for item in items:
                    item.resource.model_dump_json()
            seen += len(items)
            offset += MAX_COUNT
            if offset >= total or not items:
                break
    return time.perf_counter() - started, seen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--patients", type=int, default=250)
    parser.add_argument("--orders", type=int, default=120)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--user", default="pharmacist", help="the demo user who exports")
    parser.add_argument("--types", default="", help="_type of the export (default: every type allowed)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='igflow-export-')}/bench.db"
    upgrade(url)
    db = Database(url)
    loading = time.perf_counter()
    load_demo(db, seed=args.seed, patients=args.patients, orders=args.orders)
    load_s = time.perf_counter() - loading
    principal = _principal(db, args.user)
    queue = JobQueue("memory://", db)

    # warm-up, not measured: the catalog is read once per process, the mappers' imports, SQLite's cache
    run_search(db, principal, [k.name for k in BY_NAME.values() if export_service.may_search(principal, k)])

    exports: list[dict[str, Any]] = []
    searches: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for _ in range(args.repeat):
        seconds, resources, counts = run_export(db, queue, principal, args.types)
        exports.append({"seconds": round(seconds, 3), "resources": resources})
        s_seconds, s_resources = run_search(db, principal, list(counts))
        searches.append({"seconds": round(s_seconds, 3), "resources": s_resources})
        print(
            f"export {resources} resources in {seconds:.2f} s ({resources / seconds:.0f}/s); "
            f"search paging {s_resources} in {s_seconds:.2f} s ({s_resources / s_seconds:.0f}/s)",
            flush=True,
        )
    export_rps = statistics.median(e["resources"] / e["seconds"] for e in exports)
    search_rps = statistics.median(s["resources"] / s["seconds"] for s in searches)
    result = {
        "database": url.split(":", 1)[0],
        "demo": {
            "patients": args.patients,
            "orders": args.orders,
            "seed": args.seed,
            "load_s": round(load_s),
        },
        "user": args.user,
        "types": args.types or "all the user may search",
        "counts": counts,
        "export_runs": exports,
        "search_runs": searches,
        "export_resources_per_s": round(export_rps),
        "search_paging_resources_per_s": round(search_rps),
        "ratio_export_to_search": round(export_rps / search_rps, 2),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    queue.flush()
    db.dispose()


if __name__ == "__main__":
    main()
