"""A realistic staff day against a running igflow (the demo network): locust users sign in once through
the login form, then click through pages with 0.5-1.5 s think time, as people at a desk or a chair do.

    .venv/bin/locust -f benchmarks/api/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 50 -r 10 -t 60s --csv /tmp/igflow-50u

Roles (weights are how many of each a centre has): front desk (search, chart), nurses (chair day list,
chair board, chart entries, weights), schedulers (schedule, board, load, booking a waiting course) and
pharmacists (verification queue, order pages, verifying, inventory). Each request is named by its page
template (``/patients/[id]``) so locust reports one line per page. A 5xx, or a 401/403/404, is an error; a
409 or 422 is a business answer (someone else booked or verified first) and counts as a response.

The demo's logins are used (``demo-<username>-2026``); only synthetic data is touched.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import date
from typing import Any

from locust import HttpUser, between, task

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PATIENT_LINK = re.compile(r'href="/patients/(\d+)"')
ORDER_LINK = re.compile(r'href="/orders/(\d+)"')
COURSE_LINK = re.compile(r'href="/courses/(\d+)"')
RECORD_LINK = re.compile(r'href="/chair/records/(\d+)"')
CHECK_IN = re.compile(r'action="/chair/appointments/(\d+)/check-in"')
VERSION = re.compile(r'name="version" value="(\d+)"')
RECOMPUTE = re.compile(r'action="(/orders/\d+/plan)"')
BOOK_FORM = re.compile(r'<form method="post" action="(/courses/\d+/book)".*?</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
READY_ORDER = re.compile(r'name="order_id" value="(\d+)"')

# Name fragments a front desk types (surname starts and infixes, MRN digits).
SEARCHES = ("an", "son", "mar", "li", "el", "ber", "ch", "ro", "MRN", "00", "ka", "ne", "st", "wi")
SITES = (1, 2, 3)
OK_BUSINESS = (409, 422)


class Staff(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)
    username = ""
    csrf = ""

    def on_start(self) -> None:
        page = self.client.get("/login", name="/login")
        token = CSRF.search(page.text)
        password = f"demo-{self.username.replace('.', '-')}-2026"
        self.client.post(
            "/login",
            data={
                "username": self.username,
                "password": password,
                "csrf_token": token.group(1) if token else "",
            },
            name="POST /login",
        )
        self.patients: list[int] = []

    def page(self, path: str, name: str) -> str:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code >= 400:
                response.failure(f"{response.status_code}")
                return ""
            found = CSRF.search(response.text)
            if found:
                self.csrf = found.group(1)
            response.success()
            return response.text

    def post(self, path: str, name: str, data: dict[str, Any] | list[tuple[str, Any]]) -> str:
        if isinstance(data, dict):
            data = list(data.items())
        data = [*data, ("csrf_token", self.csrf)]
        with self.client.post(path, data=data, name=name, catch_response=True) as response:
            if response.status_code >= 400 and response.status_code not in OK_BUSINESS:
                response.failure(f"{response.status_code}")
                return ""
            response.success()
            return response.text

    def search_and_open_chart(self) -> int | None:
        text = self.page(f"/patients?q={random.choice(SEARCHES)}", "/patients?q=")
        ids = [int(i) for i in PATIENT_LINK.findall(text)]
        if not ids:
            return None
        patient_id = random.choice(ids)
        self.page(f"/patients/{patient_id}", "/patients/[id]")
        self.patients = [*self.patients, patient_id][-20:]
        return patient_id


class FrontDesk(Staff):
    weight = 3
    username = "intake"

    @task(5)
    def search(self) -> None:
        self.search_and_open_chart()

    @task(2)
    def list_page(self) -> None:
        self.page(f"/patients?page={random.randint(1, 10)}", "/patients?page=")

    @task(1)
    def referrals(self) -> None:
        self.page("/referrals", "/referrals")


class Nurse(Staff):
    weight = 4
    username = "nurse"

    @task(4)
    def chair_day(self) -> None:
        site = random.choice(SITES)
        text = self.page(f"/chair?site={site}", "/chair?site=")
        records = RECORD_LINK.findall(text)
        check_ins = CHECK_IN.findall(text)
        if check_ins and (not records or random.random() < 0.2):
            self.post(f"/chair/appointments/{random.choice(check_ins)}/check-in", "POST check-in", {})
            return
        if records:
            record = random.choice(records)
            self.page(f"/chair/records/{record}", "/chair/records/[id]")
            kind = random.choice(("vitals", "vitals", "note"))
            data: dict[str, Any] = {"kind": kind, "client_id": uuid.uuid4().hex}
            if kind == "vitals":
                data |= {
                    "systolic_bp_mmhg": random.randint(105, 140),
                    "diastolic_bp_mmhg": random.randint(60, 90),
                    "heart_rate_bpm": random.randint(60, 95),
                    "temperature_c": round(random.uniform(36.3, 37.4), 1),
                }
            else:
                data["text"] = "Comfortable, tolerating the infusion."
            self.post(f"/chair/records/{record}/entries", "POST chart entry", data)

    @task(2)
    def board(self) -> None:
        self.page(f"/board?site={random.choice(SITES)}", "/board?site=")

    @task(2)
    def chart_and_weight(self) -> None:
        patient_id = self.search_and_open_chart()
        if patient_id is not None and random.random() < 0.3:
            self.post(
                f"/patients/{patient_id}/measurements",
                "POST measurement",
                {
                    "kind": "weight_kg",
                    "value": round(random.uniform(50, 95), 1),
                    "measured_on": date.today().isoformat(),
                    "note": "clinic scale",
                },
            )

    @task(1)
    def task_list(self) -> None:
        self.page("/tasks", "/tasks")


class Scheduler(Staff):
    weight = 2
    username = "scheduler"

    @task(3)
    def schedule(self) -> None:
        text = self.page("/schedule", "/schedule")
        courses = COURSE_LINK.findall(text)
        ready = READY_ORDER.findall(text)
        if ready and random.random() < 0.3:
            self.post("/schedule/courses", "POST course", {"order_id": random.choice(ready)})
        elif courses and random.random() < 0.5:
            course = random.choice(courses)
            page = self.page(f"/courses/{course}", "/courses/[id]")
            form = BOOK_FORM.search(page)
            if form:
                fields = [(k, v) for k, v in HIDDEN.findall(form.group(0)) if k != "csrf_token"]
                self.post(form.group(1), "POST book", fields)

    @task(3)
    def board(self) -> None:
        self.page(f"/board?site={random.choice(SITES)}", "/board?site=")

    @task(1)
    def load(self) -> None:
        self.page(f"/load?site={random.choice(SITES)}", "/load?site=")


class Pharmacist(Staff):
    weight = 2
    username = "pharmacist"

    @task(3)
    def verify_from_queue(self) -> None:
        text = self.page("/verification-queue", "/verification-queue")
        orders = ORDER_LINK.findall(text)
        if not orders:
            return
        order = random.choice(orders)
        page = self.page(f"/orders/{order}", "/orders/[id]")
        recompute = RECOMPUTE.search(page)
        if recompute:  # the plan is out of date: recompute it (a POST), then read the new version
            page = self.post(recompute.group(1), "POST recompute plan", {})
        version = VERSION.search(page)
        if version and random.random() < 0.5:
            self.post(
                f"/orders/{order}/verify",
                "POST verify",
                {"version": version.group(1), "decision": "verified", "note": "checked (benchmark)"},
            )

    @task(2)
    def inventory(self) -> None:
        self.page("/inventory", "/inventory")

    @task(1)
    def chart(self) -> None:
        self.search_and_open_chart()
