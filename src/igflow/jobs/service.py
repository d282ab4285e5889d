"""Use cases of jobs: submit, read, list, cancel; the one state-transition function; recovery.

States: ``queued -> running -> succeeded | failed | cancelled``; ``queued -> cancelled`` (cancelled
before a worker took it) and ``queued -> failed`` (it could not be queued, or its requester may no longer
run it). Terminal states have no way out. Every change goes through :func:`transition`, a compare-and-set
on the current state (two workers, or a worker and a cancel, cannot both win) that audits the change.

Cancelling a *running* job is a request (``cancel_requested_at``), not a state: the worker sees it within a
second, stops the work and moves the job to ``cancelled``. A cancel that arrives as the worker is saving
its result loses the race: the job ends ``succeeded`` and says so.

Who sees a job: a user whose roles grant the kind's permission; a user limited to sites sees only the jobs
they asked for themselves (a planning run covers every centre).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, NotFound
from igflow.jobs.kinds import JobKind, get_kind
from igflow.jobs.models import Job
from igflow.jobs.schemas import JobOut
from igflow.security import audit
from igflow.security.audit import Actor
from igflow.security.permissions import refusal
from igflow.security.principal import Principal
from igflow.statemachine import StateMachine

log = logging.getLogger("igflow.jobs")

STATE_LABELS = {
    "queued": "waiting for a worker",
    "running": "running",
    "succeeded": "finished",
    "failed": "failed",
    "cancelled": "cancelled",
}
#: Declared with every other status field (``igflow.statemachine``); :func:`transition` is its
#: compare-and-set, because a job's move also sets times, attempts and progress and is audited.
JOB = StateMachine(
    "job",
    Job,
    {
        "queued": frozenset({"running", "cancelled", "failed"}),
        "running": frozenset({"succeeded", "failed", "cancelled"}),
        "succeeded": frozenset(),
        "failed": frozenset(),
        "cancelled": frozenset(),
    },
    labels=STATE_LABELS,
    column="state",
)
ALLOWED = JOB.transitions
TERMINAL = JOB.terminal
STALE_AFTER_S = 60.0  # a running job whose worker has not written for this long has lost its worker
WORKER = Actor(None, "worker")


def transition(
    session: Session,
    job: Job,
    to: str,
    actor: Actor,
    *,
    error: str | None = None,
    message: str | None = None,
    detail: dict[str, Any] | None = None,
    **values: Any,
) -> Job:
    """Move ``job`` to state ``to`` in the caller's transaction, audited; 409 if the move is not allowed
    from the state the database holds (which may have changed since ``job`` was read)."""
    current = job.state
    if to not in ALLOWED.get(current, frozenset()):
        raise Conflict(f"The job is {STATE_LABELS.get(current, current)} and cannot be {to} now.", "state")
    now = utcnow()
    changes: dict[str, Any] = {"state": to, **values}
    if to == "running":
        changes.setdefault("started_at", now)
        changes.setdefault("heartbeat_at", now)
        changes["attempts"] = Job.attempts + 1
    if to in TERMINAL:
        changes["finished_at"] = now
    if to == "succeeded":
        changes["progress"] = 1.0
    if error is not None:
        changes["error"] = error
    if message is not None:
        changes["progress_message"] = message[:200]
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state == current)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(job)
        raise Conflict(
            f"The job changed meanwhile: it is {STATE_LABELS.get(job.state, job.state)} now.", "state"
        )
    session.refresh(job)
    audit.record(
        session,
        actor,
        f"job.{to}",
        "job",
        job.id,
        outcome="failure" if to == "failed" else "success",
        detail={"kind": job.kind, "from": current, **({"error": error} if error else {}), **(detail or {})},
    )
    return job


def _kind_for(principal: Principal, name: str) -> JobKind:
    kind = get_kind(name)
    if kind is None:
        raise NotFound(f"There is no job kind {name!r}.")
    if not principal.can(kind.permission):
        raise Forbidden(refusal(kind.permission))
    return kind


def submit(session: Session, queue: Any, principal: Principal, kind_name: str, params: dict[str, Any]) -> Job:
    """Record a job as queued (committed, audited), then hand its id to the queue. Returns the job as it
    stands afterwards (with the ``immediate`` queue, already finished)."""
    kind = _kind_for(principal, kind_name)
    job = Job(
        kind=kind.name,
        params=params,
        state="queued",
        requested_by_user_id=principal.user_id,
        requested_roles=sorted(r.value for r in principal.roles),
        progress=0.0,
        progress_message="",
        attempts=0,
    )
    session.add(job)
    session.flush()
    audit.record(session, principal.actor, "job.queued", "job", job.id, detail={"kind": kind.name})
    session.commit()
    try:
        queue.enqueue(job.id)
    except Exception as exc:  # the queue's storage is unreachable: say so on the job, do not leave it waiting
        log.error("job %s could not be queued: %s", job.id, type(exc).__name__)
        session.rollback()
        session.refresh(job)
        if job.state == "queued":
            transition(session, job, "failed", WORKER, error="The job queue could not be reached.")
            session.commit()
    session.refresh(job)
    return job


def _visible(principal: Principal, job: Job) -> bool:
    return principal.site_ids is None or job.requested_by_user_id == principal.user_id


def get_job(session: Session, principal: Principal, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    kind = get_kind(job.kind)
    if kind is None:
        raise NotFound(f"job {job_id} not found")
    if not principal.can(kind.permission):
        raise Forbidden(refusal(kind.permission))
    if not _visible(principal, job):
        raise NotFound(f"job {job_id} not found")
    return job


def list_jobs(session: Session, principal: Principal, kind: str | None = None, limit: int = 20) -> list[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if kind is not None:
        _kind_for(principal, kind)
        query = query.where(Job.kind == kind)
    if principal.site_ids is not None:
        query = query.where(Job.requested_by_user_id == principal.user_id)
    jobs = list(session.execute(query).scalars())
    return [j for j in jobs if (k := get_kind(j.kind)) is not None and principal.can(k.permission)]


def cancel(session: Session, principal: Principal, job_id: int) -> Job:
    """Cancel a queued job at once; ask a running one to stop (the worker cancels it within a second)."""
    job = get_job(session, principal, job_id)
    if job.state == "queued":
        try:
            transition(session, job, "cancelled", principal.actor, message="Cancelled before it started")
            session.commit()
            return job
        except Conflict:
            session.rollback()
            session.refresh(job)  # a worker took it meanwhile: ask that worker to stop, below
    if job.state != "running":
        raise Conflict(f"The job is {STATE_LABELS.get(job.state, job.state)}: there is nothing to cancel.")
    if job.cancel_requested_at is None:
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == "running")
            .values(cancel_requested_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session, principal.actor, "job.cancel_requested", "job", job.id, detail={"kind": job.kind}
        )
        session.commit()
        session.refresh(job)
    return job


def job_out(job: Job) -> JobOut:
    kind = get_kind(job.kind)
    return JobOut(
        id=job.id,
        kind=job.kind,
        label=kind.label if kind else job.kind,
        state=job.state,
        params=job.params,
        requested_by_user_id=job.requested_by_user_id,
        progress=job.progress,
        progress_message=job.progress_message,
        cancel_requested=job.cancel_requested_at is not None,
        result_type=job.result_type,
        result_id=job.result_id,
        result_url=kind.result_url(job) if kind and job.state == "succeeded" else None,
        result=job.result,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


# --- recovery (run by every worker at start and once a minute) ------------------------------------------


def fail_stale(session: Session, stale_after_s: float = STALE_AFTER_S) -> list[int]:
    """Running jobs whose worker stopped writing (killed, machine lost) become ``failed``, not re-run:
    their inputs may be stale, and a job that kills its worker would otherwise kill every worker in turn.
    The page offers to start it again."""
    cutoff = utcnow() - dt.timedelta(seconds=stale_after_s)
    stale = list(
        session.execute(select(Job).where(Job.state == "running", Job.heartbeat_at < cutoff)).scalars()
    )
    failed: list[int] = []
    for job in stale:
        try:
            transition(
                session,
                job,
                "failed",
                WORKER,
                error="The worker running this job stopped before it finished. Start it again.",
            )
            failed.append(job.id)
        except Conflict:
            continue
    session.commit()
    return failed


def queued_ids(session: Session, older_than_s: float = 5.0) -> list[int]:
    cutoff = utcnow() - dt.timedelta(seconds=older_than_s)
    return list(
        session.execute(select(Job.id).where(Job.state == "queued", Job.created_at < cutoff)).scalars()
    )


def submit_again(session: Session, queue: Any, principal: Principal, job_id: int) -> Job:
    """A new job with the same kind and parameters as a failed or cancelled one."""
    job = get_job(session, principal, job_id)
    if job.state not in ("failed", "cancelled"):
        raise Conflict(
            f"The job is {STATE_LABELS.get(job.state, job.state)}: "
            "only a failed or cancelled job can be started again."
        )
    return submit(session, queue, principal, job.kind, dict(job.params))
