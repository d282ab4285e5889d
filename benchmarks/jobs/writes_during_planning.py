"""Chair-side write latency with and without a 20 s planning run solving in the background (SQLite).

Runs the real thing: ``igflow serve --no-worker`` and ``igflow worker`` as separate processes on one SQLite
file database (the ``make demo`` layout), nurses writing weights through the JSON API, a scheduler
starting a planning run that frees every booked appointment of a 28-day horizon (a whole re-plan).

    .venv/bin/python benchmarks/jobs/writes_during_planning.py --workdir /tmp/igflow-bench

The first run loads a demo network big enough for >= 1,500 sessions (a few minutes); later runs reuse it.
Prints a Markdown table and writes ``results.json`` beside this file.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
HERE = Path(__file__).parent


class Client:
    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = self.opener.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no sign-in form"
        data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token[1]})
        self.opener.open(f"{base}/login", data=data.encode())
        home = self.opener.open(f"{base}/").read().decode()
        meta = re.search(r'name="csrf-token" content="([^"]+)"', home)
        assert meta and meta[1], f"{username} did not sign in"
        self.csrf = meta[1]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf},
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()[:200]


def _writes(
    client: Client, patient_ids: list[int], stop: threading.Event, out: list[tuple[float, int]]
) -> None:
    i = 0
    while not stop.is_set():
        pid = patient_ids[i % len(patient_ids)]
        began = time.perf_counter()
        try:
            status, _ = client.call(
                "POST",
                f"/api/v1/patients/{pid}/measurements",
                {"kind": "weight_kg", "value": 70 + (i % 10) / 10, "measured_on": "2026-11-02"},
            )
        except Exception:
            status = 0
        out.append(((time.perf_counter() - began) * 1000, status))
        i += 1
        time.sleep(0.05)


def _phase(
    clients: list[Client], patient_ids: list[int], seconds: float | None, until: Any = None
) -> list[tuple[float, int]]:
    stop = threading.Event()
    results: list[list[tuple[float, int]]] = [[] for _ in clients]
    threads = [
        threading.Thread(target=_writes, args=(c, patient_ids[k :: len(clients)], stop, results[k]))
        for k, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    if seconds is not None:
        time.sleep(seconds)
    else:
        until()
    stop.set()
    for t in threads:
        t.join()
    return [r for rs in results for r in rs]


def _figures(samples: list[tuple[float, int]]) -> dict[str, Any]:
    ms = sorted(s[0] for s in samples)
    q = statistics.quantiles(ms, n=100)
    errors = sum(1 for _, status in samples if status != 201)
    return {
        "writes": len(ms),
        "errors": errors,
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", default="/tmp/igflow-bench")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=700)
    parser.add_argument("--time-limit", type=float, default=20)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "igflow.db"
    env = {**os.environ, "IGFLOW_DATABASE_URL": f"sqlite:///{db_path}"}
    if not db_path.exists():
        subprocess.run([BIN / "igflow", "db", "upgrade"], env=env, check=True)
        subprocess.run(
            [BIN / "igflow", "demo", "--patients", str(args.patients), "--orders", str(args.orders)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with sqlite3.connect(db_path) as con:
        patient_ids = [r[0] for r in con.execute("select id from patient order by id limit 400")]
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [BIN / "igflow", "serve", "--no-worker", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [BIN / "igflow", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/login", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        nurses = [Client(base, "nurse", "demo-nurse-2026") for _ in range(args.writers)]
        scheduler = Client(base, "scheduler", "demo-scheduler-2026")
        baseline = _phase(nurses, patient_ids, seconds=args.time_limit)

        today = time.strftime("%Y-%m-%d", time.gmtime())
        with sqlite3.connect(db_path) as con:
            booked = [
                r[0]
                for r in con.execute(
                    "select id from appointment where status='booked' and date >= ? order by id", (today,)
                )
            ]
        status, job = scheduler.call(
            "POST",
            "/api/v1/planning-runs",
            {
                "start_date": today,
                "days": 28,
                "time_limit_s": args.time_limit,
                "free_appointment_ids": booked,
            },
        )
        assert status == 202, job
        state: dict[str, Any] = {}

        def until_done() -> None:
            while True:
                _, current = scheduler.call("GET", f"/api/v1/jobs/{job['id']}")
                state.update(current)
                if current["state"] not in ("queued", "running"):
                    return
                time.sleep(0.5)

        began = time.monotonic()
        during = _phase(nurses, patient_ids, seconds=None, until=until_done)
        elapsed = time.monotonic() - began
    finally:
        server.terminate()
        worker.terminate()
        server.wait()
        worker.wait()
    result = {
        "baseline": _figures(baseline),
        "during_planning": _figures(during),
        "planning": {
            "state": state.get("state"),
            "sessions": (state.get("result") or {}).get("sessions"),
            "scheduled": (state.get("result") or {}).get("scheduled"),
            "time_limit_s": args.time_limit,
            "job_wall_s": round(elapsed, 1),
            "freed_appointments": len(booked),
        },
        "writers": args.writers,
    }
    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| phase | writes | errors | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in ("baseline", "during_planning"):
        f = result[name]
        cells = [name] + [str(f[k]) for k in ("writes", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms")]
        print("| " + " | ".join(cells) + " |")
    print(json.dumps(result["planning"]))


if __name__ == "__main__":
    main()
