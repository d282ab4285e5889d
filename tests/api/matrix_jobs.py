"""Role-matrix rows for the background-job routes (imported by test_role_matrix.py).

Job routes declare ``authenticated``; the job's kind then decides (a planning job: schedulers only), so
every other signed-in role is refused with 403. Listing is open to every signed-in user and shows only the
kinds their roles allow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

SCHED = "scheduler"
SIGNED_IN = {"admin", "pharmacist", "nurse", "scheduler", "intake", "prescriber", "auditor", "patient.ann"}

# (method, path template, roles allowed). The job is the shared planning job, already finished: cancel and
# "start again" answer the scheduler 409, which the matrix counts as allowed (neither 401 nor 403).
JOBS_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/jobs", SIGNED_IN),
    ("GET", "/api/v1/jobs/{job}", {SCHED}),
    ("POST", "/api/v1/jobs/{job}/cancel", {SCHED}),
    ("GET", "/jobs/{job}", {SCHED}),
    ("GET", "/jobs/{job}/progress", {SCHED}),
    ("POST", "/jobs/{job}/cancel", {SCHED}),
    ("POST", "/jobs/{job}/again", {SCHED}),
]


def job_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """The planning job that made the shared planning run."""
    from igflow.jobs.models import Job

    with world.db.session() as session:
        job_id = session.execute(
            select(Job.id).where(Job.result_type == "planning_run", Job.result_id == ids["run"])
        ).scalar_one()
    return {"job": job_id}
