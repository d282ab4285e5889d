"""Time single page views in-process and count their SQL statements (pyinstrument samples only the
calling thread, and sync routes run in a worker thread: profile the service calls with
``profile_services.py``).

    IGFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/igflow_prof \
        .venv/bin/python benchmarks/api/profile_pages.py /verification-queue /inventory --user pharmacist

Signs in through the login form with the demo's password, warms each page once, then reports the median
of ``--repeat`` views and the statements per view. Point PYTHONPATH at another checkout's ``src`` to time
it.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from igflow.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STATEMENTS = [0]


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args: object) -> None:
    STATEMENTS[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--user", default="pharmacist")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    client = TestClient(create_app())
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    client.post(
        "/login",
        data={"username": args.user, "password": f"demo-{args.user}-2026", "csrf_token": token.group(1)},
    )
    for path in args.paths:
        assert client.get(path).status_code == 200, path
        times, counts = [], []
        for _ in range(args.repeat):
            STATEMENTS[0] = 0
            start = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            counts.append(STATEMENTS[0])
        print(f"{path}: median {statistics.median(times):.0f} ms, {statistics.median(counts):.0f} statements")


if __name__ == "__main__":
    main()
