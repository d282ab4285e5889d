"""How a worker runs one job, and what a handler gets: :class:`JobContext`.

1. A short write transaction moves the job ``queued -> running`` (compare-and-set: a duplicate message
   finds the job taken and does nothing).
2. The handler runs. It reads through ``ctx.read_session()`` (on SQLite a WAL snapshot that takes no write
   lock), does its long work with **no transaction open**, reports ``ctx.progress(fraction, message)`` and
   calls ``ctx.check_cancelled()`` between steps; then it writes its result in one short transaction and
   calls ``ctx.complete(session, ...)`` in it, so the result and ``succeeded`` commit together.
3. A heartbeat thread writes the latest progress once a second (one tiny UPDATE) and reads the job's
   cancel request; when it sees one, ``ctx.check_cancelled()`` raises :class:`JobCancelled`.
4. The job ends ``succeeded``, ``cancelled`` (on :class:`JobCancelled`) or ``failed`` (any other error;
   an :class:`~igflow.errors.IgflowError`'s message is shown, anything else is logged with a reference).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from igflow.db import Database, utcnow
from igflow.errors import Conflict, IgflowError
from igflow.jobs import service
from igflow.jobs.kinds import get_kind
from igflow.jobs.models import Job
from igflow.security import service as security_service
from igflow.security.models import User
from igflow.security.permissions import Role
from igflow.security.principal import Principal

log = logging.getLogger("igflow.jobs")
HEARTBEAT_S = 1.0


class JobCancelled(Exception):
    """Raised by :meth:`JobContext.check_cancelled` once the job's cancellation was asked for."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class JobContext:
    """What a handler gets: its parameters, who asked, progress, cancellation and sessions."""

    def __init__(self, db: Database, job_id: int, params: dict[str, Any], principal: Principal) -> None:
        self.db = db
        self.job_id = job_id
        self.params = params
        self.principal = principal
        self.completed = False
        self._fraction = 0.0
        self._message = "Starting"
        self._dirty = True
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    # --- for handlers ---------------------------------------------------------------------------------

    def progress(self, fraction: float, message: str | None = None) -> None:
        with self._lock:
            self._fraction = min(1.0, max(self._fraction, fraction))
            if message is not None:
                self._message = message[:200]
            self._dirty = True

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session (no write lock on SQLite), closed on leaving the block."""
        with self.db.read_session() as session:
            yield session
            session.rollback()

    def complete(
        self, session: Session, result_type: str | None, result_id: int | None, summary: dict[str, Any]
    ) -> None:
        """Mark the job succeeded inside the handler's final transaction (the caller commits)."""
        job = session.get(Job, self.job_id)
        assert job is not None
        service.transition(
            session,
            job,
            "succeeded",
            service.WORKER,
            message="Finished",
            result_type=result_type,
            result_id=result_id,
            result=summary,
            detail={"result_type": result_type, "result_id": result_id},
        )
        self.completed = True

    # --- heartbeat --------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.flush()
            except Exception as exc:  # a busy database: try again next beat
                log.warning("job %s heartbeat skipped: %s", self.job_id, type(exc).__name__)

    def flush(self) -> None:
        with self._lock:
            values: dict[str, Any] = {"heartbeat_at": utcnow()}
            if self._dirty:
                values.update(progress=round(self._fraction, 4), progress_message=self._message)
                self._dirty = False
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.state == "running")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            job = session.get(Job, self.job_id)
            requested = job is not None and job.cancel_requested_at is not None
            session.commit()
        if requested:
            self._cancel.set()


# --- running one job ------------------------------------------------------------------------------------


def _start(db: Database, job_id: int) -> tuple[JobContext, Any] | None:
    """queued -> running, and the context to run it in; None if there is nothing to run."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.state != "queued":
            return None  # cancelled before it started, or a duplicate message for a job already taken
        kind = get_kind(job.kind)
        problem = None
        principal = None
        user = session.get(User, job.requested_by_user_id)
        if kind is None:
            problem = "This kind of job is not known to this version of igflow."
        elif user is None or not user.active:
            problem = "The account that asked for this job is disabled."
        else:
            principal = security_service.principal_for_user(
                user, client_address=None, roles={Role(r) for r in job.requested_roles}
            )
            if not principal.can(kind.permission):
                problem = "The account that asked for this job may no longer run it."
        try:
            if problem is not None or principal is None or kind is None:
                service.transition(session, job, "failed", service.WORKER, error=problem)
                session.commit()
                return None
            service.transition(
                session, job, "running", service.WORKER, message="Starting", worker=worker_name()
            )
            session.commit()
        except Conflict:
            session.rollback()
            return None
        return JobContext(db, job.id, dict(job.params), principal), kind


def _finish(db: Database, job_id: int, to: str, error: str | None = None, message: str | None = None) -> None:
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        try:
            service.transition(session, job, to, service.WORKER, error=error, message=message)
            session.commit()
        except Conflict:
            session.rollback()  # it ended another way meanwhile (for example, marked failed as stale)


def execute(db: Database, job_id: int) -> None:
    """Run one job to its end state. Never raises: every outcome is written on the job."""
    started = _start(db, job_id)
    if started is None:
        return
    ctx, kind = started
    ctx.start()
    try:
        kind.run(ctx)
        if not ctx.completed:
            with db.session() as session:
                ctx.complete(session, None, None, {})
                session.commit()
    except JobCancelled:
        _finish(db, job_id, "cancelled", message="Cancelled")
    except IgflowError as exc:
        _finish(db, job_id, "failed", error=exc.message, message="Stopped")
    except Exception as exc:
        reference = uuid.uuid4().hex[:12]
        tb = exc.__traceback__
        where = ""
        while tb is not None:
            where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
            tb = tb.tb_next
        # The message may quote data (SQL parameters, say): log only its type and place.
        log.error(
            "job %s (%s) failed: %s at %s (reference %s)",
            job_id,
            kind.name,
            type(exc).__name__,
            where,
            reference,
        )
        _finish(
            db,
            job_id,
            "failed",
            error=f"The job stopped on an unexpected error (reference {reference}).",
            message="Stopped",
        )
    finally:
        ctx.stop()


def recover(db: Database, queue: Any) -> None:
    """At worker start and once a minute: fail running jobs whose worker is gone, and queue again any
    queued job whose message was lost (a duplicate message is harmless)."""
    with db.session() as session:
        failed = service.fail_stale(session)
        waiting = service.queued_ids(session)
    if failed:
        log.warning("marked %d job(s) failed: their worker stopped", len(failed))
    if not waiting or queue.immediate:
        return
    try:
        pending = queue.pending_job_ids()
    except Exception as exc:
        log.warning("could not list the queue: %s", type(exc).__name__)
        return
    for job_id in waiting:
        if job_id not in pending:
            log.info("job %s had no queue message: queued again", job_id)
            queue.enqueue(job_id)
