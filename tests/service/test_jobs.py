"""Background jobs: the state machine, planning runs through a real worker, cancel, restart survival, and
chair-side writes that go on while a planning run solves (SQLite file database)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from igflow.appointments import service as appointments_service
from igflow.db import utcnow
from igflow.errors import Conflict
from igflow.jobs import kinds as kinds_module
from igflow.jobs import service as jobs_service
from igflow.jobs.kinds import JobKind
from igflow.jobs.models import JOB_STATES, Job
from igflow.jobs.queue import EmbeddedWorker, JobQueue, jobs_url
from igflow.jobs.runner import JobContext
from igflow.security.audit import SYSTEM
from igflow.security.models import AuditEvent
from igflow.security.permissions import Perm
from tests.api.test_scheduling_api import _course, _patient, _verified_order
from tests.conftest import World


@pytest.fixture
def queue(world: World, tmp_path: Path) -> Iterator[JobQueue]:
    """A real queue (a SQLite file of this test's own) in place of the tests' inline one."""
    q = JobQueue(f"sqlite:///{tmp_path / 'jobs.db'}", world.db)
    previous = world.app.state.jobs
    world.app.state.jobs = q
    yield q
    world.app.state.jobs = previous
    q.flush()
    q.close()


def _wait(db: Any, job_id: int, states: set[str], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with db.session() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.state in states:
                return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.state}, expected one of {states}")
        time.sleep(0.05)


def _waiting_courses(world: World, n: int = 3) -> dt.date:
    courses = [
        _course(world, _verified_order(world, _patient(world, f"j{i}", f"JOB{i:03d}"))) for i in range(n)
    ]
    return min(dt.date.fromisoformat(c["earliest"]) for c in courses)


def _job_in(world: World, state: str) -> Job:
    with world.db.session() as session:
        job = Job(
            kind="planning",
            params={},
            state=state,
            requested_by_user_id=world.users["scheduler"],
            requested_roles=["scheduler"],
            progress=0.0,
            progress_message="",
            attempts=0,
        )
        session.add(job)
        session.commit()
        return job


# --- the state machine ----------------------------------------------------------------------------------


ALLOWED = {
    ("queued", "running"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    ("running", "succeeded"),
    ("running", "failed"),
    ("running", "cancelled"),
}


@pytest.mark.parametrize("source", JOB_STATES)
@pytest.mark.parametrize("target", JOB_STATES)
def test_every_transition_is_allowed_or_refused_with_409(world: World, source: str, target: str) -> None:
    job = _job_in(world, source)
    with world.db.session() as session:
        job = session.get(Job, job.id)
        assert job is not None
        if (source, target) in ALLOWED:
            jobs_service.transition(session, job, target, SYSTEM)
            session.commit()
            assert job.state == target
            events = session.execute(select(AuditEvent).where(AuditEvent.action == f"job.{target}")).scalars()
            assert [e.resource_id for e in events] == [str(job.id)]
            if target in jobs_service.TERMINAL:
                assert job.finished_at is not None
        else:
            with pytest.raises(Conflict) as refused:
                jobs_service.transition(session, job, target, SYSTEM)
            assert refused.value.status_code == 409
            session.rollback()
            assert session.get(Job, job.id).state == source  # type: ignore[union-attr]


def test_a_transition_from_a_stale_read_is_refused(world: World) -> None:
    """Two parties that both read 'queued' (a worker and a cancel): only the first move wins."""
    job = _job_in(world, "queued")
    with world.db.session() as first, world.db.session() as second:
        b = second.get(Job, job.id)
        second.commit()  # b is now a stale copy: 'queued'
        a = first.get(Job, job.id)
        assert a is not None and b is not None and b.state == "queued"
        jobs_service.transition(first, a, "running", SYSTEM)
        first.commit()
        with pytest.raises(Conflict):
            jobs_service.transition(second, b, "cancelled", SYSTEM)


def test_cancelling_a_finished_job_through_the_api_is_409(world: World) -> None:
    start = _waiting_courses(world, 1)
    scheduler = world.client("scheduler")
    job = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 14, "time_limit_s": 1}
    )
    assert job.json()["state"] == "succeeded"
    refused = scheduler.post(f"/api/v1/jobs/{job.json()['id']}/cancel")
    assert refused.status_code == 409 and "nothing to cancel" in refused.json()["detail"]
    assert world.client("nurse").get(f"/api/v1/jobs/{job.json()['id']}").status_code == 403


# --- planning through a real worker ---------------------------------------------------------------------


def test_planning_job_runs_in_a_worker_then_the_draft_publishes(world: World, queue: JobQueue) -> None:
    start = _waiting_courses(world, 3)
    scheduler = world.client("scheduler")
    submitted = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 28, "time_limit_s": 2}
    )
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["state"] == "queued"  # the request only queued it
    job_id = submitted.json()["id"]
    with EmbeddedWorker(queue):
        job = _wait(world.db, job_id, {"succeeded", "failed"})
    assert job.state == "succeeded", job.error
    assert job.result_type == "planning_run" and job.progress == 1.0 and job.started_at and job.finished_at
    out = scheduler.get(f"/api/v1/jobs/{job_id}").json()
    assert out["result_url"] == f"/planning/{job.result_id}"
    draft = scheduler.get(f"/api/v1/planning-runs/{job.result_id}").json()
    assert draft["status"] == "draft" and len(draft["moves"]) == 3
    published = scheduler.post(f"/api/v1/planning-runs/{job.result_id}/publish").json()
    assert published["status"] == "published" and len(published["result"]["booked_courses"]) == 3
    with world.db.session() as session:
        actions = list(
            session.execute(
                select(AuditEvent.action).where(
                    AuditEvent.resource_type == "job", AuditEvent.resource_id == str(job_id)
                )
            ).scalars()
        )
    assert actions == ["job.queued", "job.running", "job.succeeded"]


def test_the_page_shows_progress_then_goes_to_the_draft(world: World, queue: JobQueue) -> None:
    start = _waiting_courses(world, 1)
    scheduler = world.client("scheduler")
    form = {"csrf_token": scheduler.csrf, "start_date": start.isoformat(), "days": "14", "time_limit_s": "1"}
    posted = scheduler.post("/planning", data=form)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/jobs/")
    page = scheduler.get(posted.headers["location"])
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' in page.text and "Cancel" in page.text
    assert "waiting for a worker" in page.text.lower()
    job_id = int(posted.headers["location"].rsplit("/", 1)[1])
    with EmbeddedWorker(queue):
        job = _wait(world.db, job_id, {"succeeded", "failed"})
    fragment = scheduler.get(f"/jobs/{job_id}/progress", headers={"HX-Request": "true"})
    assert fragment.headers["hx-redirect"] == f"/planning/{job.result_id}"
    assert "hx-trigger" not in fragment.text and "Open the draft" in fragment.text


# --- cancel ----------------------------------------------------------------------------------------------


@pytest.fixture
def slow_kind(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """A test kind that works in steps until cancelled (up to 30 s), reporting progress."""
    steps = {"n": 0}

    def run(ctx: JobContext) -> None:
        for i in range(300):
            steps["n"] = i
            ctx.progress(i / 300, f"step {i}")
            ctx.check_cancelled()
            time.sleep(0.1)

    kind = JobKind("slow", "Slow test job", Perm.SCHEDULE_PLAN, run, lambda job: None)
    table = dict(kinds_module.kinds())
    table["slow"] = kind
    monkeypatch.setattr(kinds_module, "kinds", lambda: table)
    return lambda: steps["n"]


def test_cancel_stops_a_running_job(world: World, queue: JobQueue, slow_kind: Callable[[], int]) -> None:
    from igflow.security import service as security_service
    from igflow.security.models import User

    with world.db.session() as session:
        user = session.get(User, world.users["scheduler"])
        principal = security_service.principal_for_user(user, client_address=None)  # type: ignore[arg-type]
        job = jobs_service.submit(session, queue, principal, "slow", {})
    scheduler = world.client("scheduler")
    with EmbeddedWorker(queue):
        _wait(world.db, job.id, {"running"})
        time.sleep(1.5)
        running = scheduler.get(f"/api/v1/jobs/{job.id}").json()
        assert running["state"] == "running" and running["progress"] > 0 and running["progress_message"]
        asked = scheduler.post(f"/api/v1/jobs/{job.id}/cancel")
        assert asked.status_code == 202 and asked.json()["cancel_requested"] is True
        asked_at = time.monotonic()
        done = _wait(world.db, job.id, {"cancelled", "succeeded", "failed"}, timeout=10)
    assert done.state == "cancelled" and time.monotonic() - asked_at < 3
    assert slow_kind() < 200


def test_cancel_of_a_queued_planning_job_is_immediate_and_it_never_runs(
    world: World, queue: JobQueue
) -> None:
    start = _waiting_courses(world, 1)
    scheduler = world.client("scheduler")
    job = scheduler.post("/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 14}).json()
    cancelled = scheduler.post(f"/api/v1/jobs/{job['id']}/cancel").json()
    assert cancelled["state"] == "cancelled"
    with EmbeddedWorker(queue):
        time.sleep(1.5)  # the worker takes the message and finds the job cancelled
    with world.db.session() as session:
        stored = session.get(Job, job["id"])
        assert stored is not None and stored.state == "cancelled" and stored.started_at is None


# --- restart survival -----------------------------------------------------------------------------------


def test_a_job_queued_with_no_worker_runs_when_a_worker_starts_after_a_restart(
    world: World, tmp_path: Path
) -> None:
    start = _waiting_courses(world, 2)
    url = f"sqlite:///{tmp_path / 'restart-jobs.db'}"
    before = JobQueue(url, world.db)
    world.app.state.jobs = before
    scheduler = world.client("scheduler")
    job = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 28, "time_limit_s": 1}
    ).json()
    assert job["state"] == "queued"
    before.close()  # the server stops; nothing ran the job
    after = JobQueue(url, world.db)  # a new process, the same queue file
    try:
        with EmbeddedWorker(after):
            done = _wait(world.db, job["id"], {"succeeded", "failed"})
        assert done.state == "succeeded" and done.result_id is not None
    finally:
        after.flush()
        after.close()


def test_a_worker_that_died_leaves_its_job_failed_and_a_lost_message_is_sent_again(
    world: World, queue: JobQueue
) -> None:
    start = _waiting_courses(world, 1)
    dead = _job_in(world, "running")
    lost = _job_in(world, "queued")
    with world.db.session() as session:
        long_ago = utcnow() - dt.timedelta(minutes=10)
        session.execute(update(Job).where(Job.id == dead.id).values(heartbeat_at=long_ago))
        params = {
            "start_date": start.isoformat(),
            "days": 14,
            "time_limit_s": 1,
            "seed": 0,
            "free_appointment_ids": [],
        }
        session.execute(update(Job).where(Job.id == lost.id).values(created_at=long_ago, params=params))
        session.commit()
    with EmbeddedWorker(queue):  # never queued in huey: the worker's start-up finds it
        recovered = _wait(world.db, lost.id, {"succeeded", "failed"})
    assert recovered.state == "succeeded"
    with world.db.session() as session:
        died = session.get(Job, dead.id)
        assert died is not None and died.state == "failed" and "worker" in (died.error or "")


def test_default_queue_is_a_file_beside_a_sqlite_database(world: World) -> None:
    from igflow.config import Settings

    assert jobs_url(Settings(database_url="sqlite:///./data/igflow.db")) == "sqlite:///data/igflow-jobs.db"
    assert jobs_url(Settings(database_url="postgresql+psycopg://u@h/db")) == "postgresql+psycopg://u@h/db"
    assert jobs_url(Settings(database_url="sqlite://", jobs_url="redis://r:6379/0")) == "redis://r:6379/0"


# --- chair-side writes while a planning run solves --------------------------------------------------------


def test_chair_side_writes_succeed_while_a_planning_run_solves(
    world: World, queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    if world.db.is_postgres:
        pytest.skip("the write lock in question is SQLite's")
    assert not world.db.url.endswith(":memory:")
    start = _waiting_courses(world, 3)
    real = appointments_service.solve_planning
    solving = threading.Event()

    def long_solve(instance: Any, **kwargs: Any) -> Any:
        # The real solve, repeated for ~4 s so that the writes below certainly overlap solving.
        solving.set()
        began = time.monotonic()
        result = real(instance, **kwargs)
        seed = 1
        while time.monotonic() - began < 4:
            real(instance, **{**kwargs, "seed": seed})
            seed += 1
        return result

    monkeypatch.setattr(appointments_service, "solve_planning", long_solve)
    scheduler, nurse = world.client("scheduler"), world.client("nurse")
    job = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": start.isoformat(), "days": 28, "time_limit_s": 1}
    ).json()
    statuses: list[int] = []
    slowest = 0.0
    with EmbeddedWorker(queue):
        assert solving.wait(30)
        url = f"/api/v1/patients/{world.patients['ann']}/measurements"
        while True:
            with world.db.session() as session:
                state = session.get(Job, job["id"]).state  # type: ignore[union-attr]
            if state != "running":
                break
            began = time.monotonic()
            response = nurse.post(url, json={"kind": "weight_kg", "value": 70.5, "measured_on": "2026-11-02"})
            slowest = max(slowest, time.monotonic() - began)
            statuses.append(response.status_code)
        done = _wait(world.db, job["id"], {"succeeded", "failed"})
    assert done.state == "succeeded", done.error
    assert len(statuses) >= 10 and set(statuses) == {201}, statuses
    assert slowest < 5  # far below SQLite's 10 s busy timeout: no write waited on the solve
