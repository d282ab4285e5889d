"""Profile the service calls behind the slow pages (pyinstrument samples the calling thread only, so the
pages' service functions are called here directly, with the pharmacist's principal).

    IGFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/igflow_prof \
        .venv/bin/python benchmarks/api/profile_services.py --label after

Writes ``results/<label>-service-<name>.txt`` (pyinstrument text) and prints the median time and SQL
statements per call. The inventory page's six reports are timed one by one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from igflow.config import get_settings
from igflow.db import Database
from igflow.inventory import service as inventory
from igflow.orders import service as orders
from igflow.security.models import User
from igflow.security.service import principal_for_user

STATEMENTS = [0]


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args: object) -> None:
    STATEMENTS[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="profile")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    database = Database(get_settings().database_url)
    with database.session() as session:
        user = session.execute(select(User).where(User.username == "pharmacist")).scalar_one()
        principal = principal_for_user(user, client_address="127.0.0.1")
    today = dt.date.today()
    calls: dict[str, Callable[[Any], Any]] = {
        "orders.queue": lambda s: orders.queue(s, principal),
        "orders.list_for_patient": lambda s: orders.list_for_patient(s, principal, 1),
        "inventory.expiring": lambda s: inventory.expiring(s, principal, today, 90),
        "inventory.stock_by_site": lambda s: inventory.stock_by_site(s, principal),
        "inventory.pick_list": lambda s: inventory.pick_list(s, principal, 1, today),
        "inventory.shortfalls": lambda s: inventory.shortfalls(s, principal, today, 7),
        "inventory.shortage": lambda s: inventory.shortage(s, principal, today, 14),
        "inventory.reorder": lambda s: inventory.reorder(s, principal, today, 14),
    }
    for name, call in calls.items():
        with database.session() as session:
            call(session)  # warm
        times, counts = [], []
        for _ in range(args.repeat):
            with database.session() as session:
                STATEMENTS[0] = 0
                start = time.perf_counter()
                call(session)
                times.append((time.perf_counter() - start) * 1000)
                counts.append(STATEMENTS[0])
        profiler = Profiler(interval=0.0005)
        with database.session() as session:
            profiler.start()
            call(session)
            profiler.stop()
        (args.out / f"{args.label}-service-{name}.txt").write_text(
            profiler.output_text(unicode=False, color=False)
        )
        print(f"{name}: median {statistics.median(times):.1f} ms, {statistics.median(counts):.0f} statements")


if __name__ == "__main__":
    main()
