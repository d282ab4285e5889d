"""Audited-read throughput on PostgreSQL: N threads, each doing "read a patient, append an audit row,
commit" in a loop, as every chart and list page does.

Runs against whichever igflow is importable, so the same script measures an older checkout too::

    git archive <commit> src | tar -x -C /tmp/igflow-before
    PYTHONPATH=/tmp/igflow-before/src .venv/bin/python benchmarks/audit/audited_reads.py --label before
    .venv/bin/python benchmarks/audit/audited_reads.py --label after

Each run creates its own database on the server (``--server``), migrates it, and drops it at the end.
When the imported igflow has a sealer (``audit.seal_pending``), a sealer thread seals and signs a
checkpoint every ``--seal-every`` seconds during the measurement, as the background job would, and the
chain is verified at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

import igflow.models  # noqa: F401 - every table
from igflow.db import make_engine
from igflow.migrate import upgrade
from igflow.patients.models import Patient
from igflow.security import audit
from igflow.security.audit import Actor

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _create_database(server: str) -> str:
    name = f"igflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _drop_database(server: str, url: str) -> None:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _patients(factory: Any, n: int) -> list[int]:
    with factory() as session:
        rows = [
            Patient(
                mrn=f"BENCH{i:05d}",
                given_name="Synthetic",
                family_name=f"Patient{i}",
                search_name=f"patient{i} synthetic",
                date_of_birth=date(1970, 1, 1),
                sex="female",
            )
            for i in range(n)
        ]
        session.add_all(rows)
        session.commit()
        return [p.id for p in rows]


def _measure(factory: Any, patient_ids: list[int], threads: int, seconds: float) -> dict[str, Any]:
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []

    def worker(k: int) -> None:
        actor = Actor(k + 1, f"bench{k}", "10.0.0.1")
        barrier.wait()
        i = k
        while not stop.is_set():
            pid = patient_ids[i % len(patient_ids)]
            i += threads
            started = time.perf_counter()
            try:
                with factory() as session:
                    session.get(Patient, pid)
                    audit.record(session, actor, "patient.read", "patient", pid, patient_id=pid)
                    session.commit()
            except Exception as exc:  # pragma: no cover - reported
                errors.append(repr(exc))
                continue
            latencies[k].append(time.perf_counter() - started)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for per in latencies for x in per)
    return {
        "threads": threads,
        "requests": len(flat),
        "errors": len(errors),
        "requests_per_s": round(len(flat) / elapsed, 1),
        "p50_ms": round(statistics.median(flat) * 1000, 2) if flat else None,
        "p95_ms": round(flat[int(0.95 * (len(flat) - 1))] * 1000, 2) if flat else None,
    }


def _sealer(factory: Any, signer: Any, every: float, stop: threading.Event, totals: dict[str, int]) -> None:
    """What the background job does: seal every ``every`` seconds, skipping a run when another is busy."""
    while not stop.wait(every):
        with factory() as session:
            totals["sealed"] += audit.seal_pending(session, signer).sealed  # type: ignore[attr-defined]
        totals["runs"] += 1
    with factory() as session:
        totals["sealed"] += audit.seal_pending(session, signer, wait=True).sealed  # type: ignore[attr-defined]


def _verify(factory: Any, signer: Any) -> dict[str, Any]:
    with factory() as session:
        if signer is None:
            result = audit.verify_chain(session)
            return {"verify_ok": result.ok, "rows_checked": result.rows_checked}
        from igflow.security.audit_verify import verify_log

        report = verify_log(session, signer.public_key)
        return {"verify_ok": report.ok, "rows_checked": report.rows_checked, "unsealed": report.unsealed_rows}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL (a database is made)")
    parser.add_argument("--threads", default="1,4,8,16", help="comma-separated thread counts")
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement per thread count")
    parser.add_argument("--seal-every", type=float, default=1.0, help="sealer period (when there is one)")
    parser.add_argument("--label", default="", help="name of this run in the output")
    parser.add_argument("--out", type=Path, help="append the JSON result to this file")
    args = parser.parse_args()

    counts = [int(x) for x in args.threads.split(",")]
    url = _create_database(args.server)
    signer = None
    if hasattr(audit, "seal_pending"):
        from igflow.security.signing import Signer

        signer = Signer.generate()  # a throwaway key for the benchmark
    try:
        upgrade(url)
        engine = make_engine(url, pool_size=max(counts) + 2, max_overflow=0)
        factory = sessionmaker(engine, expire_on_commit=False)
        patient_ids = _patients(factory, 200)
        results = []
        for threads in counts:
            stop = threading.Event()
            totals = {"sealed": 0, "runs": 0}
            sealer = None
            if signer is not None:
                sealer = threading.Thread(
                    target=_sealer, args=(factory, signer, args.seal_every, stop, totals)
                )
                sealer.start()
            row = _measure(factory, patient_ids, threads, args.seconds)
            if sealer is not None:
                stop.set()
                sealer.join()
                row["sealer_runs"] = totals["runs"]
                row["rows_sealed"] = totals["sealed"]
            results.append(row)
            print(json.dumps({"label": args.label, **row}), flush=True)
        verified = _verify(factory, signer)
        print(json.dumps({"label": args.label, **verified}), flush=True)
        engine.dispose()
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps({"label": args.label, "results": results, **verified}) + "\n")
    finally:
        _drop_database(args.server, url)


if __name__ == "__main__":
    main()
