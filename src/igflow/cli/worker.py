"""``igflow worker``: run background jobs (planning runs, and the kinds that follow)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Annotated, Any

import typer
from rich.console import Console

from igflow.config import get_settings

console = Console()


def _exit_with_parent(parent_pid: int) -> None:
    """When the server that started this worker is gone, stop (gracefully, as on Ctrl+C)."""

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGINT)
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker(
    threads: Annotated[int, typer.Option(min=1, max=32, help="Jobs run at once by this worker")] = 1,
    parent_pid: Annotated[int | None, typer.Option(hidden=True, help="Stop when this process ends")] = None,
) -> None:
    """Run background jobs from the queue (IGFLOW_JOBS_URL) until Ctrl+C; start one per machine or more."""
    import igflow.models  # noqa: F401 - every table
    from igflow.db import Database
    from igflow.jobs.queue import JobQueue
    from igflow.jobs.runner import recover
    from igflow.logging_setup import configure_logging

    settings = get_settings()
    configure_logging()
    logging.getLogger("huey").setLevel(logging.WARNING)
    db = Database(settings.database_url)
    queue = JobQueue.from_settings(settings, db)
    if queue.immediate:
        console.print(
            "[red]IGFLOW_JOBS_URL=immediate runs jobs inline: there is no queue for a worker.[/red]"
        )
        raise typer.Exit(2)
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    recover(db, queue)  # jobs whose worker died are marked failed; lost queue messages are sent again
    console.print(f"igflow worker: {threads} thread(s) on {_describe(queue.url)}  (Ctrl+C to stop)")
    stop = threading.Event()
    if settings.audit_seal_every_s > 0:
        threading.Thread(
            target=seal_audit_log, args=(db, settings, stop), name="audit-sealer", daemon=True
        ).start()
    try:
        queue.consumer(threads).run()
    finally:
        stop.set()
        queue.close()
        db.dispose()


def seal_audit_log(db: Any, settings: Any, stop: threading.Event) -> None:
    """Every few seconds: chain the audit rows appended since, and sign a checkpoint. Several workers
    may run this; one seals at a time and the others find it busy and wait for the next turn."""
    from igflow.security.audit import seal_database

    log = logging.getLogger("igflow.audit")
    while not stop.wait(settings.audit_seal_every_s):
        try:
            seal_database(db, settings)
        except Exception as exc:  # keep sealing on the next turn; the log names the error's type only
            log.warning("audit sealing failed: %s", type(exc).__name__)


def _describe(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    return url.split("://", 1)[0] + " queue"


def start_worker_process() -> subprocess.Popen[bytes]:
    """A worker beside ``igflow serve``; it stops when the server does (or is killed)."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "igflow.cli", "worker", "--parent-pid", str(os.getpid())]
    )


def stop_worker_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
