"""The huey queue behind the jobs: built from ``IGFLOW_JOBS_URL``, with one task that runs a job by id.

Queue URLs (``Settings.jobs_url``):

=============================  ================================================================
(empty, the default)           a SQLite file beside a SQLite database (``igflow.db`` ->
                               ``igflow-jobs.db``); the same database when it is PostgreSQL
``sqlite:///path/jobs.db``     ``SqliteHuey``: one machine, no server
``postgresql://...``           ``PostgresHuey``: workers on several machines, no broker
``redis://host:6379/0``        ``RedisHuey`` (``pip install redis``)
``memory://``                  in this process only (tests that start a worker thread)
``immediate``                  no queue: a job runs inline when it is submitted (tests, scripts)
=============================  ================================================================
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from huey import MemoryHuey, PostgresHuey, RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from sqlalchemy import select

from igflow.config import Settings
from igflow.db import Database

log = logging.getLogger("igflow.jobs")
QUEUE_NAME = "igflow"
TASK_NAME = "igflow.run_job"


def jobs_url(settings: Settings) -> str:
    """The queue URL in force: the setting, or a default derived from the database URL."""
    if settings.jobs_url:
        return settings.jobs_url
    url = settings.database_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///"))
        name = f"{path.stem}-jobs{path.suffix or '.db'}"
        return f"sqlite:///{path.with_name(name)}"
    if url.startswith("postgresql"):
        return url
    return "memory://"


def make_huey(url: str) -> Huey:
    common: dict[str, Any] = {"results": False, "utc": True}
    if url == "immediate":
        return MemoryHuey(QUEUE_NAME, immediate=True, **common)
    if url == "memory://":
        return MemoryHuey(QUEUE_NAME, **common)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path), timeout=10, **common)
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        return PostgresHuey(QUEUE_NAME, dsn=dsn, **common)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(QUEUE_NAME, url=url, **common)
    raise ValueError(
        f"IGFLOW_JOBS_URL: {url!r} is not a queue this version knows "
        "(sqlite:///..., postgresql://..., redis://..., memory://, immediate)"
    )


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer started from code (tests, an embedded worker): it leaves the process's signals alone."""

    def _set_signal_handlers(self) -> None:
        pass


class JobQueue:
    """The app's and the worker's handle on the queue: submit a job id; run a consumer."""

    def __init__(self, url: str, db: Database) -> None:
        self.url = url
        self.db = db
        self.huey = make_huey(url)
        self._run_task = self.huey.task(name=TASK_NAME)(self._run)
        self.huey.periodic_task(crontab(), name="igflow.recover_jobs")(self._recover)
        # hourly: authorisations ending within their payer's lead time open a re-authorisation task
        self.huey.periodic_task(crontab(minute="17"), name="igflow.reauthorisation_sweep")(self._reauth)
        # hourly: missed self-infusions open a nurse task; late or unshipped deliveries a pharmacist task
        self.huey.periodic_task(crontab(minute="23"), name="igflow.home_supply_sweep")(self._home_supply)
        # every minute: the outbox sends what is due; hourly: appointment reminders are queued
        self.huey.periodic_task(crontab(), name="igflow.outbox_send")(self._send_messages)
        self.huey.periodic_task(crontab(minute="29"), name="igflow.reminder_sweep")(self._reminders)
        # every 10 minutes: FHIR $export files past their retention period are deleted
        self.huey.periodic_task(crontab(minute="*/10"), name="igflow.fhir_export_sweep")(self._fhir_exports)

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> JobQueue:
        return cls(jobs_url(settings), db)

    @property
    def immediate(self) -> bool:
        return bool(self.huey.immediate)

    def enqueue(self, job_id: int) -> None:
        self._run_task(job_id)

    def pending_job_ids(self) -> set[int]:
        """Job ids with a message waiting in the queue (for the worker's start-up reconciliation)."""
        found: set[int] = set()
        for task in self.huey.pending():
            if task.name == TASK_NAME and task.args:
                found.add(int(task.args[0]))
        return found

    def _run(self, job_id: int) -> None:
        from igflow.jobs.runner import execute

        execute(self.db, job_id)

    def _recover(self) -> None:
        from igflow.jobs.runner import recover

        recover(self.db, self)

    def _reauth(self) -> None:
        from igflow.authorizations.service import sweep

        with self.db.session() as session:
            sweep(session)

    def _send_messages(self) -> None:
        from igflow.config import get_settings
        from igflow.messages.service import recover_interrupted, send_due
        from igflow.messages.transports import transport_for
        from igflow.sites.models import Organisation

        settings = get_settings()
        with self.db.session() as session:
            recover_interrupted(session)
            org = session.execute(select(Organisation)).scalars().first()
            tz = org.timezone if org is not None else "UTC"
        send_due(self.db, transport_for(settings), tz=tz)

    def _reminders(self) -> None:
        from igflow.messages.reminders import sweep

        with self.db.session() as session:
            sweep(session)

    def _fhir_exports(self) -> None:
        from igflow.config import get_settings
        from igflow.db import utcnow
        from igflow.fhir.bulk.service import sweep

        with self.db.session() as session:
            sweep(session, utcnow(), get_settings().fhir_export_retention_h)

    def _home_supply(self) -> None:
        from igflow.home.service.selflog_plan import sweep

        with self.db.session() as session:
            sweep(session)

    def consumer(self, threads: int = 1, embedded: bool = False) -> Consumer:
        cls = _EmbeddedConsumer if embedded else Consumer
        return cls(
            self.huey,
            workers=threads,
            worker_type="thread",
            periodic=True,
            initial_delay=0.1,
            backoff=1.15,
            max_delay=1.0,  # a queued job starts within a second on SQLite, which has no push
            check_worker_health=True,
        )

    def flush(self) -> None:
        self.huey.storage.flush_all()

    def close(self) -> None:
        close = getattr(self.huey.storage, "close", None)
        if callable(close):
            close()


class EmbeddedWorker:
    """A worker in this process (threads): for tests and scripts. ``with EmbeddedWorker(queue): ...``"""

    def __init__(self, queue: JobQueue, threads: int = 1) -> None:
        self.queue = queue
        self.threads = threads
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

    def start(self) -> EmbeddedWorker:
        from igflow.jobs.runner import recover

        with self._lock:
            recover(self.queue.db, self.queue)
            self._consumer = self.queue.consumer(self.threads, embedded=True)
            self._consumer.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.stop(graceful=True)
                self._consumer = None

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
