"""N people sign in at the same moment (8:00 at a centre), while a few others read pages.

    .venv/bin/python benchmarks/api/signin_burst.py --url http://127.0.0.1:8765 --users 100

Every client first opens /login (its pre-login CSRF cookie and token), then all POST /login together
behind a barrier, as the demo's staff users (``demo-<username>-2026``). Meanwhile ``--readers`` signed-in
nurses keep opening their day list, so the figure shows what a burst does to everyone else. Prints the
status counts, sign-in p50/p95/max and the readers' p50/p95 during the burst and after it (the baseline,
same run). A 5xx is an error; 303 is a signed-in user.
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time

import httpx2 as httpx  # the HTTP client the test dependencies install

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STAFF = ("nurse", "pharmacist", "scheduler", "intake", "admin")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _signed_in(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=120)
    token = CSRF.search(client.get("/login").text)
    password = f"demo-{username.replace('.', '-')}-2026"
    client.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1)})
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--reader-path", default="/chair")
    args = parser.parse_args()

    clients = []
    for k in range(args.users):
        client = httpx.Client(base_url=args.url, follow_redirects=False, timeout=120)
        token = CSRF.search(client.get("/login").text)
        assert token, "the sign-in page carries a CSRF token"
        clients.append((client, STAFF[k % len(STAFF)], token.group(1)))
    readers = [_signed_in(args.url, "nurse") for _ in range(args.readers)]

    barrier = threading.Barrier(args.users + 1)
    statuses: list[int] = []
    seconds: list[float] = []
    lock = threading.Lock()
    burst_over = threading.Event()
    reads: dict[str, list[float]] = {"during": [], "after": []}
    read_errors: list[int] = []

    def sign_in(client: httpx.Client, username: str, token: str) -> None:
        password = f"demo-{username}-2026"
        barrier.wait()
        began = time.perf_counter()
        try:
            status = client.post(
                "/login", data={"username": username, "password": password, "csrf_token": token}
            ).status_code
        except httpx.HTTPError:
            status = 0
        with lock:
            statuses.append(status)
            seconds.append(time.perf_counter() - began)

    def read(client: httpx.Client, stop: threading.Event) -> None:
        while not stop.is_set():
            phase = "after" if burst_over.is_set() else "during"
            began = time.perf_counter()
            status = client.get(args.reader_path).status_code
            with lock:
                reads[phase].append(time.perf_counter() - began)
                if status >= 500:
                    read_errors.append(status)
            time.sleep(0.05)

    stop = threading.Event()
    reader_threads = [threading.Thread(target=read, args=(c, stop)) for c in readers]
    threads = [threading.Thread(target=sign_in, args=c) for c in clients]
    for t in threads + reader_threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    burst_s = time.perf_counter() - began
    burst_over.set()
    time.sleep(max(3.0, burst_s / 2))
    stop.set()
    for t in reader_threads:
        t.join()

    counts: dict[int, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    print(
        f"{args.users} simultaneous sign-ins: statuses {dict(sorted(counts.items()))}; burst {burst_s:.1f} s"
    )
    print(
        f"sign-in p50 {statistics.median(seconds) * 1000:.0f} ms, p95 {_pct(seconds, 0.95) * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms"
    )
    for phase in ("during", "after"):
        values = reads[phase]
        print(
            f"{args.reader_path} ({args.readers} readers) {phase} the burst: {len(values)} requests, "
            f"p50 {_pct(values, 0.5) * 1000:.0f} ms, p95 {_pct(values, 0.95) * 1000:.0f} ms"
        )
    print(
        f"reader 5xx: {len(read_errors)}; sign-in errors (5xx or no answer): "
        f"{sum(n for s, n in counts.items() if s >= 500 or s == 0)}"
    )


if __name__ == "__main__":
    main()
