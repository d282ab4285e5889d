"""Patient search on a large network, in-process: the service call behind ``/patients?q=`` per query,
timed serially (median and p95 of ``--repeat`` rounds over the queries), with PostgreSQL's plan.

    IGFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/igflow_bench_100k \
        .venv/bin/python benchmarks/api/bench_search.py --label after

Build the network with ``igflow demo --patients 100000 --orders 0`` first.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import select, text

from igflow.config import get_settings
from igflow.db import Database
from igflow.patients import service as patients
from igflow.security.models import User
from igflow.security.service import principal_for_user

QUERIES = ("an", "son", "mar", "li", "ber", "smith", "ro", "wil", "garcia", "ka", "ne", "ann lee")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="search")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page", type=int, default=1)
    args = parser.parse_args()
    database = Database(get_settings().database_url)
    with database.session() as session:
        user = session.execute(select(User).where(User.username == "intake")).scalar_one()
        principal = principal_for_user(user, client_address="127.0.0.1")
        total = session.execute(text("select count(*) from patient")).scalar_one()
    print(f"{args.label}: {total} patients, page {args.page}")
    times: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(args.repeat):
        for q in QUERIES:
            with database.session() as session:
                start = time.perf_counter()
                result = patients.search(session, principal, q=q, page=args.page)
                times[q].append((time.perf_counter() - start) * 1000)
    every = sorted(t for ts in times.values() for t in ts)
    for q, ts in times.items():
        print(f"  q={q!r}: median {statistics.median(ts):.0f} ms")
    p95 = every[int(0.95 * (len(every) - 1))]
    print(f"  all: median {statistics.median(every):.0f} ms, p95 {p95:.0f} ms, last total {result.total}")


if __name__ == "__main__":
    main()
